/* ops/elementwise/tanh.c — "tanh": elementwise hyperbolic tangent.
 * Backward: g * (1 - y^2) from the saved output y.
 * Saved tensors only when the input needs a gradient.
 */
#include "ew.h"
#include "../common/graph_util.h"

EW_UNARY_F(tanh, tanh(a))
static const ew_fns tanh_fns = EW_TABLE_F(tanh);
/* (g, saved) -> input gradient */
EW_BINARY_F(tanh_grad, a * (1 - b * b))
static const ew_fns tanh_grad_fns = EW_TABLE_F(tanh_grad);

static int tanh_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  return ew_unary_forward(ctx, in, tanh_fns, EW_KEEP_OUTPUT, out);
}

static int tanh_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return ew_saved_backward(ctx, grad_out, tanh_grad_fns, grad_in);
}

static int tanh_samples(nb_sample_sink *sink) {
  ew_range r = {-2, 2, 0};
  return ew_unary_samples(sink, r, 0, NULL);
}

/* g * (1 - y^2), y the saved output: g - g * y * y. */
static int tanh_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *y = nb_ctx_saved(ctx, 0);
  nb_tensor *y2 = y ? NB_CALL("mul", y, y) : NULL;
  nb_tensor *gy2 = y2 ? NB_CALL("mul", grad_out[0], y2) : NULL;
  return gy2 && (grad_in[0] = NB_CALL("sub", grad_out[0], gy2)) ? 0 : nb_last_status();
}

static const nb_input_spec tanh_inputs[] = {{"input", NB_DT_FLOAT, 0, "any floating tensor"}};
static const nb_output_spec tanh_outputs[] = {{"out", 0, "same shape and dtype as input"}};

const nb_op_desc op_tanh = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "tanh",
    .doc = "Elementwise hyperbolic tangent. Gradient g * (1 - y^2) from the saved output y.",
    .node_name = "TanhBackward",
    .n_inputs = 1,
    .inputs = tanh_inputs,
    .n_outputs = 1,
    .outputs = tanh_outputs,
    .forward = tanh_forward,
    .backward = tanh_backward,
    .backward_graph = tanh_backward_graph,
    .samples = tanh_samples,
    .saves = "the output (when the input needs a gradient)",
};
