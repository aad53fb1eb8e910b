/* ops/shape/contiguous.c — "contiguous": row-major layout; a view of an input that
 * already is, a recorded copy otherwise. */
#include "shape.h"

static int contiguous_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                              nb_tensor **out) {
  nb_tensor *x = in[0];
  if (nb_is_contiguous(x))
    out[0] = x; /* dispatch hands back an alias of an input returned as output */
  else
    out[0] = nb_copy_data(x);
  return out[0] ? 0 : nb_last_status();
}

static int contiguous_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  int rc;
  if ((rc = shp_add_sample(sink, "transposed [4,3] (copy)", shp_transposed_sample(g, 3, 4), 0,
                           NULL, 0)) < 0)
    return rc;
  return shp_add_sample(sink, "contiguous [3,4] (view)",
                        nb_rand_range(2, (int64_t[]){3, 4}, -2, 2, NB_F64, g), 0, NULL, 0);
}

static const nb_input_spec contiguous_inputs[] = {{"input", NB_DT_ANY, 0, "tensor"}};
static const nb_output_spec contiguous_outputs[] = {
    {"out", 0, "row-major contiguous tensor with the input's values"}};

const nb_op_desc op_contiguous = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "contiguous",
    .doc = "Row-major contiguous version of the input, like Tensor.contiguous: when the input "
           "already is contiguous the result is a view of it (same storage and version "
           "counter; PyTorch returns the tensor itself), otherwise a copy. Not flagged as a "
           "view since it may copy. Gradient: the output gradient unchanged.",
    .n_inputs = 1,
    .inputs = contiguous_inputs,
    .n_outputs = 1,
    .outputs = contiguous_outputs,
    .forward = contiguous_forward,
    .backward = shp_backward_identity,
    .backward_graph = shp_backward_identity,
    .samples = contiguous_samples,
    .saves = "nothing",
};
