/* ops/reduction/argmax.c — "argmax": int64 position of the largest value along a dim (or of
 * the flattened input). Not differentiable; shared with the other arg op in
 * red_arg_ops.c. */
#include "reduce.h"

static int argmax_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                          nb_tensor **out) {
  return red_arg_forward(ctx, in, attrs, true, out);
}

const nb_op_desc op_argmax = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "argmax",
    .doc = "Position of the largest value along one dim, like torch.argmax (the indices of "
           "max_dim); without a dim, the position in the flattened input (a 0-d result). "
           "First occurrence on ties; NaN is selected over any number. Not differentiable: "
           "it may be called on tensors that require grad.",
    .n_inputs = 1,
    .inputs = red_arg_inputs,
    .n_outputs = 1,
    .outputs = red_arg_outputs,
    .n_attrs = 2,
    .attrs = red_arg_attrs,
    .forward = argmax_forward,
    .backward = NULL,
    .samples = red_arg_samples,
    .saves = "nothing (no backward)",
};
