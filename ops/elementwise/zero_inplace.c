/* ops/elementwise/zero_inplace.c — "zero_": set every element of self to 0.
 * Records ZeroBackward; the gradient for self is zero. Saves nothing.
 */
#include "ew.h"

static int zero__forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                         nb_tensor **out) {
  nb_tensor *self = in[0];
  ew_extra x = {0, 0, 1, 0};
  if (ew_apply(1, &self, ew_fill_fns[nb_dtype_of(self)], &x) < 0) return nb_last_status();
  out[0] = self;
  return 0;
}

static int zero__backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  grad_in[0] = ew_zeros_like_input(ctx, 0, grad_out[0]);
  return grad_in[0] ? 0 : nb_last_status();
}

static int zero__samples(nb_sample_sink *sink) {
  ew_range r = {-2, 2, 0};
  return ew_unary_samples(sink, r, 0, NULL);
}

static const nb_input_spec zero__inputs[] = {
    {"self", NB_DT_FLOAT | NB_DT_I64, 0, "tensor overwritten in place"}};
static const nb_output_spec zero__outputs[] = {{"self", 0, "self, all zeros"}};

const nb_op_desc op_zero_ = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "zero_",
    .doc = "In-place zeroing of every element of self. Bumps self's version; an error on a "
           "leaf that requires grad in grad mode. The gradient for self is zero.",
    .node_name = "ZeroBackward",
    .flags = NB_OP_INPLACE,
    .n_inputs = 1,
    .inputs = zero__inputs,
    .n_outputs = 1,
    .outputs = zero__outputs,
    .forward = zero__forward,
    .backward = zero__backward,
    .samples = zero__samples,
    .saves = "nothing (the gradient is zero)",
};
