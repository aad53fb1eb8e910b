/* Fixture: y = x^2 whose backward forgets the factor 2 (returns g * x). The harness must
 * fail with a Jacobian mismatch naming the output, the input and differing entries. */
#include "fixture.h"

FX_UNARY(square, x[i] * x[i])

static int fwd(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, nb_tensor **out) {
  if (!(out[0] = square(in[0]))) return nb_last_status();
  return nb_ctx_save(ctx, in[0]) < 0 ? nb_last_status() : 0;
}

static int bwd(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *x = nb_ctx_saved(ctx, 0), *xc, *gc;
  if (!x) return nb_last_status();
  double *xv = fx_values(x, &xc), *gv = fx_values(grad_out[0], &gc);
  nb_tensor *g = xv && gv ? nb_empty(nb_ndim(x), nb_shape(x), NB_F64) : NULL;
  if (!g) return nb_last_status();
  double *o = nb_data(g);
  for (int64_t i = 0; i < nb_numel(g); i++) o[i] = gv[i] * xv[i]; /* wrong: should be 2*g*x */
  grad_in[0] = g;
  return 0;
}

static const nb_op_desc op = {.struct_size = NB_OP_DESC_SIZE, .name = "fixture_wrong_grad",
  .doc = "x^2 with a backward missing the factor 2", .n_inputs = 1, .inputs = fx_x, .n_outputs = 1,
  .outputs = fx_out, .forward = fwd, .backward = bwd, .samples = fx_samples_2x3};

static int init(nb_registrar *r) { return nb_register_op(r, &op); }
NB_PLUGIN_DEFINE("fixture_wrong_grad", "0", "gradcheck fixture: wrong gradient", "MIT", init)
