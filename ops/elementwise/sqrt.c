/* ops/elementwise/sqrt.c — "sqrt": elementwise square root.
 * Backward: g / (2 y) from the saved output y, so sqrt'(0) = inf (spec item 31).
 * Saved tensors only when the input needs a gradient.
 */
#include "ew.h"
#include "../common/graph_util.h"

EW_UNARY_F(sqrt, sqrt(a))
static const ew_fns sqrt_fns = EW_TABLE_F(sqrt);
/* (g, saved) -> input gradient */
EW_BINARY_F(sqrt_grad, a / (2 * b))
static const ew_fns sqrt_grad_fns = EW_TABLE_F(sqrt_grad);

static int sqrt_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  return ew_unary_forward(ctx, in, sqrt_fns, EW_KEEP_OUTPUT, out);
}

static int sqrt_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return ew_saved_backward(ctx, grad_out, sqrt_grad_fns, grad_in);
}

static int sqrt_samples(nb_sample_sink *sink) {
  ew_range r = {0.5, 2, 0};
  return ew_unary_samples(sink, r, 0, NULL);
}

/* g / (2 sqrt(x)), sqrt(x) being the saved output. */
static int sqrt_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *y = nb_ctx_saved(ctx, 0);
  nb_tensor *y2 = y ? gu_scalar("mul", y, 2.0) : NULL;
  return y2 && (grad_in[0] = NB_CALL("div", grad_out[0], y2)) ? 0 : nb_last_status();
}

static const nb_input_spec sqrt_inputs[] = {{"input", NB_DT_FLOAT, 0, "any floating tensor"}};
static const nb_output_spec sqrt_outputs[] = {{"out", 0, "same shape and dtype as input"}};

const nb_op_desc op_sqrt = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "sqrt",
    .doc = "Elementwise square root (nan for x < 0). Gradient g / (2 sqrt(x)), so sqrt'(0) = inf "
           "as in PyTorch.",
    .node_name = "SqrtBackward",
    .n_inputs = 1,
    .inputs = sqrt_inputs,
    .n_outputs = 1,
    .outputs = sqrt_outputs,
    .forward = sqrt_forward,
    .backward = sqrt_backward,
    .backward_graph = sqrt_backward_graph,
    .samples = sqrt_samples,
    .saves = "the output (when the input needs a gradient)",
};
