/* ops/reduction/min_dim.c — "min_dim": minima along one dim, with their indices.
 * Forward, backward, schema and samples are shared with "max_dim" (red_extreme_ops.c). */
#include "reduce.h"

static int min_dim_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                           nb_tensor **out) {
  return red_extreme_dim_forward(ctx, in, attrs, false, out);
}

static const nb_output_spec min_dim_outputs[] = {
    {"values", 0, "minimum of each slice along dim"},
    {"indices", NB_OUT_NONDIFF, "int64 position of that minimum along dim (first on ties)"},
};

const nb_op_desc op_min_dim = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "min_dim",
    .doc = "Minimum along one dim, like torch.min(x, dim): values and int64 indices. On ties "
           "the first occurrence is selected (as PyTorch's CPU kernel); NaN is selected over "
           "any number. Gradient: all of it goes to the selected index of each slice.",
    .n_inputs = 1,
    .inputs = red_extreme_dim_inputs,
    .n_outputs = 2,
    .outputs = min_dim_outputs,
    .n_attrs = 2,
    .attrs = red_extreme_dim_attrs,
    .forward = min_dim_forward,
    .backward = red_extreme_dim_backward,
    .backward_graph = red_extreme_backward_graph,
    .samples = red_extreme_dim_samples,
    .saves = "the indices output (and the input's shape)",
};
