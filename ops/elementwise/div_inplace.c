/* ops/elementwise/div_inplace.c — "div_": self /= other in place, other broadcast to
 * self's shape. Records DivBackward like "div".
 * Backward: self gets g / other, other gets -g * result / other (result = self after
 * the update, equal to the original self / other). Forward saves other when either
 * needs a gradient (an operand: y.div_(y) is refused at backward, as in PyTorch) and
 * self after the update when other needs one.
 */
#include "ew.h"

/* (g, result, other) -> -g * result / other */
EW_TERNARY_F(div__other_grad, -a * b / c)
static const ew_fns div__other_grad_fns = EW_TABLE_F(div__other_grad);

static int div__forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  nb_tensor *self = in[0], *other = in[1];
  bool gs = nb_ctx_needs_input_grad(ctx, 0), go = nb_ctx_needs_input_grad(ctx, 1);
  if (ew_inplace_binary(ctx, self, other, ew_div_fns) < 0) return nb_last_status();
  out[0] = self;
  if ((gs || go) && nb_ctx_save_operand(ctx, other) < 0) return nb_last_status();
  if (go && ew_save(ctx, self) < 0) return nb_last_status();
  return 0;
}

static int div__backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *g = grad_out[0], *other = nb_ctx_saved(ctx, 0);
  if (!other) return nb_last_status();
  if (nb_ctx_needs_input_grad(ctx, 0) &&
      !(grad_in[0] = ew_map(2, (nb_tensor *const[]){g, other}, ew_div_fns, NULL)))
    return nb_last_status();
  if (nb_ctx_needs_input_grad(ctx, 1)) {
    nb_tensor *result = nb_ctx_saved(ctx, 1);
    if (!result) return nb_last_status();
    if (!(grad_in[1] =
              ew_map(3, (nb_tensor *const[]){g, result, other}, div__other_grad_fns, NULL)))
      return nb_last_status();
  }
  return 0;
}

static int div__samples(nb_sample_sink *sink) {
  ew_range rs = {-2, 2, 0}, ro = {0.5, 2, 1};
  return ew_inplace_samples(sink, rs, ro);
}

static const nb_input_spec div__inputs[] = {
    {"self", NB_DT_FLOAT, 0, "tensor updated in place"},
    {"other", NB_DT_FLOAT, 0, "divisor, same dtype, broadcastable to self's shape"},
};
static const nb_output_spec div__outputs[] = {{"self", 0, "self, after self /= other"}};

const nb_op_desc op_div_ = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "div_",
    .doc = "In-place true division self /= other; other is broadcast to self's shape and "
           "must have self's floating dtype. Bumps self's version; an error on a leaf that "
           "requires grad in grad mode.",
    .node_name = "DivBackward",
    .flags = NB_OP_INPLACE,
    .n_inputs = 2,
    .inputs = div__inputs,
    .n_outputs = 1,
    .outputs = div__outputs,
    .forward = div__forward,
    .backward = div__backward,
    .samples = div__samples,
    .saves = "other when either input needs a gradient (an operand: refused at backward if the update overwrote it); "
             "self after the update when other needs a gradient",
};
