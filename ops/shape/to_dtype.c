/* ops/shape/to_dtype.c — "to_dtype": convert to float32, float64 or int64. */
#include "shape.h"

static int to_dtype_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                            nb_tensor **out) {
  nb_tensor *x = in[0];
  nb_dtype dt = (nb_dtype)attrs[0].i;
  /* An int64 result never requires grad (dispatch records history only on floating
   * outputs), as x.to(torch.int64) in PyTorch. */
  if (nb_dtype_of(x) == dt) /* nothing to convert: an alias, as PyTorch returns self */
    out[0] = x;
  else
    out[0] = nb_convert(x, dt);
  return out[0] ? 0 : nb_last_status();
}

/* The output gradient converted back to the input's dtype. */
static int to_dtype_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_dtype dt = nb_ctx_input_dtype(ctx, 0);
  grad_in[0] = nb_dtype_of(grad_out[0]) == dt ? grad_out[0] : nb_convert(grad_out[0], dt);
  return grad_in[0] ? 0 : nb_last_status();
}

static int to_dtype_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *g = grad_out[0];
  grad_in[0] = nb_call1("to_dtype", 1, &g, 1,
                        (nb_attr[]){NB_A_INT("dtype", nb_ctx_input_dtype(ctx, 0))});
  return grad_in[0] ? 0 : nb_last_status();
}

static int to_dtype_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  int rc;
  if ((rc = shp_add_sample(sink, "float64 -> float64 (view)",
                           nb_rand_range(2, (int64_t[]){3, 4}, -2, 2, NB_F64, g), 1,
                           (nb_attr[]){NB_A_INT("dtype", NB_F64)}, 0)) < 0)
    return rc;
  if ((rc = shp_add_sample(sink, "transposed float64 -> float64", shp_transposed_sample(g, 3, 4),
                           1, (nb_attr[]){NB_A_INT("dtype", NB_F64)}, 0)) < 0)
    return rc;
  /* float32 rounding is far above the harness's finite-difference tolerance */
  return shp_add_sample(sink, "float64 -> float32 (forward only)",
                        nb_rand_range(2, (int64_t[]){3, 4}, -2, 2, NB_F64, g), 1,
                        (nb_attr[]){NB_A_INT("dtype", NB_F32)}, NB_SAMPLE_NO_GRAD_CHECK);
}

static const nb_input_spec to_dtype_inputs[] = {
    {"input", NB_DT_ANY, 0, "tensor to convert (float32, float64, int64 or bool)"}};
static const nb_output_spec to_dtype_outputs[] = {
    {"out", 0, "the values converted to dtype (contiguous copy, or a view if unchanged)"}};
static const nb_attr_spec to_dtype_attrs[] = {
    {.name = "dtype",
     .type = NB_ATTR_INT,
     .flags = NB_ATTR_REQUIRED | NB_ATTR_HAS_MIN | NB_ATTR_HAS_MAX,
     .min = 0,
     .max = 2,
     .doc = "target dtype: 0 float32, 1 float64, 2 int64 (an int64 result does not require "
            "grad)"},
};

const nb_op_desc op_to_dtype = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "to_dtype",
    .doc = "Convert to another dtype, like Tensor.to(dtype): a contiguous copy, or a view of "
           "the input when the dtype is already the requested one. An int64 result never "
           "requires grad (as in PyTorch). Gradient: the output gradient converted back "
           "to the input's dtype.",
    .n_inputs = 1,
    .inputs = to_dtype_inputs,
    .n_outputs = 1,
    .outputs = to_dtype_outputs,
    .n_attrs = 1,
    .attrs = to_dtype_attrs,
    .forward = to_dtype_forward,
    .backward = to_dtype_backward,
    .backward_graph = to_dtype_backward_graph,
    .samples = to_dtype_samples,
    .saves = "nothing (the input's dtype)",
};
