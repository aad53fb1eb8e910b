/* ops/elementwise/ge.c — "ge": elementwise input >= other with NumPy broadcasting,
 * giving a bool tensor. Not differentiable: the inputs are NB_IN_NONDIFF, so it may be
 * called on tensors that require grad; its output never requires grad (as eq.c).
 */
#include "ew.h"

EW_BINARY(ge_f32, uint8_t, float, float, a >= b)
EW_BINARY(ge_f64, uint8_t, double, double, a >= b)
EW_BINARY(ge_i64, uint8_t, int64_t, int64_t, a >= b)
static const ew_fns ge_fns = EW_TABLE_FI(ge);

static int ge_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                      nb_tensor **out) {
  out[0] = ew_binary(ctx, in[0], in[1], NB_BOOL, ge_fns);
  return out[0] ? 0 : nb_last_status();
}

static int ge_samples(nb_sample_sink *sink) { return ew_compare_samples(sink); }

static const nb_input_spec ge_inputs[] = {
    {"input", NB_DT_FLOAT | NB_DT_I64, NB_IN_NONDIFF, "left operand"},
    {"other", NB_DT_FLOAT | NB_DT_I64, NB_IN_NONDIFF,
     "right operand, same dtype, broadcastable with input"},
};
static const nb_output_spec ge_outputs[] = {
    {"out", NB_OUT_NONDIFF, "bool tensor of the broadcast shape: 1 where input >= other"}};

const nb_op_desc op_ge = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "ge",
    .doc = "Elementwise comparison input >= other (greater than or equal to) with NumPy broadcasting, "
           "like torch.ge; returns a bool tensor. Both operands must have the same dtype. "
           "Not differentiable.",
    .n_inputs = 2,
    .inputs = ge_inputs,
    .n_outputs = 1,
    .outputs = ge_outputs,
    .forward = ge_forward,
    .backward = NULL,
    .samples = ge_samples,
    .saves = "nothing (no backward)",
};
