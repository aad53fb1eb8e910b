/* ops/elementwise/add_inplace.c — "add_": self += other in place, other broadcast to
 * self's shape (self's shape never changes). Records AddBackward like "add".
 * Backward: self gets g, other gets g (summed back over broadcast
 * dimensions by the core). Saves nothing.
 */
#include "ew.h"

static int add__forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  if (ew_inplace_binary(ctx, in[0], in[1], ew_add_fns) < 0) return nb_last_status();
  out[0] = in[0];
  return 0;
}

static int add__samples(nb_sample_sink *sink) {
  ew_range r = {-2, 2, 0};
  return ew_inplace_samples(sink, r, r);
}

static const nb_input_spec add__inputs[] = {
    {"self", NB_DT_FLOAT | NB_DT_I64, 0, "tensor updated in place"},
    {"other", NB_DT_FLOAT | NB_DT_I64, 0, "same dtype, broadcastable to self's shape"},
};
static const nb_output_spec add__outputs[] = {{"self", 0, "self, after self += other"}};

const nb_op_desc op_add_ = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "add_",
    .doc = "In-place addition self += other; other is broadcast to self's shape and must "
           "have self's dtype. Bumps self's version; an error on a leaf that requires grad "
           "in grad mode.",
    .node_name = "AddBackward",
    .flags = NB_OP_INPLACE,
    .n_inputs = 2,
    .inputs = add__inputs,
    .n_outputs = 1,
    .outputs = add__outputs,
    .forward = add__forward,
    .backward = ew_add_backward, /* shared with add */
    .samples = add__samples,
    .saves = "nothing",
};
