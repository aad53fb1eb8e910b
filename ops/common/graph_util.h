/* ops/common/graph_util.h — helpers for backward_graph functions (sdk/op.h): gradients
 * written with dispatched ops, so a create_graph backward records them. Header-only
 * (static inline), like ops_util.h. Every helper returns a scoped tensor or NULL with the
 * error of the op it called.
 */
#ifndef NABLA_OPS_COMMON_GRAPH_UTIL_H
#define NABLA_OPS_COMMON_GRAPH_UTIL_H

#include <nabla/sdk.h>

/* op(t, c) for a constant c (a wrapped scalar operand of t's dtype): "mul", "add", ... */
static inline nb_tensor *gu_scalar(const char *op, nb_tensor *t, double c) {
  nb_tensor *s = nb_op_scalar_operand(c, nb_dtype_of(t));
  if (!s) return NULL;
  nb_tensor *r = NB_CALL(op, t, s);
  nb_release(s);
  return r;
}

/* The op's plain backward evaluated at grad_out = ones (one output), for input i,
 * computed without recording: the derivative of an op whose derivative is piecewise
 * constant in its inputs (relu, abs, clamp, max, l1), whose second derivative is zero
 * almost everywhere. */
static inline nb_tensor *gu_mask(nb_ctx *ctx, nb_backward_fn plain, nb_tensor *g, int i) {
  nb_tensor *ones = nb_ones_like(g);
  nb_tensor *gin[16] = {0};
  if (!ones) return NULL;
  bool prev = nb_set_grad_enabled(false);
  int rc = plain(ctx, (nb_tensor *const[]){ones}, gin);
  nb_set_grad_enabled(prev);
  if (rc < 0) return NULL;
  if (!gin[i]) {
    nb_set_error(NB_EPLUGIN, "%s: backward gave no gradient for input %d", nb_ctx_op_name(ctx), i);
    return NULL;
  }
  return nb_detach(gin[i]);
}

/* g * gu_mask(...): the gradient of such an op, recorded through g. */
static inline nb_tensor *gu_masked(nb_ctx *ctx, nb_backward_fn plain, nb_tensor *g, int i) {
  nb_tensor *m = gu_mask(ctx, plain, g, i);
  return m ? NB_CALL("mul", g, m) : NULL;
}

/* g broadcast to (ndim, shape) by adding zeros: recorded, so its gradient sums back. */
static inline nb_tensor *gu_expand(nb_tensor *g, int ndim, const int64_t *shape) {
  nb_tensor *z = nb_zeros(ndim, shape, nb_dtype_of(g));
  return z ? NB_CALL("add", g, z) : NULL;
}

/* reshape(t, ndim, shape), recorded. */
static inline nb_tensor *gu_reshape(nb_tensor *t, int ndim, const int64_t *shape) {
  nb_attr a = {.name = "shape", .type = NB_ATTR_INTS};
  a.v.ints.n = ndim;
  for (int d = 0; d < ndim; d++) a.v.ints.v[d] = shape[d];
  return nb_call1("reshape", 1, &t, 1, &a);
}

/* op(t, dim = dims[0..n), keepdim), recorded: a reduction ("sum", "mean", ...) over the
 * listed dims (n = 0: t itself, nothing reduced). */
static inline nb_tensor *gu_reduce(const char *op, nb_tensor *t, int n, const int64_t *dims,
                                   bool keepdim) {
  if (n == 0) return NB_CALL("clone", t);
  nb_attr a[2] = {{.name = "dim", .type = NB_ATTR_INTS}, NB_A_BOOL("keepdim", keepdim)};
  a[0].v.ints.n = n;
  for (int d = 0; d < n; d++) a[0].v.ints.v[d] = dims[d];
  return nb_call1(op, 1, &t, 2, a);
}

#endif
