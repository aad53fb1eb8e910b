/* ops/elementwise/relu.c — "relu": elementwise max(x, 0) (nan and -0 stay as they are).
 * Backward: g where the saved output y > 0, else 0, so relu'(0) = 0 (spec item 31).
 * Saved tensors only when the input needs a gradient.
 */
#include "ew.h"
#include "../common/graph_util.h"

EW_UNARY_F(relu, a < 0 ? 0 : a) /* nan stays nan, -0 stays -0 (as PyTorch) */
const ew_fns ew_relu_fns = EW_TABLE_F(relu);
/* (g, saved) -> input gradient */
EW_BINARY_F(relu_grad, b <= 0 ? 0 : a)
const ew_fns ew_relu_grad_fns = EW_TABLE_F(relu_grad);

static int relu_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  return ew_unary_forward(ctx, in, ew_relu_fns, EW_KEEP_OUTPUT, out);
}

static int relu_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return ew_saved_backward(ctx, grad_out, ew_relu_grad_fns, grad_in);
}

static int relu_samples(nb_sample_sink *sink) {
  ew_range r = {0.1, 2, 1};
  return ew_unary_samples(sink, r, 0, NULL);
}

/* Piecewise linear: g times the (constant) derivative mask, recorded through g. */
static int relu_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return (grad_in[0] = gu_masked(ctx, relu_backward, grad_out[0], 0)) ? 0 : nb_last_status();
}

static const nb_input_spec relu_inputs[] = {{"input", NB_DT_FLOAT, 0, "any floating tensor"}};
static const nb_output_spec relu_outputs[] = {{"out", 0, "same shape and dtype as input"}};

const nb_op_desc op_relu = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "relu",
    .doc = "Elementwise max(x, 0). Gradient g where the output is > 0, else 0 (relu'(0) = 0 as "
           "PyTorch).",
    .node_name = "ReluBackward",
    .n_inputs = 1,
    .inputs = relu_inputs,
    .n_outputs = 1,
    .outputs = relu_outputs,
    .forward = relu_forward,
    .backward = relu_backward,
    .backward_graph = relu_backward_graph,
    .samples = relu_samples,
    .saves = "the output (when the input needs a gradient)",
};
