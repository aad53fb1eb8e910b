/* libnabla/comm.c — the communicator object over a communication backend (sdk/comm.h):
 * choosing and starting the backend, checking tensors before the backend sees their
 * memory, timeouts, and the "broken" state after a transport failure.
 *
 * One communicator per backend and process (MPI can start once), reference-counted; the
 * list of open ones is what the exit handler stops.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nabla/comm.h>
#include <nabla/registry.h>
#include <nabla/tensor.h>

struct nb_comm {
  const nb_comm_desc *d;
  void *state;
  int refs;
  int rank, size, local_rank, local_size;
  double timeout;
  _Atomic int in_flight; /* works started and not finished */
  _Atomic int broken;    /* status of the failure that broke it, 0 while it works */
  char broken_msg[1024];
  struct nb_comm *next;
};

struct nb_comm_work {
  nb_comm *c;
  nb_comm_request *req;
  nb_tensor *t; /* kept alive while in flight */
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static nb_comm *g_open; /* open communicators */
static bool g_atexit;

/* ---- broken state ---------------------------------------------------------------------- */

/* Record a transport failure (status rc, message in nb_last_error) and return rc. Only
 * NB_ECOMM breaks the communicator; argument errors do not. */
static int note(nb_comm *c, int rc) {
  if (rc != NB_ECOMM) return rc;
  int expected = 0;
  if (atomic_compare_exchange_strong(&c->broken, &expected, rc))
    snprintf(c->broken_msg, sizeof c->broken_msg, "%s", nb_last_error());
  return rc;
}

static int check_usable(const nb_comm *c, const char *fn) {
  if (!c) return nb_set_error(NB_EINVAL, "%s: communicator is NULL", fn);
  if (atomic_load(&c->broken))
    return nb_set_error(NB_ECOMM, "%s: the communicator broke earlier and cannot be used: %s", fn,
                        c->broken_msg);
  return 0;
}

const char *nb_comm_broken(const nb_comm *c) {
  return c && atomic_load(&c->broken) ? c->broken_msg : NULL;
}

/* ---- choosing and opening ---------------------------------------------------------------- */

/* Environment variables MPI launchers set in every process they start. */
static const char *const k_launcher_vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                              "MV2_COMM_WORLD_SIZE"};

static const char *launcher_var(void) {
  for (size_t i = 0; i < sizeof k_launcher_vars / sizeof k_launcher_vars[0]; i++)
    if (getenv(k_launcher_vars[i])) return k_launcher_vars[i];
  return NULL;
}

static const nb_comm_kind *choose(const char *name) {
  if (name && name[0] && strcmp(name, "auto") != 0) return nb_comm_find(name);
  const char *env = getenv("NABLA_COMM");
  if (env && env[0] && strcmp(env, "auto") != 0) {
    const nb_comm_kind *k = nb_comm_find(env);
    if (!k) nb_error_prefix("NABLA_COMM=%s", env);
    return k;
  }
  const char *var = launcher_var();
  if (!var) return nb_comm_find("single");
  const nb_comm_kind *k = nb_comm_find("mpi");
  if (!k) {
    char why[1024];
    snprintf(why, sizeof why, "%s", nb_last_error());
    nb_set_error(NB_ENOTFOUND, "this process was started by an MPI launcher (%s=%s) but the "
                 "'mpi' backend is not available (build nabla with -Ddist_mpi=enabled, which "
                 "needs libopenmpi-dev, or set NABLA_COMM=single to run every process alone): %s",
                 var, getenv(var), why);
  }
  return k;
}

static double env_timeout(void) {
  const char *s = getenv("NABLA_COMM_TIMEOUT");
  if (!s || !s[0]) return NB_COMM_DEFAULT_TIMEOUT;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || v < 0 || v != v) {
    nb_log_message(NB_LOG_WARN, "NABLA_COMM_TIMEOUT=%s is not a number of seconds >= 0; using %g",
                   s, NB_COMM_DEFAULT_TIMEOUT);
    return NB_COMM_DEFAULT_TIMEOUT;
  }
  return v;
}

/* At exit: stop the backends nobody closed, unless broken or busy (stopping would wait
 * for a lost peer; the launcher then sees a process leave without finalising). */
static void stop_at_exit(void) {
  pthread_mutex_lock(&g_lock);
  for (nb_comm *c = g_open; c; c = c->next)
    if (c->refs > 0 && !atomic_load(&c->broken) && atomic_load(&c->in_flight) == 0) {
      c->d->stop(c->state);
      c->refs = 0;
    }
  pthread_mutex_unlock(&g_lock);
}

nb_comm *nb_comm_open(const char *backend) {
  const nb_comm_kind *k = choose(backend);
  if (!k) {
    nb_error_prefix("nb_comm_open");
    return NULL;
  }
  const nb_comm_desc *d = nb_comm_descriptor(k);
  pthread_mutex_lock(&g_lock);
  nb_comm *c = g_open;
  while (c && c->d != d) c = c->next;
  if (c && c->refs > 0) {
    c->refs++;
    pthread_mutex_unlock(&g_lock);
    return c;
  }
  bool fresh = !c;
  if (fresh && !(c = calloc(1, sizeof *c))) {
    pthread_mutex_unlock(&g_lock);
    nb_set_error(NB_ENOMEM, "nb_comm_open: out of memory");
    return NULL;
  }
  void *state = NULL;
  nb_clear_error();
  int rc = d->start(&state);
  if (rc < 0) {
    if (fresh) free(c);
    pthread_mutex_unlock(&g_lock);
    if (!nb_last_error()[0]) nb_set_error(rc, "start failed (%s)", nb_status_name(rc));
    nb_error_prefix("nb_comm_open: backend '%s'", d->name);
    return NULL;
  }
  c->d = d;
  c->state = state;
  c->refs = 1;
  c->rank = d->rank(state);
  c->size = d->size(state);
  c->local_rank = d->local_rank ? d->local_rank(state) : 0;
  c->local_size = d->local_size ? d->local_size(state) : 1;
  c->timeout = env_timeout();
  atomic_store(&c->broken, 0);
  c->broken_msg[0] = '\0';
  if (fresh) {
    c->next = g_open;
    g_open = c;
  }
  if (!g_atexit) g_atexit = atexit(stop_at_exit) == 0;
  pthread_mutex_unlock(&g_lock);
  if (c->size < 1 || c->rank < 0 || c->rank >= c->size || c->local_size < 1) {
    nb_set_error(NB_EPLUGIN, "nb_comm_open: backend '%s' reports rank %d of %d (local %d of %d)",
                 d->name, c->rank, c->size, c->local_rank, c->local_size);
    nb_comm_close(c);
    return NULL;
  }
  return c;
}

int nb_comm_close(nb_comm *c) {
  if (!c) return 0;
  pthread_mutex_lock(&g_lock);
  int rc = 0;
  if (c->refs <= 0) {
    rc = nb_set_error(NB_ESTATE, "nb_comm_close: backend '%s' is closed already", c->d->name);
  } else if (c->refs > 1) {
    c->refs--;
  } else if (atomic_load(&c->in_flight) > 0 && !atomic_load(&c->broken)) {
    rc = nb_set_error(NB_ESTATE, "nb_comm_close: %d non-blocking operation%s still in flight; "
                      "wait for them first", atomic_load(&c->in_flight),
                      atomic_load(&c->in_flight) == 1 ? " is" : "s are");
  } else {
    c->refs = 0;
    if (!atomic_load(&c->broken)) {
      nb_clear_error();
      rc = c->d->stop(c->state);
      if (rc < 0) nb_error_prefix("nb_comm_close: backend '%s'", c->d->name);
    }
  }
  pthread_mutex_unlock(&g_lock); /* the struct stays listed: a later open reuses it */
  return rc;
}

/* ---- properties ---------------------------------------------------------------------------- */

int nb_comm_rank(const nb_comm *c) { return c ? c->rank : nb_set_error(NB_EINVAL, "nb_comm_rank: communicator is NULL"); }
int nb_comm_size(const nb_comm *c) { return c ? c->size : nb_set_error(NB_EINVAL, "nb_comm_size: communicator is NULL"); }
int nb_comm_local_rank(const nb_comm *c) {
  return c ? c->local_rank : nb_set_error(NB_EINVAL, "nb_comm_local_rank: communicator is NULL");
}
int nb_comm_local_size(const nb_comm *c) {
  return c ? c->local_size : nb_set_error(NB_EINVAL, "nb_comm_local_size: communicator is NULL");
}
const char *nb_comm_backend(const nb_comm *c) { return c ? c->d->name : NULL; }

int nb_comm_suggested_threads(const nb_comm *c) {
  const char *env = getenv("NABLA_NUM_THREADS");
  if (env && env[0]) return nb_get_num_threads();
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  if (online < 1) online = 1;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int bound = CPU_COUNT(&set);
    if (bound >= 1 && bound < online) return bound; /* the launcher gave us these */
  }
  int local = c && c->local_size > 0 ? c->local_size : 1;
  long n = online / local;
  return n < 1 ? 1 : n > NB_MAX_THREADS ? NB_MAX_THREADS : (int)n;
}

int nb_comm_set_timeout(nb_comm *c, double seconds) {
  if (!c) return nb_set_error(NB_EINVAL, "nb_comm_set_timeout: communicator is NULL");
  if (seconds != seconds) return nb_set_error(NB_EINVAL, "nb_comm_set_timeout: timeout is NaN");
  c->timeout = seconds > 0 ? seconds : 0;
  return 0;
}

double nb_comm_timeout(const nb_comm *c) { return c ? c->timeout : 0; }

/* ---- operations ---------------------------------------------------------------------------- */

static int check_tensor(const nb_tensor *t, bool reduce, const char *fn) {
  if (!t) return nb_set_error(NB_EINVAL, "%s: tensor is NULL", fn);
  if (!nb_is_contiguous(t))
    return nb_set_error(NB_EINVAL, "%s: the tensor (%s) must be contiguous (nb_copy_data makes a "
                        "contiguous copy)", fn, nb_shape_of(t));
  nb_dtype dt = nb_dtype_of(t);
  if (reduce && dt != NB_F32 && dt != NB_F64)
    return nb_set_error(NB_EDTYPE, "%s: reductions take float32 or float64 tensors, not %s", fn,
                        nb_dtype_name(dt));
  return 0;
}

static int check_op(nb_reduce_op op, const char *fn) {
  if (op != NB_REDUCE_SUM && op != NB_REDUCE_AVG)
    return nb_set_error(NB_EINVAL, "%s: reduce op %d is neither NB_REDUCE_SUM nor NB_REDUCE_AVG",
                        fn, (int)op);
  return 0;
}

/* A backend returned rc: make sure an error message says who failed. */
static int backend_result(nb_comm *c, int rc, const char *fn) {
  if (rc >= 0) return 0;
  if (!nb_last_error()[0]) nb_set_error(rc, "failed (%s)", nb_status_name(rc));
  nb_error_prefix("%s: backend '%s'", fn, c->d->name);
  return note(c, rc);
}

int nb_comm_allreduce(nb_comm *c, nb_tensor *t, nb_reduce_op op) {
  const char *fn = "nb_comm_allreduce";
  int rc = check_usable(c, fn);
  if (rc == 0) rc = check_tensor(t, true, fn);
  if (rc == 0) rc = check_op(op, fn);
  if (rc < 0) return rc;
  nb_clear_error();
  rc = c->d->allreduce(c->state, nb_data(t), nb_numel(t), nb_dtype_of(t), op);
  if (rc >= 0) nb_bump_version(t);
  return backend_result(c, rc, fn);
}

nb_comm_work *nb_comm_allreduce_start(nb_comm *c, nb_tensor *t, nb_reduce_op op) {
  const char *fn = "nb_comm_allreduce_start";
  int rc = check_usable(c, fn);
  if (rc == 0) rc = check_tensor(t, true, fn);
  if (rc == 0) rc = check_op(op, fn);
  if (rc < 0) return NULL;
  nb_comm_work *w = malloc(sizeof *w);
  if (!w) {
    nb_set_error(NB_ENOMEM, "%s: out of memory", fn);
    return NULL;
  }
  nb_clear_error();
  rc = c->d->allreduce_start(c->state, nb_data(t), nb_numel(t), nb_dtype_of(t), op, &w->req);
  if (rc < 0) {
    free(w);
    backend_result(c, rc, fn);
    return NULL;
  }
  w->c = c;
  w->t = nb_retain(t);
  atomic_fetch_add(&c->in_flight, 1);
  return w;
}

/* A work ended with status rc: free it (on failure the tensor stays allocated: the
 * transport may still write into it). */
static int finish_work(nb_comm_work *w, int rc, const char *fn) {
  nb_comm *c = w->c;
  atomic_fetch_sub(&c->in_flight, 1);
  if (rc >= 0) {
    nb_bump_version(w->t);
    nb_release(w->t);
  }
  free(w);
  return backend_result(c, rc, fn);
}

int nb_comm_wait(nb_comm_work *w) {
  if (!w) return nb_set_error(NB_EINVAL, "nb_comm_wait: work is NULL");
  nb_clear_error();
  int rc = w->c->d->wait(w->c->state, w->req, w->c->timeout);
  return finish_work(w, rc, "nb_comm_wait");
}

int nb_comm_test(nb_comm_work *w, bool *done) {
  if (!w || !done) return nb_set_error(NB_EINVAL, "nb_comm_test: %s is NULL", w ? "done" : "work");
  *done = false;
  nb_clear_error();
  bool fin = false;
  int rc = w->c->d->test(w->c->state, w->req, &fin);
  if (!fin && rc >= 0) return 0;
  *done = true; /* finished, or failed: either way the request is consumed */
  return finish_work(w, rc, "nb_comm_test");
}

int nb_comm_broadcast(nb_comm *c, nb_tensor *t, int root) {
  const char *fn = "nb_comm_broadcast";
  int rc = check_usable(c, fn);
  if (rc == 0) rc = check_tensor(t, false, fn);
  if (rc < 0) return rc;
  if (root < 0 || root >= c->size)
    return nb_set_error(NB_EINVAL, "%s: root %d is not a rank of this job of %d process%s", fn,
                        root, c->size, c->size == 1 ? "" : "es");
  nb_clear_error();
  int64_t nbytes = nb_numel(t) * (int64_t)nb_dtype_size(nb_dtype_of(t));
  rc = c->d->broadcast(c->state, nb_data(t), nbytes, root, c->timeout);
  if (rc >= 0 && c->rank != root) nb_bump_version(t);
  return backend_result(c, rc, fn);
}

int nb_comm_barrier(nb_comm *c) {
  int rc = check_usable(c, "nb_comm_barrier");
  if (rc < 0) return rc;
  nb_clear_error();
  return backend_result(c, c->d->barrier(c->state, c->timeout), "nb_comm_barrier");
}

int nb_comm_abort(nb_comm *c, int code) {
  if (!c) return nb_set_error(NB_EINVAL, "nb_comm_abort: communicator is NULL");
  if (!c->d->abort)
    return nb_set_error(NB_EUNSUPPORTED, "nb_comm_abort: backend '%s' cannot abort a job",
                        c->d->name);
  fflush(NULL);
  return c->d->abort(c->state, code);
}
