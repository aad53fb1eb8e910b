/* ops/activation/softplus.c — "softplus": log(1 + e^(βx))/β, and x itself where
 * βx > threshold (linear regime), as F.softplus (β 1, threshold 20).
 * Backward: g·z/(z + 1) with z = e^(βx), or g in the linear regime.
 */
#include "act.h"
#include "../common/graph_util.h"

EW_UNARY_F(softplus, a * ACT_P0 > ACT_P1 ? a : log1p(EW_EXP(a * ACT_P0)) / ACT_P0)
static const ew_fns softplus_fns = EW_TABLE_F(softplus);
EW_BINARY_F(softplus_grad, b * ACT_P0 > ACT_P1 ? a : a * EW_EXP(b * ACT_P0) / (EW_EXP(b * ACT_P0) + 1))
static const ew_fns softplus_grad_fns = EW_TABLE_F(softplus_grad);

static int softplus_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                            nb_tensor **out) {
  return act_forward(ctx, in, attrs, 2, softplus_fns, out);
}

static int softplus_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return act_backward(ctx, grad_out, 2, softplus_grad_fns, grad_in);
}

static int softplus_samples(nb_sample_sink *sink) {
  ew_range r = {-3, 3, 0};
  int rc = ew_unary_samples(sink, r, 0, NULL);
  /* β 2, threshold 1: the linear regime starts at x = 0.5; the sample avoids it */
  nb_attr at[2] = {NB_A_FLOAT("beta", 2.0), NB_A_FLOAT("threshold", 1.0)};
  ew_range r2 = {-3, 0.4, 0};
  if (rc == 0) rc = ew_unary_samples(sink, r2, 2, at);
  return rc;
}

/* Recorded: f'(x) = σ(βx), or 1 in the linear regime βx > threshold. */
static nb_tensor *softplus_deriv(nb_tensor *x, const nb_attr_value *attrs) {
  nb_tensor *bx = gu_scalar("mul", x, attrs[0].f);
  nb_tensor *s = bx ? NB_CALL("sigmoid", bx) : NULL;
  return s ? act_one_where(bx, "gt", attrs[1].f, s) : NULL;
}
static int softplus_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return act_backward_graph(ctx, grad_out, softplus_deriv, grad_in);
}

static const nb_attr_spec softplus_attrs[] = {
    {.name = "beta", .type = NB_ATTR_FLOAT, .def = {.f = 1.0}, .doc = "sharpness β (non-zero)"},
    {.name = "threshold", .type = NB_ATTR_FLOAT, .def = {.f = 20.0},
     .doc = "βx above this gives x itself"},
};

const nb_op_desc op_softplus = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "softplus",
    .doc = "Softplus, as F.softplus: log(1 + exp(βx))/β, or x where βx > threshold. "
           "Gradient g·σ(βx) (g in the linear regime).",
    .node_name = "SoftplusBackward",
    .n_inputs = 1,
    .inputs = act_inputs,
    .n_outputs = 1,
    .outputs = act_outputs,
    .n_attrs = 2,
    .attrs = softplus_attrs,
    .forward = softplus_forward,
    .backward = softplus_backward,
    .backward_graph = softplus_backward_graph,
    .samples = softplus_samples,
    .saves = "the input (when it needs a gradient)",
};
