/* ops/elementwise/pow.c — "pow": a ** b with NumPy broadcasting. The wrappers map
 * tensor^scalar and scalar^tensor onto it with a 0-d operand, so all three forms record
 * PowBackward. Gradients as PyTorch:
 *   d/da = b * a^(b-1), and 0 where b == 0;
 *   d/db = a^b * log(a), and 0 where a == 0 and b >= 0.
 */
#include "ew.h"
#include "../common/graph_util.h"

EW_BINARY_F(pow, pow(a, b))
EW_BINARY_F(square, ((void)b, a * a))
static const ew_fns pow_fns = EW_TABLE_F(pow);
static const ew_fns square_fns = EW_TABLE_F(square);
/* (g, a, b) -> gradients */
EW_TERNARY_F(pow_base_grad, c == 0 ? 0 : a * c * pow(b, c - 1))
EW_TERNARY_F(pow_exp_grad, (b == 0 && c >= 0) ? 0 : a * pow(b, c) * log(b))
static const ew_fns pow_base_grad_fns = EW_TABLE_F(pow_base_grad);
static const ew_fns pow_exp_grad_fns = EW_TABLE_F(pow_exp_grad);

/* True when t is a single element equal to 2 (x ** 2 runs as x * x, as PyTorch does). */
static bool is_two(const nb_tensor *t) {
  if (nb_numel(t) != 1) return false;
  if (nb_dtype_of(t) == NB_F32) return *(const float *)nb_data(t) == 2.0f;
  return nb_dtype_of(t) == NB_F64 && *(const double *)nb_data(t) == 2.0;
}

static int pow_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  const ew_run_fn *fns = pow_fns;
  if (is_two(in[1]) && nb_dtype_of(in[0]) == nb_dtype_of(in[1])) fns = square_fns;
  out[0] = ew_binary(ctx, in[0], in[1], -1, fns);
  if (!out[0]) return nb_last_status();
  if (nb_ctx_needs_input_grad(ctx, 0) || nb_ctx_needs_input_grad(ctx, 1)) {
    if (ew_save(ctx, in[0]) < 0 || ew_save(ctx, in[1]) < 0) return nb_last_status();
  }
  return 0;
}

static int pow_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *a = nb_ctx_saved(ctx, 0), *b = nb_ctx_saved(ctx, 1);
  if (!a || !b) return nb_last_status();
  nb_tensor *const args[] = {grad_out[0], a, b};
  if (nb_ctx_needs_input_grad(ctx, 0) && !(grad_in[0] = ew_map(3, args, pow_base_grad_fns, NULL)))
    return nb_last_status();
  if (nb_ctx_needs_input_grad(ctx, 1) && !(grad_in[1] = ew_map(3, args, pow_exp_grad_fns, NULL)))
    return nb_last_status();
  return 0;
}

static int pow_samples(nb_sample_sink *sink) {
  ew_range ra = {0.5, 2, 0}, rb = {-2, 2, 0};
  int r = ew_binary_samples(sink, ra, rb, 0);
  if (r < 0) return r;
  if (nb_scope_begin() < 0) return nb_last_status();
  nb_generator *g = nb_sample_generator(sink);
  int64_t sh[] = {2, 3};
  nb_tensor *x = nb_rand_range(2, sh, 0.5, 2, NB_F64, g);
  nb_tensor *three = nb_scalar(3.0, NB_F64), *two = nb_scalar(2.0, NB_F64);
  nb_tensor *half = nb_scalar(0.5, NB_F64), *e = nb_rand_range(2, sh, -2, 2, NB_F64, g);
  if (!x || !three || !two || !half || !e) r = nb_last_status();
  if (r == 0)
    r = nb_sample_add(sink, "tensor ** 3 (0-d exponent)", 2, (nb_tensor *[]){x, three}, 0, NULL,
                      NB_SAMPLE_BROADCAST);
  if (r == 0)
    r = nb_sample_add(sink, "tensor ** 2 (square path)", 2, (nb_tensor *[]){x, two}, 0, NULL,
                      NB_SAMPLE_BROADCAST);
  if (r == 0)
    r = nb_sample_add(sink, "2 ** tensor (0-d base)", 2, (nb_tensor *[]){two, e}, 0, NULL,
                      NB_SAMPLE_BROADCAST);
  if (r == 0)
    r = nb_sample_add(sink, "tensor ** 0.5", 2, (nb_tensor *[]){x, half}, 0, NULL,
                      NB_SAMPLE_BROADCAST);
  nb_scope_end();
  return r;
}

/* d/da = g * b * a^(b-1), d/db = g * a^b * log(a), recorded. */
static int pow_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *a = nb_ctx_saved(ctx, 0), *b = nb_ctx_saved(ctx, 1);
  if (!a || !b) return nb_last_status();
  nb_tensor *g = grad_out[0];
  if (nb_ctx_needs_input_grad(ctx, 0)) {
    nb_tensor *bm1 = gu_scalar("sub", b, 1.0);
    nb_tensor *p = bm1 ? NB_CALL("pow", a, bm1) : NULL;
    nb_tensor *bp = p ? NB_CALL("mul", b, p) : NULL;
    if (!bp || !(grad_in[0] = NB_CALL("mul", g, bp))) return nb_last_status();
  }
  if (nb_ctx_needs_input_grad(ctx, 1)) {
    nb_tensor *p = NB_CALL("pow", a, b);
    nb_tensor *l = p ? NB_CALL("log", a) : NULL;
    nb_tensor *pl = l ? NB_CALL("mul", p, l) : NULL;
    if (!pl || !(grad_in[1] = NB_CALL("mul", g, pl))) return nb_last_status();
  }
  return 0;
}

static const nb_input_spec pow_inputs[] = {
    {"input", NB_DT_FLOAT, 0, "base (a 0-d tensor for scalar ** tensor)"},
    {"exponent", NB_DT_FLOAT, 0,
     "exponent, same dtype, broadcastable with input (a 0-d tensor for tensor ** scalar)"},
};
static const nb_output_spec pow_outputs[] = {
    {"out", 0, "input ** exponent, of the broadcast shape"}};

const nb_op_desc op_pow = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "pow",
    .doc = "Elementwise power input ** exponent with NumPy broadcasting; covers tensor ** "
           "tensor, tensor ** scalar (nb_pow_scalar) and scalar ** tensor (nb_rpow_scalar) "
           "with a 0-d operand. Gradients follow PyTorch: d/dinput = exponent * "
           "input^(exponent-1), 0 where exponent == 0; d/dexponent = input^exponent * "
           "log(input), 0 where input == 0 and exponent >= 0 (nan for negative bases).",
    .node_name = "PowBackward",
    .n_inputs = 2,
    .inputs = pow_inputs,
    .n_outputs = 1,
    .outputs = pow_outputs,
    .forward = pow_forward,
    .backward = pow_backward,
    .backward_graph = pow_backward_graph,
    .samples = pow_samples,
    .saves = "input and exponent when either needs a gradient (the output is recomputed)",
};
