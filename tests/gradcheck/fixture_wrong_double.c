/* Fixture: y = x^3 with a right first-order backward (3 g x^2, in C) and a backward_graph
 * that computes the same value but detaches one factor x (3 g x detach(x)), so its
 * second derivative is half the true one. The first-order checks pass; the second-order
 * check must fail naming input 0, and agree on the output gradient. */
#include "fixture.h"

FX_UNARY(cube, x[i] * x[i] * x[i])

static int fwd(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, nb_tensor **out) {
  if (!(out[0] = cube(in[0]))) return nb_last_status();
  return nb_ctx_save(ctx, in[0]) < 0 ? nb_last_status() : 0;
}

static int bwd(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *x = nb_ctx_saved(ctx, 0), *xc, *gc;
  if (!x) return nb_last_status();
  double *xv = fx_values(x, &xc), *gv = fx_values(grad_out[0], &gc);
  nb_tensor *g = xv && gv ? nb_empty(nb_ndim(x), nb_shape(x), NB_F64) : NULL;
  if (!g) return nb_last_status();
  double *o = nb_data(g);
  for (int64_t i = 0; i < nb_numel(g); i++) o[i] = 3 * gv[i] * xv[i] * xv[i];
  grad_in[0] = g;
  return 0;
}

static int bwd_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *x = nb_ctx_saved(ctx, 0);
  nb_tensor *three = x ? nb_full(0, NULL, 3.0, NB_F64) : NULL;
  nb_tensor *xx = three ? NB_CALL("mul", x, nb_detach(x)) : NULL; /* wrong: detached factor */
  nb_tensor *t = xx ? NB_CALL("mul", xx, three) : NULL;
  return t && (grad_in[0] = NB_CALL("mul", grad_out[0], t)) ? 0 : nb_last_status();
}

static const nb_op_desc op = {.struct_size = NB_OP_DESC_SIZE, .name = "fixture_wrong_double",
  .doc = "x^3 with a double backward missing half the second derivative", .n_inputs = 1,
  .inputs = fx_x, .n_outputs = 1, .outputs = fx_out, .forward = fwd, .backward = bwd,
  .samples = fx_samples_2x3, .backward_graph = bwd_graph};

static int init(nb_registrar *r) { return nb_register_op(r, &op); }
NB_PLUGIN_DEFINE("fixture_wrong_double", "0", "gradcheck fixture: wrong double backward", "MIT",
                 init)
