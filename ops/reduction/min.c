/* ops/reduction/min.c — "min": the smallest element (0-d), gradient split among ties.
 * Forward, backward, input and samples are shared with "max" (red_extreme_ops.c). */
#include "reduce.h"

static int min_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  return red_extreme_all_forward(ctx, in, false, out);
}

static const nb_output_spec min_outputs[] = {{"out", 0, "0-d tensor: the smallest element"}};

const nb_op_desc op_min = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "min",
    .doc = "Smallest element of the whole input as a 0-d tensor, like torch.min(x). NaN "
           "propagates. An empty input is an error. Gradient (PyTorch 2.x): split evenly "
           "among the elements equal to the minimum, e.g. min of [1,1,3] sends [.5,.5,0].",
    .n_inputs = 1,
    .inputs = red_extreme_all_inputs,
    .n_outputs = 1,
    .outputs = min_outputs,
    .forward = min_forward,
    .backward = red_extreme_all_backward,
    .backward_graph = red_extreme_backward_graph,
    .samples = red_extreme_all_samples,
    .saves = "the input, the minimum and its number of ties",
};
