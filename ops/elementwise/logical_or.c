/* ops/elementwise/logical_or.c — "logical_or": elementwise (input != 0) or (other != 0) with NumPy
 * broadcasting, giving a bool tensor, like torch.logical_or. Not differentiable.
 */
#include "ew.h"

EW_BINARY(logical_or_f32, uint8_t, float, float, (a != 0) || (b != 0))
EW_BINARY(logical_or_f64, uint8_t, double, double, (a != 0) || (b != 0))
EW_BINARY(logical_or_i64, uint8_t, int64_t, int64_t, (a != 0) || (b != 0))
EW_BINARY(logical_or_b8, uint8_t, uint8_t, uint8_t, (a != 0) || (b != 0))
static const ew_fns logical_or_fns = {logical_or_f32, logical_or_f64, logical_or_i64, logical_or_b8};

static int logical_or_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                      nb_tensor **out) {
  out[0] = ew_binary(ctx, in[0], in[1], NB_BOOL, logical_or_fns);
  return out[0] ? 0 : nb_last_status();
}

static int logical_or_samples(nb_sample_sink *sink) { return ew_logical_samples(sink, 2); }

static const nb_input_spec logical_or_inputs[] = {
    {"input", NB_DT_ANY, NB_IN_NONDIFF, "left operand (nonzero is true)"},
    {"other", NB_DT_ANY, NB_IN_NONDIFF, "right operand, same dtype, broadcastable with input"},
};
static const nb_output_spec logical_or_outputs[] = {
    {"out", NB_OUT_NONDIFF, "bool tensor of the broadcast shape"}};

const nb_op_desc op_logical_or = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "logical_or",
    .doc = "Elementwise logical or of two tensors of the same dtype (any dtype; nonzero "
           "is true) with NumPy broadcasting, like torch.logical_or; returns a bool tensor. "
           "Not differentiable.",
    .n_inputs = 2,
    .inputs = logical_or_inputs,
    .n_outputs = 1,
    .outputs = logical_or_outputs,
    .forward = logical_or_forward,
    .backward = NULL,
    .samples = logical_or_samples,
    .saves = "nothing (no backward)",
};
