/* ops/elementwise/relu_inplace.c — "relu_": relu self = max(self, 0), in place.
 * Records ReluBackward like "relu". Backward: g where y > 0, else 0, with y the saved
 * result (self after the update; the core bumped the version before forward ran, so
 * saving self here records the post-update version).
 */
#include "ew.h"

static int relu__forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                         nb_tensor **out) {
  return ew_inplace_unary_forward(ctx, in, ew_relu_fns, out);
}

static int relu__backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return ew_saved_backward(ctx, grad_out, ew_relu_grad_fns, grad_in);
}

static int relu__samples(nb_sample_sink *sink) {
  ew_range r = {0.1, 2, 1};
  return ew_unary_samples(sink, r, 0, NULL);
}

static const nb_input_spec relu__inputs[] = {{"self", NB_DT_FLOAT, 0, "tensor updated in place"}};
static const nb_output_spec relu__outputs[] = {{"self", 0, "self, after the update"}};

const nb_op_desc op_relu_ = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "relu_",
    .doc = "In-place relu self = max(self, 0). Bumps self's version; an error on a leaf that "
           "requires grad "
           "in grad mode.",
    .node_name = "ReluBackward",
    .flags = NB_OP_INPLACE,
    .n_inputs = 1,
    .inputs = relu__inputs,
    .n_outputs = 1,
    .outputs = relu__outputs,
    .forward = relu__forward,
    .backward = relu__backward,
    .samples = relu__samples,
    .saves = "self after the update (when self needs a gradient)",
};
