/* ops/activation/act.c — the forward/backward drivers every activation shares. */
#include "act.h"
#include "../common/graph_util.h"

const nb_input_spec act_inputs[1] = {{"input", NB_DT_FLOAT, 0, "any floating tensor"}};
const nb_output_spec act_outputs[1] = {{"out", 0, "same shape and dtype as input"}};

static ew_extra extra_of(const nb_attr_value *attrs, int n_attrs) {
  ew_extra x = {0, 0, 0, 0};
  if (n_attrs > 0) x.v0 = attrs[0].f, x.has0 = 1;
  if (n_attrs > 1) x.v1 = attrs[1].f, x.has1 = 1;
  return x;
}

int act_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, int n_attrs,
                const ew_fns fns, nb_tensor **out) {
  ew_extra x = extra_of(attrs, n_attrs);
  out[0] = ew_map(1, in, fns, &x);
  if (!out[0]) return nb_last_status();
  if (nb_ctx_needs_input_grad(ctx, 0) && ew_save(ctx, in[0]) < 0) return nb_last_status();
  return 0;
}

int act_backward(nb_ctx *ctx, nb_tensor *const *grad_out, int n_attrs, const ew_fns grad_fns,
                 nb_tensor **grad_in) {
  nb_tensor *s = nb_ctx_saved(ctx, 0);
  if (!s) return nb_last_status();
  ew_extra x = extra_of(nb_ctx_attrs(ctx), n_attrs);
  grad_in[0] = ew_map(2, (nb_tensor *const[]){grad_out[0], s}, grad_fns, &x);
  return grad_in[0] ? 0 : nb_last_status();
}

int act_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, act_deriv_fn deriv,
                       nb_tensor **grad_in) {
  nb_tensor *x = nb_ctx_saved(ctx, 0);
  nb_tensor *d = x ? deriv(x, nb_ctx_attrs(ctx)) : NULL;
  grad_in[0] = d ? NB_CALL("mul", grad_out[0], d) : NULL;
  return grad_in[0] ? 0 : nb_last_status();
}

nb_tensor *act_one_where(nb_tensor *x, const char *cmp, double c, nb_tensor *t) {
  nb_tensor *cond = gu_scalar(cmp, x, c);
  nb_tensor *one = cond ? nb_op_scalar_operand(1, nb_dtype_of(t)) : NULL;
  nb_tensor *r = one ? NB_CALL("where", cond, one, t) : NULL;
  nb_release(one);
  return r;
}
