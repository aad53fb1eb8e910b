/* ops/reduction/sum.c — "sum": sum over all elements or over given dims. Forward,
 * backward, attributes and samples are shared with "mean" (red_sum_ops.c). */
#include "reduce.h"

static int sum_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  return red_sum_forward(ctx, in, attrs, false, out);
}

/* d sum / d x = 1: the output gradient broadcast back over the reduced dims. */
static int sum_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return red_sum_backward(ctx, grad_out, false, grad_in);
}

static const nb_input_spec sum_inputs[] = {
    {"input", NB_DT_ANY, 0, "tensor to sum (float32, float64, int64, or bool: counts true)"}};
static const nb_output_spec sum_outputs[] = {
    {"out", 0, "the sums, same dtype as input (int64 for bool); 0-d when every dim is reduced "
     "without keepdim"}};

const nb_op_desc op_sum = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "sum",
    .doc = "Sum of the input's elements over the given dims (all when none), like "
           "torch.sum. Floating sums accumulate in double with pairwise summation and do not "
           "depend on the thread count; int64 sums wrap on overflow; a bool input sums to int64 "
           "(counts true elements), as PyTorch. An empty reduction gives "
           "0. Gradient: the output gradient broadcast back over the reduced dims.",
    .n_inputs = 1,
    .inputs = sum_inputs,
    .n_outputs = 1,
    .outputs = sum_outputs,
    .n_attrs = 2,
    .attrs = red_dims_attrs,
    .forward = sum_forward,
    .backward = sum_backward,
    .samples = red_dims_samples,
    .saves = "nothing (input shape and attributes only)",
};
