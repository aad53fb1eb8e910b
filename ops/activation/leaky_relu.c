/* ops/activation/leaky_relu.c — "leaky_relu": x for x > 0, negative_slope·x otherwise,
 * as F.leaky_relu (default slope 0.01). Backward: g where x > 0, else slope·g (so the
 * gradient at 0 is the slope, as PyTorch).
 */
#include "act.h"
#include "../common/graph_util.h"

EW_UNARY_F(leaky_relu, a > 0 ? a : a * ACT_P0)
static const ew_fns leaky_relu_fns = EW_TABLE_F(leaky_relu);
EW_BINARY_F(leaky_relu_grad, b > 0 ? a : a * ACT_P0)
static const ew_fns leaky_relu_grad_fns = EW_TABLE_F(leaky_relu_grad);

static int leaky_relu_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                              nb_tensor **out) {
  return act_forward(ctx, in, attrs, 1, leaky_relu_fns, out);
}

static int leaky_relu_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return act_backward(ctx, grad_out, 1, leaky_relu_grad_fns, grad_in);
}

static int leaky_relu_samples(nb_sample_sink *sink) {
  ew_range r = {0.1, 2, 1}; /* away from the kink at 0 */
  int rc = ew_unary_samples(sink, r, 0, NULL);
  if (rc == 0) rc = ew_unary_samples(sink, r, 1, &NB_A_FLOAT("negative_slope", 0.2));
  return rc;
}

/* Piecewise linear: g times the plain backward's (constant) slope, recorded through g. */
static int leaky_relu_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  grad_in[0] = gu_masked(ctx, leaky_relu_backward, grad_out[0], 0);
  return grad_in[0] ? 0 : nb_last_status();
}

static const nb_attr_spec leaky_relu_attrs[] = {
    {.name = "negative_slope", .type = NB_ATTR_FLOAT, .def = {.f = 0.01},
     .doc = "slope for x <= 0"},
};

const nb_op_desc op_leaky_relu = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "leaky_relu",
    .doc = "Leaky ReLU, as F.leaky_relu: x for x > 0, negative_slope·x otherwise. Gradient "
           "g for x > 0, negative_slope·g otherwise.",
    .node_name = "LeakyReluBackward",
    .n_inputs = 1,
    .inputs = act_inputs,
    .n_outputs = 1,
    .outputs = act_outputs,
    .n_attrs = 1,
    .attrs = leaky_relu_attrs,
    .forward = leaky_relu_forward,
    .backward = leaky_relu_backward,
    .backward_graph = leaky_relu_backward_graph,
    .samples = leaky_relu_samples,
    .saves = "the input (when it needs a gradient)",
};
