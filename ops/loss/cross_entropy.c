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
 * kernels: e^x in float (ew_expf_neg, ew_expf specialised to x <= 0), sums in 16 fixed float
 * lanes added in double, compiled also for AVX2 (ifunc, no FMA: same bits either way).
 */
#include "loss_util.h"

#include <math.h>
#include <string.h>

#define LANES 16

/* The row kernels ignore FP exception flags (nothing reads them): without this GCC
 * will not if-convert ew_expf's range checks and keeps those loops scalar. */
NB_FAST_FP_BEGIN
#include "../elementwise/ew_exp.h" /* inside the region, so its helpers inline into the kernels */

/* 8 floats in a GCC vector (two SSE registers in the default clone, one in AVX2). */
typedef float ce_v8 __attribute__((vector_size(32)));
typedef int32_t ce_v8i __attribute__((vector_size(32)));

/* logsumexp of a float row, the max shift as softmax's. */
NB_SIMD_CLONES static double row_lse(const float *z, int64_t n) {
  ce_v8 m0, m1, v;
  float mx = -INFINITY, s[LANES] = {0};
  for (int l = 0; l < 8; l++) m0[l] = m1[l] = -INFINITY;
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES) { /* compare-and-select max, 16 lanes */
    memcpy(&v, z + i, sizeof v);
    ce_v8i k = v > m0;
    m0 = (ce_v8)(((ce_v8i)v & k) | ((ce_v8i)m0 & ~k));
    memcpy(&v, z + i + 8, sizeof v);
    k = v > m1;
    m1 = (ce_v8)(((ce_v8i)v & k) | ((ce_v8i)m1 & ~k));
  }
  for (int64_t k = i; k < n; k++) mx = z[k] > mx ? z[k] : mx;
  for (int l = 0; l < 8; l++) {
    mx = m0[l] > mx ? m0[l] : mx;
    mx = m1[l] > mx ? m1[l] : mx;
  }
  if (isinf(mx) && mx < 0) mx = 0; /* all -inf: avoid inf - inf */
  double r = 0;
  for (i = 0; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; l++) s[l] += ew_expf_neg(z[i + l] - mx);
  for (; i < n; i++) r += ew_expf_neg(z[i] - mx);
  for (int l = 0; l < LANES; l++) r += s[l];
  return (double)mx + log(r);
}

/* Σ w_c·z_c (w NULL: Σ z_c). */
NB_SIMD_CLONES static double row_wsum(const float *z, const float *w, int64_t n) {
  float s[LANES] = {0};
  double r = 0;
  int64_t i = 0;
  if (w) {
    for (; i + LANES <= n; i += LANES)
      for (int l = 0; l < LANES; l++) s[l] += w[i + l] * z[i + l];
    for (; i < n; i++) r += w[i] * z[i];
  } else {
    for (; i + LANES <= n; i += LANES)
      for (int l = 0; l < LANES; l++) s[l] += z[i + l];
    for (; i < n; i++) r += z[i];
  }
  for (int l = 0; l < LANES; l++) r += s[l];
  return r;
}

/* dz_c = k·e^(z_c − lse) − e·w_c (w NULL: − e) over a float row. */
NB_SIMD_CLONES static void row_grad(const float *z, float lse, float k, float e, const float *w, float *dz,
                            int64_t n) {
  if (w)
    for (int64_t c = 0; c < n; c++) dz[c] = k * ew_expf_neg(z[c] - lse) - e * w[c];
  else
    for (int64_t c = 0; c < n; c++) dz[c] = k * ew_expf_neg(z[c] - lse) - e;
}
NB_FAST_FP_END

typedef struct ce_job {
  const loss_cls *g;
  nb_dtype dt;
  const void *z, *w, *gv;
  const int64_t *t;
  int64_t ignore;
  double eps, wall, gs; /* wall: Σ_c w_c */
  double *lse;
  void *out, *dz;
} ce_job;

#define CE_KERNELS(T, SUF, ROWS)                                                             \
  static void fwd_##SUF(int64_t p0, int64_t p1, void *u, double *acc) {                     \
    const ce_job *j = u;                                                                     \
    const loss_cls *g = j->g;                                                                \
    const T *w = j->w;                                                                       \
    double s = 0;                                                                            \
    for (int64_t p = p0; p < p1; p++) {                                                      \
      int64_t t = j->t[p];                                                                   \
      const T *z = (const T *)j->z + loss_cls_off(g, p);                    \
      double l = 0;                                                                          \
      if (t == j->ignore) {                                                                  \
        j->lse[p] = 0;                                                                       \
      } else {                                                                               \
        double lse, wt = w ? (double)w[t] : 1.0;                                             \
        if (ROWS && g->S == 1) {                                                             \
          lse = row_lse((const float *)z, g->C);                                             \
        } else {                                                                             \
          double m = -INFINITY, se = 0;                                                      \
          for (int64_t c = 0; c < g->C; c++)                                                 \
            if (z[c * g->S] > m) m = z[c * g->S];                                            \
          for (int64_t c = 0; c < g->C; c++) se += exp((double)z[c * g->S] - m);             \
          lse = m + log(se);                                                                 \
        }                                                                                    \
        j->lse[p] = lse;                                                                     \
        l = (1 - j->eps) * wt * (lse - (double)z[t * g->S]);                                 \
        if (j->eps > 0) {                                                                    \
          double wz = 0;                                                                     \
          if (ROWS && g->S == 1)                                                             \
            wz = row_wsum((const float *)z, (const float *)w, g->C);                         \
          else                                                                               \
            for (int64_t c = 0; c < g->C; c++) wz += (w ? (double)w[c] : 1.0) * z[c * g->S]; \
          l += j->eps / (double)g->C * (j->wall * lse - wz);                                 \
        }                                                                                    \
      }                                                                                      \
      if (j->out) ((T *)j->out)[p] = (T)l;                                                   \
      s += l;                                                                                \
    }                                                                                        \
    *acc = s;                                                                                \
  }                                                                                          \
  static void bwd_##SUF(int64_t p0, int64_t p1, void *u, double *acc) {                     \
    const ce_job *j = u;                                                                     \
    const loss_cls *g = j->g;                                                                \
    const T *w = j->w;                                                                       \
    (void)acc;                                                                               \
    for (int64_t p = p0; p < p1; p++) {                                                      \
      int64_t t = j->t[p], off = loss_cls_off(g, p);                        \
      const T *z = (const T *)j->z + off;                                                    \
      T *dz = (T *)j->dz + off;                                                              \
      if (t == j->ignore) {                                                                  \
        for (int64_t c = 0; c < g->C; c++) dz[c * g->S] = 0;                                 \
        continue;                                                                            \
      }                                                                                      \
      double gp = j->gv ? (double)((const T *)j->gv)[p] : j->gs, lse = j->lse[p];            \
      double a = gp * (1 - j->eps) * (w ? (double)w[t] : 1.0), e = gp * j->eps / (double)g->C; \
      if (ROWS && g->S == 1) {                                                               \
        row_grad((const float *)z, (float)lse, (float)(a + e * j->wall), (float)e,           \
                 (const float *)w, (float *)dz, g->C);                                       \
        dz[t] = (T)(dz[t] - a);                                                              \
        continue;                                                                            \
      }                                                                                      \
      for (int64_t c = 0; c < g->C; c++) {                                                   \
        double sc = exp((double)z[c * g->S] - lse);                                          \
        double v = a * (sc - (c == t)) + e * (sc * j->wall - (w ? (double)w[c] : 1.0));      \
        dz[c * g->S] = (T)v;                                                                 \
      }                                                                                      \
    }                                                                                        \
  }

CE_KERNELS(float, f32, 1)
CE_KERNELS(double, f64, 0)

static double weight_total(const nb_tensor *w, int64_t C) {
  if (w == NULL) return (double)C;
  double s = 0;
  for (int64_t c = 0; c < C; c++)
    s += nb_dtype_of(w) == NB_F32 ? ((const float *)nb_data(w))[c] : ((const double *)nb_data(w))[c];
  return s;
}

static int cross_entropy_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                                 nb_tensor **out) {
  int red = (int)attrs[0].i;
  int64_t ignore = attrs[1].i;
  double eps = attrs[2].f;
  nb_tensor *z, *t, *w;
  loss_cls g;
  if (loss_cls_prepare("cross_entropy", in, ignore, &z, &t, &w, &g) < 0) return nb_last_status();
  nb_dtype dt = nb_dtype_of(z);
  nb_tensor *lse = nb_empty(1, &g.npos, NB_F64);
  nb_tensor *y = red == LOSS_NONE ? nb_empty(nb_ndim(t), nb_shape(t), dt) : NULL;
  if (lse == NULL || (red == LOSS_NONE && y == NULL)) return nb_last_status();
  ce_job j = {.g = &g, .dt = dt, .z = nb_data(z), .w = w ? nb_data(w) : NULL, .t = nb_data(t),
              .ignore = ignore, .eps = eps, .wall = weight_total(w, g.C), .lse = nb_data(lse),
              .out = y ? nb_data(y) : NULL};
  double total = loss_blocks(g.npos, dt == NB_F32 ? fwd_f32 : fwd_f64, &j);
  if (red != LOSS_NONE) y = loss_scalar(total, g.wsum, red, dt);
  if (y == NULL) return nb_last_status();
  if (nb_ctx_recording(ctx)) {
    loss_cls_blob b = {g.wsum, w != NULL};
    if (nb_ctx_save(ctx, in[0]) < 0 || nb_ctx_save(ctx, in[1]) < 0 || nb_ctx_save(ctx, lse) < 0 ||
        (w && nb_ctx_save(ctx, in[2]) < 0) || nb_ctx_save_blob(ctx, &b, sizeof b) < 0)
      return nb_last_status();
  }
  out[0] = y;
  return 0;
}

static int cross_entropy_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  const loss_cls_blob *b = loss_cls_blob_get("cross_entropy", ctx);
  if (b == NULL) return nb_last_status();
  nb_tensor *z = nb_ctx_saved(ctx, 0), *t = nb_ctx_saved(ctx, 1), *lse = nb_ctx_saved(ctx, 2);
  nb_tensor *w = b->has_weight ? nb_ctx_saved(ctx, 3) : NULL;
  if (z == NULL || t == NULL || lse == NULL || (b->has_weight && w == NULL)) return nb_last_status();
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  int red = (int)attrs[0].i;
  z = ops_contig(z);
  t = ops_contig(t);
  w = ops_contig(w);
  if (z == NULL || t == NULL || (b->has_weight && w == NULL)) return nb_last_status();
  loss_cls g = {0};
  int nd = nb_ndim(z);
  loss_cls_dims(nd, nb_shape(z), &g);
  nb_dtype dt = nb_dtype_of(z);
  nb_tensor *gv;
  double gs = loss_grad_scale(grad_out[0], red, b->wsum, &gv);
  nb_tensor *dz = nb_empty(nd, nb_shape(z), dt);
  if (dz == NULL || (red == LOSS_NONE && gv == NULL)) return nb_last_status();
  ce_job j = {.g = &g, .dt = dt, .z = nb_data(z), .w = w ? nb_data(w) : NULL, .t = nb_data(t),
              .ignore = attrs[1].i, .eps = attrs[2].f, .wall = weight_total(w, g.C),
              .lse = nb_data(lse), .gv = gv ? nb_data(gv) : NULL, .gs = gs, .dz = nb_data(dz)};
  loss_blocks(g.npos, dt == NB_F32 ? bwd_f32 : bwd_f64, &j);
  grad_in[0] = dz;
  return 0;
}

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

static const nb_input_spec inputs[] = {
    {"input", NB_DT_FLOAT, 0, "logits (N, C), (N, C, d1, ...) or (C)"},
    {"target", NB_DT_I64, NB_IN_NONDIFF, "class indices (N), (N, d1, ...) or 0-d, in [0, C) or ignore_index"},
    {"weight", NB_DT_FLOAT, NB_IN_OPTIONAL | NB_IN_NONDIFF, "(C) per-class weight, optional"},
};
static const nb_output_spec outputs[] = {{"out", 0, "0-d for mean/sum, the target's shape for none"}};
static const nb_attr_spec attrs[] = {
    {"reduction", NB_ATTR_STRING, 0, {.s = "mean", .i = LOSS_MEAN}, 0, 0, LOSS_REDUCTION_CHOICES,
     "none: per position; mean: sum divided by the sum of the targets' weights; sum"},
    {"ignore_index", NB_ATTR_INT, 0, {.i = -100}, 0, 0, NULL,
     "target value that contributes nothing (neither loss, gradient nor weight)"},
    {"label_smoothing", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN | NB_ATTR_HAS_MAX, {.f = 0.0}, 0, 1, NULL,
     "mix the one-hot target with the uniform distribution by this amount"},
};

const nb_op_desc loss_cross_entropy_desc = {
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
    .outputs = outputs,
    .n_attrs = 3,
    .attrs = attrs,
    .forward = cross_entropy_forward,
    .backward = cross_entropy_backward,
    .samples = cross_entropy_samples,
    .saves = "input, target, per-position logsumexp (float64), weight; blob with the weight sum",
};
