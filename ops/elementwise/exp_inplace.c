/* ops/elementwise/exp_inplace.c — "exp_": exponential self = e^self, in place.
 * Records ExpBackward like "exp". Backward: g * y, with y the saved result (self after
 * the update; the core bumped the version before forward ran, so saving self here
 * records the post-update version).
 */
#include "ew.h"

static int exp__forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  return ew_inplace_unary_forward(ctx, in, ew_exp_fns, out);
}

static int exp__backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return ew_saved_backward(ctx, grad_out, ew_mul_fns, grad_in);
}

static int exp__samples(nb_sample_sink *sink) {
  ew_range r = {-2, 2, 0};
  return ew_unary_samples(sink, r, 0, NULL);
}

static const nb_input_spec exp__inputs[] = {{"self", NB_DT_FLOAT, 0, "tensor updated in place"}};
static const nb_output_spec exp__outputs[] = {{"self", 0, "self, after the update"}};

const nb_op_desc op_exp_ = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "exp_",
    .doc = "In-place exponential self = e^self. Bumps self's version; an error on a leaf that "
           "requires grad "
           "in grad mode.",
    .node_name = "ExpBackward",
    .flags = NB_OP_INPLACE,
    .n_inputs = 1,
    .inputs = exp__inputs,
    .n_outputs = 1,
    .outputs = exp__outputs,
    .forward = exp__forward,
    .backward = exp__backward,
    .samples = exp__samples,
    .saves = "self after the update (when self needs a gradient)",
};
