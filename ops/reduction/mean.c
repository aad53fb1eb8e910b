/* ops/reduction/mean.c — "mean": arithmetic mean over all elements or over given dims.
 * Forward, backward, attributes and samples are shared with "sum" (red_sum_ops.c). */
#include "reduce.h"

static int mean_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  return red_sum_forward(ctx, in, attrs, true, out);
}

/* d mean / d x = 1/count: the output gradient broadcast back and divided by the number
 * of elements each output averaged. */
static int mean_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return red_sum_backward(ctx, grad_out, true, grad_in);
}

static const nb_input_spec mean_inputs[] = {
    {"input", NB_DT_FLOAT, 0, "tensor to average (float32 or float64)"}};
static const nb_output_spec mean_outputs[] = {
    {"out", 0, "the means, same dtype as input; 0-d when every dim is reduced without keepdim"}};

const nb_op_desc op_mean = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "mean",
    .doc = "Arithmetic mean of the input's elements over the given dims (all when none), "
           "like torch.mean: the sum (accumulated in double, pairwise, independent of the "
           "thread count) divided by the number of elements reduced; an empty reduction gives "
           "NaN. Integer and bool inputs are refused, as PyTorch's mean (convert first). "
           "Gradient: the output gradient broadcast back and divided by that count.",
    .n_inputs = 1,
    .inputs = mean_inputs,
    .n_outputs = 1,
    .outputs = mean_outputs,
    .n_attrs = 2,
    .attrs = red_dims_attrs,
    .forward = mean_forward,
    .backward = mean_backward,
    .samples = red_dims_samples,
    .saves = "nothing (input shape and attributes only)",
};
