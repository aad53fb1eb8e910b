/* ops/index/slice.c — "slice": elements start, start+step, ... < end along one dim
 * (x[:, start:end:step]); a view. torch.narrow is slice with step 1 (nb_narrow). */
#include <limits.h>

#include <stdlib.h>

#include "index.h"

/* Wrapped dim, clamped start and the number of elements, as Python slicing: negative
 * start/end count from the end, then both are clamped to [0, size]. */
static int resolve(const char *op, const nb_attr_value *attrs, int ndim, const int64_t *shape,
                   int *dim, int64_t *start, int64_t *len) {
  if (ndim == 0) return nb_set_error(NB_EINVAL, "%s: cannot slice a 0-d tensor", op);
  int d = ops_wrap_dim(op, attrs[0].i, ndim, shape, false);
  if (d < 0) return d;
  int64_t n = shape[d], s = attrs[1].i, e = attrs[2].i, step = attrs[3].i;
  if (s < 0) s = s < -n ? 0 : s + n;
  if (e < 0) e = e < -n ? 0 : e + n;
  if (s > n) s = n;
  if (e > n) e = n;
  *dim = d;
  *start = s;
  *len = e > s ? (e - s + step - 1) / step : 0;
  return 0;
}

static int slice_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                         nb_tensor **out) {
  int dim;
  int64_t start, len;
  int rc = resolve("slice", attrs, nb_ndim(in[0]), nb_shape(in[0]), &dim, &start, &len);
  if (rc < 0) return rc;
  out[0] = idx_slice_view(in[0], dim, start, len, attrs[3].i);
  return out[0] ? 0 : nb_last_status();
}

/* Zeros of the input's shape with the output gradient copied into the sliced elements. */
static int slice_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int nd, dim;
  int64_t start, len;
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &nd);
  int rc = resolve("slice", attrs, nd, shape, &dim, &start, &len);
  if (rc < 0) return rc;
  nb_tensor *z = nb_zeros(nd, shape, nb_dtype_of(grad_out[0]));
  nb_tensor *slot = z ? idx_slice_view(z, dim, start, len, attrs[3].i) : NULL;
  if (!slot || nb_copy_into(slot, grad_out[0]) < 0) return nb_last_status();
  grad_in[0] = z;
  return 0;
}

static int slice_samples(nb_sample_sink *sink) {
  int rc;
  if ((rc = idx_add_sample(sink, "[5,3] dim 0 [1:4]", 1,
                           (nb_tensor *[]){idx_rand(sink, 2, (int64_t[]){5, 3})}, 3,
                           (nb_attr[]){NB_A_INT("dim", 0), NB_A_INT("start", 1),
                                       NB_A_INT("end", 4)},
                           0)) < 0)
    return rc;
  if ((rc = idx_add_sample(sink, "[2,7] dim -1 [::3]", 1,
                           (nb_tensor *[]){idx_rand(sink, 2, (int64_t[]){2, 7})}, 2,
                           (nb_attr[]){NB_A_INT("dim", -1), NB_A_INT("step", 3)}, 0)) < 0)
    return rc;
  if ((rc = idx_add_sample(sink, "[2,6,2] dim 1 [-5:-1:2]", 1,
                           (nb_tensor *[]){idx_rand(sink, 3, (int64_t[]){2, 6, 2})}, 4,
                           (nb_attr[]){NB_A_INT("dim", 1), NB_A_INT("start", -5),
                                       NB_A_INT("end", -1), NB_A_INT("step", 2)},
                           0)) < 0)
    return rc;
  return idx_add_sample(sink, "[4] dim 0 [3:1] (empty)", 1,
                        (nb_tensor *[]){idx_rand(sink, 1, (int64_t[]){4})}, 3,
                        (nb_attr[]){NB_A_INT("dim", 0), NB_A_INT("start", 3), NB_A_INT("end", 1)},
                        0);
}

/* Recorded: slice c of the gradient scattered to position start + c·step of zeros. */
static int slice_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int nd, dim;
  int64_t start, len;
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &nd);
  int rc = resolve("slice", attrs, nd, shape, &dim, &start, &len);
  if (rc < 0) return rc;
  int64_t *pos = malloc((size_t)(len > 0 ? len : 1) * sizeof *pos);
  if (!pos) return nb_set_error(NB_ENOMEM, "slice: out of memory for %lld positions", (long long)len);
  for (int64_t c = 0; c < len; c++) pos[c] = start + c * attrs[3].i;
  grad_in[0] = idx_scatter_at(grad_out[0], nd, shape, dim, pos);
  free(pos);
  return grad_in[0] ? 0 : nb_last_status();
}

static const nb_input_spec slice_inputs[] = {{"input", NB_DT_ANY, 0, "tensor (at least 1-d)"}};
static const nb_output_spec slice_outputs[] = {
    {"out", 0, "view of the elements start, start+step, ... < end along dim"}};
static const nb_attr_spec slice_attrs[] = {
    {.name = "dim", .type = NB_ATTR_INT, .flags = NB_ATTR_REQUIRED, .doc = "dim to slice"},
    {.name = "start", .type = NB_ATTR_INT, .def = {.i = 0}, .doc = "first position (negative "
     "counts from the end; clamped to [0, size])"},
    {.name = "end", .type = NB_ATTR_INT, .def = {.i = INT64_MAX}, .doc = "one past the last "
     "position (negative counts from the end; clamped to [0, size]); default: the end"},
    {.name = "step", .type = NB_ATTR_INT, .flags = NB_ATTR_HAS_MIN, .def = {.i = 1}, .min = 1,
     .doc = "distance between taken positions"},
};

const nb_op_desc op_slice = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "slice",
    .doc = "Python slicing along one dim, x[:, start:end:step] (PyTorch's aten::slice): a "
           "view sharing the input's storage and version counter. start and end are clamped "
           "as in Python, so an empty range gives a size-0 dim; step >= 1. Gradient: zeros of "
           "the input's shape with the output gradient in the sliced positions.",
    .flags = NB_OP_VIEW,
    .n_inputs = 1,
    .inputs = slice_inputs,
    .n_outputs = 1,
    .outputs = slice_outputs,
    .n_attrs = 4,
    .attrs = slice_attrs,
    .forward = slice_forward,
    .backward = slice_backward,
    .backward_graph = slice_backward_graph,
    .samples = slice_samples,
    .saves = "nothing (input shape and attributes only)",
};
