/* ops/activation/elu.c — "elu": x for x > 0, alpha·(eˣ − 1) otherwise, as F.elu.
 * Backward: g for x > 0, g·alpha·eˣ otherwise (PyTorch's elu_backward on the input).
 */
#include "act.h"
#include "../common/graph_util.h"

EW_UNARY_F(elu, a > 0 ? a : ACT_P0 * (EW_EXP(a) - 1))
static const ew_fns elu_fns = EW_TABLE_F(elu);
EW_BINARY_F(elu_grad, b > 0 ? a : a * ACT_P0 * EW_EXP(b))
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

/* Recorded: f'(x) = 1 for x > 0, alpha·e^min(x, 0) otherwise (the clamp keeps e^x finite
 * on the branch where() drops, whose gradient would otherwise be 0·inf). */
static nb_tensor *elu_deriv(nb_tensor *x, const nb_attr_value *attrs) {
  nb_tensor *c = nb_call1("clamp", 1, &x, 1, &NB_A_FLOAT("max", 0.0));
  nb_tensor *e = c ? NB_CALL("exp", c) : NULL;
  nb_tensor *ae = e ? gu_scalar("mul", e, attrs[0].f) : NULL;
  return ae ? act_one_where(x, "gt", 0.0, ae) : NULL;
}
static int elu_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return act_backward_graph(ctx, grad_out, elu_deriv, grad_in);
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
    .backward_graph = elu_backward_graph,
    .samples = elu_samples,
    .saves = "the input (when it needs a gradient)",
};
