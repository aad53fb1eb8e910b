/* ops/shape/transpose.c — "transpose": swap two dims (always a view). */
#include "shape.h"

/* View of t with dims d0 and d1 swapped. */
static nb_tensor *swapped(nb_tensor *t, int d0, int d1) {
  int nd = nb_ndim(t);
  int64_t shape[NB_MAX_DIMS], strides[NB_MAX_DIMS];
  for (int i = 0; i < nd; i++) {
    int src = i == d0 ? d1 : i == d1 ? d0 : i;
    shape[i] = nb_shape(t)[src];
    strides[i] = nb_strides(t)[src];
  }
  return shp_view(t, nd, shape, strides);
}

static int transpose_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                             nb_tensor **out) {
  int d0 = shp_wrap_dim("transpose", attrs[0].i, in[0], false);
  if (d0 < 0) return d0;
  int d1 = shp_wrap_dim("transpose", attrs[1].i, in[0], false);
  if (d1 < 0) return d1;
  out[0] = swapped(in[0], d0, d1);
  return out[0] ? 0 : nb_last_status();
}

/* The gradient is the output gradient transposed back: a view of it. */
static int transpose_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  int d0 = shp_wrap_dim("transpose", attrs[0].i, grad_out[0], false);
  if (d0 < 0) return d0;
  int d1 = shp_wrap_dim("transpose", attrs[1].i, grad_out[0], false);
  if (d1 < 0) return d1;
  grad_in[0] = swapped(grad_out[0], d0, d1);
  return grad_in[0] ? 0 : nb_last_status();
}

/* Transposing back is the op itself, recorded. */
static int transpose_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  const nb_attr_value *a = nb_ctx_attrs(ctx);
  nb_tensor *g = grad_out[0];
  grad_in[0] = nb_call1("transpose", 1, &g, 2,
                        (nb_attr[]){NB_A_INT("dim0", a[0].i), NB_A_INT("dim1", a[1].i)});
  return grad_in[0] ? 0 : nb_last_status();
}

static int transpose_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  int rc;
  if ((rc = shp_add_sample(sink, "[3,4] dims 0,1", nb_rand_range(2, (int64_t[]){3, 4}, -2, 2, NB_F64, g),
                           2, (nb_attr[]){NB_A_INT("dim0", 0), NB_A_INT("dim1", 1)}, 0)) < 0)
    return rc;
  if ((rc = shp_add_sample(sink, "[2,3,4] dims -1,0",
                           nb_rand_range(3, (int64_t[]){2, 3, 4}, -2, 2, NB_F64, g), 2,
                           (nb_attr[]){NB_A_INT("dim0", -1), NB_A_INT("dim1", 0)}, 0)) < 0)
    return rc;
  return shp_add_sample(sink, "transposed [4,3] dims 1,0 (back to contiguous)",
                        shp_transposed_sample(g, 3, 4), 2,
                        (nb_attr[]){NB_A_INT("dim0", 1), NB_A_INT("dim1", 0)}, 0);
}

static const nb_input_spec transpose_inputs[] = {{"input", NB_DT_ANY, 0, "tensor"}};
static const nb_output_spec transpose_outputs[] = {
    {"out", 0, "view with dims dim0 and dim1 swapped"}};
static const nb_attr_spec transpose_attrs[] = {
    {.name = "dim0", .type = NB_ATTR_INT, .flags = NB_ATTR_REQUIRED, .doc = "first dim"},
    {.name = "dim1", .type = NB_ATTR_INT, .flags = NB_ATTR_REQUIRED, .doc = "second dim"},
};

const nb_op_desc op_transpose = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "transpose",
    .doc = "Swap two dims, like torch.transpose: a view sharing the input's storage and "
           "version counter (no copy). Negative dims count from the end. Gradient: the output "
           "gradient transposed back (a view of it).",
    .flags = NB_OP_VIEW,
    .n_inputs = 1,
    .inputs = transpose_inputs,
    .n_outputs = 1,
    .outputs = transpose_outputs,
    .n_attrs = 2,
    .attrs = transpose_attrs,
    .forward = transpose_forward,
    .backward = transpose_backward,
    .backward_graph = transpose_backward_graph,
    .samples = transpose_samples,
    .saves = "nothing",
};
