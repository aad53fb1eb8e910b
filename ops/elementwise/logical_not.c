/* ops/elementwise/logical_not.c — "logical_not": elementwise input == 0 as a bool tensor,
 * like torch.logical_not. Not differentiable.
 */
#include "ew.h"

EW_UNARY(logical_not_f32, uint8_t, float, a == 0)
EW_UNARY(logical_not_f64, uint8_t, double, a == 0)
EW_UNARY(logical_not_i64, uint8_t, int64_t, a == 0)
EW_UNARY(logical_not_b8, uint8_t, uint8_t, a == 0)
static const ew_fns logical_not_fns = {logical_not_f32, logical_not_f64, logical_not_i64,
                                       logical_not_b8};

static int logical_not_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                               nb_tensor **out) {
  nb_tensor *o = nb_empty(nb_ndim(in[0]), nb_shape(in[0]), NB_BOOL);
  if (!o || ew_apply(2, (nb_tensor *const[]){o, in[0]}, logical_not_fns[nb_dtype_of(in[0])],
                     NULL) < 0)
    return nb_last_status();
  out[0] = o;
  return 0;
}

static int logical_not_samples(nb_sample_sink *sink) { return ew_logical_samples(sink, 1); }

static const nb_input_spec logical_not_inputs[] = {
    {"input", NB_DT_ANY, NB_IN_NONDIFF, "tensor (nonzero is true)"}};
static const nb_output_spec logical_not_outputs[] = {
    {"out", NB_OUT_NONDIFF, "bool tensor of the input's shape: 1 where input is 0"}};

const nb_op_desc op_logical_not = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "logical_not",
    .doc = "Elementwise logical not (input == 0) of a tensor of any dtype, like "
           "torch.logical_not; returns a bool tensor. Not differentiable.",
    .n_inputs = 1,
    .inputs = logical_not_inputs,
    .n_outputs = 1,
    .outputs = logical_not_outputs,
    .forward = logical_not_forward,
    .backward = NULL,
    .samples = logical_not_samples,
    .saves = "nothing (no backward)",
};
