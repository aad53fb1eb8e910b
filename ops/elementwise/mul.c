/* ops/elementwise/mul.c — "mul": a * b with NumPy broadcasting.
 * Backward: d/da = g * b, d/db = g * a. Each operand is saved only when the other one
 * needs a gradient.
 */
#include "ew.h"
#include "../common/graph_util.h"

EW_BINARY_F(mul, a * b)
EW_BINARY(mul_i64, int64_t, int64_t, int64_t, EW_WRAP(EW_U(a) * EW_U(b)))
const ew_fns ew_mul_fns = EW_TABLE_FI(mul);

static int mul_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  out[0] = ew_binary(ctx, in[0], in[1], -1, ew_mul_fns);
  if (!out[0]) return nb_last_status();
  /* Slot i holds the factor input i's gradient needs, or NULL when it needs none: fixed
   * slots, since a backward restricted to some inputs may need fewer than forward did. */
  if (nb_ctx_recording(ctx) &&
      (ew_save(ctx, nb_ctx_needs_input_grad(ctx, 0) ? in[1] : NULL) < 0 ||
       ew_save(ctx, nb_ctx_needs_input_grad(ctx, 1) ? in[0] : NULL) < 0))
    return nb_last_status();
  return 0;
}

static int mul_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  for (int i = 0; i < 2; i++) {
    if (!nb_ctx_needs_input_grad(ctx, i)) continue;
    nb_tensor *other = nb_ctx_saved(ctx, i);
    if (!other) return nb_last_status();
    if (!(grad_in[i] = ew_map(2, (nb_tensor *const[]){grad_out[0], other}, ew_mul_fns, NULL)))
      return nb_last_status();
  }
  return 0;
}

static int mul_samples(nb_sample_sink *sink) {
  ew_range r = {-2, 2, 0};
  return ew_binary_samples(sink, r, r, 0);
}

/* The same products, recorded: g * other for each input. */
static int mul_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  for (int i = 0; i < 2; i++) {
    if (!nb_ctx_needs_input_grad(ctx, i)) continue;
    nb_tensor *other = nb_ctx_saved(ctx, i);
    if (!other || !(grad_in[i] = NB_CALL("mul", grad_out[0], other))) return nb_last_status();
  }
  return 0;
}

static const nb_input_spec mul_inputs[] = {
    {"input", NB_DT_FLOAT | NB_DT_I64, 0, "first factor"},
    {"other", NB_DT_FLOAT | NB_DT_I64, 0, "second factor, same dtype, broadcastable with input"},
};
static const nb_output_spec mul_outputs[] = {{"out", 0, "input * other, of the broadcast shape"}};

const nb_op_desc op_mul = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "mul",
    .doc = "Elementwise product input * other with NumPy broadcasting. Both operands must "
           "have the same dtype (nb_mul_scalar wraps a scalar in a 0-d tensor). int64 "
           "products wrap around on overflow.",
    .node_name = "MulBackward",
    .n_inputs = 2,
    .inputs = mul_inputs,
    .n_outputs = 1,
    .outputs = mul_outputs,
    .forward = mul_forward,
    .backward = mul_backward,
    .backward_graph = mul_backward_graph,
    .samples = mul_samples,
    .saves = "other when input needs a gradient, input when other needs one",
};
