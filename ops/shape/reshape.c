/* ops/shape/reshape.c — "reshape": a new shape with the same elements; a view when the
 * strides allow, otherwise a contiguous copy (so it is not flagged NB_OP_VIEW). */
#include "shape.h"

static int reshape_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                           nb_tensor **out) {
  int64_t shape[NB_MAX_DIMS];
  if (shp_infer_shape("reshape", in[0], &attrs[0].ints, shape) < 0) return nb_last_status();
  out[0] = shp_reshape_any(in[0], attrs[0].ints.n, shape);
  return out[0] ? 0 : nb_last_status();
}

static int reshape_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  int rc;
  if ((rc = shp_add_sample(sink, "[2,3,4] -> [6,4] (view)",
                           nb_rand_range(3, (int64_t[]){2, 3, 4}, -2, 2, NB_F64, g), 1,
                           (nb_attr[]){NB_A_INTS("shape", 6, 4)}, 0)) < 0)
    return rc;
  if ((rc = shp_add_sample(sink, "[2,3,4] -> [-1,2]",
                           nb_rand_range(3, (int64_t[]){2, 3, 4}, -2, 2, NB_F64, g), 1,
                           (nb_attr[]){NB_A_INTS("shape", -1, 2)}, 0)) < 0)
    return rc;
  if ((rc = shp_add_sample(sink, "transposed [4,3] -> [12] (copy)", shp_transposed_sample(g, 3, 4),
                           1, (nb_attr[]){NB_A_INTS("shape", 12)}, 0)) < 0)
    return rc;
  if ((rc = shp_add_sample(sink, "transposed [4,3] -> [4,1,3] (view)",
                           shp_transposed_sample(g, 3, 4), 1,
                           (nb_attr[]){NB_A_INTS("shape", 4, 1, 3)}, 0)) < 0)
    return rc;
  return shp_add_sample(sink, "0-d -> [1,1]", nb_rand_range(0, NULL, -2, 2, NB_F64, g), 1,
                        (nb_attr[]){NB_A_INTS("shape", 1, 1)}, 0);
}

static const nb_input_spec reshape_inputs[] = {{"input", NB_DT_ANY, 0, "tensor to reshape"}};
static const nb_output_spec reshape_outputs[] = {
    {"out", 0, "the same elements in row-major order with the new shape"}};

const nb_op_desc op_reshape = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "reshape",
    .doc = "Same elements, new shape, like torch.reshape. Returns a view sharing the input's "
           "storage and version counter when its strides allow one (PyTorch's rule), "
           "otherwise a contiguous copy; the op is therefore not flagged as a view. One "
           "dimension may be -1. Gradient: the output gradient reshaped back.",
    .n_inputs = 1,
    .inputs = reshape_inputs,
    .n_outputs = 1,
    .outputs = reshape_outputs,
    .n_attrs = 1,
    .attrs = shp_shape_attrs,
    .forward = reshape_forward,
    .backward = shp_backward_reshape_back,
    .backward_graph = shp_backward_reshape_back_graph,
    .samples = reshape_samples,
    .saves = "nothing (the input's shape)",
};
