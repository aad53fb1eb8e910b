/* tensor.c — a tensor's shape, strides, dtype and storage as seen from outside:
 * accessors, shape checks and printing of shapes, and the version counter.
 * Nothing here reads or writes values (values.c does).
 */
#include <string.h>

#include "internal.h"

/* ---- argument checks ----------------------------------------------------------------- */

int nb__check_shape(const char *what, int ndim, const int64_t *shape) {
  if (ndim < 0 || ndim > NB_MAX_DIMS)
    return nb_set_error(NB_EINVAL, "%s: ndim %d is out of range [0, %d]", what, ndim, NB_MAX_DIMS);
  if (ndim > 0 && !shape)
    return nb_set_error(NB_EINVAL, "%s: shape is NULL with ndim %d", what, ndim);
  int64_t numel = 1;
  bool overflow = false;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0)
      return nb_set_error(NB_EINVAL, "%s: negative size %lld in dimension %d of shape %s", what,
                          (long long)shape[d], d, nb_shape_str(ndim, shape, nb__tmpbuf(NULL), 256));
    overflow |= __builtin_mul_overflow(numel, shape[d], &numel);
  }
  /* sizes whose byte count (8 bytes an element at most) would not fit in 63 bits */
  if (overflow || numel > INT64_MAX / 8)
    return nb_set_error(NB_ENOMEM, "%s: shape %s is too large to allocate", what,
                        nb_shape_str(ndim, shape, nb__tmpbuf(NULL), 256));
  return 0;
}

/* ---- inspection ------------------------------------------------------------------------------ */

int nb_ndim(const nb_tensor *t) {
  NB_CHECK_T("nb_ndim", t, -1);
  return t->ndim;
}
const int64_t *nb_shape(const nb_tensor *t) {
  NB_CHECK_T("nb_shape", t, NULL);
  return t->shape;
}
int64_t nb_size(const nb_tensor *t, int dim) {
  NB_CHECK_T("nb_size", t, -1);
  int nd = t->ndim;
  if (dim < -nd || dim >= nd || nd == 0) {
    nb_set_error(NB_EINVAL,
                 "nb_size: dimension %d out of range for a tensor of shape %s (expected in [%d, %d])",
                 dim, nb_shape_of(t), -nd, nd - 1);
    return -1;
  }
  return t->shape[dim < 0 ? dim + nd : dim];
}
const int64_t *nb_strides(const nb_tensor *t) {
  NB_CHECK_T("nb_strides", t, NULL);
  return t->strides;
}
int64_t nb_numel(const nb_tensor *t) {
  NB_CHECK_T("nb_numel", t, -1);
  return t->numel;
}
nb_dtype nb_dtype_of(const nb_tensor *t) {
  NB_CHECK_T("nb_dtype_of", t, NB_F32);
  return (nb_dtype)t->dtype;
}
void *nb_data(const nb_tensor *t) {
  NB_CHECK_T("nb_data", t, NULL);
  return (char *)t->storage->data + t->offset * (int64_t)nb__dtype_size((nb_dtype)t->dtype);
}
bool nb_flat_info(const nb_tensor *t, void **data, int64_t *numel, size_t *elem_size) {
  if (!t)
    return false;
  size_t es = nb__dtype_size(t->dtype);
  if (data)
    *data = (char *)t->storage->data + t->offset * (int64_t)es;
  if (numel)
    *numel = t->numel;
  if (elem_size)
    *elem_size = es;
  return nb_is_contiguous(t);
}
bool nb_is_contiguous(const nb_tensor *t) {
  if (!t)
    return false;
  if (t->numel == 0)
    return true;
  int64_t expected = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->shape[d] != 1 && t->strides[d] != expected)
      return false;
    expected *= t->shape[d];
  }
  return true;
}
bool nb_same_shape(const nb_tensor *a, const nb_tensor *b) {
  if (!a || !b || a->ndim != b->ndim)
    return false;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d])
      return false;
  return true;
}

char *nb_shape_str(int ndim, const int64_t *shape, char *buf, size_t size) {
  if (!buf || size == 0)
    return buf;
  size_t pos = 0;
  buf[0] = '\0';
  int w = snprintf(buf, size, "[");
  pos = w > 0 ? (size_t)w : 0;
  for (int d = 0; d < ndim && shape && pos < size; d++) {
    w = snprintf(buf + pos, size - pos, d ? ",%lld" : "%lld", (long long)shape[d]);
    if (w < 0)
      break;
    pos += (size_t)w;
  }
  if (pos < size)
    snprintf(buf + pos, size - pos, "]");
  buf[size - 1] = '\0';
  return buf;
}

const char *nb_shape_of(const nb_tensor *t) {
  size_t size;
  char *buf = nb__tmpbuf(&size);
  if (!t)
    return strcpy(buf, "(null)");
  return nb_shape_str(t->ndim, t->shape, buf, size);
}

uint32_t nb_version(const nb_tensor *t) {
  return t ? __atomic_load_n(&t->storage->version, __ATOMIC_RELAXED) : 0;
}
void nb_bump_version(nb_tensor *t) {
  if (t)
    nb__bump_version(t);
}
bool nb_shares_storage(const nb_tensor *a, const nb_tensor *b) {
  return a && b && a->storage == b->storage;
}
