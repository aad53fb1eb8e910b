/* A one-op plugin for the core's printing test: "core_test_sub" (a - b for equal-shape
 * contiguous float32 tensors) whose graph node is named "SubBackward", so the test sees
 * a real grad_fn without depending on the bundled operator plugins. */
#include <nabla/sdk.h>

static int sub_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  (void)ctx;
  (void)attrs;
  if (!nb_same_shape(in[0], in[1]) || !nb_is_contiguous(in[0]) || !nb_is_contiguous(in[1]))
    return nb_set_error(NB_ESHAPE, "core_test_sub: needs equal contiguous shapes, got %s and %s",
                        nb_shape_of(in[0]), nb_shape_of(in[1]));
  out[0] = nb_empty(nb_ndim(in[0]), nb_shape(in[0]), NB_F32);
  if (!out[0])
    return nb_last_status();
  const float *a = nb_data(in[0]), *b = nb_data(in[1]);
  float *o = nb_data(out[0]);
  for (int64_t i = 0; i < nb_numel(out[0]); i++)
    o[i] = a[i] - b[i];
  return 0;
}

static int sub_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  if (nb_ctx_needs_input_grad(ctx, 0))
    grad_in[0] = grad_out[0];
  if (nb_ctx_needs_input_grad(ctx, 1)) {
    nb_tensor *g = nb_convert(grad_out[0], NB_F32);
    if (!g)
      return nb_last_status();
    float *p = nb_data(g);
    for (int64_t i = 0; i < nb_numel(g); i++)
      p[i] = -p[i];
    grad_in[1] = g;
  }
  return 0;
}

static const nb_input_spec sub_inputs[] = {{"a", NB_DT_F32, 0, "minuend"},
                                           {"b", NB_DT_F32, 0, "subtrahend"}};
static const nb_output_spec sub_outputs[] = {{"out", 0, "a - b"}};
static const nb_op_desc sub_desc = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "core_test_sub",
    .doc = "a - b (core printing test)",
    .node_name = "SubBackward",
    .n_inputs = 2,
    .inputs = sub_inputs,
    .n_outputs = 1,
    .outputs = sub_outputs,
    .forward = sub_forward,
    .backward = sub_backward,
    .saves = "nothing",
};

static int init(nb_registrar *r) { return nb_register_op(r, &sub_desc); }

NB_PLUGIN_DEFINE("core_test", "1.0", "operator for the core printing test", "MIT", init)
