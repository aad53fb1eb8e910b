/* ops/elementwise/div.c — "div": true division a / b with NumPy broadcasting.
 * Backward (as PyTorch): d/da = g / b, d/db = -g * a / (b * b).
 */
#include "ew.h"
#include "../common/graph_util.h"

EW_BINARY_F(div, a / b)
const ew_fns ew_div_fns = EW_TABLE_F(div);
/* (g, a, b) -> -g * a / (b * b) */
EW_TERNARY_F(div_other_grad, -a * b / (c * c))
static const ew_fns div_other_grad_fns = EW_TABLE_F(div_other_grad);

static int div_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  out[0] = ew_binary(ctx, in[0], in[1], -1, ew_div_fns);
  if (!out[0]) return nb_last_status();
  bool ga = nb_ctx_needs_input_grad(ctx, 0), gb = nb_ctx_needs_input_grad(ctx, 1);
  if ((ga || gb) && ew_save(ctx, in[1]) < 0) return nb_last_status();
  if (gb && ew_save(ctx, in[0]) < 0) return nb_last_status();
  return 0;
}

static int div_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  bool ga = nb_ctx_needs_input_grad(ctx, 0), gb = nb_ctx_needs_input_grad(ctx, 1);
  nb_tensor *g = grad_out[0];
  nb_tensor *b = nb_ctx_saved(ctx, 0);
  if (!b) return nb_last_status();
  if (ga && !(grad_in[0] = ew_map(2, (nb_tensor *const[]){g, b}, ew_div_fns, NULL)))
    return nb_last_status();
  if (gb) {
    nb_tensor *a = nb_ctx_saved(ctx, 1);
    if (!a) return nb_last_status();
    if (!(grad_in[1] = ew_map(3, (nb_tensor *const[]){g, a, b}, div_other_grad_fns, NULL)))
      return nb_last_status();
  }
  return 0;
}

static int div_samples(nb_sample_sink *sink) {
  ew_range ra = {-2, 2, 0}, rb = {0.5, 2, 1};
  return ew_binary_samples(sink, ra, rb, 0);
}

/* d/da = g / b, d/db = -(g / b) * (a / b), recorded. */
static int div_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *b = nb_ctx_saved(ctx, 0);
  nb_tensor *gb = b ? NB_CALL("div", grad_out[0], b) : NULL;
  if (!gb) return nb_last_status();
  if (nb_ctx_needs_input_grad(ctx, 0)) grad_in[0] = gb;
  if (nb_ctx_needs_input_grad(ctx, 1)) {
    nb_tensor *a = nb_ctx_saved(ctx, 1);
    nb_tensor *q = a ? NB_CALL("div", a, b) : NULL;
    nb_tensor *p = q ? NB_CALL("mul", gb, q) : NULL;
    if (!p || !(grad_in[1] = NB_CALL("neg", p))) return nb_last_status();
  }
  return 0;
}

static const nb_input_spec div_inputs[] = {
    {"input", NB_DT_FLOAT, 0, "dividend"},
    {"other", NB_DT_FLOAT, 0, "divisor, same dtype, broadcastable with input"},
};
static const nb_output_spec div_outputs[] = {{"out", 0, "input / other, of the broadcast shape"}};

const nb_op_desc op_div = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "div",
    .doc = "Elementwise true division input / other with NumPy broadcasting (IEEE: x/0 is "
           "inf or nan). Both operands must have the same floating dtype (nb_div_scalar / "
           "nb_rdiv_scalar wrap a scalar in a 0-d tensor).",
    .node_name = "DivBackward",
    .n_inputs = 2,
    .inputs = div_inputs,
    .n_outputs = 1,
    .outputs = div_outputs,
    .forward = div_forward,
    .backward = div_backward,
    .backward_graph = div_backward_graph,
    .samples = div_samples,
    .saves = "other when either input needs a gradient; input when other needs one",
};
