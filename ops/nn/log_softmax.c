/* ops/nn/log_softmax.c — "log_softmax" along a dim (PyTorch's F.log_softmax):
 * x − max − log Σ exp(x − max), computed without forming the softmax. Backward:
 * dx = g − exp(y)·Σ g along dim. Kernels are shared with softmax.c.
 */
#include "nn_util.h"
#include "../common/graph_util.h"

static int log_softmax_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                               nb_tensor **out) {
  return nn_softmax_forward(ctx, in, attrs, out, true);
}

static int log_softmax_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out,
                                      nb_tensor **grad_in) {
  return nn_softmax_backward_graph(ctx, grad_out, grad_in, true);
}

static int log_softmax_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return nn_softmax_backward(ctx, grad_out, grad_in, true);
}

static const nb_output_spec outputs[] = {{"out", 0, "same shape; logsumexp along dim is 0"}};

const nb_op_desc op_log_softmax = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "log_softmax",
    .doc = "Log-softmax along dim, x - max - log(sum(exp(x - max))), as PyTorch's "
           "F.log_softmax (stable for large logits). Backward: dx = g - exp(y) * sum(g).",
    .n_inputs = 1,
    .inputs = nn_softmax_inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .n_attrs = 1,
    .attrs = nn_softmax_attrs,
    .forward = log_softmax_forward,
    .backward = log_softmax_backward,
    .backward_graph = log_softmax_backward_graph,
    .samples = nn_softmax_samples,
    .saves = "the output",
};
