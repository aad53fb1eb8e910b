/* ops/shape/unsqueeze.c — "unsqueeze": insert a size-1 dim (always a view). */
#include "shape.h"

static int unsqueeze_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                             nb_tensor **out) {
  nb_tensor *x = in[0];
  int d = shp_wrap_dim("unsqueeze", attrs[0].i, x, true);
  if (d < 0) return d;
  int nd = nb_ndim(x);
  if (nd + 1 > NB_MAX_DIMS)
    return nb_set_error(NB_ESHAPE, "unsqueeze: input of shape %s already has the maximum of %d dims",
                        nb_shape_of(x), NB_MAX_DIMS);
  int64_t shape[NB_MAX_DIMS], strides[NB_MAX_DIMS];
  const int64_t *s = nb_shape(x), *st = nb_strides(x);
  for (int i = 0, j = 0; i <= nd; i++) {
    if (i == d) {
      shape[i] = 1;
      strides[i] = d < nd ? s[d] * st[d] : 1; /* as PyTorch */
    } else {
      shape[i] = s[j];
      strides[i] = st[j++];
    }
  }
  out[0] = shp_view(x, nd + 1, shape, strides);
  return out[0] ? 0 : nb_last_status();
}

static int unsqueeze_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  int rc;
  if ((rc = shp_add_sample(sink, "[3,4] dim 0", nb_rand_range(2, (int64_t[]){3, 4}, -2, 2, NB_F64, g),
                           1, (nb_attr[]){NB_A_INT("dim", 0)}, 0)) < 0)
    return rc;
  if ((rc = shp_add_sample(sink, "[3,4] dim -1 (appended)",
                           nb_rand_range(2, (int64_t[]){3, 4}, -2, 2, NB_F64, g), 1,
                           (nb_attr[]){NB_A_INT("dim", -1)}, 0)) < 0)
    return rc;
  if ((rc = shp_add_sample(sink, "transposed [4,3] dim 1", shp_transposed_sample(g, 3, 4), 1,
                           (nb_attr[]){NB_A_INT("dim", 1)}, 0)) < 0)
    return rc;
  return shp_add_sample(sink, "0-d dim 0", nb_rand_range(0, NULL, -2, 2, NB_F64, g), 1,
                        (nb_attr[]){NB_A_INT("dim", 0)}, 0);
}

static const nb_input_spec unsqueeze_inputs[] = {{"input", NB_DT_ANY, 0, "tensor"}};
static const nb_output_spec unsqueeze_outputs[] = {{"out", 0, "view with a size-1 dim at dim"}};
static const nb_attr_spec unsqueeze_attrs[] = {
    {.name = "dim",
     .type = NB_ATTR_INT,
     .flags = NB_ATTR_REQUIRED,
     .doc = "position of the new dim in the output, in [-ndim-1, ndim]"},
};

const nb_op_desc op_unsqueeze = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "unsqueeze",
    .doc = "Insert a size-1 dim at position dim, like torch.unsqueeze (dim -1 appends). "
           "Always a view. Gradient: the output gradient without that dim (a view of it).",
    .flags = NB_OP_VIEW,
    .n_inputs = 1,
    .inputs = unsqueeze_inputs,
    .n_outputs = 1,
    .outputs = unsqueeze_outputs,
    .n_attrs = 1,
    .attrs = unsqueeze_attrs,
    .forward = unsqueeze_forward,
    .backward = shp_backward_reshape_back,
    .backward_graph = shp_backward_reshape_back_graph,
    .samples = unsqueeze_samples,
    .saves = "nothing (the input's shape)",
};
