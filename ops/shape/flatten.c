/* ops/shape/flatten.c — "flatten": merge dims start_dim..end_dim into one (a view when
 * possible, else a copy, as torch.flatten). */
#include "shape.h"

static int flatten_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                           nb_tensor **out) {
  nb_tensor *x = in[0];
  int ndim = nb_ndim(x);
  int s = shp_wrap_dim("flatten", attrs[0].i, x, false);
  if (s < 0) return s;
  int e = shp_wrap_dim("flatten", attrs[1].i, x, false);
  if (e < 0) return e;
  if (s > e)
    return nb_set_error(NB_EINVAL,
                        "flatten: start_dim %lld cannot come after end_dim %lld (input shape %s)",
                        (long long)attrs[0].i, (long long)attrs[1].i, nb_shape_of(x));
  if (ndim == 0) { /* a 0-d tensor flattens to [1] */
    out[0] = shp_reshape_any(x, 1, (int64_t[]){1});
    return out[0] ? 0 : nb_last_status();
  }
  const int64_t *shape = nb_shape(x);
  int64_t ns[NB_MAX_DIMS];
  int n = 0;
  for (int i = 0; i < s; i++) ns[n++] = shape[i];
  ns[n] = 1;
  for (int i = s; i <= e; i++) ns[n] *= shape[i];
  n++;
  for (int i = e + 1; i < ndim; i++) ns[n++] = shape[i];
  out[0] = shp_reshape_any(x, n, ns);
  return out[0] ? 0 : nb_last_status();
}

static int flatten_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  int rc;
  if ((rc = shp_add_sample(sink, "[2,3,4] all dims",
                           nb_rand_range(3, (int64_t[]){2, 3, 4}, -2, 2, NB_F64, g), 0, NULL,
                           0)) < 0)
    return rc;
  if ((rc = shp_add_sample(sink, "[2,3,4,2] dims 1..-2",
                           nb_rand_range(4, (int64_t[]){2, 3, 4, 2}, -2, 2, NB_F64, g), 2,
                           (nb_attr[]){NB_A_INT("start_dim", 1), NB_A_INT("end_dim", -2)},
                           0)) < 0)
    return rc;
  if ((rc = shp_add_sample(sink, "transposed [4,3] (copy)", shp_transposed_sample(g, 3, 4), 0,
                           NULL, 0)) < 0)
    return rc;
  return shp_add_sample(sink, "0-d -> [1]", nb_rand_range(0, NULL, -2, 2, NB_F64, g), 0, NULL,
                        0);
}

static const nb_input_spec flatten_inputs[] = {{"input", NB_DT_ANY, 0, "tensor to flatten"}};
static const nb_output_spec flatten_outputs[] = {
    {"out", 0, "dims start_dim..end_dim merged into one"}};
static const nb_attr_spec flatten_attrs[] = {
    {.name = "start_dim", .type = NB_ATTR_INT, .def = {.i = 0}, .doc = "first dim to merge"},
    {.name = "end_dim",
     .type = NB_ATTR_INT,
     .def = {.i = -1},
     .doc = "last dim to merge (inclusive; negative counts from the end)"},
};

const nb_op_desc op_flatten = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "flatten",
    .doc = "Merge dims start_dim..end_dim into one, like torch.flatten: a view when the "
           "strides allow, otherwise a contiguous copy (not flagged as a view). A 0-d input "
           "gives shape [1]. Gradient: the output gradient reshaped back.",
    .n_inputs = 1,
    .inputs = flatten_inputs,
    .n_outputs = 1,
    .outputs = flatten_outputs,
    .n_attrs = 2,
    .attrs = flatten_attrs,
    .forward = flatten_forward,
    .backward = shp_backward_reshape_back,
    .backward_graph = shp_backward_reshape_back_graph,
    .samples = flatten_samples,
    .saves = "nothing (the input's shape)",
};
