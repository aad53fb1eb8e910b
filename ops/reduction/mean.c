/* ops/reduction/mean.c — "mean": arithmetic mean over all elements or over given dims. */
#include "reduce.h"

static int mean_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  uint32_t mask;
  if (red_dims_mask("mean", nb_ndim(in[0]), nb_shape(in[0]), &attrs[0].ints, &mask) < 0)
    return nb_last_status();
  out[0] = red_sum_kernel("mean", in[0], mask, attrs[1].i != 0, true);
  return out[0] ? 0 : nb_last_status();
}

/* d mean / d x = 1/count: the output gradient broadcast back and divided by the number
 * of elements each output averaged. */
static int mean_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  if (!nb_ctx_needs_input_grad(ctx, 0)) return 0;
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  int ndim;
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &ndim);
  uint32_t mask;
  if (red_dims_mask("mean", ndim, shape, &attrs[0].ints, &mask) < 0) return nb_last_status();
  int64_t count = red_count(ndim, shape, mask);
  double scale = count > 0 ? 1.0 / (double)count : 0.0; /* no elements: nothing to feed */
  grad_in[0] = red_expand("mean", grad_out[0], ndim, shape, mask, attrs[1].i != 0, scale);
  return grad_in[0] ? 0 : nb_last_status();
}

static int mean_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  nb_tensor *t;
#define ADD(desc, x, ...)                                                              \
  do {                                                                                 \
    t = (x);                                                                           \
    if (!t) return nb_last_status();                                                   \
    nb_attr a_[] = {__VA_ARGS__};                                                      \
    int rc_ = nb_sample_add(sink, desc, 1, &t, (int)(sizeof a_ / sizeof a_[0]), a_, 0); \
    if (rc_ < 0) return rc_;                                                           \
  } while (0)
  ADD("all elements", nb_rand_range(2, (int64_t[]){3, 4}, -2, 2, NB_F64, g),
      NB_A_BOOL("keepdim", false));
  ADD("all elements, keepdim", nb_rand_range(2, (int64_t[]){3, 4}, -2, 2, NB_F64, g),
      NB_A_BOOL("keepdim", true));
  ADD("dim [1]", nb_rand_range(3, (int64_t[]){2, 3, 4}, -2, 2, NB_F64, g), NB_A_INTS("dim", 1));
  ADD("dims [-1,0], keepdim", nb_rand_range(3, (int64_t[]){2, 3, 4}, -2, 2, NB_F64, g),
      NB_A_INTS("dim", -1, 0), NB_A_BOOL("keepdim", true));
  ADD("transposed input, dim [0]",
      red_transposed_sample(nb_rand_range(2, (int64_t[]){3, 5}, -2, 2, NB_F64, g)),
      NB_A_INTS("dim", 0));
  ADD("transposed input, dim [-1], keepdim",
      red_transposed_sample(nb_rand_range(2, (int64_t[]){3, 5}, -2, 2, NB_F64, g)),
      NB_A_INTS("dim", -1), NB_A_BOOL("keepdim", true));
  ADD("0-d input", nb_rand_range(0, NULL, -2, 2, NB_F64, g), NB_A_BOOL("keepdim", false));
  ADD("size-1 dim reduced", nb_rand_range(3, (int64_t[]){4, 1, 3}, -2, 2, NB_F64, g),
      NB_A_INTS("dim", 1));
#undef ADD
  return 0;
}

static const nb_input_spec mean_inputs[] = {
    {"input", NB_DT_FLOAT, 0, "tensor to average (float32 or float64)"}};
static const nb_output_spec mean_outputs[] = {
    {"out", 0, "the means, same dtype as input; 0-d when every dim is reduced without keepdim"}};
static const nb_attr_spec mean_attrs[] = {
    {.name = "dim",
     .type = NB_ATTR_INTS,
     .flags = NB_ATTR_OPTIONAL,
     .doc = "dims to reduce (negative counts from the end, no duplicates); absent or empty: "
            "all dims"},
    {.name = "keepdim",
     .type = NB_ATTR_BOOL,
     .def = {.i = 0},
     .doc = "keep each reduced dim as size 1"},
};

const nb_op_desc red_mean_desc = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "mean",
    .doc = "Arithmetic mean of the input's elements over the given dims (all when none), "
           "like torch.mean: the sum (accumulated in double, pairwise, independent of the "
           "thread count) divided by the number of elements reduced; an empty reduction gives "
           "NaN. Gradient: the output gradient broadcast back and divided by that count.",
    .n_inputs = 1,
    .inputs = mean_inputs,
    .n_outputs = 1,
    .outputs = mean_outputs,
    .n_attrs = 2,
    .attrs = mean_attrs,
    .forward = mean_forward,
    .backward = mean_backward,
    .samples = mean_samples,
    .saves = "nothing (input shape and attributes only)",
};
