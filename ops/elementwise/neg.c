/* ops/elementwise/neg.c — "neg": elementwise -x.
 * Backward: -g. Saves nothing.
 */
#include "ew.h"
#include "../common/graph_util.h"

EW_UNARY_F(neg, -a)
EW_UNARY(neg_i64, int64_t, int64_t, EW_WRAP(0 - EW_U(a)))
const ew_fns ew_neg_fns = EW_TABLE_FI(neg);

static int neg_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  out[0] = ew_map(1, in, ew_neg_fns, NULL);
  return out[0] ? 0 : nb_last_status();
}

static int neg_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  grad_in[0] = ew_neg_of(grad_out[0]);
  return grad_in[0] ? 0 : nb_last_status();
}

static int neg_samples(nb_sample_sink *sink) {
  ew_range r = {-2, 2, 0};
  return ew_unary_samples(sink, r, 0, NULL);
}

static int neg_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  (void)ctx;
  return (grad_in[0] = NB_CALL("neg", grad_out[0])) ? 0 : nb_last_status();
}

static const nb_input_spec neg_inputs[] = {{"input", NB_DT_FLOAT | NB_DT_I64, 0, "any tensor"}};
static const nb_output_spec neg_outputs[] = {{"out", 0, "-input, same shape and dtype"}};

const nb_op_desc op_neg = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "neg",
    .doc = "Elementwise negation -x (int64 wraps around for the most negative value).",
    .node_name = "NegBackward",
    .n_inputs = 1,
    .inputs = neg_inputs,
    .n_outputs = 1,
    .outputs = neg_outputs,
    .forward = neg_forward,
    .backward = neg_backward,
    .backward_graph = neg_backward_graph,
    .samples = neg_samples,
    .saves = "nothing (the gradient is -g)",
};
