/* ops/elementwise/le.c — "le": elementwise input <= other with NumPy broadcasting,
 * giving a bool tensor. Not differentiable: the inputs are NB_IN_NONDIFF, so it may be
 * called on tensors that require grad; its output never requires grad (as eq.c).
 */
#include "ew.h"

EW_BINARY(le_f32, uint8_t, float, float, a <= b)
EW_BINARY(le_f64, uint8_t, double, double, a <= b)
EW_BINARY(le_i64, uint8_t, int64_t, int64_t, a <= b)
static const ew_fns le_fns = EW_TABLE_FI(le);

static int le_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                      nb_tensor **out) {
  out[0] = ew_binary(ctx, in[0], in[1], NB_BOOL, le_fns);
  return out[0] ? 0 : nb_last_status();
}

static int le_samples(nb_sample_sink *sink) { return ew_compare_samples(sink); }

static const nb_input_spec le_inputs[] = {
    {"input", NB_DT_FLOAT | NB_DT_I64, NB_IN_NONDIFF, "left operand"},
    {"other", NB_DT_FLOAT | NB_DT_I64, NB_IN_NONDIFF,
     "right operand, same dtype, broadcastable with input"},
};
static const nb_output_spec le_outputs[] = {
    {"out", NB_OUT_NONDIFF, "bool tensor of the broadcast shape: 1 where input <= other"}};

const nb_op_desc op_le = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "le",
    .doc = "Elementwise comparison input <= other (less than or equal to) with NumPy broadcasting, "
           "like torch.le; returns a bool tensor. Both operands must have the same dtype. "
           "Not differentiable.",
    .n_inputs = 2,
    .inputs = le_inputs,
    .n_outputs = 1,
    .outputs = le_outputs,
    .forward = le_forward,
    .backward = NULL,
    .samples = le_samples,
    .saves = "nothing (no backward)",
};
