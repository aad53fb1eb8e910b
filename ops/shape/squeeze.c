/* ops/shape/squeeze.c — "squeeze": drop a size-1 dim (always a view). */
#include "shape.h"

static int squeeze_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                           nb_tensor **out) {
  nb_tensor *x = in[0];
  int d = shp_wrap_dim("squeeze", attrs[0].i, x, false);
  if (d < 0) return d;
  int nd = nb_ndim(x), n = 0;
  int64_t shape[NB_MAX_DIMS], strides[NB_MAX_DIMS];
  for (int i = 0; i < nd; i++) {
    if (i == d && nb_shape(x)[i] == 1) continue; /* a dim of another size is kept */
    shape[n] = nb_shape(x)[i];
    strides[n++] = nb_strides(x)[i];
  }
  out[0] = shp_view(x, n, shape, strides);
  return out[0] ? 0 : nb_last_status();
}

static int squeeze_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  int rc;
  if ((rc = shp_add_sample(sink, "[3,1,4] dim 1",
                           nb_rand_range(3, (int64_t[]){3, 1, 4}, -2, 2, NB_F64, g), 1,
                           (nb_attr[]){NB_A_INT("dim", 1)}, 0)) < 0)
    return rc;
  if ((rc = shp_add_sample(sink, "[3,4,1] dim -1",
                           nb_rand_range(3, (int64_t[]){3, 4, 1}, -2, 2, NB_F64, g), 1,
                           (nb_attr[]){NB_A_INT("dim", -1)}, 0)) < 0)
    return rc;
  return shp_add_sample(sink, "[3,4] dim 0 (size 3: unchanged)",
                        nb_rand_range(2, (int64_t[]){3, 4}, -2, 2, NB_F64, g), 1,
                        (nb_attr[]){NB_A_INT("dim", 0)}, 0);
}

static const nb_input_spec squeeze_inputs[] = {{"input", NB_DT_ANY, 0, "tensor"}};
static const nb_output_spec squeeze_outputs[] = {{"out", 0, "view without dim (if size 1)"}};
static const nb_attr_spec squeeze_attrs[] = {
    {.name = "dim",
     .type = NB_ATTR_INT,
     .flags = NB_ATTR_REQUIRED,
     .doc = "dim to remove when its size is 1 (negative counts from the end)"},
};

const nb_op_desc op_squeeze = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "squeeze",
    .doc = "Remove dim when its size is 1, like torch.squeeze(x, dim); a dim of any other size "
           "leaves the shape unchanged. Always a view. Gradient: the output gradient with the "
           "dim put back (a view of it).",
    .flags = NB_OP_VIEW,
    .n_inputs = 1,
    .inputs = squeeze_inputs,
    .n_outputs = 1,
    .outputs = squeeze_outputs,
    .n_attrs = 1,
    .attrs = squeeze_attrs,
    .forward = squeeze_forward,
    .backward = shp_backward_reshape_back,
    .backward_graph = shp_backward_reshape_back_graph,
    .samples = squeeze_samples,
    .saves = "nothing (the input's shape)",
};
