/* mpi — the "mpi" communication backend: nabla's collectives on MPI (Open MPI, MPICH).
 *
 * Nothing happens at plugin load: MPI_Init runs in `start`, when a program opens the
 * backend (nb_comm_open), and MPI_Finalize in `stop` (its last nb_comm_close, or at
 * exit). A program that called MPI_Init itself keeps its MPI: we then neither initialise
 * nor finalise. Collectives run on a duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN,
 * so MPI errors come back as NB_ECOMM with MPI's own message instead of killing the
 * process.
 *
 * Loading. The core dlopens plugins RTLD_LOCAL, so libmpi (a dependency of this .so)
 * lands in a local scope. Open MPI dlopens its own components (mca_*.so) later, and some
 * (mca_pml_ob1.so, for one) use libmpi's symbols without linking libmpi: they resolve
 * only if libmpi is in the global scope, else "undefined symbol: ompi_..." and MPI_Init
 * fails. Before MPI_Init we reopen libmpi with RTLD_GLOBAL | RTLD_NOLOAD, which promotes
 * the copy already loaded (and its dependencies) to the global scope: the workaround
 * mpi4py uses. (Debian's Open MPI 4.1 happens to mask the problem: components that link
 * libmpi themselves, op/avx and bml/r2, are opened RTLD_GLOBAL first.)
 * NABLA_MPI_NO_GLOBAL=1 skips the promotion, to check a given MPI.
 *
 * Threads. Every MPI call is made under one mutex, and MPI is initialised with
 * MPI_THREAD_SERIALIZED, so any thread may call (backward hooks run wherever backward
 * does). Waits poll MPI_Test (which also drives progress) without holding the mutex in
 * between, spinning as MPI_Wait does (sleeping 0.1 ms between polls only once a wait
 * has lasted 0.1 s), and give up after the caller's timeout: a peer that died or stopped
 * participating makes the wait fail with NB_ECOMM instead of hanging. The blocking
 * allreduce is MPI_Allreduce itself (the fastest path; no timeout).
 */
#include <dlfcn.h>
#include <limits.h>
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nabla/sdk.h>

/* Elements per MPI call: MPI counts are int. */
#define CHUNK ((int64_t)1 << 30)

typedef struct mpi_state {
  MPI_Comm comm; /* our duplicate of MPI_COMM_WORLD */
  int rank, size, local_rank, local_size;
  bool we_initialised; /* MPI_Init was ours, so MPI_Finalize is too */
  int thread_level;
  pthread_t init_thread;
} mpi_state;

struct nb_comm_request {
  void *data;
  int64_t count;
  nb_dtype dt;
  bool avg;
  const char *what;
  int n;
  MPI_Request reqs[];
};

static pthread_mutex_t g_mpi = PTHREAD_MUTEX_INITIALIZER;
static mpi_state g_st;
static int g_phase; /* 0 never started, 1 running, 2 stopped */

/* ---- errors ------------------------------------------------------------------------ */

static int mpi_error(int err, const char *fmt, ...) NB_PRINTF(2, 3);
static int mpi_error(int err, const char *fmt, ...) {
  char what[256], msg[MPI_MAX_ERROR_STRING + 1] = "";
  int len = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  if (MPI_Error_string(err, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "unknown error");
  return nb_set_error(NB_ECOMM, "%s: %s (MPI error %d)", what, msg, err);
}

/* MPI_THREAD_SERIALIZED lets any thread call; a lower level only the initialising one. */
static int check_thread(const char *what) {
  if (g_st.thread_level >= MPI_THREAD_SERIALIZED || pthread_equal(pthread_self(), g_st.init_thread))
    return 0;
  return nb_set_error(NB_EUNSUPPORTED, "%s: this MPI provides thread level %d only "
                      "(MPI_THREAD_SERIALIZED is needed to call it from another thread than "
                      "the one that started MPI)", what, g_st.thread_level);
}

/* ---- start and stop ---------------------------------------------------------------- */

/* Put the libmpi this plugin linked into the global scope (see the top of the file). */
static void promote_libmpi(void) {
  const char *skip = getenv("NABLA_MPI_NO_GLOBAL");
  if (skip && skip[0] && strcmp(skip, "0") != 0) return;
  Dl_info info;
  if (!dladdr((void *)&MPI_Init, &info) || !info.dli_fname) {
    nb_log_message(NB_LOG_WARN, "mpi: cannot find the file of libmpi (dladdr failed); Open MPI's "
                   "components may fail to load");
    return;
  }
  dlerror();
  void *h = dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  if (!h) {
    const char *e = dlerror();
    nb_log_message(NB_LOG_WARN, "mpi: cannot make %s global (%s); Open MPI's components may "
                   "fail to load", info.dli_fname, e ? e : "?");
  } else {
    nb_log_message(NB_LOG_DEBUG, "mpi: %s promoted to the global scope before MPI_Init",
                   info.dli_fname);
  }
  /* the handle stays open: the library is never unloaded */
}

static int mpi_start(void **state) {
  pthread_mutex_lock(&g_mpi);
  int rc = 0, err, flag = 0;
  if (g_phase == 1) goto out;
  MPI_Finalized(&flag);
  if (flag) {
    rc = nb_set_error(NB_ESTATE, "MPI was finalized in this process and cannot start again "
                      "(MPI allows one MPI_Init per process)");
    goto out;
  }
  memset(&g_st, 0, sizeof g_st);
  g_st.init_thread = pthread_self();
  MPI_Initialized(&flag);
  if (!flag) {
    promote_libmpi();
    err = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &g_st.thread_level);
    if (err != MPI_SUCCESS) {
      rc = mpi_error(err, "MPI_Init_thread");
      goto out;
    }
    g_st.we_initialised = true;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  } else {
    MPI_Query_thread(&g_st.thread_level);
  }
  if ((err = MPI_Comm_dup(MPI_COMM_WORLD, &g_st.comm)) != MPI_SUCCESS) {
    rc = mpi_error(err, "MPI_Comm_dup(MPI_COMM_WORLD)");
    goto out;
  }
  MPI_Comm_set_errhandler(g_st.comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(g_st.comm, &g_st.rank);
  MPI_Comm_size(g_st.comm, &g_st.size);
  MPI_Comm local;
  g_st.local_rank = 0;
  g_st.local_size = 1;
  if (MPI_Comm_split_type(g_st.comm, MPI_COMM_TYPE_SHARED, g_st.rank, MPI_INFO_NULL, &local) ==
      MPI_SUCCESS) {
    MPI_Comm_rank(local, &g_st.local_rank);
    MPI_Comm_size(local, &g_st.local_size);
    MPI_Comm_free(&local);
  }
  g_phase = 1;
out:
  *state = &g_st;
  pthread_mutex_unlock(&g_mpi);
  return rc;
}

static int mpi_stop(void *state) {
  pthread_mutex_lock(&g_mpi);
  int rc = 0;
  if (g_phase == 1) {
    MPI_Comm_free(&g_st.comm);
    if (g_st.we_initialised) {
      int err = MPI_Finalize();
      if (err != MPI_SUCCESS) rc = mpi_error(err, "MPI_Finalize");
    }
    g_phase = 2;
  }
  pthread_mutex_unlock(&g_mpi);
  return rc;
}

static int mpi_rank(void *state) { return g_st.rank; }
static int mpi_size(void *state) { return g_st.size; }
static int mpi_local_rank(void *state) { return g_st.local_rank; }
static int mpi_local_size(void *state) { return g_st.local_size; }

/* ---- helpers ---------------------------------------------------------------------- */

static MPI_Datatype mpi_type(nb_dtype dt) { return dt == NB_F64 ? MPI_DOUBLE : MPI_FLOAT; }

/* The average: the sum divided by size, the same operation on every rank. For a power
 * of two, multiplying by its reciprocal is exact and gives the division's very bits. */
static void divide(void *data, int64_t count, nb_dtype dt, int size) {
  if (size == 1) return;
  bool pow2 = (size & (size - 1)) == 0;
  if (dt == NB_F64) {
    double *p = data, s = size, r = 1.0 / s;
    if (pow2)
      for (int64_t i = 0; i < count; i++) p[i] *= r;
    else
      for (int64_t i = 0; i < count; i++) p[i] /= s;
  } else {
    float *p = data, s = (float)size, r = 1.0f / s;
    if (pow2)
      for (int64_t i = 0; i < count; i++) p[i] *= r;
    else
      for (int64_t i = 0; i < count; i++) p[i] /= s;
  }
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Poll reqs[0..n) until all finished, an error, or timeout_s (<= 0: none). Finished
 * requests become MPI_REQUEST_NULL. 0, or NB_ECOMM (requests left in flight on a
 * timeout). */
static int poll_all(MPI_Request *reqs, int n, double timeout_s, const char *what) {
  double start = now(), deadline = timeout_s > 0 ? start + timeout_s : 0;
  for (long spins = 0;; spins++) {
    int done = 1;
    pthread_mutex_lock(&g_mpi);
    for (int i = 0; i < n; i++) {
      if (reqs[i] == MPI_REQUEST_NULL) continue;
      int flag = 0, err = MPI_Test(&reqs[i], &flag, MPI_STATUS_IGNORE);
      if (err != MPI_SUCCESS) {
        pthread_mutex_unlock(&g_mpi);
        return mpi_error(err, "%s", what);
      }
      done &= flag;
    }
    pthread_mutex_unlock(&g_mpi);
    if (done) return 0;
    if (spins % 16 != 15) continue; /* the clock every 16 polls: small operations stay cheap */
    double t = now();
    if (deadline > 0 && t > deadline)
      return nb_set_error(NB_ECOMM, "%s did not finish within %g s: a process of the job may have "
                          "died or stopped taking part (raise the limit with NABLA_COMM_TIMEOUT "
                          "or nb_comm_set_timeout)", what, timeout_s);
    /* Spin like MPI_Wait (Open MPI itself yields when it finds the node oversubscribed):
     * yielding at every poll would hand the core to any other process on a loaded
     * machine for a whole time slice. Only a wait that is long anyway (a slow or lost
     * peer) sleeps between polls, to stop burning the core. */
    if (t - start > 0.1) nanosleep(&(struct timespec){0, 100000}, NULL);
  }
}

/* ---- collectives -------------------------------------------------------------------- */

static int mpi_allreduce(void *state, void *data, int64_t count, nb_dtype dt, nb_reduce_op op) {
  int rc = check_thread("allreduce");
  if (rc < 0) return rc;
  size_t esz = nb_dtype_size(dt);
  pthread_mutex_lock(&g_mpi);
  for (int64_t off = 0; off < count && rc == 0; off += CHUNK) {
    int n = (int)(count - off < CHUNK ? count - off : CHUNK);
    int err = MPI_Allreduce(MPI_IN_PLACE, (char *)data + off * esz, n, mpi_type(dt), MPI_SUM,
                            g_st.comm);
    if (err != MPI_SUCCESS)
      rc = mpi_error(err, "MPI_Allreduce of %lld %s", (long long)count, nb_dtype_name(dt));
  }
  pthread_mutex_unlock(&g_mpi);
  if (rc == 0 && op == NB_REDUCE_AVG) divide(data, count, dt, g_st.size);
  return rc;
}

static int mpi_allreduce_start(void *state, void *data, int64_t count, nb_dtype dt,
                               nb_reduce_op op, nb_comm_request **request) {
  int rc = check_thread("allreduce_start");
  if (rc < 0) return rc;
  int n = count == 0 ? 0 : (int)((count + CHUNK - 1) / CHUNK);
  nb_comm_request *q = malloc(sizeof *q + (size_t)(n ? n : 1) * sizeof(MPI_Request));
  if (!q) return nb_set_error(NB_ENOMEM, "allreduce_start: out of memory");
  *q = (nb_comm_request){data, count, dt, op == NB_REDUCE_AVG, "allreduce", n};
  size_t esz = nb_dtype_size(dt);
  pthread_mutex_lock(&g_mpi);
  for (int i = 0; i < n; i++) {
    int64_t off = (int64_t)i * CHUNK;
    int m = (int)(count - off < CHUNK ? count - off : CHUNK);
    int err = MPI_Iallreduce(MPI_IN_PLACE, (char *)data + off * esz, m, mpi_type(dt), MPI_SUM,
                             g_st.comm, &q->reqs[i]);
    if (err != MPI_SUCCESS) {
      rc = mpi_error(err, "MPI_Iallreduce of %lld %s", (long long)count, nb_dtype_name(dt));
      break; /* the ones started stay in flight: the communicator is broken anyway */
    }
  }
  pthread_mutex_unlock(&g_mpi);
  if (rc < 0) {
    if (n <= 1) free(q);
    return rc;
  }
  *request = q;
  return 0;
}

static int finish(nb_comm_request *q) {
  if (q->avg) divide(q->data, q->count, q->dt, g_st.size);
  free(q);
  return 0;
}

static int mpi_wait(void *state, nb_comm_request *q, double timeout_s) {
  char what[96];
  snprintf(what, sizeof what, "allreduce of %lld %s", (long long)q->count, nb_dtype_name(q->dt));
  int rc = poll_all(q->reqs, q->n, timeout_s, what);
  if (rc < 0) return rc; /* q stays allocated: MPI may still use the buffer and requests */
  return finish(q);
}

static int mpi_test(void *state, nb_comm_request *q, bool *done) {
  *done = false;
  int all = 1;
  pthread_mutex_lock(&g_mpi);
  for (int i = 0; i < q->n; i++) {
    if (q->reqs[i] == MPI_REQUEST_NULL) continue;
    int flag = 0, err = MPI_Test(&q->reqs[i], &flag, MPI_STATUS_IGNORE);
    if (err != MPI_SUCCESS) {
      pthread_mutex_unlock(&g_mpi);
      *done = true;
      return mpi_error(err, "allreduce of %lld %s", (long long)q->count, nb_dtype_name(q->dt));
    }
    all &= flag;
  }
  pthread_mutex_unlock(&g_mpi);
  if (!all) return 0;
  *done = true;
  return finish(q);
}

static int mpi_broadcast(void *state, void *data, int64_t nbytes, int root, double timeout_s) {
  int rc = check_thread("broadcast");
  if (rc < 0) return rc;
  int n = nbytes == 0 ? 0 : (int)((nbytes + CHUNK - 1) / CHUNK);
  MPI_Request small[4], *reqs = n <= 4 ? small : malloc((size_t)n * sizeof *reqs);
  if (!reqs) return nb_set_error(NB_ENOMEM, "broadcast: out of memory");
  pthread_mutex_lock(&g_mpi);
  int started = 0;
  for (; started < n; started++) {
    int64_t off = (int64_t)started * CHUNK;
    int m = (int)(nbytes - off < CHUNK ? nbytes - off : CHUNK);
    int err = MPI_Ibcast((char *)data + off, m, MPI_BYTE, root, g_st.comm, &reqs[started]);
    if (err != MPI_SUCCESS) {
      rc = mpi_error(err, "MPI_Ibcast of %lld bytes from rank %d", (long long)nbytes, root);
      break;
    }
  }
  pthread_mutex_unlock(&g_mpi);
  char what[96];
  snprintf(what, sizeof what, "broadcast of %lld bytes from rank %d", (long long)nbytes, root);
  if (rc == 0) rc = poll_all(reqs, started, timeout_s, what);
  if (reqs != small && rc == 0) free(reqs); /* on failure MPI may still hold them */
  return rc;
}

static int mpi_barrier(void *state, double timeout_s) {
  int rc = check_thread("barrier");
  if (rc < 0) return rc;
  MPI_Request req;
  pthread_mutex_lock(&g_mpi);
  int err = MPI_Ibarrier(g_st.comm, &req);
  pthread_mutex_unlock(&g_mpi);
  if (err != MPI_SUCCESS) return mpi_error(err, "MPI_Ibarrier");
  return poll_all(&req, 1, timeout_s, "barrier");
}

static int mpi_abort(void *state, int code) {
  MPI_Abort(g_phase == 1 ? g_st.comm : MPI_COMM_WORLD, code); /* ends the job */
  return nb_set_error(NB_ECOMM, "MPI_Abort returned");
}

static const nb_comm_desc comm_mpi = {
    .struct_size = NB_COMM_DESC_SIZE,
    .name = "mpi",
    .doc = "MPI (Open MPI, MPICH): every process mpirun starts, on every machine of its "
           "hostfile. MPI_Init when a program opens it, MPI_Finalize when it closes it (or at "
           "exit); MPI errors come back as NB_ECOMM with MPI's message; waits give up after "
           "the communicator's timeout.",
    .start = mpi_start,
    .stop = mpi_stop,
    .rank = mpi_rank,
    .size = mpi_size,
    .allreduce = mpi_allreduce,
    .broadcast = mpi_broadcast,
    .barrier = mpi_barrier,
    .allreduce_start = mpi_allreduce_start,
    .wait = mpi_wait,
    .test = mpi_test,
    .local_rank = mpi_local_rank,
    .local_size = mpi_local_size,
    .abort = mpi_abort,
};

static int mpi_plugin_init(nb_registrar *r) { return nb_register_comm(r, &comm_mpi); }

NB_PLUGIN_DEFINE("mpi", "0.1.0", "Communication backend on MPI (allreduce, broadcast, barrier, "
                 "non-blocking allreduce)", "MIT", mpi_plugin_init)
