/* ops/index/triu.c — "triu": the upper triangle of the last two dims (torch.triu),
 * the rest zero; with a bool input it builds attention masks. Shared pieces in
 * triangle.c. */
#include "index.h"

static int triu_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  return idx_triangle_forward(ctx, in, attrs, true, out);
}

/* The output gradient with the same triangle kept. */
static int triu_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return idx_triangle_backward(ctx, grad_out, true, grad_in);
}

static const nb_output_spec triu_outputs[] = {
    {"out", 0, "input where column - row >= diagonal, zero elsewhere"}};

/* Recorded: the same triangle of the gradient. */
static int triu_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return idx_triangle_backward_graph(ctx, grad_out, grad_in);
}

const nb_op_desc op_triu = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "triu",
    .doc = "The upper triangle of the last two dims (batched over the others), like "
           "torch.triu: elements on and above the given diagonal are kept, the rest set to zero. "
           "Any dtype (bool gives masks). Gradient: the output gradient with the same "
           "triangle kept.",
    .n_inputs = 1,
    .inputs = idx_triangle_inputs,
    .n_outputs = 1,
    .outputs = triu_outputs,
    .n_attrs = 1,
    .attrs = idx_triangle_attrs,
    .forward = triu_forward,
    .backward = triu_backward,
    .backward_graph = triu_backward_graph,
    .samples = idx_triangle_samples,
    .saves = "nothing",
};
