/* ops/loss/l1_loss.c — "l1_loss": PyTorch's F.l1_loss, |input − target| reduced by
 * "none", "mean" or "sum". input and target broadcast (PyTorch warns; nabla allows it).
 * Backward: d input = sign(input − target)·g' (sign(0) = 0), d target = −d input,
 * with g' = g/n for mean.
 */
#include "loss_util.h"
#include "../common/graph_util.h"

LOSS_DIFF_KERNELS(float, f32, d < 0 ? -d : d, (float)((d > 0) - (d < 0)))
LOSS_DIFF_KERNELS(double, f64, d < 0 ? -d : d, (double)((d > 0) - (d < 0)))

static const loss_pw_op op = {"l1_loss", 0, true, fwd_f32, fwd_f64, bwd_f32, bwd_f64, NULL};
LOSS_PW_ENTRIES(l1_loss, op)

/* Piecewise linear: g times the constant sign mask (second derivative zero), recorded. */
static int l1_loss_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  for (int i = 0; i < 2; i++)
    if (nb_ctx_needs_input_grad(ctx, i) && !(grad_in[i] = gu_masked(ctx, l1_loss_backward, grad_out[0], i)))
      return nb_last_status();
  return 0;
}

const nb_op_desc op_l1_loss = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "l1_loss",
    .doc = "Mean absolute error |input - target| with reduction none/mean/sum, as PyTorch's "
           "F.l1_loss (gradient sign(input - target), 0 where they are equal). Gradients flow to both input and target.",
    .n_inputs = 2,
    .inputs = loss_pair_inputs,
    .n_outputs = 1,
    .outputs = loss_pair_outputs,
    .n_attrs = 1,
    .attrs = loss_reduction_attr,
    .forward = l1_loss_forward,
    .backward = l1_loss_backward,
    .backward_graph = l1_loss_backward_graph,
    .samples = loss_pair_samples,
    .saves = "input and target",
};
