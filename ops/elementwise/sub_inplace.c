/* ops/elementwise/sub_inplace.c — "sub_": self -= other in place, other broadcast to
 * self's shape (self's shape never changes). Records SubBackward like "sub".
 * Backward: self gets g, other gets -g (summed back over broadcast
 * dimensions by the core). Saves nothing.
 */
#include "ew.h"

static int sub__forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  if (ew_inplace_binary(ctx, in[0], in[1], ew_sub_fns) < 0) return nb_last_status();
  out[0] = in[0];
  return 0;
}

static int sub__samples(nb_sample_sink *sink) {
  ew_range r = {-2, 2, 0};
  return ew_inplace_samples(sink, r, r);
}

static const nb_input_spec sub__inputs[] = {
    {"self", NB_DT_FLOAT | NB_DT_I64, 0, "tensor updated in place"},
    {"other", NB_DT_FLOAT | NB_DT_I64, 0, "same dtype, broadcastable to self's shape"},
};
static const nb_output_spec sub__outputs[] = {{"self", 0, "self, after self -= other"}};

const nb_op_desc op_sub_ = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "sub_",
    .doc = "In-place subtraction self -= other; other is broadcast to self's shape and must "
           "have self's dtype. Bumps self's version; an error on a leaf that requires grad "
           "in grad mode.",
    .node_name = "SubBackward",
    .flags = NB_OP_INPLACE,
    .n_inputs = 2,
    .inputs = sub__inputs,
    .n_outputs = 1,
    .outputs = sub__outputs,
    .forward = sub__forward,
    .backward = ew_sub_backward, /* shared with sub */
    .samples = sub__samples,
    .saves = "nothing",
};
