/* Shared bits of the broken-plugin fixtures: a trivial op descriptor. */
#ifndef FX_COMMON_H
#define FX_COMMON_H
#include <nabla/sdk.h>

static int fx_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *a, nb_tensor **out) {
  out[0] = nb_copy_data(in[0]);
  return out[0] ? 0 : nb_last_status();
}
static const nb_input_spec fx_inputs[] = {{"x", NB_DT_ANY, 0, NULL}};
#define FX_OP(opname)                                                                      \
  {.struct_size = NB_OP_DESC_SIZE, .name = (opname), .n_inputs = 1, .inputs = fx_inputs,   \
   .n_outputs = 1, .forward = fx_forward}
#endif
