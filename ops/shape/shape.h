/* ops/shape/shape.h — helpers shared by the shape operators (plugin-private, hidden
 * visibility): dim wrapping, PyTorch's view-stride rule, views at the input's own
 * storage offset, and reshape-or-copy used by forwards and backwards alike.
 */
#ifndef NABLA_OPS_SHAPE_H
#define NABLA_OPS_SHAPE_H

#include <nabla/sdk.h>

#include "../common/ops_util.h" /* ops_wrap_dim, ops_ints_str */

extern const nb_op_desc op_reshape, op_view, op_flatten, op_transpose,
    op_permute, op_squeeze, op_unsqueeze, op_clone, op_contiguous,
    op_to_dtype;

/* ops_wrap_dim for tensor t (see ops/common/ops_util.h). */
static inline int shp_wrap_dim(const char *op, int64_t dim, const nb_tensor *t, bool plus_one) {
  return ops_wrap_dim(op, dim, nb_ndim(t), nb_shape(t), plus_one);
}

/* A view of t's storage with this shape and these strides (elements), starting at t's
 * first element. Shares t's storage and version counter. */
nb_tensor *shp_view(nb_tensor *t, int ndim, const int64_t *shape, const int64_t *strides);

/* PyTorch's computeStride: strides that let (ondim, oshape, ostrides) be viewed as
 * (nndim, nshape) without copying. Same numel assumed. false when no such strides. */
bool shp_view_strides(int ondim, const int64_t *oshape, const int64_t *ostrides, int nndim,
                      const int64_t *nshape, int64_t *nstrides);

/* t with a new shape (same numel): a view when the strides allow, else a contiguous copy
 * viewed with that shape. Not recorded (kernels and backwards use it). */
nb_tensor *shp_reshape_any(nb_tensor *t, int ndim, const int64_t *shape);

/* Resolve a requested shape (one -1 allowed) against t's numel into out. Errors name
 * the op, the requested shape and the input's size. */
int shp_infer_shape(const char *op, const nb_tensor *t, const nb_ints *req, int64_t *out);

/* Backward shared by the ops that only change the shape (reshape, view, flatten, squeeze,
 * unsqueeze): the output gradient reshaped back to the input's shape, a view of it when
 * the strides allow. */
int shp_backward_reshape_back(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in);
/* Backward of clone and contiguous: the output gradient passes through unchanged. */
int shp_backward_identity(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in);
/* shp_backward_reshape_back for create_graph: the reshape op, recorded. */
int shp_backward_reshape_back_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in);
/* The "shape" attribute of reshape and view (required INTS, one entry may be -1). */
extern const nb_attr_spec shp_shape_attrs[1];

/* A fresh float64 sample of shape [rows, cols] seen transposed ([cols, rows], strides
 * [1, cols]): a non-contiguous input for the harness. */
nb_tensor *shp_transposed_sample(nb_generator *g, int64_t rows, int64_t cols);

/* Add one sample with one input to a sink; returns 0 or a negative status (NULL x gives
 * the pending error). */
int shp_add_sample(nb_sample_sink *sink, const char *desc, nb_tensor *x, int n_attrs,
                   const nb_attr *attrs, unsigned flags);

#endif
