/* ops/loss/l1_loss.c — "l1_loss": PyTorch's F.l1_loss, |input − target| reduced by
 * "none", "mean" or "sum". input and target broadcast (PyTorch warns; nabla allows it).
 * Backward: d input = sign(input − target)·g' (sign(0) = 0), d target = −d input,
 * with g' = g/n for mean.
 */
#include "loss_util.h"

#define L1_KERNELS(T, SUF)                                                                \
  static void fwd_##SUF(int64_t i0, int64_t i1, void *u, double *acc) {                     \
    const loss_pw_job *j = u;                                                                \
    const T *x = j->x, *t = j->t;                                                            \
    T *o = j->out;                                                                           \
    double s = 0;                                                                            \
    for (int64_t i = i0; i < i1; i++) {                                                      \
      T d = x[i] - t[i], l = d < 0 ? -d : d;                                                     \
      if (o) o[i] = l;                                                                       \
      s += l;                                                                                \
    }                                                                                        \
    *acc = s;                                                                                \
  }                                                                                          \
  static void bwd_##SUF(int64_t i0, int64_t i1, void *u, double *acc) {                     \
    const loss_pw_job *j = u;                                                                \
    const T *x = j->x, *t = j->t, *g = j->g;                                                 \
    T *gx = j->gx, *gt = j->gt, gs = (T)j->gs;                                               \
    (void)acc;                                                                               \
    for (int64_t i = i0; i < i1; i++) {                                                      \
      T d = x[i] - t[i], v = (T)((d > 0) - (d < 0)) * (g ? g[i] : gs);                                      \
      if (gx) gx[i] = v;                                                                     \
      if (gt) gt[i] = -v;                                                                    \
    }                                                                                        \
  }

L1_KERNELS(float, f32)
L1_KERNELS(double, f64)

static const loss_pw_op op = {"l1_loss", 0, true, fwd_f32, fwd_f64, bwd_f32, bwd_f64, NULL};

static int l1_loss_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                            nb_tensor **out) {
  return loss_pw_forward(&op, ctx, in, (int)attrs[0].i, out);
}

static int l1_loss_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return loss_pw_backward(&op, ctx, grad_out, grad_in);
}

static const nb_input_spec inputs[] = {
    {"input", NB_DT_FLOAT, 0, "any shape"},
    {"target", NB_DT_FLOAT, 0, "broadcastable with input; same dtype (differentiable)"},
};
static const nb_output_spec outputs[] = {{"out", 0, "0-d for mean/sum, the broadcast shape for none"}};

const nb_op_desc loss_l1_loss_desc = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "l1_loss",
    .doc = "Mean absolute error |input - target| with reduction none/mean/sum, as PyTorch's "
           "F.l1_loss (gradient sign(input - target), 0 where they are equal). Gradients flow to both input and target.",
    .n_inputs = 2,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .n_attrs = 1,
    .attrs = loss_reduction_attr,
    .forward = l1_loss_forward,
    .backward = l1_loss_backward,
    .samples = loss_pair_samples,
    .saves = "input and target",
};
