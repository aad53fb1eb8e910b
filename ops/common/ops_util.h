/* ops/common/ops_util.h — small helpers several operator families share: contiguous
 * copies and dtype checks (nn, loss), dim wrapping and INTS rendering (reduction, shape).
 * Header-only (static inline), so each family stays one self-contained shared module
 * with hidden visibility and nothing here is exported. Not installed.
 */
#ifndef NABLA_OPS_COMMON_UTIL_H
#define NABLA_OPS_COMMON_UTIL_H

#include <nabla/sdk.h>

/* t itself when contiguous (or NULL), else a contiguous scoped copy (NULL on error). */
static inline nb_tensor *ops_contig(nb_tensor *t) {
  if (t == NULL || nb_is_contiguous(t)) return t;
  return nb_copy_data(t);
}

/* Error unless b (when not NULL) has a's dtype: "op: <bname> dtype float64 does not
 * match <aname> dtype float32". Returns 0 or NB_EDTYPE. */
static inline int ops_same_dtype(const char *op, const nb_tensor *a, const char *aname,
                                 const nb_tensor *b, const char *bname) {
  if (b == NULL || nb_dtype_of(a) == nb_dtype_of(b)) return 0;
  return nb_set_error(NB_EDTYPE, "%s: %s dtype %s does not match %s dtype %s", op, bname,
                      nb_dtype_name(nb_dtype_of(b)), aname, nb_dtype_name(nb_dtype_of(a)));
}

/* Wrap `dim` into [0, n) for a tensor of (ndim, shape), n = max(ndim, 1) (PyTorch lets a
 * 0-d tensor use -1 and 0), or n = ndim + 1 when `plus_one` (unsqueeze). Returns the dim,
 * or NB_EINVAL with "op: dim 3 is out of range for input of shape [2,3] (expected in
 * [-2, 1])". */
static inline int ops_wrap_dim(const char *op, int64_t dim, int ndim, const int64_t *shape,
                               bool plus_one) {
  int64_t n = plus_one ? ndim + 1 : (ndim > 0 ? ndim : 1);
  if (dim < -n || dim >= n) {
    char buf[192]; /* room for any NB_MAX_DIMS int64 sizes */
    return nb_set_error(NB_EINVAL,
                        "%s: dim %lld is out of range for input of shape %s (expected in "
                        "[%lld, %lld])",
                        op, (long long)dim, nb_shape_str(ndim, shape, buf, sizeof buf),
                        (long long)-n, (long long)(n - 1));
  }
  return (int)(dim < 0 ? dim + n : dim);
}

/* Render an INTS attribute as "[2,-1]" into buf (always NUL-terminated); returns buf. */
static inline const char *ops_ints_str(const nb_ints *v, char *buf, size_t size) {
  int64_t tmp[NB_MAX_DIMS];
  for (int i = 0; i < v->n && i < NB_MAX_DIMS; i++) tmp[i] = v->v[i];
  return nb_shape_str(v->n, tmp, buf, size);
}

/* The element offset, from its storage's start, of t's first element (nb_as_strided's
 * offset argument). Computed from data pointers, so it is right whatever the core
 * counts offsets from. 0 for an empty tensor. */
static inline int64_t ops_storage_offset(nb_tensor *t) {
  if (nb_numel(t) == 0) return 0;
  nb_tensor *origin = nb_as_strided(t, 0, NULL, NULL, 0);
  if (!origin) return 0;
  int64_t off = ((const char *)nb_data(t) - (const char *)nb_data(origin)) /
                (int64_t)nb_dtype_size(nb_dtype_of(t));
  nb_release(nb_scope_depth() > 0 ? NULL : origin); /* scoped: the scope frees it */
  return off;
}

/* A view of t's storage with this shape and these strides (elements), starting `skip`
 * elements after t's first element. Shares t's storage and version counter. */
static inline nb_tensor *ops_view(nb_tensor *t, int ndim, const int64_t *shape,
                                  const int64_t *strides, int64_t skip) {
  return nb_as_strided(t, ndim, shape, strides, ops_storage_offset(t) + skip);
}

#endif
