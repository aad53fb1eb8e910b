/* ops/elementwise/mul_inplace.c — "mul_": self *= other in place, other broadcast to
 * self's shape. Records MulBackward like "mul".
 * Backward: self gets g * other, other gets g * (self before the update). So forward
 * saves other only when self needs a gradient, and a copy of self's original values
 * only when other needs one. Like PyTorch, y.mul_(y) is refused at backward: other was
 * saved as an operand and the update overwrote it (nb_ctx_save_operand).
 */
#include "ew.h"

static int mul__forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  nb_tensor *self = in[0], *other = in[1];
  bool gs = nb_ctx_needs_input_grad(ctx, 0), go = nb_ctx_needs_input_grad(ctx, 1);
  nb_tensor *orig = NULL;
  if (go && !(orig = nb_copy_data(self))) return nb_last_status();
  if (ew_inplace_binary(ctx, self, other, ew_mul_fns) < 0) return nb_last_status();
  out[0] = self;
  /* fixed slots (NULL when unused): a restricted backward may need fewer than forward */
  if (nb_ctx_recording(ctx) &&
      (nb_ctx_save_operand(ctx, gs ? other : NULL) < 0 || ew_save(ctx, orig) < 0))
    return nb_last_status();
  return 0;
}

static int mul__backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  for (int i = 0; i < 2; i++) {
    if (!nb_ctx_needs_input_grad(ctx, i)) continue;
    nb_tensor *factor = nb_ctx_saved(ctx, i);
    if (!factor) return nb_last_status();
    if (!(grad_in[i] = ew_map(2, (nb_tensor *const[]){grad_out[0], factor}, ew_mul_fns, NULL)))
      return nb_last_status();
  }
  return 0;
}

static int mul__samples(nb_sample_sink *sink) {
  ew_range r = {-2, 2, 0};
  return ew_inplace_samples(sink, r, r);
}

static const nb_input_spec mul__inputs[] = {
    {"self", NB_DT_FLOAT | NB_DT_I64, 0, "tensor updated in place"},
    {"other", NB_DT_FLOAT | NB_DT_I64, 0, "same dtype, broadcastable to self's shape"},
};
static const nb_output_spec mul__outputs[] = {{"self", 0, "self, after self *= other"}};

const nb_op_desc op_mul_ = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "mul_",
    .doc = "In-place multiplication self *= other; other is broadcast to self's shape and "
           "must have self's dtype. Bumps self's version; an error on a leaf that requires "
           "grad in grad mode.",
    .node_name = "MulBackward",
    .flags = NB_OP_INPLACE,
    .n_inputs = 2,
    .inputs = mul__inputs,
    .n_outputs = 1,
    .outputs = mul__outputs,
    .forward = mul__forward,
    .backward = mul__backward,
    .samples = mul__samples,
    .saves = "other when self needs a gradient (an operand: refused at backward if the update "
             "overwrote it); a copy of self's original values when other needs one",
};
