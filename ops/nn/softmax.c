/* ops/nn/softmax.c — "softmax" along a dim (PyTorch's F.softmax), and the kernels it
 * shares with "log_softmax" (log_softmax.c).
 *
 * The input is viewed as (outer, D, inner) around the dim. Each row is shifted by its
 * max before exp (stable); sums are taken in double in a fixed order. Rows are
 * independent and run in parallel (inner positions in blocks of 64).
 * Backward: softmax dx = y·(g − Σ g·y); log_softmax dx = g − exp(y)·Σ g.
 * Float32 rows along the last dim (inner = 1, the classifier case) take vectorisable
 * row kernels (ops/common/row_kernels.h, shared with cross_entropy): e^x by ew_expf_neg
 * (ew_exp.h: ew_expf specialised to x <= 0), sums in 16 fixed float lanes added in double,
 * compiled also for AVX2 (ifunc, no FMA, so both variants give the same bits).
 */
#include "nn_util.h"
#include "../common/graph_util.h"

#include <math.h>

#include "../common/row_kernels.h" /* row_max, row_exp_sum, row_dot (shared with cross_entropy) */

/* The row kernels may ignore FP exception flags (nothing here reads them): without
 * this GCC will not if-convert ew_expf's range checks and keeps those loops scalar. */
NB_FAST_FP_BEGIN
/* One float32 row: forward (x -> y) of softmax or log_softmax. */
NB_SIMD_CLONES static void row_fwd(const float *x, float *y, int64_t n, bool is_log) {
  float m = row_max(x, n);
  if (isinf(m) && m < 0) m = 0; /* all -inf: avoid inf - inf */
  if (is_log) {
    /* (x − m) − log Σ, never x − (m + log Σ): at m = 1e5 the sum would round to float's
     * steps of 2^-7 (PyTorch subtracts in this order too) */
    float l = (float)log(row_exp_sum(x, m, NULL, n));
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) - l;
  } else {
    float r = (float)(1.0 / row_exp_sum(x, m, y, n));
    for (int64_t i = 0; i < n; i++) y[i] *= r;
  }
}

/* One float32 row: backward from the saved output y and the gradient g. */
NB_SIMD_CLONES static void row_bwd(const float *y, const float *g, float *dx, int64_t n, bool is_log) {
  if (is_log) {
    float s = (float)row_dot(g, NULL, n);
    for (int64_t i = 0; i < n; i++) dx[i] = g[i] - ew_expf_neg(y[i]) * s;
  } else {
    float s = (float)row_dot(g, y, n);
    for (int64_t i = 0; i < n; i++) dx[i] = y[i] * (g[i] - s);
  }
}

NB_FAST_FP_END

typedef struct sm_job {
  int64_t outer, D, inner, nblk;
  bool log;
  const void *x; /* forward input, or saved output y in backward */
  const void *g; /* backward: output gradient */
  void *y;       /* forward output, or input gradient in backward */
} sm_job;

#define BLK 64
#define SM_KERNELS(T, SUF, EXP, LOG, ROWS)                                                    \
  static void fwd_##SUF(int64_t u0, int64_t u1, void *user) {                                 \
    const sm_job *j = user;                                                                   \
    if (ROWS && j->inner == 1) {                                                              \
      for (int64_t u = u0; u < u1; u++)                                                       \
        row_fwd((const float *)j->x + u * j->D, (float *)j->y + u * j->D, j->D, j->log);      \
      return;                                                                                 \
    }                                                                                         \
    for (int64_t u = u0; u < u1; u++) {                                                       \
      int64_t o = u / j->nblk, i0 = (u % j->nblk) * BLK;                                      \
      int64_t i1 = i0 + BLK < j->inner ? i0 + BLK : j->inner, ni = i1 - i0;                  \
      const T *x = (const T *)j->x + o * j->D * j->inner + i0;                                \
      T *y = (T *)j->y + o * j->D * j->inner + i0;                                            \
      T mx[BLK];                                                                              \
      double s[BLK];                                                                          \
      for (int64_t i = 0; i < ni; i++) mx[i] = -INFINITY, s[i] = 0;                           \
      for (int64_t d = 0; d < j->D; d++)                                                      \
        for (int64_t i = 0; i < ni; i++) {                                                    \
          T v = x[d * j->inner + i];                                                          \
          if (v > mx[i] || isnan(v)) mx[i] = v;                                               \
        }                                                                                     \
      for (int64_t i = 0; i < ni; i++)                                                        \
        if (isinf(mx[i]) && mx[i] < 0) mx[i] = 0; /* all -inf: avoid inf - inf */            \
      if (j->log) {                                                                           \
        for (int64_t d = 0; d < j->D; d++)                                                    \
          for (int64_t i = 0; i < ni; i++) s[i] += EXP(x[d * j->inner + i] - mx[i]);          \
        T l[BLK];                                                                             \
        for (int64_t i = 0; i < ni; i++) l[i] = (T)(LOG(s[i]));                               \
        for (int64_t d = 0; d < j->D; d++) /* (x − m) − log Σ, as in row_fwd */              \
          for (int64_t i = 0; i < ni; i++)                                                    \
            y[d * j->inner + i] = (x[d * j->inner + i] - mx[i]) - l[i];                       \
      } else {                                                                                \
        for (int64_t d = 0; d < j->D; d++)                                                    \
          for (int64_t i = 0; i < ni; i++) {                                                  \
            T e = EXP(x[d * j->inner + i] - mx[i]);                                           \
            y[d * j->inner + i] = e;                                                          \
            s[i] += e;                                                                        \
          }                                                                                   \
        T r[BLK];                                                                             \
        for (int64_t i = 0; i < ni; i++) r[i] = (T)(1.0 / s[i]);                              \
        for (int64_t d = 0; d < j->D; d++)                                                    \
          for (int64_t i = 0; i < ni; i++) y[d * j->inner + i] *= r[i];                       \
      }                                                                                       \
    }                                                                                         \
  }                                                                                           \
  static void bwd_##SUF(int64_t u0, int64_t u1, void *user) {                                 \
    const sm_job *j = user;                                                                   \
    if (ROWS && j->inner == 1) {                                                              \
      for (int64_t u = u0; u < u1; u++)                                                       \
        row_bwd((const float *)j->x + u * j->D, (const float *)j->g + u * j->D,               \
                (float *)j->y + u * j->D, j->D, j->log);                                      \
      return;                                                                                 \
    }                                                                                         \
    for (int64_t u = u0; u < u1; u++) {                                                       \
      int64_t o = u / j->nblk, i0 = (u % j->nblk) * BLK;                                      \
      int64_t i1 = i0 + BLK < j->inner ? i0 + BLK : j->inner, ni = i1 - i0;                  \
      int64_t off = o * j->D * j->inner + i0;                                                 \
      const T *y = (const T *)j->x + off, *g = (const T *)j->g + off;                         \
      T *dx = (T *)j->y + off;                                                                \
      double s[BLK];                                                                          \
      for (int64_t i = 0; i < ni; i++) s[i] = 0;                                              \
      for (int64_t d = 0; d < j->D; d++)                                                      \
        for (int64_t i = 0; i < ni; i++)                                                      \
          s[i] += j->log ? (double)g[d * j->inner + i]                                        \
                         : (double)g[d * j->inner + i] * y[d * j->inner + i];                 \
      T sf[BLK];                                                                              \
      for (int64_t i = 0; i < ni; i++) sf[i] = (T)s[i];                                       \
      for (int64_t d = 0; d < j->D; d++)                                                      \
        for (int64_t i = 0; i < ni; i++) {                                                    \
          int64_t k = d * j->inner + i;                                                       \
          dx[k] = j->log ? g[k] - EXP(y[k]) * sf[i] : y[k] * (g[k] - sf[i]);                  \
        }                                                                                     \
    }                                                                                         \
  }

SM_KERNELS(float, f32, expf, log, 1)
SM_KERNELS(double, f64, exp, log, 0)

/* (outer, D, inner) around dim of a shape; error naming op when dim is out of range. */
static int split(const char *op, int nd, const int64_t *sh, int64_t dim, sm_job *j) {
  int n = nd == 0 ? 1 : nd;
  if (dim < -n || dim >= n)
    return nb_set_error(NB_EINVAL, "%s: dim %lld is out of range for a %d-D input", op, (long long)dim, nd);
  if (dim < 0) dim += n;
  j->outer = 1, j->D = 1, j->inner = 1;
  for (int d = 0; d < nd; d++) {
    if (d < dim) j->outer *= sh[d];
    else if (d == dim) j->D = sh[d];
    else j->inner *= sh[d];
  }
  j->nblk = (j->inner + BLK - 1) / BLK;
  return 0;
}

int nn_softmax_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out, bool log) {
  const char *op = log ? "log_softmax" : "softmax";
  sm_job j = {.log = log};
  if (split(op, nb_ndim(in[0]), nb_shape(in[0]), attrs[0].i, &j) < 0) return nb_last_status();
  nb_tensor *x = ops_contig(in[0]);
  nb_tensor *y = x ? nb_empty(nb_ndim(x), nb_shape(x), nb_dtype_of(x)) : NULL;
  if (y == NULL) return nb_last_status();
  j.x = nb_data(x);
  j.y = nb_data(y);
  nb_parallel_for(j.outer * j.nblk, 1 + NB_PARALLEL_GRAIN / (j.D * (j.inner < BLK ? j.inner : BLK) + 1),
                  nb_dtype_of(x) == NB_F32 ? fwd_f32 : fwd_f64, &j);
  if (nb_ctx_save(ctx, y) < 0) return nb_last_status();
  out[0] = y;
  return 0;
}

int nn_softmax_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in, bool log) {
  nb_tensor *y = nb_ctx_saved(ctx, 0);
  if (y == NULL) return nb_last_status();
  sm_job j = {.log = log};
  if (split(log ? "log_softmax" : "softmax", nb_ndim(y), nb_shape(y), nb_ctx_attrs(ctx)[0].i, &j) < 0)
    return nb_last_status();
  y = ops_contig(y);
  nb_tensor *g = ops_contig(grad_out[0]);
  nb_tensor *dx = (y && g) ? nb_empty(nb_ndim(y), nb_shape(y), nb_dtype_of(y)) : NULL;
  if (dx == NULL) return nb_last_status();
  j.x = nb_data(y);
  j.g = nb_data(g);
  j.y = nb_data(dx);
  nb_parallel_for(j.outer * j.nblk, 1 + NB_PARALLEL_GRAIN / (j.D * (j.inner < BLK ? j.inner : BLK) + 1),
                  nb_dtype_of(y) == NB_F32 ? bwd_f32 : bwd_f64, &j);
  grad_in[0] = dx;
  return 0;
}

/* Recorded, with y the saved output along dim d: softmax y (g - sum_d(g y)), log_softmax
 * g - exp(y) sum_d(g). */
int nn_softmax_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in,
                              bool log) {
  nb_tensor *y = nb_ctx_saved(ctx, 0), *g = grad_out[0];
  if (y == NULL) return nb_last_status();
  nb_attr dims[2] = {NB_A_INTS("dim", nb_ctx_attrs(ctx)[0].i), NB_A_BOOL("keepdim", true)};
  if (log) {
    nb_tensor *s = nb_call1("sum", 1, &g, 2, dims), *e = s ? NB_CALL("exp", y) : NULL;
    nb_tensor *es = e ? NB_CALL("mul", e, s) : NULL;
    grad_in[0] = es ? NB_CALL("sub", g, es) : NULL;
  } else {
    nb_tensor *gy = NB_CALL("mul", g, y);
    nb_tensor *s = gy ? nb_call1("sum", 1, &gy, 2, dims) : NULL;
    nb_tensor *d = s ? NB_CALL("sub", g, s) : NULL;
    grad_in[0] = d ? NB_CALL("mul", y, d) : NULL;
  }
  return grad_in[0] ? 0 : nb_last_status();
}

static int softmax_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return nn_softmax_backward_graph(ctx, grad_out, grad_in, false);
}

static int softmax_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                           nb_tensor **out) {
  return nn_softmax_forward(ctx, in, attrs, out, false);
}
static int softmax_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return nn_softmax_backward(ctx, grad_out, grad_in, false);
}

int nn_softmax_samples(nb_sample_sink *s) {
  nb_generator *gen = nb_sample_generator(s);
  int rc = 0;
  nb_tensor *a = nb_rand_range(2, (int64_t[]){3, 5}, -3, 3, NB_F64, gen);
  rc |= nb_sample_add(s, "2-D, last dim", 1, &a, 1, (nb_attr[]){NB_A_INT("dim", -1)}, 0);
  nb_tensor *b = nb_rand_range(3, (int64_t[]){2, 4, 3}, -3, 3, NB_F64, gen);
  rc |= nb_sample_add(s, "3-D, middle dim", 1, &b, 1, (nb_attr[]){NB_A_INT("dim", 1)}, 0);
  nb_tensor *c = nb_rand_range(2, (int64_t[]){4, 3}, -3, 3, NB_F64, gen);
  rc |= nb_sample_add(s, "2-D, dim 0", 1, &c, 1, (nb_attr[]){NB_A_INT("dim", 0)}, 0);
  nb_tensor *d = nb_rand_range(1, (int64_t[]){6}, -20, 20, NB_F64, gen);
  rc |= nb_sample_add(s, "1-D, wide range", 1, &d, 1, (nb_attr[]){NB_A_INT("dim", 0)}, 0);
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_output_spec outputs[] = {{"out", 0, "same shape; sums to 1 along dim"}};

const nb_op_desc op_softmax = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "softmax",
    .doc = "Softmax along dim, exp(x - max) / sum(exp(x - max)), as PyTorch's F.softmax. "
           "Backward: dx = y * (g - sum(g * y)) along dim.",
    .n_inputs = 1,
    .inputs = nn_softmax_inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .n_attrs = 1,
    .attrs = nn_softmax_attrs,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .backward_graph = softmax_backward_graph,
    .samples = nn_softmax_samples,
    .saves = "the output",
};
