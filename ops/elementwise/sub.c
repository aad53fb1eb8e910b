/* ops/elementwise/sub.c — "sub": a - b with NumPy broadcasting.
 * Backward: d/da = g, d/db = -g (the core sums over broadcast dimensions). Saves nothing.
 */
#include "ew.h"
#include "../common/graph_util.h"

EW_BINARY_F(sub, a - b)
EW_BINARY(sub_i64, int64_t, int64_t, int64_t, EW_WRAP(EW_U(a) - EW_U(b)))
const ew_fns ew_sub_fns = EW_TABLE_FI(sub);

static int sub_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  out[0] = ew_binary(ctx, in[0], in[1], -1, ew_sub_fns);
  return out[0] ? 0 : nb_last_status();
}

int ew_sub_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  if (nb_ctx_needs_input_grad(ctx, 0)) grad_in[0] = grad_out[0];
  if (nb_ctx_needs_input_grad(ctx, 1) && !(grad_in[1] = ew_neg_of(grad_out[0])))
    return nb_last_status();
  return 0;
}

static int sub_samples(nb_sample_sink *sink) {
  ew_range r = {-2, 2, 0};
  return ew_binary_samples(sink, r, r, 0);
}

/* d/da = g, d/db = -g, recorded. */
static int sub_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  if (nb_ctx_needs_input_grad(ctx, 0)) grad_in[0] = grad_out[0];
  if (nb_ctx_needs_input_grad(ctx, 1) && !(grad_in[1] = NB_CALL("neg", grad_out[0])))
    return nb_last_status();
  return 0;
}

static const nb_input_spec sub_inputs[] = {
    {"input", NB_DT_FLOAT | NB_DT_I64, 0, "minuend"},
    {"other", NB_DT_FLOAT | NB_DT_I64, 0, "subtrahend, same dtype, broadcastable with input"},
};
static const nb_output_spec sub_outputs[] = {{"out", 0, "input - other, of the broadcast shape"}};

const nb_op_desc op_sub = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "sub",
    .doc = "Elementwise difference input - other with NumPy broadcasting. Both operands must "
           "have the same dtype (nb_sub_scalar / nb_rsub_scalar wrap a scalar in a 0-d "
           "tensor). int64 differences wrap around on overflow.",
    .node_name = "SubBackward",
    .n_inputs = 2,
    .inputs = sub_inputs,
    .n_outputs = 1,
    .outputs = sub_outputs,
    .forward = sub_forward,
    .backward = ew_sub_backward,
    .backward_graph = sub_backward_graph,
    .samples = sub_samples,
    .saves = "nothing (input's gradient is g, other's is -g)",
};
