/* ops/elementwise/apply.c — the drivers every elementwise op shares: running a kernel
 * over whole tensors (flat fast path, strided/broadcast iteration, parallel split), and
 * the dtype/shape checks and output allocation of binary, unary and in-place ops, and
 * the forward/backward of the unary ops whose gradient needs one saved tensor.
 */
#include "ew.h"

typedef struct ew_job {
  int nops;
  ew_run_fn fn;
  const ew_extra *X;
  char *p[NB_ITER_MAX_OPS];
  int64_t s[NB_ITER_MAX_OPS];
  const nb_iter *it;
} ew_job;

static void flat_chunk(int64_t begin, int64_t end, void *user) {
  const ew_job *j = user;
  char *p[NB_ITER_MAX_OPS];
  for (int i = 0; i < j->nops; i++) p[i] = j->p[i] + begin * j->s[i];
  j->fn(end - begin, p, j->s, j->X);
}

static void iter_chunk(int64_t begin, int64_t end, void *user) {
  const ew_job *j = user;
  nb_iter it = *j->it;
  nb_iter_seek(&it, begin);
  for (int64_t r = begin; r < end; r++) {
    j->fn(it.n, it.ptr, it.step, j->X);
    if (r + 1 < end) nb_iter_next(&it);
  }
}

int ew_apply(int nops, nb_tensor *const *t, ew_run_fn fn, const ew_extra *X) {
  ew_job j;
  j.nops = nops;
  j.fn = fn;
  j.X = X;
  /* Flat: the output is contiguous and every input is either contiguous with the same
   * number of elements (then its row-major order matches the output's) or a single
   * element broadcast everywhere (step 0). One call per operand describes it. */
  int64_t n = -1; /* stays -1 for a NULL output: nb_iter_init reports it */
  size_t es = 0;
  void *p = NULL;
  bool flat = nb_flat_info(t[0], &p, &n, &es);
  if (n == 0) return 0;
  j.p[0] = p;
  j.s[0] = (int64_t)es;
  for (int i = 1; i < nops && flat; i++) {
    int64_t m = -1;
    bool contig = nb_flat_info(t[i], &p, &m, &es);
    j.p[i] = p;
    if (m == n && contig)
      j.s[i] = (int64_t)es;
    else if (m == 1)
      j.s[i] = 0;
    else
      flat = false;
  }
  if (flat) {
    if (n <= NB_PARALLEL_GRAIN)
      fn(n, j.p, j.s, X);
    else
      nb_parallel_for(n, NB_PARALLEL_GRAIN, flat_chunk, &j);
    return 0;
  }
  nb_iter it;
  if (nb_iter_init(&it, nops, t) < 0) return nb_last_status();
  int64_t runs = nb_iter_runs(&it);
  if (n <= NB_PARALLEL_GRAIN || runs <= 1) {
    do {
      fn(it.n, it.ptr, it.step, X);
    } while (nb_iter_next(&it));
    return 0;
  }
  int64_t per_run = it.n > 0 ? it.n : 1;
  int64_t grain = NB_PARALLEL_GRAIN / per_run;
  j.it = &it;
  nb_parallel_for(runs, grain > 0 ? grain : 1, iter_chunk, &j);
  return 0;
}

static int check_same_dtype(nb_ctx *ctx, const nb_tensor *a, const nb_tensor *b) {
  if (nb_dtype_of(a) == nb_dtype_of(b)) return 0;
  return nb_set_error(NB_EDTYPE,
                      "%s: operands have different dtypes %s %s and %s %s (convert one "
                      "with nb_to_dtype)",
                      nb_ctx_op_name(ctx), nb_dtype_name(nb_dtype_of(a)), nb_shape_of(a),
                      nb_dtype_name(nb_dtype_of(b)), nb_shape_of(b));
}

static ew_run_fn pick(nb_ctx *ctx, const ew_fns fns, const nb_tensor *a) {
  nb_dtype dt = nb_dtype_of(a);
  ew_run_fn fn = (unsigned)dt < NB_NUM_DTYPES ? fns[dt] : NULL;
  if (!fn)
    nb_set_error(NB_EDTYPE, "%s: dtype %s is not supported",
                 ctx ? nb_ctx_op_name(ctx) : "elementwise", nb_dtype_name(dt));
  return fn;
}

nb_tensor *ew_binary(nb_ctx *ctx, nb_tensor *a, nb_tensor *b, int out_dt, const ew_fns fns) {
  if (check_same_dtype(ctx, a, b) < 0) return NULL;
  ew_run_fn fn = pick(ctx, fns, a);
  if (!fn) return NULL;
  nb_dtype odt = out_dt < 0 ? nb_dtype_of(a) : (nb_dtype)out_dt;
  nb_tensor *out;
  int nda = nb_ndim(a), ndb = nb_ndim(b);
  if (ndb == 0 || nb_same_shape(a, b)) { /* a 0-d operand (a wrapped scalar) broadcasts */
    out = nb_empty(nda, nb_shape(a), odt);
  } else if (nda == 0) {
    out = nb_empty(ndb, nb_shape(b), odt);
  } else {
    int nd;
    int64_t shape[NB_MAX_DIMS];
    if (nb_broadcast_shapes(nb_ctx_op_name(ctx), 2, (const nb_tensor *const[]){a, b}, &nd, shape) <
        0)
      return NULL;
    out = nb_empty(nd, shape, odt);
  }
  if (!out) return NULL;
  if (ew_apply(3, (nb_tensor *const[]){out, a, b}, fn, NULL) < 0) return NULL;
  return out;
}

nb_tensor *ew_map(int nin, nb_tensor *const *in, const ew_fns fns, const ew_extra *X) {
  ew_run_fn fn = pick(NULL, fns, in[0]);
  if (!fn) return NULL;
  nb_tensor *out = nb_empty(nb_ndim(in[0]), nb_shape(in[0]), nb_dtype_of(in[0]));
  if (!out) return NULL;
  nb_tensor *t[NB_ITER_MAX_OPS] = {out};
  for (int i = 0; i < nin; i++) t[i + 1] = in[i];
  if (ew_apply(nin + 1, t, fn, X) < 0) return NULL;
  return out;
}

int ew_inplace_binary(nb_ctx *ctx, nb_tensor *self, nb_tensor *other, const ew_fns fns) {
  if (check_same_dtype(ctx, self, other) < 0) return nb_last_status();
  ew_run_fn fn = pick(ctx, fns, self);
  if (!fn) return nb_last_status();
  if (!nb_same_shape(self, other)) {
    int nd;
    int64_t shape[NB_MAX_DIMS];
    if (nb_broadcast_shapes(nb_ctx_op_name(ctx), 2, (const nb_tensor *const[]){self, other}, &nd,
                            shape) < 0)
      return nb_last_status();
    bool same = nd == nb_ndim(self);
    for (int d = 0; same && d < nd; d++) same = shape[d] == nb_shape(self)[d];
    if (!same) {
      char buf[96];
      return nb_set_error(NB_ESHAPE,
                          "%s: output with shape %s doesn't match the broadcast shape %s "
                          "(self %s, other %s)",
                          nb_ctx_op_name(ctx), nb_shape_of(self),
                          nb_shape_str(nd, shape, buf, sizeof buf), nb_shape_of(self),
                          nb_shape_of(other));
    }
  }
  return ew_apply(3, (nb_tensor *const[]){self, self, other}, fn, NULL);
}

int ew_save(nb_ctx *ctx, nb_tensor *t) {
  int r = nb_ctx_save(ctx, t);
  return r < 0 ? r : 0;
}

nb_tensor *ew_neg_of(nb_tensor *g) { return ew_map(1, &g, ew_neg_fns, NULL); }

nb_tensor *ew_zeros_like_input(nb_ctx *ctx, int i, nb_tensor *g) {
  int nd;
  const int64_t *shape = nb_ctx_input_shape(ctx, i, &nd);
  return nb_zeros(nd, shape, nb_dtype_of(g));
}

int ew_unary_forward(nb_ctx *ctx, nb_tensor *const *in, const ew_fns fns, ew_keep keep,
                     nb_tensor **out) {
  out[0] = ew_map(1, in, fns, NULL);
  if (!out[0]) return nb_last_status();
  nb_tensor *kept = keep == EW_KEEP_OUTPUT ? out[0] : in[0];
  if (nb_ctx_needs_input_grad(ctx, 0) && ew_save(ctx, kept) < 0) return nb_last_status();
  return 0;
}

int ew_inplace_unary_forward(nb_ctx *ctx, nb_tensor *const *in, const ew_fns fns, nb_tensor **out) {
  if (ew_apply(2, (nb_tensor *const[]){in[0], in[0]}, fns[nb_dtype_of(in[0])], NULL) < 0)
    return nb_last_status();
  out[0] = in[0];
  if (nb_ctx_needs_input_grad(ctx, 0) && ew_save(ctx, in[0]) < 0) return nb_last_status();
  return 0;
}

int ew_saved_backward(nb_ctx *ctx, nb_tensor *const *grad_out, const ew_fns grad_fns,
                      nb_tensor **grad_in) {
  nb_tensor *s = nb_ctx_saved(ctx, 0);
  if (!s) return nb_last_status();
  grad_in[0] = ew_map(2, (nb_tensor *const[]){grad_out[0], s}, grad_fns, NULL);
  return grad_in[0] ? 0 : nb_last_status();
}
