/* ops/elementwise/log.c — "log": elementwise natural logarithm.
 * Backward: g / x from the saved input.
 * Saved tensors only when the input needs a gradient.
 */
#include "ew.h"
#include "../common/graph_util.h"

EW_UNARY_F(log, log(a))
static const ew_fns log_fns = EW_TABLE_F(log);
/* (g, saved) -> input gradient */
EW_BINARY_F(log_grad, a / b)
static const ew_fns log_grad_fns = EW_TABLE_F(log_grad);

static int log_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  return ew_unary_forward(ctx, in, log_fns, EW_KEEP_INPUT, out);
}

static int log_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return ew_saved_backward(ctx, grad_out, log_grad_fns, grad_in);
}

static int log_samples(nb_sample_sink *sink) {
  ew_range r = {0.5, 2, 0};
  return ew_unary_samples(sink, r, 0, NULL);
}

static int log_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *x = nb_ctx_saved(ctx, 0);
  return x && (grad_in[0] = NB_CALL("div", grad_out[0], x)) ? 0 : nb_last_status();
}

static const nb_input_spec log_inputs[] = {{"input", NB_DT_FLOAT, 0, "any floating tensor"}};
static const nb_output_spec log_outputs[] = {{"out", 0, "same shape and dtype as input"}};

const nb_op_desc op_log = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "log",
    .doc = "Elementwise natural logarithm (nan for x < 0, -inf at 0). Gradient g / x.",
    .node_name = "LogBackward",
    .n_inputs = 1,
    .inputs = log_inputs,
    .n_outputs = 1,
    .outputs = log_outputs,
    .forward = log_forward,
    .backward = log_backward,
    .backward_graph = log_backward_graph,
    .samples = log_samples,
    .saves = "the input (when the input needs a gradient)",
};
