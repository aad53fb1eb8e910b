/* Fixture: y = 2x whose backward returns a gradient of shape [3,2] for a [2,3] input.
 * The harness must fail naming the shapes. */
#include "fixture.h"

FX_UNARY(twice, 2 * x[i])

static int fwd(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, nb_tensor **out) {
  return (out[0] = twice(in[0])) ? 0 : nb_last_status();
}

static int bwd(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int nd;
  const int64_t *s = nb_ctx_input_shape(ctx, 0, &nd);
  int64_t wrong[NB_MAX_DIMS];
  for (int k = 0; k < nd; k++) wrong[k] = s[nd - 1 - k]; /* reversed shape */
  grad_in[0] = nb_full(nd, wrong, 2.0, NB_F64);
  return grad_in[0] ? 0 : nb_last_status();
}

static const nb_op_desc op = {.struct_size = NB_OP_DESC_SIZE, .name = "fixture_wrong_shape",
  .doc = "2x with a backward of the wrong shape", .n_inputs = 1, .inputs = fx_x, .n_outputs = 1,
  .outputs = fx_out, .forward = fwd, .backward = bwd, .samples = fx_samples_2x3};

static int init(nb_registrar *r) { return nb_register_op(r, &op); }
NB_PLUGIN_DEFINE("fixture_wrong_shape", "0", "gradcheck fixture: gradient of the wrong shape", "MIT", init)
