/* ops/index/tril.c — "tril": the lower triangle of the last two dims (torch.tril),
 * the rest zero; with a bool input it builds attention masks. Shared pieces in
 * triangle.c. */
#include "index.h"

static int tril_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  return idx_triangle_forward(ctx, in, attrs, false, out);
}

/* The output gradient with the same triangle kept. */
static int tril_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return idx_triangle_backward(ctx, grad_out, false, grad_in);
}

static const nb_output_spec tril_outputs[] = {
    {"out", 0, "input where column - row <= diagonal, zero elsewhere"}};

/* Recorded: the same triangle of the gradient. */
static int tril_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return idx_triangle_backward_graph(ctx, grad_out, grad_in);
}

const nb_op_desc op_tril = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "tril",
    .doc = "The lower triangle of the last two dims (batched over the others), like "
           "torch.tril: elements on and below the given diagonal are kept, the rest set to zero. "
           "Any dtype (bool gives masks). Gradient: the output gradient with the same "
           "triangle kept.",
    .n_inputs = 1,
    .inputs = idx_triangle_inputs,
    .n_outputs = 1,
    .outputs = tril_outputs,
    .n_attrs = 1,
    .attrs = idx_triangle_attrs,
    .forward = tril_forward,
    .backward = tril_backward,
    .backward_graph = tril_backward_graph,
    .samples = idx_triangle_samples,
    .saves = "nothing",
};
