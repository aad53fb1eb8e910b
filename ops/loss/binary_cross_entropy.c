/* ops/loss/binary_cross_entropy.c — "binary_cross_entropy": PyTorch's
 * F.binary_cross_entropy over probabilities in [0, 1] (anything else is an error):
 *   loss = −w·(t·max(log x, −100) + (1 − t)·max(log(1 − x), −100))
 * Gradients: d x = w·(x − t)/max(x(1 − x), 1e-12f)·g',  d t = w·(log(1 − x) − log x)·g'
 * (the target gradient as PyTorch 2.x). weight broadcasts to the input's shape.
 */
#include "loss_util.h"

#include <math.h>

typedef struct bce_job {
  const void *x, *t, *w, *gv;
  double gs;
  void *out, *gx, *gt;
} bce_job;

#define BCE_KERNELS(T, SUF)                                                                  \
  static void fwd_##SUF(int64_t i0, int64_t i1, void *u, double *acc) {                     \
    const bce_job *j = u;                                                                    \
    const T *x = j->x, *t = j->t, *w = j->w;                                                 \
    double s = 0;                                                                            \
    for (int64_t i = i0; i < i1; i++) {                                                      \
      double lx = log((double)x[i]), l1x = log(1.0 - (double)x[i]);                          \
      if (lx < -100) lx = -100;                                                              \
      if (l1x < -100) l1x = -100;                                                            \
      double l = -((double)t[i] * lx + (1.0 - (double)t[i]) * l1x) * (w ? (double)w[i] : 1.0); \
      if (j->out) ((T *)j->out)[i] = (T)l;                                                   \
      s += l;                                                                                \
    }                                                                                        \
    *acc = s;                                                                                \
  }                                                                                          \
  static void bwd_##SUF(int64_t i0, int64_t i1, void *u, double *acc) {                     \
    const bce_job *j = u;                                                                    \
    const T *x = j->x, *t = j->t, *w = j->w, *gv = j->gv;                                    \
    (void)acc;                                                                               \
    for (int64_t i = i0; i < i1; i++) {                                                      \
      double xi = x[i], gp = (gv ? (double)gv[i] : j->gs) * (w ? (double)w[i] : 1.0);        \
      if (j->gx) {                                                                           \
        double den = xi * (1 - xi), eps = (double)1e-12f; /* PyTorch's float EPSILON */     \
        ((T *)j->gx)[i] = (T)(gp * (xi - (double)t[i]) / (den > eps ? den : eps));            \
      }                                                                                      \
      if (j->gt) ((T *)j->gt)[i] = (T)(gp * (log(1 - xi) - log(xi)));                        \
    }                                                                                        \
  }

BCE_KERNELS(float, f32)
BCE_KERNELS(double, f64)

/* Shapes, dtypes and the [0, 1] check; x/t/w become contiguous input-shaped tensors. */
static int prepare(nb_tensor *const *in, nb_tensor **x, nb_tensor **t, nb_tensor **w) {
  const char *op = "binary_cross_entropy";
  if (loss_same_dtype(op, in[0], "input", in[1], "target") < 0 ||
      loss_same_dtype(op, in[0], "input", in[2], "weight") < 0)
    return NB_EDTYPE;
  if (!nb_same_shape(in[0], in[1]))
    return nb_set_error(NB_ESHAPE, "%s: target %s must have the same shape as input %s", op,
                        nb_shape_of(in[1]), nb_shape_of(in[0]));
  int nd = nb_ndim(in[0]);
  const int64_t *sh = nb_shape(in[0]);
  *x = loss_expand(op, in[0], nd, sh);
  *t = loss_expand(op, in[1], nd, sh);
  *w = in[2] ? loss_expand(op, in[2], nd, sh) : NULL;
  if (*x == NULL || *t == NULL || (in[2] && *w == NULL)) return nb_last_status();
  return 0;
}

static int check_range(nb_tensor *x, const nb_tensor *orig) {
  int64_t n = nb_numel(x);
  for (int64_t i = 0; i < n; i++) {
    double v = nb_dtype_of(x) == NB_F32 ? ((const float *)nb_data(x))[i] : ((const double *)nb_data(x))[i];
    if (!(v >= 0 && v <= 1))
      return nb_set_error(NB_EINVAL,
                          "binary_cross_entropy: all elements of input should be between 0 and 1, "
                          "found %g at flat index %lld (input shape %s)",
                          v, (long long)i, nb_shape_of(orig));
  }
  return 0;
}

static int bce_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, nb_tensor **out) {
  int red = (int)attrs[0].i;
  nb_tensor *x, *t, *w;
  if (prepare(in, &x, &t, &w) < 0 || check_range(x, in[0]) < 0) return nb_last_status();
  nb_dtype dt = nb_dtype_of(x);
  int64_t n = nb_numel(x);
  nb_tensor *y = red == LOSS_NONE ? nb_empty(nb_ndim(x), nb_shape(x), dt) : NULL;
  if (red == LOSS_NONE && y == NULL) return nb_last_status();
  bce_job j = {.x = nb_data(x), .t = nb_data(t), .w = w ? nb_data(w) : NULL, .out = y ? nb_data(y) : NULL};
  double total = loss_blocks(n, dt == NB_F32 ? fwd_f32 : fwd_f64, &j);
  if (red != LOSS_NONE) y = loss_scalar(total, (double)n, red, dt);
  if (y == NULL) return nb_last_status();
  if (nb_ctx_recording(ctx)) {
    int has_w = in[2] != NULL;
    if (nb_ctx_save(ctx, in[0]) < 0 || nb_ctx_save(ctx, in[1]) < 0 || (has_w && nb_ctx_save(ctx, in[2]) < 0) ||
        nb_ctx_save_blob(ctx, &has_w, sizeof has_w) < 0)
      return nb_last_status();
  }
  out[0] = y;
  return 0;
}

static int bce_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  size_t bsz = 0;
  const int *has_w = nb_ctx_blob(ctx, &bsz);
  if (has_w == NULL || bsz != sizeof *has_w)
    return nb_set_error(NB_ESTATE, "binary_cross_entropy: backward found no saved state");
  nb_tensor *saved[3] = {nb_ctx_saved(ctx, 0), nb_ctx_saved(ctx, 1), *has_w ? nb_ctx_saved(ctx, 2) : NULL};
  if (saved[0] == NULL || saved[1] == NULL || (*has_w && saved[2] == NULL)) return nb_last_status();
  nb_tensor *x, *t, *w;
  if (prepare(saved, &x, &t, &w) < 0) return nb_last_status();
  nb_dtype dt = nb_dtype_of(x);
  int64_t n = nb_numel(x);
  int red = (int)nb_ctx_attrs(ctx)[0].i;
  nb_tensor *gv;
  double gs = loss_grad_scale(grad_out[0], red, (double)n, &gv);
  bool nx = nb_ctx_needs_input_grad(ctx, 0), nt = nb_ctx_needs_input_grad(ctx, 1);
  nb_tensor *gx = nx ? nb_empty(nb_ndim(x), nb_shape(x), dt) : NULL;
  nb_tensor *gt = nt ? nb_empty(nb_ndim(x), nb_shape(x), dt) : NULL;
  if ((nx && !gx) || (nt && !gt) || (red == LOSS_NONE && gv == NULL)) return nb_last_status();
  bce_job j = {.x = nb_data(x), .t = nb_data(t), .w = w ? nb_data(w) : NULL, .gv = gv ? nb_data(gv) : NULL,
               .gs = gs, .gx = gx ? nb_data(gx) : NULL, .gt = gt ? nb_data(gt) : NULL};
  loss_blocks(n, dt == NB_F32 ? bwd_f32 : bwd_f64, &j);
  grad_in[0] = gx;
  grad_in[1] = gt;
  return 0;
}

static int bce_samples(nb_sample_sink *s) {
  nb_generator *gen = nb_sample_generator(s);
  int rc = 0;
  static const char *reds[] = {"none", "mean", "sum"};
  for (int r = 0; r < 3; r++) {
    nb_tensor *in[3] = {nb_rand_range(2, (int64_t[]){3, 4}, 0.1, 0.9, NB_F64, gen),
                        nb_rand_range(2, (int64_t[]){3, 4}, 0, 1, NB_F64, gen), NULL};
    char desc[64];
    snprintf(desc, sizeof desc, "reduction %s", reds[r]);
    rc |= nb_sample_add(s, desc, 3, in, 1, (nb_attr[]){NB_A_STR("reduction", reds[r])}, 0);
  }
  nb_tensor *b[3] = {nb_rand_range(2, (int64_t[]){3, 4}, 0.1, 0.9, NB_F64, gen),
                     nb_rand_range(2, (int64_t[]){3, 4}, 0, 1, NB_F64, gen),
                     nb_rand_range(1, (int64_t[]){4}, 0.5, 2, NB_F64, gen)};
  rc |= nb_sample_add(s, "broadcast weight, mean", 3, b, 0, NULL, 0);
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_input_spec inputs[] = {
    {"input", NB_DT_FLOAT, 0, "probabilities in [0, 1], any shape"},
    {"target", NB_DT_FLOAT, 0, "same shape as input (differentiable)"},
    {"weight", NB_DT_FLOAT, NB_IN_OPTIONAL | NB_IN_NONDIFF, "rescales each element; broadcasts to input"},
};
static const nb_output_spec outputs[] = {{"out", 0, "0-d for mean/sum, the input's shape for none"}};
static const nb_attr_spec attrs[] = {
    {"reduction", NB_ATTR_STRING, 0, {.s = "mean", .i = LOSS_MEAN}, 0, 0, LOSS_REDUCTION_CHOICES,
     LOSS_REDUCTION_DOC},
};

const nb_op_desc loss_binary_cross_entropy_desc = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "binary_cross_entropy",
    .doc = "Binary cross-entropy of probabilities, as PyTorch's F.binary_cross_entropy: "
           "-w*(t*log(x) + (1-t)*log(1-x)) with each log clamped at -100. Inputs outside "
           "[0, 1] (or NaN) are an error. Prefer binary_cross_entropy_with_logits on logits.",
    .n_inputs = 3,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .n_attrs = 1,
    .attrs = attrs,
    .forward = bce_forward,
    .backward = bce_backward,
    .samples = bce_samples,
    .saves = "input, target and weight",
};
