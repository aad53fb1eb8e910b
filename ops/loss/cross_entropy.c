/* ops/loss/cross_entropy.c — "cross_entropy": PyTorch's F.cross_entropy over logits
 * (N, C) or (N, C, d...) (or (C) with a 0-d target) and int64 class targets, fused
 * log-softmax + NLL.
 *
 * Per position with target t (positions whose target is ignore_index contribute
 * nothing), lse = logsumexp over classes, Σw = Σ_c w_c (C without weight):
 *   loss = (1 − ε)·w_t·(lse − z_t) + (ε/C)·(Σw·lse − Σ_c w_c z_c)
 * mean divides the sum by Σ w_t over non-ignored positions (also for the smoothing
 * term, as PyTorch 2.x). Gradient per logit, s = softmax(z):
 *   ∂/∂z_c = (1 − ε)·w_t·(s_c − [c = t]) + (ε/C)·(s_c·Σw − w_c)
 * i.e. (softmax − onehot)/N for the plain mean.
 * Float32 logits with classes contiguous (S = 1, the (N, C) case) take vectorisable row
 * kernels (ops/common/row_kernels.h, shared with softmax): e^x in float (ew_expf_neg,
 * ew_expf specialised to x <= 0), sums in 16 fixed float lanes added in double, compiled
 * also for AVX2 (ifunc, no FMA: same bits either way).
 */
#include "loss_util.h"

#include <math.h>

#include "../common/row_kernels.h" /* row_max, row_exp_sum, row_dot (shared with softmax) */

/* The row's shift m (its max; 0 when every logit is -inf, to avoid inf - inf). The
 * logsumexp is kept as m and log Σ e^(z − m) apart: added together, log 3 would vanish
 * into m = 1e30 (float64) or round to float's steps at m = 1e5 (float32). */
static float row_shift_f32(const float *z, int64_t n) {
  float m = row_max(z, n);
  return isinf(m) && m < 0 ? 0 : m;
}
static double row_shift_f64(const double *z, int64_t n, int64_t stride) {
  double m = -INFINITY;
  for (int64_t c = 0; c < n; c++)
    if (z[c * stride] > m) m = z[c * stride];
  return isinf(m) && m < 0 ? 0 : m;
}

/* The row kernels ignore FP exception flags (nothing reads them): without this GCC
 * will not if-convert ew_expf's range checks and keeps those loops scalar. */
NB_FAST_FP_BEGIN
/* dz_c = k·e^((z_c − m) − ls) − e·w_c (w NULL: − e) over a float row. */
NB_SIMD_CLONES static void row_grad(const float *z, float m, float ls, float k, float e, const float *w, float *dz,
                            int64_t n) {
  if (w)
    for (int64_t c = 0; c < n; c++) dz[c] = k * ew_expf_neg((z[c] - m) - ls) - e * w[c];
  else
    for (int64_t c = 0; c < n; c++) dz[c] = k * ew_expf_neg((z[c] - m) - ls) - e;
}
NB_FAST_FP_END

/* The per-position parts of the class-loss kernels (loss_util.h walks the positions):
 * forward keeps each row's log Σ e^(z − m) in j->lse (backward finds the shift m again);
 * ROWS: float rows with S = 1 take the vectorised row kernels above. */
#define CE_KERNELS(T, SUF, ROWS)                                                             \
  LOSS_CLS_FWD(T, SUF,                                                                       \
    double m, ls, wt = w ? (double)w[t] : 1.0;                                               \
    if (ROWS && g->S == 1) {                                                                 \
      float mf = row_shift_f32((const float *)x, g->C);                                      \
      m = mf;                                                                                \
      ls = log(row_exp_sum((const float *)x, mf, NULL, g->C));                               \
    } else {                                                                                 \
      double se = 0;                                                                         \
      m = row_shift_f64_##SUF(x, g->C, g->S);                                                \
      for (int64_t c = 0; c < g->C; c++) se += exp((double)x[c * g->S] - m);                 \
      ls = log(se);                                                                          \
    }                                                                                        \
    j->lse[p] = ls;                                                                          \
    l = (1 - j->eps) * wt * ((m - (double)x[t * g->S]) + ls);                                \
    if (j->eps > 0) {                                                                        \
      double wz = 0; /* Σ w_c (m − z_c) */                                                   \
      if (ROWS && g->S == 1)                                                                 \
        wz = j->wall * m - row_dot((const float *)x, (const float *)w, g->C);                \
      else                                                                                   \
        for (int64_t c = 0; c < g->C; c++) wz += (w ? (double)w[c] : 1.0) * (m - x[c * g->S]); \
      l += j->eps / (double)g->C * (wz + j->wall * ls);                                      \
    })                                                                                       \
  LOSS_CLS_BWD(T, SUF,                                                                       \
    const T *x = (const T *)j->x + off;                                                      \
    double ls = j->lse[p];                                                                   \
    double a = gp * (1 - j->eps) * (w ? (double)w[t] : 1.0), e = gp * j->eps / (double)g->C; \
    if (ROWS && g->S == 1) {                                                                 \
      row_grad((const float *)x, row_shift_f32((const float *)x, g->C), (float)ls,           \
               (float)(a + e * j->wall), (float)e, (const float *)w, (float *)dx, g->C);     \
      dx[t] = (T)(dx[t] - a);                                                                \
      continue;                                                                              \
    }                                                                                        \
    double m = row_shift_f64_##SUF(x, g->C, g->S);                                           \
    for (int64_t c = 0; c < g->C; c++) {                                                     \
      double sc = exp(((double)x[c * g->S] - m) - ls);                                       \
      double v = a * (sc - (c == t)) + e * (sc * j->wall - (w ? (double)w[c] : 1.0));        \
      dx[c * g->S] = (T)v;                                                                   \
    })

/* the strided max for each dtype (float rows with S > 1 take it too) */
static double row_shift_f64_f32(const float *z, int64_t n, int64_t stride) {
  float m = -INFINITY;
  for (int64_t c = 0; c < n; c++)
    if (z[c * stride] > m) m = z[c * stride];
  return isinf(m) && m < 0 ? 0 : m;
}
static double row_shift_f64_f64(const double *z, int64_t n, int64_t stride) {
  return row_shift_f64(z, n, stride);
}

CE_KERNELS(float, f32, 1)
CE_KERNELS(double, f64, 0)

static const loss_cls_op op = {"cross_entropy", true, fwd_f32, fwd_f64, bwd_f32, bwd_f64};
LOSS_CLS_ENTRIES(cross_entropy, op)

static int cross_entropy_samples(nb_sample_sink *s) {
  nb_generator *gen = nb_sample_generator(s);
  int rc = 0;
#define Z(...) nb_rand_range(sizeof((int64_t[]){__VA_ARGS__}) / 8, (int64_t[]){__VA_ARGS__}, -2, 2, NB_F64, gen)
  nb_tensor *a[3] = {Z(4, 3), nb_from_data((int64_t[]){0, 2, 1, 2}, 1, (int64_t[]){4}, NB_I64), NULL};
  rc |= nb_sample_add(s, "(N, C), mean", 3, a, 0, NULL, 0);
  rc |= nb_sample_add(s, "(N, C), sum", 3, a, 1, (nb_attr[]){NB_A_STR("reduction", "sum")}, 0);
  rc |= nb_sample_add(s, "(N, C), none", 3, a, 1, (nb_attr[]){NB_A_STR("reduction", "none")}, 0);
  nb_tensor *b[3] = {Z(4, 3), nb_from_data((int64_t[]){1, -100, 0, 2}, 1, (int64_t[]){4}, NB_I64),
                     nb_rand_range(1, (int64_t[]){3}, 0.5, 2, NB_F64, gen)};
  rc |= nb_sample_add(s, "class weights and an ignored target, mean", 3, b, 0, NULL, 0);
  rc |= nb_sample_add(s, "weights, label_smoothing 0.2, mean", 3, b, 1,
                      (nb_attr[]){NB_A_FLOAT("label_smoothing", 0.2)}, 0);
  nb_tensor *c[3] = {Z(2, 3, 2, 2), nb_from_data((int64_t[]){0, 1, 2, 1, 2, 0, 1, 1}, 3, (int64_t[]){2, 2, 2}, NB_I64),
                     NULL};
  rc |= nb_sample_add(s, "(N, C, d1, d2), label_smoothing 0.1", 3, c, 1,
                      (nb_attr[]){NB_A_FLOAT("label_smoothing", 0.1)}, 0);
  nb_tensor *d[3] = {Z(5), nb_from_data((int64_t[]){3}, 0, NULL, NB_I64), NULL};
  rc |= nb_sample_add(s, "unbatched (C) with a 0-d target", 3, d, 0, NULL, 0);
#undef Z
  return rc < 0 ? NB_EINVAL : 0;
}

static int cross_entropy_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return loss_cls_backward_graph(&op, ctx, grad_out, grad_in);
}

static const nb_input_spec inputs[] = {
    {"input", NB_DT_FLOAT, 0, "logits (N, C), (N, C, d1, ...) or (C)"},
    LOSS_CLS_TARGET_WEIGHT_INPUTS,
};
static const nb_attr_spec attrs[] = {
    LOSS_CLS_REDUCTION_ATTR,
    {"ignore_index", NB_ATTR_INT, 0, {.i = -100}, 0, 0, NULL,
     "target value that contributes nothing (neither loss, gradient nor weight)"},
    {"label_smoothing", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN | NB_ATTR_HAS_MAX, {.f = 0.0}, 0, 1, NULL,
     "mix the one-hot target with the uniform distribution by this amount"},
};

const nb_op_desc op_cross_entropy = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "cross_entropy",
    .doc = "Cross-entropy of logits against int64 class targets (fused log_softmax + "
           "nll_loss), as PyTorch's F.cross_entropy with class-index targets: optional class "
           "weights, ignore_index, label_smoothing. mean divides by the sum of the weights of "
           "the non-ignored targets. Gradient: (softmax - onehot) scaled by weight and "
           "reduction, e.g. (softmax - onehot)/N for a plain mean.",
    .n_inputs = 3,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = loss_cls_outputs,
    .n_attrs = 3,
    .attrs = attrs,
    .forward = cross_entropy_forward,
    .backward = cross_entropy_backward,
    .backward_graph = cross_entropy_backward_graph,
    .samples = cross_entropy_samples,
    .saves = "input, target, per-position logsumexp (float64), weight; blob with the weight sum",
};
