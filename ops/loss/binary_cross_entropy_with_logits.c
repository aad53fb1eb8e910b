/* ops/loss/binary_cross_entropy_with_logits.c — "binary_cross_entropy_with_logits":
 * PyTorch's F.binary_cross_entropy_with_logits in the stable fused form
 *   loss = w·((1 − t)·x + L·softplus(−x)),  L = 1 + (pw − 1)·t,
 *   softplus(−x) = max(−x, 0) + log1p(exp(−|x|))   (never overflows)
 * Gradients: d x = w·(L·σ(x) − pw·t)·g',  d t = w·(−x + (pw − 1)·softplus(−x))·g'.
 * weight and pos_weight (pw) are optional and broadcast to the input's shape.
 */
#include "loss_util.h"

#include <math.h>

static double softplus_neg(double x) { return (x < 0 ? -x : 0) + log1p(exp(-fabs(x))); }
static double sigmoid(double x) {
  if (x >= 0) return 1 / (1 + exp(-x));
  double e = exp(x);
  return e / (1 + e);
}

#define BL_KERNELS(T, SUF)                                                                   \
  static void fwd_##SUF(int64_t i0, int64_t i1, void *u, double *acc) {                     \
    const loss_pw_job *j = u;                                                                     \
    const T *x = j->x, *t = j->t, *w = j->w, *pw = j->pw;                                    \
    double s = 0;                                                                            \
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
    for (int64_t i = i0; i < i1; i++) {                                                      \
      double xi = x[i], ti = t[i], p = pw ? (double)pw[i] : 1.0, L = 1 + (p - 1) * ti;       \
      double gp = (gv ? (double)gv[i] : j->gs) * (w ? (double)w[i] : 1.0);                   \
      if (j->gx) ((T *)j->gx)[i] = (T)(gp * (L * sigmoid(xi) - p * ti));                     \
      if (j->gt) ((T *)j->gt)[i] = (T)(gp * (-xi + (p - 1) * softplus_neg(xi)));             \
    }                                                                                        \
  }

BL_KERNELS(float, f32)
BL_KERNELS(double, f64)

#define OP "binary_cross_entropy_with_logits"

static const loss_pw_op op = {OP, 2, false, fwd_f32, fwd_f64, bwd_f32, bwd_f64, NULL};

LOSS_PW_ENTRIES(bcel, op)

static int bcel_samples(nb_sample_sink *s) {
  nb_generator *gen = nb_sample_generator(s);
  int rc = 0;
  static const char *reds[] = {"none", "mean", "sum"};
  for (int r = 0; r < 3; r++) {
    nb_tensor *in[4] = {nb_rand_range(2, (int64_t[]){3, 4}, -3, 3, NB_F64, gen),
                        nb_rand_range(2, (int64_t[]){3, 4}, 0, 1, NB_F64, gen), NULL, NULL};
    char desc[64];
    snprintf(desc, sizeof desc, "reduction %s", reds[r]);
    rc |= nb_sample_add(s, desc, 4, in, 1, (nb_attr[]){NB_A_STR("reduction", reds[r])}, 0);
  }
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

static const nb_input_spec inputs[] = {
    {"input", NB_DT_FLOAT, 0, "logits, any shape"},
    {"target", NB_DT_FLOAT, 0, "same shape as input, usually in [0, 1] (differentiable)"},
    {"weight", NB_DT_FLOAT, NB_IN_OPTIONAL | NB_IN_NONDIFF, "rescales each element; broadcasts to input"},
    {"pos_weight", NB_DT_FLOAT, NB_IN_OPTIONAL | NB_IN_NONDIFF,
     "weight of positive examples (e.g. per class, last dim); broadcasts to input"},
};
static const nb_output_spec outputs[] = {{"out", 0, "0-d for mean/sum, the input's shape for none"}};
const nb_op_desc loss_bce_with_logits_desc = {
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
    .samples = bcel_samples,
    .saves = "input, target, weight and pos_weight",
};
