/* ops/loss/binary_cross_entropy_with_logits.c — "binary_cross_entropy_with_logits":
 * PyTorch's F.binary_cross_entropy_with_logits in the stable fused form
 *   loss = w·((1 − t)·x + L·softplus(−x)),  L = 1 + (pw − 1)·t,
 *   softplus(−x) = max(−x, 0) + log1p(exp(−|x|))   (never overflows)
 * Gradients: d x = w·(L·σ(x) − pw·t)·g',  d t = w·(−x + (pw − 1)·softplus(−x))·g'.
 * weight and pos_weight (pw) are optional and broadcast to the input's shape.
 */
#include "loss_util.h"

#include <math.h>

typedef struct bl_job {
  const void *x, *t, *w, *pw, *gv;
  double gs;
  void *out, *gx, *gt;
} bl_job;

static double softplus_neg(double x) { return (x < 0 ? -x : 0) + log1p(exp(-fabs(x))); }
static double sigmoid(double x) {
  if (x >= 0) return 1 / (1 + exp(-x));
  double e = exp(x);
  return e / (1 + e);
}

#define BL_KERNELS(T, SUF)                                                                   \
  static void fwd_##SUF(int64_t i0, int64_t i1, void *u, double *acc) {                     \
    const bl_job *j = u;                                                                     \
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
    const bl_job *j = u;                                                                     \
    const T *x = j->x, *t = j->t, *w = j->w, *pw = j->pw, *gv = j->gv;                       \
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

static int prepare(nb_tensor *const *in, nb_tensor **x, nb_tensor **t, nb_tensor **w, nb_tensor **pw) {
  if (loss_same_dtype(OP, in[0], "input", in[1], "target") < 0 ||
      loss_same_dtype(OP, in[0], "input", in[2], "weight") < 0 ||
      loss_same_dtype(OP, in[0], "input", in[3], "pos_weight") < 0)
    return NB_EDTYPE;
  if (!nb_same_shape(in[0], in[1]))
    return nb_set_error(NB_ESHAPE, OP ": target %s must have the same shape as input %s",
                        nb_shape_of(in[1]), nb_shape_of(in[0]));
  int nd = nb_ndim(in[0]);
  const int64_t *sh = nb_shape(in[0]);
  *x = loss_expand(OP, in[0], nd, sh);
  *t = loss_expand(OP, in[1], nd, sh);
  *w = in[2] ? loss_expand(OP, in[2], nd, sh) : NULL;
  *pw = in[3] ? loss_expand(OP, in[3], nd, sh) : NULL;
  if (*x == NULL || *t == NULL || (in[2] && *w == NULL) || (in[3] && *pw == NULL)) return nb_last_status();
  return 0;
}

static int bcel_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, nb_tensor **out) {
  int red = (int)attrs[0].i;
  nb_tensor *x, *t, *w, *pw;
  if (prepare(in, &x, &t, &w, &pw) < 0) return nb_last_status();
  nb_dtype dt = nb_dtype_of(x);
  int64_t n = nb_numel(x);
  nb_tensor *y = red == LOSS_NONE ? nb_empty(nb_ndim(x), nb_shape(x), dt) : NULL;
  if (red == LOSS_NONE && y == NULL) return nb_last_status();
  bl_job j = {.x = nb_data(x), .t = nb_data(t), .w = w ? nb_data(w) : NULL, .pw = pw ? nb_data(pw) : NULL,
              .out = y ? nb_data(y) : NULL};
  double total = loss_blocks(n, dt == NB_F32 ? fwd_f32 : fwd_f64, &j);
  if (red != LOSS_NONE) y = loss_scalar(total, (double)n, red, dt);
  if (y == NULL) return nb_last_status();
  if (nb_ctx_recording(ctx)) {
    int has[2] = {in[2] != NULL, in[3] != NULL};
    if (nb_ctx_save(ctx, in[0]) < 0 || nb_ctx_save(ctx, in[1]) < 0 ||
        (has[0] && nb_ctx_save(ctx, in[2]) < 0) || (has[1] && nb_ctx_save(ctx, in[3]) < 0) ||
        nb_ctx_save_blob(ctx, has, sizeof has) < 0)
      return nb_last_status();
  }
  out[0] = y;
  return 0;
}

static int bcel_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  size_t bsz = 0;
  const int *has = nb_ctx_blob(ctx, &bsz);
  if (has == NULL || bsz != 2 * sizeof *has) return nb_set_error(NB_ESTATE, OP ": backward found no saved state");
  int si = 2;
  nb_tensor *saved[4] = {nb_ctx_saved(ctx, 0), nb_ctx_saved(ctx, 1), NULL, NULL};
  if (has[0]) saved[2] = nb_ctx_saved(ctx, si++);
  if (has[1]) saved[3] = nb_ctx_saved(ctx, si++);
  if (!saved[0] || !saved[1] || (has[0] && !saved[2]) || (has[1] && !saved[3])) return nb_last_status();
  nb_tensor *x, *t, *w, *pw;
  if (prepare(saved, &x, &t, &w, &pw) < 0) return nb_last_status();
  nb_dtype dt = nb_dtype_of(x);
  int64_t n = nb_numel(x);
  int red = (int)nb_ctx_attrs(ctx)[0].i;
  nb_tensor *gv;
  double gs = loss_grad_scale(grad_out[0], red, (double)n, &gv);
  bool nx = nb_ctx_needs_input_grad(ctx, 0), nt = nb_ctx_needs_input_grad(ctx, 1);
  nb_tensor *gx = nx ? nb_empty(nb_ndim(x), nb_shape(x), dt) : NULL;
  nb_tensor *gt = nt ? nb_empty(nb_ndim(x), nb_shape(x), dt) : NULL;
  if ((nx && !gx) || (nt && !gt) || (red == LOSS_NONE && gv == NULL)) return nb_last_status();
  bl_job j = {.x = nb_data(x), .t = nb_data(t), .w = w ? nb_data(w) : NULL, .pw = pw ? nb_data(pw) : NULL,
              .gv = gv ? nb_data(gv) : NULL, .gs = gs, .gx = gx ? nb_data(gx) : NULL,
              .gt = gt ? nb_data(gt) : NULL};
  loss_blocks(n, dt == NB_F32 ? bwd_f32 : bwd_f64, &j);
  grad_in[0] = gx;
  grad_in[1] = gt;
  return 0;
}

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
static const nb_attr_spec attrs[] = {
    {"reduction", NB_ATTR_STRING, 0, {.s = "mean", .i = LOSS_MEAN}, 0, 0, LOSS_REDUCTION_CHOICES,
     LOSS_REDUCTION_DOC},
};

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
    .attrs = attrs,
    .forward = bcel_forward,
    .backward = bcel_backward,
    .samples = bcel_samples,
    .saves = "input, target, weight and pos_weight",
};
