/* ops/loss/binary_cross_entropy.c — "binary_cross_entropy": PyTorch's
 * F.binary_cross_entropy over probabilities in [0, 1] (anything else is an error):
 *   loss = −w·(t·max(log x, −100) + (1 − t)·max(log(1 − x), −100))
 * Gradients: d x = w·(x − t)/max(x(1 − x), 1e-12f)·g',  d t = w·(log(1 − x) − log x)·g'
 * (the target gradient as PyTorch 2.x). weight broadcasts to the input's shape.
 */
#include "loss_util.h"
#include "../common/graph_util.h"

#include <math.h>

#define BCE_KERNELS(T, SUF)                                                                  \
  static void fwd_##SUF(int64_t i0, int64_t i1, void *u, double *acc) {                     \
    const loss_pw_job *j = u;                                                                    \
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
    const loss_pw_job *j = u;                                                                    \
    const T *x = j->x, *t = j->t, *w = j->w, *gv = j->g;                                     \
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

static const loss_pw_op op = {"binary_cross_entropy", 1, false, fwd_f32, fwd_f64, bwd_f32, bwd_f64,
                              check_range};

LOSS_PW_ENTRIES(bce, op)

static int bce_samples(nb_sample_sink *s) {
  nb_generator *gen = nb_sample_generator(s);
  int rc = loss_reduction_samples(s, 3, 0.1, 0.9, false);
  nb_tensor *b[3] = {nb_rand_range(2, (int64_t[]){3, 4}, 0.1, 0.9, NB_F64, gen),
                     nb_rand_range(2, (int64_t[]){3, 4}, 0, 1, NB_F64, gen),
                     nb_rand_range(1, (int64_t[]){4}, 0.5, 2, NB_F64, gen)};
  rc |= nb_sample_add(s, "broadcast weight, mean", 3, b, 0, NULL, 0);
  return rc < 0 ? NB_EINVAL : 0;
}

/* Recorded: d input = w (x - t) / (x (1 - x)) g', d target = w (log(1 - x) - log x) g'
 * (without the forward's clamps: at x = 0 or 1 the second derivative is not finite). */
static int bce_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  loss_pw_graph p;
  if (loss_pw_graph_prep(ctx, grad_out[0], &p) < 0) return nb_last_status();
  nb_tensor *vx = NULL, *vt = NULL;
  nb_tensor *omx = NB_CALL("neg", p.x);
  omx = omx ? gu_scalar("add", omx, 1.0) : NULL;                   /* 1 - x */
  nb_tensor *den = omx ? NB_CALL("mul", p.x, omx) : NULL;           /* x (1 - x) */
  nb_tensor *num = den ? NB_CALL("sub", p.x, p.t) : NULL;
  if (num && nb_ctx_needs_input_grad(ctx, 0)) vx = NB_CALL("div", num, den);
  if (num && nb_ctx_needs_input_grad(ctx, 1)) {
    nb_tensor *l1 = NB_CALL("log", omx), *l0 = l1 ? NB_CALL("log", p.x) : NULL;
    vt = l0 ? NB_CALL("sub", l1, l0) : NULL;
    if (!vt) return nb_last_status();
  }
  return num ? loss_pw_graph_set(ctx, &p, vx, vt, grad_in) : nb_last_status();
}

static const nb_input_spec inputs[] = {
    {"input", NB_DT_FLOAT, 0, "probabilities in [0, 1], any shape"},
    {"target", NB_DT_FLOAT, 0, "same shape as input (differentiable)"},
    {"weight", NB_DT_FLOAT, NB_IN_OPTIONAL | NB_IN_NONDIFF, "rescales each element; broadcasts to input"},
};
static const nb_output_spec outputs[] = {{"out", 0, "0-d for mean/sum, the input's shape for none"}};
const nb_op_desc op_binary_cross_entropy = {
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
    .attrs = loss_reduction_attr,
    .forward = bce_forward,
    .backward = bce_backward,
    .backward_graph = bce_backward_graph,
    .samples = bce_samples,
    .saves = "input, target and weight",
};
