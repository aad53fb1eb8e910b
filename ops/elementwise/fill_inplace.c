/* ops/elementwise/fill_inplace.c — "fill_": set every element of self to attr "value".
 * Records FillBackward; the gradient for self is zero (its old values do not matter).
 * Saves nothing.
 */
#include "ew.h"

EW_NULLARY(fill_f32, float, X->v0)
EW_NULLARY(fill_f64, double, X->v0)
EW_NULLARY(fill_i64, int64_t, X->v0)
const ew_fns ew_fill_fns = EW_TABLE_FI(fill);

static int fill__forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                         nb_tensor **out) {
  nb_tensor *self = in[0];
  nb_dtype dt = nb_dtype_of(self);
  double v = attrs[0].f;
  /* the core's one rule: int64 truncates toward zero and refuses what has no int64 value */
  if (nb_value_check("fill_", v, dt) < 0)
    return nb_set_error(NB_EINVAL, "fill_: value %g does not fit int64 (self %s %s)", v,
                        nb_dtype_name(dt), nb_shape_of(self));
  ew_extra x = {v, 0, 1, 0};
  if (ew_apply(1, &self, ew_fill_fns[dt], &x) < 0) return nb_last_status();
  out[0] = self;
  return 0;
}

static int fill__backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  grad_in[0] = ew_zeros_like_input(ctx, 0, grad_out[0]);
  return grad_in[0] ? 0 : nb_last_status();
}

static int fill__samples(nb_sample_sink *sink) {
  ew_range r = {-2, 2, 0};
  nb_attr value = NB_A_FLOAT("value", 1.5);
  return ew_unary_samples(sink, r, 1, &value);
}

static const nb_input_spec fill__inputs[] = {
    {"self", NB_DT_FLOAT | NB_DT_I64, 0, "tensor overwritten in place"}};
static const nb_output_spec fill__outputs[] = {{"self", 0, "self, every element = value"}};
static const nb_attr_spec fill__attrs[] = {
    {.name = "value",
     .type = NB_ATTR_FLOAT,
     .flags = NB_ATTR_REQUIRED,
     .doc = "the value written (converted to self's dtype; truncated toward 0 for int64)"},
};

const nb_op_desc op_fill_ = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "fill_",
    .doc = "In-place fill: every element of self becomes value. Bumps self's version; an "
           "error on a leaf that requires grad in grad mode. The gradient for self is zero.",
    .node_name = "FillBackward",
    .flags = NB_OP_INPLACE,
    .n_inputs = 1,
    .inputs = fill__inputs,
    .n_outputs = 1,
    .outputs = fill__outputs,
    .n_attrs = 1,
    .attrs = fill__attrs,
    .forward = fill__forward,
    .backward = fill__backward,
    .samples = fill__samples,
    .saves = "nothing (the gradient is zero)",
};
