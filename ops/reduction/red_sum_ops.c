/* ops/reduction/red_sum_ops.c — forward, backward, schema and samples shared by "sum"
 * and "mean" (they differ only in the division by the count and in the dtypes they
 * accept). Errors name the op being run (nb_ctx_op_name). */
#include "reduce.h"

int red_sum_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, bool mean,
                    nb_tensor **out) {
  const char *op = nb_ctx_op_name(ctx);
  uint32_t mask;
  if (red_dims_mask(op, nb_ndim(in[0]), nb_shape(in[0]), &attrs[0].ints, &mask) < 0)
    return nb_last_status();
  nb_tensor *x = in[0];
  if (nb_dtype_of(x) == NB_BOOL && !(x = nb_convert(x, NB_I64))) /* PyTorch: bool sums to int64 */
    return nb_last_status();
  out[0] = red_sum_kernel(op, x, mask, attrs[1].i != 0, mean);
  return out[0] ? 0 : nb_last_status();
}

/* d sum / d x = 1: the output gradient broadcast back over the reduced dims.
 * d mean / d x = 1/count: the same, divided by the number of elements each output
 * averaged. */
int red_sum_backward(nb_ctx *ctx, nb_tensor *const *grad_out, bool mean, nb_tensor **grad_in) {
  if (!nb_ctx_needs_input_grad(ctx, 0)) return 0;
  const char *op = nb_ctx_op_name(ctx);
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  int ndim;
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &ndim);
  uint32_t mask;
  if (red_dims_mask(op, ndim, shape, &attrs[0].ints, &mask) < 0) return nb_last_status();
  double scale = 1.0;
  if (mean) {
    int64_t count = red_count(ndim, shape, mask);
    scale = count > 0 ? 1.0 / (double)count : 0.0; /* no elements: nothing to feed */
  }
  grad_in[0] = red_expand(op, grad_out[0], ndim, shape, mask, attrs[1].i != 0, scale);
  return grad_in[0] ? 0 : nb_last_status();
}

const nb_attr_spec red_dims_attrs[2] = {
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

int red_dims_samples(nb_sample_sink *sink) {
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
