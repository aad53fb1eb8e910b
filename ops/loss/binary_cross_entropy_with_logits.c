/* ops/loss/binary_cross_entropy_with_logits.c — "binary_cross_entropy_with_logits":
 * PyTorch's F.binary_cross_entropy_with_logits in the stable fused form
 *   loss = w·((1 − t)·x + L·softplus(−x)),  L = 1 + (pw − 1)·t,
 *   softplus(−x) = max(−x, 0) + log1p(exp(−|x|))   (never overflows)
 * Gradients: d x = w·(L·σ(x) − pw·t)·g',  d t = w·(−x + (pw − 1)·softplus(−x))·g'.
 * weight and pos_weight (pw) are optional and broadcast to the input's shape.
 * Float32 without weight and pos_weight (the common case) takes vectorisable kernels:
 * e^(−|x|) by ew_expf, log1p by a Cephes-style logf polynomial with a first-order
 * correction, losses summed in 16 fixed float lanes added in double; AVX2 clone (ifunc,
 * no FMA: same bits either way).
 */
#include "loss_util.h"
#include "../common/graph_util.h"

#include <math.h>

#define LANES 16

/* The fast kernels ignore FP exception flags (nothing reads them), so GCC if-converts
 * the range checks and selects and vectorises the loops. */
NB_FAST_FP_BEGIN
#include "../elementwise/ew_exp.h" /* inside the region, so ew_expf inlines into the kernels */

/* log(1 + e) for e in [0, 1] (or nan): log(u), u = 1 + e in [1, 2], from Cephes' logf
 * polynomial on u or u/2 (whichever is nearer 1), plus (e − (u − 1))/u for the part of e
 * that u lost to rounding. */
static inline float log1p01(float e) {
  float u = 1.0f + e;
  int big = u > 1.41421356f;
  float f = big ? u * 0.5f : u, t = f - 1.0f, z = t * t;
  float p = 7.0376836292e-2f;
  p = p * t - 1.1514610310e-1f;
  p = p * t + 1.1676998740e-1f;
  p = p * t - 1.2420140846e-1f;
  p = p * t + 1.4249322787e-1f;
  p = p * t - 1.6668057665e-1f;
  p = p * t + 2.0000714765e-1f;
  p = p * t - 2.4999993993e-1f;
  p = p * t + 3.3333331174e-1f;
  float y = t * z * p - 0.5f * z + t + (big ? 0.693147180559945f : 0.0f);
  return y + (e - (u - 1.0f)) / u;
}

/* The loss (1 − t)·x + softplus(−x) of one element. */
static inline float bl_loss(float x, float t) {
  float ax = x < 0 ? -x : x, nx = x < 0 ? -x : 0.0f;
  return (1.0f - t) * x + nx + log1p01(ew_expf(-ax));
}

/* σ(x) − t of one element. */
static inline float bl_dx(float x, float t) {
  float e = ew_expf(x < 0 ? x : -x), r = 1.0f / (1.0f + e);
  return (x < 0 ? e * r : r) - t;
}

/* Σ over [0, n) of the losses, storing each in out when not NULL. The loops are
 * written separately for each case: a pointer tested inside a loop becomes masked loads
 * and stores, which are slow microcode assists when the pointer is NULL. */
NB_SIMD_CLONES static double fast_fwd(const float *x, const float *t, float *out, int64_t n) {
  float s[LANES] = {0};
  double r = 0;
  int64_t i = 0;
  if (out) {
    for (; i < n; i++) r += out[i] = bl_loss(x[i], t[i]);
    return r;
  }
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; l++) s[l] += bl_loss(x[i + l], t[i + l]);
  for (; i < n; i++) r += bl_loss(x[i], t[i]);
  for (int l = 0; l < LANES; l++) r += s[l];
  return r;
}

/* gx = (σ(x) − t)·g, gt = −x·g over [0, n); g per element (gv) or the scalar gs. */
NB_SIMD_CLONES static void fast_bwd(const float *x, const float *t, const float *gv, float gs, float *gx,
                            float *gt, int64_t n) {
  if (gx && gv)
    for (int64_t i = 0; i < n; i++) gx[i] = bl_dx(x[i], t[i]) * gv[i];
  else if (gx)
    for (int64_t i = 0; i < n; i++) gx[i] = bl_dx(x[i], t[i]) * gs;
  if (gt && gv)
    for (int64_t i = 0; i < n; i++) gt[i] = -x[i] * gv[i];
  else if (gt)
    for (int64_t i = 0; i < n; i++) gt[i] = -x[i] * gs;
}
NB_FAST_FP_END

static double softplus_neg(double x) { return (x < 0 ? -x : 0) + log1p(exp(-fabs(x))); }
static double sigmoid(double x) {
  if (x >= 0) return 1 / (1 + exp(-x));
  double e = exp(x);
  return e / (1 + e);
}

#define BL_KERNELS(T, SUF, FAST)                                                                 \
  static void fwd_##SUF(int64_t i0, int64_t i1, void *u, double *acc) {                     \
    const loss_pw_job *j = u;                                                                     \
    const T *x = j->x, *t = j->t, *w = j->w, *pw = j->pw;                                    \
    double s = 0;                                                                            \
    if (FAST && !w && !pw) {                                                                 \
      *acc = fast_fwd((const float *)x + i0, (const float *)t + i0,                          \
                      j->out ? (float *)j->out + i0 : NULL, i1 - i0);                        \
      return;                                                                                \
    }                                                                                        \
    for (int64_t i = i0; i < i1; i++) {                                                      \
      double xi = x[i], ti = t[i], L = pw ? 1 + ((double)pw[i] - 1) * ti : 1;               \
      double l = ((1 - ti) * xi + L * softplus_neg(xi)) * (w ? (double)w[i] : 1.0);          \
      if (j->out) ((T *)j->out)[i] = (T)l;                                                   \
      s += l;                                                                                \
    }                                                                                        \
    *acc = s;                                                                                \
  }                                                                                          \
  static void bwd_##SUF(int64_t i0, int64_t i1, void *u, double *acc) {                     \
    const loss_pw_job *j = u;                                                                     \
    const T *x = j->x, *t = j->t, *w = j->w, *pw = j->pw, *gv = j->g;                        \
    (void)acc;                                                                               \
    if (FAST && !w && !pw) {                                                                 \
      fast_bwd((const float *)x + i0, (const float *)t + i0, gv ? (const float *)gv + i0 : NULL, \
               (float)j->gs, j->gx ? (float *)j->gx + i0 : NULL, j->gt ? (float *)j->gt + i0 : NULL, \
               i1 - i0);                                                                     \
      return;                                                                                \
    }                                                                                        \
    for (int64_t i = i0; i < i1; i++) {                                                      \
      double xi = x[i], ti = t[i], p = pw ? (double)pw[i] : 1.0, L = 1 + (p - 1) * ti;       \
      double gp = (gv ? (double)gv[i] : j->gs) * (w ? (double)w[i] : 1.0);                   \
      if (j->gx) ((T *)j->gx)[i] = (T)(gp * (L * sigmoid(xi) - p * ti));                     \
      if (j->gt) ((T *)j->gt)[i] = (T)(gp * (-xi + (p - 1) * softplus_neg(xi)));             \
    }                                                                                        \
  }

BL_KERNELS(float, f32, 1)
BL_KERNELS(double, f64, 0)

#define OP "binary_cross_entropy_with_logits"

static const loss_pw_op op = {OP, 2, false, fwd_f32, fwd_f64, bwd_f32, bwd_f64, NULL};

LOSS_PW_ENTRIES(bcel, op)

static int bcel_samples(nb_sample_sink *s) {
  nb_generator *gen = nb_sample_generator(s);
  int rc = loss_reduction_samples(s, 4, -3, 3, false);
  nb_tensor *b[4] = {nb_rand_range(2, (int64_t[]){3, 4}, -3, 3, NB_F64, gen),
                     nb_rand_range(2, (int64_t[]){3, 4}, 0, 1, NB_F64, gen),
                     nb_rand_range(2, (int64_t[]){3, 1}, 0.5, 2, NB_F64, gen),
                     nb_rand_range(1, (int64_t[]){4}, 0.5, 3, NB_F64, gen)};
  rc |= nb_sample_add(s, "weight and pos_weight (broadcast), mean", 4, b, 0, NULL, 0);
  nb_tensor *c[4] = {nb_rand_range(1, (int64_t[]){5}, -40, 40, NB_F64, gen),
                     nb_rand_range(1, (int64_t[]){5}, 0, 1, NB_F64, gen), NULL, NULL};
  rc |= nb_sample_add(s, "large logits (stability)", 4, c, 0, NULL, 0);
  return rc < 0 ? NB_EINVAL : 0;
}

/* Recorded, with l = 1 + (pos_weight - 1) t (1 without pos_weight):
 * d input = (1 - t) - l (1 - sigmoid(z)), d target = -z - (pos_weight - 1) log sigmoid(z). */
static int bcel_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  loss_pw_graph p;
  if (loss_pw_graph_prep(ctx, grad_out[0], &p) < 0) return nb_last_status();
  nb_tensor *s = NB_CALL("sigmoid", p.x), *vx = NULL, *vt = NULL;
  if (!s) return nb_last_status();
  nb_tensor *pm1 = p.pw ? gu_scalar("sub", p.pw, 1.0) : NULL;
  if (nb_ctx_needs_input_grad(ctx, 0)) {
    if (!p.pw) {
      vx = NB_CALL("sub", s, p.t);
    } else {
      nb_tensor *l = pm1 ? NB_CALL("mul", pm1, p.t) : NULL;
      l = l ? gu_scalar("add", l, 1.0) : NULL;
      nb_tensor *oms = NB_CALL("neg", s);
      oms = oms ? gu_scalar("add", oms, 1.0) : NULL;                 /* 1 - sigmoid */
      nb_tensor *lo = l && oms ? NB_CALL("mul", l, oms) : NULL;
      nb_tensor *omt = NB_CALL("neg", p.t);
      omt = omt ? gu_scalar("add", omt, 1.0) : NULL;
      vx = lo && omt ? NB_CALL("sub", omt, lo) : NULL;
    }
    if (!vx) return nb_last_status();
  }
  if (nb_ctx_needs_input_grad(ctx, 1)) {
    vt = NB_CALL("neg", p.x);
    if (vt && p.pw) {
      nb_tensor *ls = NB_CALL("log", s), *m = ls ? NB_CALL("mul", pm1, ls) : NULL;
      vt = m ? NB_CALL("sub", vt, m) : NULL;
    }
    if (!vt) return nb_last_status();
  }
  return loss_pw_graph_set(ctx, &p, vx, vt, grad_in);
}

static const nb_input_spec inputs[] = {
    {"input", NB_DT_FLOAT, 0, "logits, any shape"},
    {"target", NB_DT_FLOAT, 0, "same shape as input, usually in [0, 1] (differentiable)"},
    {"weight", NB_DT_FLOAT, NB_IN_OPTIONAL | NB_IN_NONDIFF, "rescales each element; broadcasts to input"},
    {"pos_weight", NB_DT_FLOAT, NB_IN_OPTIONAL | NB_IN_NONDIFF,
     "weight of positive examples (e.g. per class, last dim); broadcasts to input"},
};
static const nb_output_spec outputs[] = {{"out", 0, "0-d for mean/sum, the input's shape for none"}};
const nb_op_desc op_binary_cross_entropy_with_logits = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = OP,
    .doc = "Sigmoid + binary cross-entropy fused in the numerically stable form "
           "(1-t)*x + L*(max(-x,0) + log1p(exp(-|x|))), L = 1 + (pos_weight-1)*t, times weight, "
           "as PyTorch's F.binary_cross_entropy_with_logits. Finite for any logit.",
    .n_inputs = 4,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .n_attrs = 1,
    .attrs = loss_reduction_attr,
    .forward = bcel_forward,
    .backward = bcel_backward,
    .backward_graph = bcel_backward_graph,
    .samples = bcel_samples,
    .saves = "input, target, weight and pos_weight",
};
