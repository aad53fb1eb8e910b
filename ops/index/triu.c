/* ops/index/triu.c — "triu": the upper triangle of the last two dims (torch.triu),
 * the rest zero; with a bool input it builds attention masks. */
#include "index.h"

static int triu_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  out[0] = idx_triangle("triu", in[0], attrs[0].i, true);
  return out[0] ? 0 : nb_last_status();
}

/* The output gradient with the same triangle kept. */
static int triu_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  grad_in[0] = idx_triangle("triu", grad_out[0], nb_ctx_attrs(ctx)[0].i, true);
  return grad_in[0] ? 0 : nb_last_status();
}

static int triu_samples(nb_sample_sink *sink) {
  int rc;
  if ((rc = idx_add_sample(sink, "[4,4]", 1, (nb_tensor *[]){idx_rand(sink, 2, (int64_t[]){4, 4})},
                           0, NULL, 0)) < 0)
    return rc;
  if ((rc = idx_add_sample(sink, "[2,3,4] diagonal 1", 1,
                           (nb_tensor *[]){idx_rand(sink, 3, (int64_t[]){2, 3, 4})}, 1,
                           (nb_attr[]){NB_A_INT("diagonal", 1)}, 0)) < 0)
    return rc;
  return idx_add_sample(sink, "[4,3] diagonal -1", 1,
                        (nb_tensor *[]){idx_rand(sink, 2, (int64_t[]){4, 3})}, 1,
                        (nb_attr[]){NB_A_INT("diagonal", -1)}, 0);
}

static const nb_input_spec triu_inputs[] = {{"input", NB_DT_ANY, 0, "tensor with at least 2 dims"}};
static const nb_output_spec triu_outputs[] = {
    {"out", 0, "input where column - row >= diagonal, zero elsewhere"}};
static const nb_attr_spec triu_attrs[] = {
    {.name = "diagonal", .type = NB_ATTR_INT, .def = {.i = 0},
     .doc = "which diagonal bounds the triangle: 0 the main one, > 0 above it, < 0 below"}};

const nb_op_desc op_triu = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "triu",
    .doc = "The upper triangle of the last two dims (batched over the others), like "
           "torch.triu: elements on and above the given diagonal are kept, the rest set to zero. "
           "Any dtype (bool gives masks). Gradient: the output gradient with the same "
           "triangle kept.",
    .n_inputs = 1,
    .inputs = triu_inputs,
    .n_outputs = 1,
    .outputs = triu_outputs,
    .n_attrs = 1,
    .attrs = triu_attrs,
    .forward = triu_forward,
    .backward = triu_backward,
    .samples = triu_samples,
    .saves = "nothing",
};
