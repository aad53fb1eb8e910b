/* ops/elementwise/exp.c — "exp": elementwise e^x.
 * Backward: g * y from the saved output y (saved only when the input needs a gradient).
 */
#include "ew.h"
#include "../common/graph_util.h"
#include "ew_exp.h"

EW_UNARY_F(exp, EW_EXP(a)) /* vectorisable, within 1 ulp */
const ew_fns ew_exp_fns = EW_TABLE_F(exp);

static int exp_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  return ew_unary_forward(ctx, in, ew_exp_fns, EW_KEEP_OUTPUT, out);
}

static int exp_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return ew_saved_backward(ctx, grad_out, ew_mul_fns, grad_in);
}

static int exp_samples(nb_sample_sink *sink) {
  ew_range r = {-2, 2, 0};
  return ew_unary_samples(sink, r, 0, NULL);
}

/* g * exp(x), exp(x) being the saved output. */
static int exp_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *y = nb_ctx_saved(ctx, 0);
  return y && (grad_in[0] = NB_CALL("mul", grad_out[0], y)) ? 0 : nb_last_status();
}

static const nb_input_spec exp_inputs[] = {{"input", NB_DT_FLOAT, 0, "any floating tensor"}};
static const nb_output_spec exp_outputs[] = {{"out", 0, "same shape and dtype as input"}};

const nb_op_desc op_exp = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "exp",
    .doc = "Elementwise exponential e^x. Gradient g * exp(x), computed from the saved output.",
    .node_name = "ExpBackward",
    .n_inputs = 1,
    .inputs = exp_inputs,
    .n_outputs = 1,
    .outputs = exp_outputs,
    .forward = exp_forward,
    .backward = exp_backward,
    .backward_graph = exp_backward_graph,
    .samples = exp_samples,
    .saves = "the output (when the input needs a gradient)",
};
