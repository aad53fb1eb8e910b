/* ops/elementwise/erf.c — "erf": elementwise error function (torch.erf), libm's erf
 * (erff for float32). Backward: g·(2/√π)·e^(−x²) from the saved input. The exact gelu's
 * double backward is written with it (Φ(x) = ½(1 + erf(x/√2))).
 */
#include "ew.h"
#include "../common/graph_util.h"

#define ERF_2_SQRTPI 1.12837916709551257390 /* 2/√π */

EW_UNARY_F(erf, erf(a))
static const ew_fns erf_fns = EW_TABLE_F(erf);
/* (g, saved input) -> input gradient */
EW_BINARY_F(erf_grad, a * (__typeof__(a))ERF_2_SQRTPI * exp(-b * b))
static const ew_fns erf_grad_fns = EW_TABLE_F(erf_grad);

static int erf_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  return ew_unary_forward(ctx, in, erf_fns, EW_KEEP_INPUT, out);
}

static int erf_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return ew_saved_backward(ctx, grad_out, erf_grad_fns, grad_in);
}

static int erf_samples(nb_sample_sink *sink) {
  ew_range r = {-2, 2, 0};
  return ew_unary_samples(sink, r, 0, NULL);
}

/* Recorded: g·(2/√π)·exp(−x·x). */
static int erf_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *x = nb_ctx_saved(ctx, 0);
  nb_tensor *x2 = x ? NB_CALL("mul", x, x) : NULL;
  nb_tensor *m = x2 ? gu_scalar("mul", x2, -1.0) : NULL;
  nb_tensor *e = m ? NB_CALL("exp", m) : NULL;
  nb_tensor *c = e ? gu_scalar("mul", e, ERF_2_SQRTPI) : NULL;
  return c && (grad_in[0] = NB_CALL("mul", grad_out[0], c)) ? 0 : nb_last_status();
}

static const nb_input_spec erf_inputs[] = {{"input", NB_DT_FLOAT, 0, "any floating tensor"}};
static const nb_output_spec erf_outputs[] = {{"out", 0, "same shape and dtype as input"}};

const nb_op_desc op_erf = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "erf",
    .doc = "Elementwise error function erf(x) = (2/√π)∫₀ˣ e^(−t²) dt, as torch.erf. "
           "Gradient g·(2/√π)·e^(−x²) from the saved input.",
    .node_name = "ErfBackward",
    .n_inputs = 1,
    .inputs = erf_inputs,
    .n_outputs = 1,
    .outputs = erf_outputs,
    .forward = erf_forward,
    .backward = erf_backward,
    .backward_graph = erf_backward_graph,
    .samples = erf_samples,
    .saves = "the input (when it needs a gradient)",
};
