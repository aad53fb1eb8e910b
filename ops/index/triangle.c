/* ops/index/triangle.c — what "tril" and "triu" share: the kernel, the backward (the
 * same triangle of the output gradient), the schema pieces and the samples. */
#include <string.h>

#include "index.h"

nb_tensor *idx_triangle(const char *op, nb_tensor *x, int64_t k, bool upper) {
  int nd = nb_ndim(x);
  if (nd < 2) {
    nb_set_error(NB_EINVAL, "%s: input must have at least 2 dims, got shape %s", op,
                 nb_shape_of(x));
    return NULL;
  }
  nb_tensor *c = nb_copy_data(x); /* contiguous copy, then zero outside the triangle */
  if (!c) return NULL;
  int64_t rows = nb_shape(c)[nd - 2], cols = nb_shape(c)[nd - 1];
  int64_t batch = rows > 0 && cols > 0 ? nb_numel(c) / (rows * cols) : 0;
  size_t es = nb_dtype_size(nb_dtype_of(c));
  char *p = nb_data(c);
  for (int64_t b = 0; b < batch; b++)
    for (int64_t i = 0; i < rows; i++) {
      /* keep columns j with j - i <= k (lower) or j - i >= k (upper) */
      int64_t lo = upper ? 0 : i + k + 1, hi = upper ? i + k : cols;
      if (lo < 0) lo = 0;
      if (hi > cols) hi = cols;
      if (lo < hi) memset(p + (size_t)((b * rows + i) * cols + lo) * es, 0, (size_t)(hi - lo) * es);
    }
  return c;
}

int idx_triangle_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                         bool upper, nb_tensor **out) {
  out[0] = idx_triangle(nb_ctx_op_name(ctx), in[0], attrs[0].i, upper);
  return out[0] ? 0 : nb_last_status();
}

int idx_triangle_backward(nb_ctx *ctx, nb_tensor *const *grad_out, bool upper,
                          nb_tensor **grad_in) {
  grad_in[0] = idx_triangle(nb_ctx_op_name(ctx), grad_out[0], nb_ctx_attrs(ctx)[0].i, upper);
  return grad_in[0] ? 0 : nb_last_status();
}

int idx_triangle_samples(nb_sample_sink *sink) {
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

const nb_input_spec idx_triangle_inputs[1] = {
    {"input", NB_DT_ANY, 0, "tensor with at least 2 dims"}};
const nb_attr_spec idx_triangle_attrs[1] = {
    {.name = "diagonal", .type = NB_ATTR_INT, .def = {.i = 0},
     .doc = "which diagonal bounds the triangle: 0 the main one, > 0 above it, < 0 below"}};

int idx_triangle_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *g = grad_out[0];
  grad_in[0] = nb_call1(nb_ctx_op_name(ctx), 1, &g, 1, &NB_A_INT("diagonal", nb_ctx_attrs(ctx)[0].i));
  return grad_in[0] ? 0 : nb_last_status();
}
