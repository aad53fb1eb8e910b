/* ops/reduction/max.c — "max": the largest element (0-d), gradient split among ties.
 * Forward, backward, input and samples are shared with "min" (red_extreme_ops.c). */
#include "reduce.h"

static int max_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  return red_extreme_all_forward(ctx, in, true, out);
}

static const nb_output_spec max_outputs[] = {{"out", 0, "0-d tensor: the largest element"}};

const nb_op_desc op_max = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "max",
    .doc = "Largest element of the whole input as a 0-d tensor, like torch.max(x). NaN "
           "propagates. An empty input is an error. Gradient (PyTorch 2.x): split evenly "
           "among the elements equal to the maximum, e.g. max of [1,3,3] sends [0,.5,.5].",
    .n_inputs = 1,
    .inputs = red_extreme_all_inputs,
    .n_outputs = 1,
    .outputs = max_outputs,
    .forward = max_forward,
    .backward = red_extreme_all_backward,
    .backward_graph = red_extreme_backward_graph,
    .samples = red_extreme_all_samples,
    .saves = "the input, the maximum and its number of ties",
};
