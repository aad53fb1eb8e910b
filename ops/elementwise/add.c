/* ops/elementwise/add.c — "add": a + b with NumPy broadcasting.
 * Backward passes the output gradient through to both inputs (the core sums it back
 * over broadcast dimensions). Saves nothing.
 */
#include "ew.h"
#include "../common/graph_util.h"

EW_BINARY_F(add, a + b)
EW_BINARY(add_i64, int64_t, int64_t, int64_t, EW_WRAP(EW_U(a) + EW_U(b)))
const ew_fns ew_add_fns = EW_TABLE_FI(add);

static int add_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  out[0] = ew_binary(ctx, in[0], in[1], -1, ew_add_fns);
  return out[0] ? 0 : nb_last_status();
}

int ew_add_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  if (nb_ctx_needs_input_grad(ctx, 0)) grad_in[0] = grad_out[0];
  if (nb_ctx_needs_input_grad(ctx, 1)) grad_in[1] = grad_out[0];
  return 0;
}

static int add_samples(nb_sample_sink *sink) {
  ew_range r = {-2, 2, 0};
  return ew_binary_samples(sink, r, r, 0);
}

/* Linear: the plain backward only passes grad_out on, so it records as it is. */

static const nb_input_spec add_inputs[] = {
    {"input", NB_DT_FLOAT | NB_DT_I64, 0, "first operand"},
    {"other", NB_DT_FLOAT | NB_DT_I64, 0, "second operand, same dtype, broadcastable with input"},
};
static const nb_output_spec add_outputs[] = {{"out", 0, "input + other, of the broadcast shape"}};

const nb_op_desc op_add = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "add",
    .doc = "Elementwise sum input + other with NumPy broadcasting. Both operands must have "
           "the same dtype (nb_add_scalar wraps a scalar in a 0-d tensor of input's dtype). "
           "int64 sums wrap around on overflow.",
    .node_name = "AddBackward",
    .n_inputs = 2,
    .inputs = add_inputs,
    .n_outputs = 1,
    .outputs = add_outputs,
    .forward = add_forward,
    .backward = ew_add_backward,
    .backward_graph = ew_add_backward,
    .samples = add_samples,
    .saves = "nothing (the gradient passes through to both inputs)",
};
