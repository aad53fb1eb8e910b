/* ops/shape/view.c — "view": a new shape over the same storage; an error when the
 * input's strides do not allow it (use reshape). */
#include "shape.h"

static int view_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  nb_tensor *x = in[0];
  int64_t shape[NB_MAX_DIMS], strides[NB_MAX_DIMS];
  int nd = attrs[0].ints.n;
  if (shp_infer_shape("view", x, &attrs[0].ints, shape) < 0) return nb_last_status();
  if (!shp_view_strides(nb_ndim(x), nb_shape(x), nb_strides(x), nd, shape, strides)) {
    char sbuf[128], nbuf[128];
    return nb_set_error(NB_ESHAPE,
                        "view: view size is not compatible with input tensor's size and stride "
                        "(at least one dimension spans across two contiguous subspaces): input "
                        "shape %s with strides %s cannot be viewed as %s. Use reshape(...) "
                        "instead.",
                        nb_shape_of(x), nb_shape_str(nb_ndim(x), nb_strides(x), sbuf, sizeof sbuf),
                        nb_shape_str(nd, shape, nbuf, sizeof nbuf));
  }
  out[0] = shp_view(x, nd, shape, strides);
  return out[0] ? 0 : nb_last_status();
}

static int view_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  int rc;
  /* The harness also re-runs samples with the last two dims swapped in memory (1-D:
   * stride 2), so each request keeps the last two dims whole and stays viewable then. */
  if ((rc = shp_add_sample(sink, "[4,3,2] -> [2,2,3,-1]",
                           nb_rand_range(3, (int64_t[]){4, 3, 2}, -2, 2, NB_F64, g), 1,
                           (nb_attr[]){NB_A_INTS("shape", 2, 2, 3, -1)}, 0)) < 0)
    return rc;
  if ((rc = shp_add_sample(sink, "[12] -> [3,2,2]",
                           nb_rand_range(1, (int64_t[]){12}, -2, 2, NB_F64, g), 1,
                           (nb_attr[]){NB_A_INTS("shape", 3, 2, 2)}, 0)) < 0)
    return rc;
  return shp_add_sample(sink, "transposed [5,3] -> [5,1,3,1]", shp_transposed_sample(g, 3, 5), 1,
                        (nb_attr[]){NB_A_INTS("shape", 5, 1, 3, 1)}, 0);
}

static const nb_input_spec view_inputs[] = {{"input", NB_DT_ANY, 0, "tensor to view"}};
static const nb_output_spec view_outputs[] = {
    {"out", 0, "a view of the input's storage with the new shape"}};

const nb_op_desc op_view = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "view",
    .doc = "View of the input with a new shape, like Tensor.view: always shares storage and "
           "version counter. Fails (naming the shape, strides and requested shape) when the "
           "strides do not allow it, e.g. a transposed matrix flattened; use reshape then. "
           "Gradient: the output gradient reshaped back.",
    .flags = NB_OP_VIEW,
    .n_inputs = 1,
    .inputs = view_inputs,
    .n_outputs = 1,
    .outputs = view_outputs,
    .n_attrs = 1,
    .attrs = shp_shape_attrs,
    .forward = view_forward,
    .backward = shp_backward_reshape_back,
    .backward_graph = shp_backward_reshape_back_graph,
    .samples = view_samples,
    .saves = "nothing (the input's shape)",
};
