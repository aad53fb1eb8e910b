/* libnabla/ddp.c — distributed data parallel: signature check and broadcast at wrap
 * time, gradient buckets filled by post-accumulate-grad hooks and averaged with
 * non-blocking allreduces during backward, finish writes the averages back (ddp.h).
 *
 * A bucket is one flat tensor of one dtype: its parameters' gradients side by side, then
 * one flag per parameter (1 if this rank had a gradient for it this step). Averaging the
 * flags with the gradients tells every rank, at no extra message, whether any rank had a
 * gradient: a parameter no rank used keeps its .grad untouched, as in one process.
 *
 * Buckets are sent strictly in index order (the same on every rank, as collectives must
 * be): a complete bucket waits for the ones before it. Each hook also polls the buckets
 * in flight, which lets MPI progress them while backward goes on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nabla/autograd.h>
#include <nabla/ddp.h>
#include <nabla/tensor.h>
#include <nabla/text.h>

typedef struct ddp_param {
  struct nb_ddp *d; /* the wrapper: the hook's user pointer is the ddp_param */
  nb_tensor *p;     /* borrowed from the module */
  const char *name; /* in d->params */
  int bucket;       /* -1: frozen when wrapped, not synchronised */
  int slot;         /* index in its bucket */
  int64_t offset;   /* first element in the bucket */
  nb_tensor *view;  /* the bucket's elements for it, shaped like p (kept) */
  int64_t hook;
  bool ready; /* its gradient is in the bucket this step */
} ddp_param;

typedef struct ddp_bucket {
  nb_dtype dt;
  nb_tensor *flat; /* [numel + n] gradients, then flags (kept) */
  int64_t numel;
  int n, *params; /* indices into d->ps */
  int pending;    /* parameters not ready yet this step */
  bool sent, done, sent_in_backward;
  nb_comm_work *work;
  double sent_at, done_at;
} ddp_bucket;

struct nb_ddp {
  nb_module *m;
  nb_comm *c;
  nb_ddp_opts o;
  nb_named_tensors *params;
  ddp_param *ps;
  int n;
  ddp_bucket *bs;
  int nb;
  int next_send; /* lowest bucket not sent this step */
  bool sync;
  bool active; /* a hook ran since the last finish */
  int error;   /* first failure in a hook this step, and its message */
  char error_msg[768];
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

nb_ddp_opts nb_ddp_defaults(void) {
  return (nb_ddp_opts){.bucket_mb = 25, .first_bucket_mb = 1, .broadcast_buffers = true};
}

/* ---- during backward ---------------------------------------------------------------- */

static void set_flag(ddp_bucket *b, int slot, double v) {
  void *base = nb_data(b->flat);
  if (b->dt == NB_F64) ((double *)base)[b->numel + slot] = v;
  else ((float *)base)[b->numel + slot] = (float)v;
}

static double get_flag(const ddp_bucket *b, int slot) {
  const void *base = nb_data(b->flat);
  return b->dt == NB_F64 ? ((const double *)base)[b->numel + slot]
                         : (double)((const float *)base)[b->numel + slot];
}

/* Send every complete bucket whose predecessors are sent. */
static int send_ready(nb_ddp *d, bool in_backward) {
  while (d->next_send < d->nb && d->bs[d->next_send].pending == 0) {
    ddp_bucket *b = &d->bs[d->next_send];
    b->work = nb_comm_allreduce_start(d->c, b->flat, NB_REDUCE_AVG);
    if (!b->work) return nb_last_status();
    b->sent = true;
    b->sent_in_backward = in_backward;
    b->sent_at = now();
    d->next_send++;
  }
  return 0;
}

/* Poll the buckets in flight once (progress for the transport). */
static int poll_sent(nb_ddp *d) {
  for (int i = 0; i < d->next_send; i++) {
    ddp_bucket *b = &d->bs[i];
    if (!b->work) continue;
    bool fin = false;
    int rc = nb_comm_test(b->work, &fin);
    if (fin) {
      b->work = NULL;
      b->done = rc >= 0;
      b->done_at = now();
    }
    if (rc < 0) return rc;
    if (!fin) break; /* later ones are behind it */
  }
  return 0;
}

/* Remember a hook's failure for nb_ddp_finish (backward itself fails with it too). */
static int hook_failed(nb_ddp *d, int rc) {
  if (d->error == 0) {
    d->error = rc;
    snprintf(d->error_msg, sizeof d->error_msg, "%s", nb_last_error());
  }
  return rc;
}

/* The post-accumulate-grad hook: p's .grad is final for this backward. */
static int on_grad_ready(nb_tensor *leaf, void *user) {
  ddp_param *p = user;
  nb_ddp *d = p->d;
  if (!d->sync || p->bucket < 0) return 0;
  ddp_bucket *b = &d->bs[p->bucket];
  d->active = true;
  if (b->sent)
    return hook_failed(d, nb_set_error(NB_ESTATE, "ddp: parameter '%s' got a second gradient in "
                       "this step after its bucket was sent: call nb_ddp_finish after each "
                       "backward, or sum the losses before one backward, or turn sync off "
                       "(nb_ddp_set_sync) for all but the last micro-batch", p->name));
  int rc = nb_copy_into(p->view, nb_grad(leaf));
  if (rc < 0) return hook_failed(d, rc);
  set_flag(b, p->slot, 1.0);
  if (!p->ready) {
    p->ready = true;
    b->pending--;
  }
  rc = send_ready(d, true);
  if (rc == 0) rc = poll_sent(d);
  return rc < 0 ? hook_failed(d, rc) : 0;
}

/* ---- finish ---------------------------------------------------------------------------- */

static void reset_step(nb_ddp *d) {
  for (int i = 0; i < d->nb; i++) {
    ddp_bucket *b = &d->bs[i];
    b->pending = b->n;
    b->sent = b->done = false;
    b->work = NULL;
    for (int k = 0; k < b->n; k++) set_flag(b, k, 0.0);
  }
  for (int i = 0; i < d->n; i++) d->ps[i].ready = false;
  d->next_send = 0;
  d->active = false;
  d->error = 0;
}

/* Freezing or unfreezing after the wrap would make ranks disagree silently. */
static int check_frozen(nb_ddp *d) {
  for (int i = 0; i < d->n; i++) {
    ddp_param *p = &d->ps[i];
    if (p->bucket < 0 && nb_requires_grad(p->p))
      return nb_set_error(NB_ESTATE, "nb_ddp_finish: parameter '%s' was frozen when the model was "
                          "wrapped and requires grad now: its gradient would not be averaged; "
                          "wrap the model again after changing what is frozen", p->name);
  }
  return 0;
}

static int write_back(nb_ddp *d, ddp_bucket *b) {
  for (int k = 0; k < b->n; k++) {
    ddp_param *p = &d->ps[b->params[k]];
    if (get_flag(b, k) == 0) continue; /* no rank had a gradient: .grad stays as it is */
    nb_tensor *g = nb_grad(p->p);
    int rc = g ? nb_copy_into(g, p->view) : nb_set_grad(p->p, nb_copy_data(p->view));
    if (rc < 0) return rc;
  }
  return 0;
}

int nb_ddp_finish(nb_ddp *d) {
  if (!d) return nb_set_error(NB_EINVAL, "nb_ddp_finish: wrapper is NULL");
  if (!d->sync) return 0;
  int rc = d->error;
  if (rc < 0) {
    nb_set_error(rc, "a gradient hook failed during backward, so this step cannot be "
                 "synchronised: %s", d->error_msg);
    goto out;
  }
  if ((rc = check_frozen(d)) < 0) goto out;
  /* Parameters whose hook did not run this step: a .grad accumulated earlier (sync off
   * for the previous micro-batches, or zeroed without set_to_none) still counts; none at
   * all contributes zeros with flag 0. */
  for (int i = 0; i < d->n; i++) {
    ddp_param *p = &d->ps[i];
    if (p->bucket < 0 || p->ready) continue;
    ddp_bucket *b = &d->bs[p->bucket];
    nb_tensor *g = nb_grad(p->p);
    if ((rc = g ? nb_copy_into(p->view, g) : nb_fill(p->view, 0.0)) < 0) goto out;
    set_flag(b, p->slot, g ? 1.0 : 0.0);
    p->ready = true;
    b->pending--;
  }
  if ((rc = send_ready(d, false)) < 0) goto out;
  nb_scope_begin();
  for (int i = 0; i < d->nb && rc >= 0; i++) {
    ddp_bucket *b = &d->bs[i];
    if (b->work) {
      rc = nb_comm_wait(b->work);
      b->work = NULL;
      b->done_at = now();
      if (rc < 0) break;
    }
    rc = write_back(d, b);
  }
  nb_scope_end();
  if (rc >= 0 && d->o.broadcast_buffers) rc = nb_ddp_broadcast_buffers(d);
out:
  if (rc < 0) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", nb_last_error());
    /* works still in flight: collect them unless the communicator broke (then they
     * stay in flight, holding their buckets) */
    for (int i = 0; i < d->nb && !nb_comm_broken(d->c); i++)
      if (d->bs[i].work) nb_comm_wait(d->bs[i].work);
    for (int i = 0; i < d->nb; i++) d->bs[i].work = NULL;
    reset_step(d);
    return nb_set_error(rc, "nb_ddp_finish: %s", msg);
  }
  reset_step(d);
  return 0;
}

int nb_ddp_set_sync(nb_ddp *d, bool sync) {
  if (!d) return nb_set_error(NB_EINVAL, "nb_ddp_set_sync: wrapper is NULL");
  if (d->active)
    return nb_set_error(NB_ESTATE, "nb_ddp_set_sync: a backward sent gradients that nb_ddp_finish "
                        "has not collected yet; call it first");
  int old = d->sync;
  d->sync = sync;
  return old;
}

/* ---- wrapping ---------------------------------------------------------------------------- */

static void sig_line(nb_text *t, const char *kind, const char *name, const nb_tensor *x,
                     const char *extra) {
  nb_text_printf(t, "%s %s %s %s%s%s\n", kind, name, nb_dtype_name(nb_dtype_of(x)), nb_shape_of(x),
                 extra ? " " : "", extra ? extra : "");
}

/* The i-th line of a signature (without its newline) into buf; false past the end. */
static bool nth_line(const char *s, int64_t i, char *buf, size_t size) {
  for (; i > 0 && s; i--) {
    s = strchr(s, '\n');
    if (s) s++;
  }
  if (!s || !*s) return false;
  size_t len = strcspn(s, "\n");
  snprintf(buf, size, "%.*s", (int)(len < size ? len : size - 1), s);
  return true;
}

/* "param fc.weight float32 [10,84] trainable" -> "parameter 'fc.weight'". */
static void describe_line(const char *line, char *buf, size_t size) {
  char kind[16] = "", name[512] = "";
  if (sscanf(line, "%15s %511s", kind, name) == 2)
    snprintf(buf, size, "%s '%s'", strcmp(kind, "param") == 0 ? "parameter" : "buffer", name);
  else
    snprintf(buf, size, "'%s'", line);
}

/* Broadcast rank 0's signature, compare, and agree on the outcome with one allreduce. */
static int check_signature(nb_ddp *d, const char *mine) {
  nb_comm *c = d->c;
  int rank = nb_comm_rank(c), size = nb_comm_size(c);
  int64_t len = (int64_t)strlen(mine) + 1;
  nb_tensor *lt = nb_from_data(&len, 1, (int64_t[]){1}, NB_I64);
  if (!lt || nb_comm_broadcast(c, lt, 0) < 0) return nb_last_status();
  int64_t len0 = *(int64_t *)nb_data(lt);
  if (len0 < 1 || len0 > ((int64_t)1 << 31))
    return nb_set_error(NB_ECOMM, "rank 0 sent a model signature of %lld bytes", (long long)len0);
  nb_tensor *st = nb_zeros(1, (int64_t[]){(len0 + 7) / 8}, NB_I64);
  if (!st) return nb_last_status();
  if (rank == 0) memcpy(nb_data(st), mine, (size_t)len);
  if (nb_comm_broadcast(c, st, 0) < 0) return nb_last_status();
  const char *theirs = nb_data(st);
  /* first differing line, 1-based (0: equal) */
  int64_t k = 0;
  if (strcmp(theirs, mine) != 0) {
    k = 1;
    for (const char *a = theirs, *b = mine;; k++) {
      size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
      if (la != lb || memcmp(a, b, la) != 0 || !a[la] || !b[lb]) break;
      a += la + 1;
      b += lb + 1;
    }
  }
  nb_tensor *all = nb_zeros(1, (int64_t[]){size}, NB_F64);
  if (!all) return nb_last_status();
  ((double *)nb_data(all))[rank] = (double)k;
  if (nb_comm_allreduce(c, all, NB_REDUCE_SUM) < 0) return nb_last_status();
  const double *ks = nb_data(all);
  int bad = -1;
  for (int r = 0; r < size && bad < 0; r++)
    if (ks[r] != 0) bad = r;
  if (bad < 0) return 0;
  int64_t line = (int64_t)ks[bad] - 1;
  char l0[640], lr[640], what[600];
  bool has0 = nth_line(theirs, line, l0, sizeof l0);
  describe_line(has0 ? l0 : "", what, sizeof what);
  if (bad == rank) {
    bool has = nth_line(mine, line, lr, sizeof lr);
    if (!has0) describe_line(lr, what, sizeof what);
    return nb_set_error(NB_ESTATE, "rank %d's model differs from rank 0's at %s: rank 0 has %s, "
                        "rank %d has %s", bad, what, has0 ? l0 : "nothing more", bad,
                        has ? lr : "nothing more");
  }
  if (!has0)
    return nb_set_error(NB_ESTATE, "rank %d's model differs from rank 0's: rank %d has more "
                        "parameters or buffers than rank 0's %lld", bad, bad, (long long)line);
  return nb_set_error(NB_ESTATE, "rank %d's model differs from rank 0's at %s (rank 0 has %s; "
                      "see rank %d's error for its side)", bad, what, l0, bad);
}

static int broadcast_tensor(nb_comm *c, nb_tensor *t) {
  if (nb_is_contiguous(t)) return nb_comm_broadcast(c, t, 0);
  nb_tensor *tmp = nb_copy_data(t);
  int rc = tmp ? nb_comm_broadcast(c, tmp, 0) : nb_last_status();
  return rc < 0 ? rc : nb_copy_into(t, tmp);
}

int nb_ddp_broadcast_buffers(nb_ddp *d) {
  if (!d) return nb_set_error(NB_EINVAL, "nb_ddp_broadcast_buffers: wrapper is NULL");
  if (nb_comm_size(d->c) == 1) return 0;
  nb_named_tensors *bufs = nb_module_named_buffers(d->m);
  if (!bufs) return nb_last_status();
  int rc = 0;
  nb_scope_begin();
  for (int i = 0; i < bufs->n && rc >= 0; i++) {
    rc = broadcast_tensor(d->c, bufs->tensors[i]);
    if (rc < 0) nb_error_prefix("broadcasting buffer '%s'", bufs->names[i]);
  }
  nb_scope_end();
  nb_named_tensors_free(bufs);
  return rc;
}

static int build_buckets(nb_ddp *d) {
  int64_t cap = (int64_t)(d->o.bucket_mb * 1048576.0), first = (int64_t)(d->o.first_bucket_mb * 1048576.0);
  if (cap < 1) cap = 1;
  if (first < 1) first = 1;
  d->bs = calloc((size_t)d->n + 1, sizeof *d->bs);
  if (!d->bs) return nb_set_error(NB_ENOMEM, "out of memory");
  /* reverse registration order: the last layers' gradients come first in backward */
  ddp_bucket *b = NULL;
  int64_t bytes = 0;
  for (int i = d->n - 1; i >= 0; i--) {
    ddp_param *p = &d->ps[i];
    p->bucket = -1;
    if (!nb_requires_grad(p->p)) continue;
    nb_dtype dt = nb_dtype_of(p->p);
    int64_t pb = nb_numel(p->p) * (int64_t)nb_dtype_size(dt);
    int64_t limit = d->nb == 1 ? first : cap;
    if (!b || b->dt != dt || (bytes > 0 && bytes + pb > limit)) {
      b = &d->bs[d->nb++];
      b->dt = dt;
      b->params = calloc((size_t)d->n, sizeof *b->params);
      if (!b->params) return nb_set_error(NB_ENOMEM, "out of memory");
      bytes = 0;
    }
    p->bucket = (int)(b - d->bs);
    p->slot = b->n;
    p->offset = b->numel;
    b->params[b->n++] = i;
    b->numel += nb_numel(p->p);
    bytes += pb;
  }
  for (int j = 0; j < d->nb; j++) {
    b = &d->bs[j];
    b->flat = nb_keep(nb_zeros(1, (int64_t[]){b->numel + b->n}, b->dt));
    if (!b->flat) return nb_last_status();
    b->pending = b->n;
    for (int k = 0; k < b->n; k++) {
      ddp_param *p = &d->ps[b->params[k]];
      int nd = nb_ndim(p->p);
      int64_t strides[NB_MAX_DIMS], s = 1;
      for (int a = nd - 1; a >= 0; a--) {
        strides[a] = s;
        s *= nb_shape(p->p)[a];
      }
      p->view = nb_keep(nb_as_strided(b->flat, nd, nb_shape(p->p), strides, p->offset));
      if (!p->view) return nb_last_status();
    }
  }
  return 0;
}

nb_ddp *nb_ddp_new(nb_module *m, nb_comm *c, const nb_ddp_opts *opts) {
  if (!m || !c) {
    nb_set_error(NB_EINVAL, "nb_ddp_new: %s is NULL", m ? "communicator" : "module");
    return NULL;
  }
  nb_ddp_opts o = opts ? *opts : nb_ddp_defaults();
  if (!(o.bucket_mb > 0) || !(o.first_bucket_mb > 0)) {
    nb_set_error(NB_EINVAL, "nb_ddp_new: bucket sizes must be > 0 MiB (bucket_mb %g, "
                 "first_bucket_mb %g)", o.bucket_mb, o.first_bucket_mb);
    return NULL;
  }
  nb_ddp *d = calloc(1, sizeof *d);
  if (!d) {
    nb_set_error(NB_ENOMEM, "nb_ddp_new: out of memory");
    return NULL;
  }
  d->m = m;
  d->c = c;
  d->o = o;
  d->sync = true;
  nb_named_tensors *bufs = NULL;
  nb_text sig = {0};
  int rc = 0;
  nb_scope_begin();
  if (!(d->params = nb_module_named_parameters(m)) || !(bufs = nb_module_named_buffers(m))) {
    rc = nb_last_status();
    goto out;
  }
  d->n = d->params->n;
  d->ps = calloc((size_t)d->n + 1, sizeof *d->ps);
  if (!d->ps) {
    rc = nb_set_error(NB_ENOMEM, "out of memory");
    goto out;
  }
  for (int i = 0; i < d->n; i++) {
    d->ps[i] = (ddp_param){.d = d, .p = d->params->tensors[i], .name = d->params->names[i],
                           .bucket = -1};
    sig_line(&sig, "param", d->ps[i].name, d->ps[i].p,
             nb_requires_grad(d->ps[i].p) ? "trainable" : "frozen");
  }
  for (int i = 0; i < bufs->n; i++) sig_line(&sig, "buffer", bufs->names[i], bufs->tensors[i], NULL);
  char *text = nb_text_take(&sig);
  if (!text) {
    rc = nb_set_error(NB_ENOMEM, "out of memory");
    goto out;
  }
  rc = check_signature(d, text);
  free(text);
  if (rc < 0) goto out;
  if (!o.no_initial_broadcast && nb_comm_size(c) > 1) {
    for (int i = 0; i < d->n && rc >= 0; i++) {
      rc = broadcast_tensor(c, d->ps[i].p);
      if (rc < 0) nb_error_prefix("broadcasting parameter '%s'", d->ps[i].name);
    }
    for (int i = 0; i < bufs->n && rc >= 0; i++) {
      rc = broadcast_tensor(c, bufs->tensors[i]);
      if (rc < 0) nb_error_prefix("broadcasting buffer '%s'", bufs->names[i]);
    }
    if (rc < 0) goto out;
  }
  if ((rc = build_buckets(d)) < 0) goto out;
  for (int i = 0; i < d->n && rc >= 0; i++) {
    if (d->ps[i].bucket < 0) continue;
    int64_t h = nb_register_post_accumulate_grad_hook(d->ps[i].p, on_grad_ready, &d->ps[i]);
    if (h < 0) rc = (int)h;
    else d->ps[i].hook = h;
  }
out:
  nb_scope_end();
  nb_named_tensors_free(bufs);
  if (rc < 0) {
    nb_error_prefix("nb_ddp_new");
    nb_ddp_free(d);
    return NULL;
  }
  return d;
}

void nb_ddp_free(nb_ddp *d) {
  if (!d) return;
  /* A work in flight holds its bucket; on a broken communicator it stays so (leaked). */
  bool broken = nb_comm_broken(d->c) != NULL;
  for (int i = 0; i < d->nb; i++)
    if (d->bs[i].work && !broken) nb_comm_wait(d->bs[i].work);
  for (int i = 0; i < d->n; i++) {
    if (d->ps[i].hook > 0) nb_remove_hook(d->ps[i].p, d->ps[i].hook);
    nb_release(d->ps[i].view);
  }
  for (int i = 0; i < d->nb; i++) {
    nb_release(d->bs[i].flat);
    free(d->bs[i].params);
  }
  free(d->bs);
  free(d->ps);
  nb_named_tensors_free(d->params);
  free(d);
}

/* ---- introspection ----------------------------------------------------------------------- */

int nb_ddp_num_buckets(const nb_ddp *d) {
  return d ? d->nb : nb_set_error(NB_EINVAL, "nb_ddp_num_buckets: wrapper is NULL");
}

int nb_ddp_get_bucket(const nb_ddp *d, int i, nb_ddp_bucket_info *out) {
  if (!d || !out) return nb_set_error(NB_EINVAL, "nb_ddp_get_bucket: %s is NULL", d ? "out" : "wrapper");
  if (i < 0 || i >= d->nb)
    return nb_set_error(NB_EINVAL, "nb_ddp_get_bucket: bucket %d out of range [0, %d)", i, d->nb);
  const ddp_bucket *b = &d->bs[i];
  *out = (nb_ddp_bucket_info){b->n, b->numel, b->dt, d->ps[b->params[0]].name,
                              b->sent_in_backward, b->sent_at, b->done_at};
  return 0;
}
