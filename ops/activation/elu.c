/* ops/activation/elu.c — "elu": x for x > 0, alpha·(eˣ − 1) otherwise, as F.elu.
 * Backward: g for x > 0, g·alpha·eˣ otherwise (PyTorch's elu_backward on the input).
 */
#include "act.h"

EW_UNARY_F(elu, a > 0 ? a : ACT_P0 * (exp(a) - 1))
static const ew_fns elu_fns = EW_TABLE_F(elu);
EW_BINARY_F(elu_grad, b > 0 ? a : a * ((__typeof__(a))X->v0) * exp(b))
static const ew_fns elu_grad_fns = EW_TABLE_F(elu_grad);

static int elu_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  return act_forward(ctx, in, attrs, 1, elu_fns, out);
}

static int elu_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return act_backward(ctx, grad_out, 1, elu_grad_fns, grad_in);
}

static int elu_samples(nb_sample_sink *sink) {
  ew_range r = {0.1, 2, 1}; /* away from the kink at 0 */
  int rc = ew_unary_samples(sink, r, 0, NULL);
  if (rc == 0) rc = ew_unary_samples(sink, r, 1, &NB_A_FLOAT("alpha", 0.5));
  return rc;
}

static const nb_attr_spec elu_attrs[] = {
    {.name = "alpha", .type = NB_ATTR_FLOAT, .def = {.f = 1.0}, .doc = "scale of the negative part"},
};

const nb_op_desc op_elu = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "elu",
    .doc = "Exponential linear unit, as F.elu: x for x > 0, alpha·(exp(x) − 1) otherwise. "
           "Gradient g for x > 0, g·alpha·exp(x) otherwise.",
    .node_name = "EluBackward",
    .n_inputs = 1,
    .inputs = act_inputs,
    .n_outputs = 1,
    .outputs = act_outputs,
    .n_attrs = 1,
    .attrs = elu_attrs,
    .forward = elu_forward,
    .backward = elu_backward,
    .samples = elu_samples,
    .saves = "the input (when it needs a gradient)",
};
