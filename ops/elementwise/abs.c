/* ops/elementwise/abs.c — "abs": elementwise |x|.
 * Backward: g * sign(x) from the saved input, with sign(0) = 0, so abs'(0) = 0 (spec
 * item 31).
 */
#include "ew.h"
#include "../common/graph_util.h"

EW_UNARY_F(abs, fabs(a))
EW_UNARY(abs_i64, int64_t, int64_t, a < 0 ? EW_WRAP(0 - EW_U(a)) : a)
static const ew_fns abs_fns = EW_TABLE_FI(abs);
/* (g, x) -> g * sign(x), sign(0) = sign(nan) = 0 (a product, as PyTorch: nan * 0 = nan) */
EW_BINARY_F(abs_grad, a * ((b > 0) - (b < 0)))
static const ew_fns abs_grad_fns = EW_TABLE_F(abs_grad);

static int abs_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  return ew_unary_forward(ctx, in, abs_fns, EW_KEEP_INPUT, out);
}

static int abs_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return ew_saved_backward(ctx, grad_out, abs_grad_fns, grad_in);
}

static int abs_samples(nb_sample_sink *sink) {
  ew_range r = {0.1, 2, 1}; /* |x| >= 0.1: away from the kink at 0 */
  return ew_unary_samples(sink, r, 0, NULL);
}

/* Piecewise linear: g times the (constant) derivative mask, recorded through g. */
static int abs_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return (grad_in[0] = gu_masked(ctx, abs_backward, grad_out[0], 0)) ? 0 : nb_last_status();
}

static const nb_input_spec abs_inputs[] = {{"input", NB_DT_FLOAT | NB_DT_I64, 0, "any tensor"}};
static const nb_output_spec abs_outputs[] = {{"out", 0, "|input|, same shape and dtype"}};

const nb_op_desc op_abs = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "abs",
    .doc = "Elementwise absolute value |x|. Gradient g * sign(x) with sign(0) = 0, so the "
           "gradient at 0 is 0 as in PyTorch.",
    .node_name = "AbsBackward",
    .n_inputs = 1,
    .inputs = abs_inputs,
    .n_outputs = 1,
    .outputs = abs_outputs,
    .forward = abs_forward,
    .backward = abs_backward,
    .backward_graph = abs_backward_graph,
    .samples = abs_samples,
    .saves = "the input (when it needs a gradient)",
};
