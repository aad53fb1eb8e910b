/* ops/activation/silu.c — "silu" (swish): x·σ(x), as F.silu.
 * Backward from the saved input: σ(x)·(1 + x(1 − σ(x))).
 */
#include "act.h"
#include "../common/graph_util.h"

#define SIG(v) (1 / (1 + EW_EXP(-(v))))
EW_UNARY_F(silu, a * SIG(a))
static const ew_fns silu_fns = EW_TABLE_F(silu);
EW_BINARY_F(silu_grad, a * SIG(b) * (1 + b * (1 - SIG(b))))
static const ew_fns silu_grad_fns = EW_TABLE_F(silu_grad);

static int silu_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  return act_forward(ctx, in, attrs, 0, silu_fns, out);
}

static int silu_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return act_backward(ctx, grad_out, 0, silu_grad_fns, grad_in);
}

static int silu_samples(nb_sample_sink *sink) {
  ew_range r = {-4, 4, 0};
  return ew_unary_samples(sink, r, 0, NULL);
}

/* Recorded: f'(x) = s + x·s·(1 − s) with s = σ(x). */
static nb_tensor *silu_deriv(nb_tensor *x, const nb_attr_value *attrs) {
  (void)attrs;
  nb_tensor *s = NB_CALL("sigmoid", x);
  nb_tensor *ms = s ? NB_CALL("neg", s) : NULL;
  nb_tensor *om = ms ? gu_scalar("add", ms, 1.0) : NULL; /* 1 − s */
  nb_tensor *xs = om ? NB_CALL("mul", x, s) : NULL;
  nb_tensor *t = xs ? NB_CALL("mul", xs, om) : NULL;
  return t ? NB_CALL("add", s, t) : NULL;
}
static int silu_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return act_backward_graph(ctx, grad_out, silu_deriv, grad_in);
}

const nb_op_desc op_silu = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "silu",
    .doc = "Sigmoid linear unit (swish), as F.silu: x·σ(x). Gradient σ(x)(1 + x(1 − σ(x))) "
           "from the saved input.",
    .node_name = "SiluBackward",
    .n_inputs = 1,
    .inputs = act_inputs,
    .n_outputs = 1,
    .outputs = act_outputs,
    .forward = silu_forward,
    .backward = silu_backward,
    .backward_graph = silu_backward_graph,
    .samples = silu_samples,
    .saves = "the input (when it needs a gradient)",
};
