/* ops/shape/clone.c — "clone": a recorded copy. */
#include "shape.h"

static int clone_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                         nb_tensor **out) {
  out[0] = nb_copy_data(in[0]);
  return out[0] ? 0 : nb_last_status();
}

static int clone_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  int rc;
  if ((rc = shp_add_sample(sink, "[3,4]", nb_rand_range(2, (int64_t[]){3, 4}, -2, 2, NB_F64, g),
                           0, NULL, 0)) < 0)
    return rc;
  if ((rc = shp_add_sample(sink, "transposed [4,3]", shp_transposed_sample(g, 3, 4), 0, NULL,
                           0)) < 0)
    return rc;
  return shp_add_sample(sink, "0-d", nb_rand_range(0, NULL, -2, 2, NB_F64, g), 0, NULL, 0);
}

static const nb_input_spec clone_inputs[] = {{"input", NB_DT_ANY, 0, "tensor to copy"}};
static const nb_output_spec clone_outputs[] = {
    {"out", 0, "contiguous copy with its own storage"}};

const nb_op_desc op_clone = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "clone",
    .doc = "Copy of the input into new contiguous storage (torch.clone, except that the copy "
           "is always row-major contiguous), recorded so gradients flow back. Gradient: the "
           "output gradient unchanged.",
    .n_inputs = 1,
    .inputs = clone_inputs,
    .n_outputs = 1,
    .outputs = clone_outputs,
    .forward = clone_forward,
    .backward = shp_backward_identity,
    .backward_graph = shp_backward_identity,
    .samples = clone_samples,
    .saves = "nothing",
};
