/* ops/elementwise/tanh.c — "tanh": elementwise hyperbolic tangent.
 * Backward: g * (1 - y^2) from the saved output y.
 * Saved tensors only when the input needs a gradient.
 */
#include "ew.h"

EW_UNARY_F(tanh, tanh(a))
static const ew_fns tanh_fns = EW_TABLE_F(tanh);
/* (g, saved) -> input gradient */
EW_BINARY_F(tanh_grad, a * (1 - b * b))
static const ew_fns tanh_grad_fns = EW_TABLE_F(tanh_grad);

static int tanh_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  out[0] = ew_map(1, in, tanh_fns, NULL);
  if (!out[0]) return nb_last_status();
  if (nb_ctx_needs_input_grad(ctx, 0) && ew_save(ctx, out[0]) < 0) return nb_last_status();
  return 0;
}

static int tanh_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *s = nb_ctx_saved(ctx, 0);
  if (!s) return nb_last_status();
  grad_in[0] = ew_map(2, (nb_tensor *const[]){grad_out[0], s}, tanh_grad_fns, NULL);
  return grad_in[0] ? 0 : nb_last_status();
}

static int tanh_samples(nb_sample_sink *sink) {
  ew_range r = {-2, 2, 0};
  return ew_unary_samples(sink, r, 0, NULL);
}

static const nb_input_spec tanh_inputs[] = {{"input", NB_DT_FLOAT, 0, "any floating tensor"}};
static const nb_output_spec tanh_outputs[] = {{"out", 0, "same shape and dtype as input"}};

const nb_op_desc ew_op_tanh = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "tanh",
    .doc = "Elementwise hyperbolic tangent. Gradient g * (1 - y^2) from the saved output y.",
    .node_name = "TanhBackward",
    .n_inputs = 1,
    .inputs = tanh_inputs,
    .n_outputs = 1,
    .outputs = tanh_outputs,
    .forward = tanh_forward,
    .backward = tanh_backward,
    .samples = tanh_samples,
    .saves = "the output (when the input needs a gradient)",
};
