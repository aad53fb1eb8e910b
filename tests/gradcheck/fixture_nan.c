/* Fixture: the identity, except that forward writes NaN into element 1. The harness must
 * fail saying the forward wrote non-finite values. */
#include <math.h>

#include "fixture.h"

FX_UNARY(ident_nan, i == 1 ? NAN : x[i])

static int fwd(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, nb_tensor **out) {
  return (out[0] = ident_nan(in[0])) ? 0 : nb_last_status();
}

static int bwd(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  grad_in[0] = grad_out[0];
  return 0;
}

static const nb_op_desc op = {.struct_size = NB_OP_DESC_SIZE, .name = "fixture_nan_forward",
  .doc = "identity that writes a NaN", .n_inputs = 1, .inputs = fx_x, .n_outputs = 1,
  .outputs = fx_out, .forward = fwd, .backward = bwd, .samples = fx_samples_2x3};

static int init(nb_registrar *r) { return nb_register_op(r, &op); }
NB_PLUGIN_DEFINE("fixture_nan", "0", "gradcheck fixture: forward writes NaN", "MIT", init)
