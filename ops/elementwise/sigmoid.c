/* ops/elementwise/sigmoid.c — "sigmoid": elementwise 1 / (1 + e^-x).
 * Backward: g * y * (1 - y) from the saved output y.
 * Saved tensors only when the input needs a gradient.
 */
#include "ew.h"
#include "../common/graph_util.h"
#include "ew_exp.h"

EW_UNARY_F(sigmoid, 1 / (1 + EW_EXP(-a)))
static const ew_fns sigmoid_fns = EW_TABLE_F(sigmoid);
/* (g, saved) -> input gradient */
EW_BINARY_F(sigmoid_grad, a * b * (1 - b))
static const ew_fns sigmoid_grad_fns = EW_TABLE_F(sigmoid_grad);

static int sigmoid_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                           nb_tensor **out) {
  return ew_unary_forward(ctx, in, sigmoid_fns, EW_KEEP_OUTPUT, out);
}

static int sigmoid_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return ew_saved_backward(ctx, grad_out, sigmoid_grad_fns, grad_in);
}

static int sigmoid_samples(nb_sample_sink *sink) {
  ew_range r = {-3, 3, 0};
  return ew_unary_samples(sink, r, 0, NULL);
}

/* g * y * (1 - y), y the saved output. */
static int sigmoid_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *y = nb_ctx_saved(ctx, 0);
  nb_tensor *y2 = y ? NB_CALL("mul", y, y) : NULL;
  nb_tensor *d = y2 ? NB_CALL("sub", y, y2) : NULL;
  return d && (grad_in[0] = NB_CALL("mul", grad_out[0], d)) ? 0 : nb_last_status();
}

static const nb_input_spec sigmoid_inputs[] = {{"input", NB_DT_FLOAT, 0, "any floating tensor"}};
static const nb_output_spec sigmoid_outputs[] = {{"out", 0, "same shape and dtype as input"}};

const nb_op_desc op_sigmoid = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "sigmoid",
    .doc = "Elementwise logistic sigmoid 1 / (1 + e^-x). Gradient g * y * (1 - y) from the saved "
           "output y.",
    .node_name = "SigmoidBackward",
    .n_inputs = 1,
    .inputs = sigmoid_inputs,
    .n_outputs = 1,
    .outputs = sigmoid_outputs,
    .forward = sigmoid_forward,
    .backward = sigmoid_backward,
    .backward_graph = sigmoid_backward_graph,
    .samples = sigmoid_samples,
    .saves = "the output (when the input needs a gradient)",
};
