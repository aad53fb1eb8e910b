/* ops/loss/mse_loss.c — "mse_loss": PyTorch's F.mse_loss, (input − target)² reduced by
 * "none", "mean" or "sum". input and target broadcast (PyTorch warns; nabla allows it).
 * Backward: d input = 2(input − target)·g', d target = −d input, with g' = g/n for mean.
 */
#include "loss_util.h"
#include "../common/graph_util.h"

LOSS_DIFF_KERNELS(float, f32, d * d, 2 * d)
LOSS_DIFF_KERNELS(double, f64, d * d, 2 * d)

static const loss_pw_op op = {"mse_loss", 0, true, fwd_f32, fwd_f64, bwd_f32, bwd_f64, NULL};
LOSS_PW_ENTRIES(mse_loss, op)

/* Recorded: d input = 2 (input - target) g', d target = -d input. */
static int mse_loss_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  loss_pw_graph p;
  if (loss_pw_graph_prep(ctx, grad_out[0], &p) < 0) return nb_last_status();
  nb_tensor *d = NB_CALL("sub", p.x, p.t);
  nb_tensor *vx = d ? gu_scalar("mul", d, 2.0) : NULL, *vt = vx ? NB_CALL("neg", vx) : NULL;
  return vt ? loss_pw_graph_set(ctx, &p, vx, vt, grad_in) : nb_last_status();
}

const nb_op_desc op_mse_loss = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "mse_loss",
    .doc = "Mean squared error (input - target)^2 with reduction none/mean/sum, as PyTorch's "
           "F.mse_loss. Gradients flow to both input and target.",
    .n_inputs = 2,
    .inputs = loss_pair_inputs,
    .n_outputs = 1,
    .outputs = loss_pair_outputs,
    .n_attrs = 1,
    .attrs = loss_reduction_attr,
    .forward = mse_loss_forward,
    .backward = mse_loss_backward,
    .backward_graph = mse_loss_backward_graph,
    .samples = loss_pair_samples,
    .saves = "input and target",
};
