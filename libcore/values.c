/* values.c — everything that reads or writes a tensor's values: constructors, element
 * access, conversions, strided views over a storage, copies and fills.
 *
 * Constructors validate their arguments (messages name the function), allocate a
 * contiguous tensor (storage.c) and register it in the innermost scope (scope.c).
 * Copies and fills walk tensors with nb_iter (iter.c), converting dtypes through
 * double where source and destination differ.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

/* ---- argument checks ----------------------------------------------------------------- */
static int check_dtype(const char *what, nb_dtype dt) {
  if ((unsigned)dt >= NB_NUM_DTYPES)
    return nb_set_error(NB_EDTYPE, "%s: invalid dtype %d", what, (int)dt);
  return 0;
}

static nb_tensor *new_checked(const char *what, int ndim, const int64_t *shape, nb_dtype dt) {
  if (check_dtype(what, dt) < 0 || nb__check_shape(what, ndim, shape) < 0)
    return NULL;
  nb_tensor *t = nb__tensor_new(ndim, shape, dt);
  if (!t)
    nb_error_prefix("%s", what);
  return t;
}

/* ---- element conversion ------------------------------------------------------------------ */

static inline double load_d(const char *p, int dt) {
  switch (dt) {
  case NB_F32: return *(const float *)p;
  case NB_F64: return *(const double *)p;
  case NB_I64: return (double)*(const int64_t *)p;
  default: return *(const uint8_t *)p ? 1.0 : 0.0;
  }
}

int nb_value_check(const char *what, double v, nb_dtype dt) {
  if (dt == NB_I64 && !(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
    return nb_set_error(NB_EINVAL, "%s: value %g does not fit int64", what ? what : "value", v);
  return 0;
}

static inline int64_t d_to_i64(double v) {
  /* Like x86 and PyTorch: NaN and out-of-range values become INT64_MIN. */
  if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
    return INT64_MIN;
  return (int64_t)v;
}

static inline void store_d(char *p, int dt, double v) {
  switch (dt) {
  case NB_F32: *(float *)p = (float)v; break;
  case NB_F64: *(double *)p = v; break;
  case NB_I64: *(int64_t *)p = d_to_i64(v); break;
  default: *(uint8_t *)p = v != 0.0; break;
  }
}

/* A tensor struct on the caller's stack describing external contiguous memory, so
 * nb_iter-based copies can read or write plain C arrays. */
static nb_tensor *wrap_external(nb_tensor *t, nb_storage *s, const void *data, nb_dtype dt,
                                int ndim, const int64_t *shape) {
  memset(t, 0, sizeof *t);
  memset(s, 0, sizeof *s);
  s->refcount = 1;
  s->data = (void *)data;
  t->refcount = 1;
  t->dtype = (uint8_t)dt;
  t->ndim = (int8_t)ndim;
  memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
  t->numel = nb__contiguous_strides(ndim, shape, t->strides);
  s->nbytes = (size_t)t->numel * nb__dtype_size(dt);
  t->storage = s;
  return t;
}

/* dst[...] = src[...] (src broadcast to dst), converting dtypes. No checks beyond nb_iter's. */
static int copy_iter(nb_tensor *dst, const nb_tensor *src) {
  nb_iter it;
  if (nb_iter_init(&it, 2, (nb_tensor *[]){dst, (nb_tensor *)src}) < 0)
    return nb_last_status();
  int dd = dst->dtype, sd = src->dtype;
  size_t es = nb__dtype_size((nb_dtype)dd);
  do {
    char *pd = it.ptr[0], *ps = it.ptr[1];
    int64_t n = it.n, s0 = it.step[0], s1 = it.step[1];
    if (dd == sd && s0 == (int64_t)es && s1 == (int64_t)es) {
      memcpy(pd, ps, (size_t)n * es);
    } else if (dd == sd) {
      for (int64_t k = 0; k < n; k++)
        memcpy(pd + k * s0, ps + k * s1, es);
    } else if (dd == NB_F32 && sd == NB_F64) {
      for (int64_t k = 0; k < n; k++)
        *(float *)(pd + k * s0) = (float)*(const double *)(ps + k * s1);
    } else if (dd == NB_F64 && sd == NB_F32) {
      for (int64_t k = 0; k < n; k++)
        *(double *)(pd + k * s0) = *(const float *)(ps + k * s1);
    } else {
      for (int64_t k = 0; k < n; k++)
        store_d(pd + k * s0, dd, load_d(ps + k * s1, sd));
    }
  } while (nb_iter_next(&it));
  return 0;
}


/* ---- creation ------------------------------------------------------------------------------ */

nb_tensor *nb_empty(int ndim, const int64_t *shape, nb_dtype dt) {
  return nb__scope_register(new_checked("nb_empty", ndim, shape, dt));
}

static nb_tensor *filled(const char *what, int ndim, const int64_t *shape, double value,
                         nb_dtype dt) {
  if (nb_value_check(what, value, dt) < 0)
    return NULL;
  nb_tensor *t = new_checked(what, ndim, shape, dt);
  if (!t)
    return NULL;
  if (value == 0.0 && !signbit(value))
    memset(t->storage->data, 0, t->storage->nbytes);
  else
    nb_fill(t, value);
  t->storage->version = 0;
  return nb__scope_register(t);
}

nb_tensor *nb_zeros(int ndim, const int64_t *shape, nb_dtype dt) {
  return filled("nb_zeros", ndim, shape, 0.0, dt);
}
nb_tensor *nb_ones(int ndim, const int64_t *shape, nb_dtype dt) {
  return filled("nb_ones", ndim, shape, 1.0, dt);
}
nb_tensor *nb_full(int ndim, const int64_t *shape, double value, nb_dtype dt) {
  return filled("nb_full", ndim, shape, value, dt);
}

nb_tensor *nb_empty_like(const nb_tensor *like) {
  NB_CHECK_T("nb_empty_like", like, NULL);
  return nb_empty(like->ndim, like->shape, (nb_dtype)like->dtype);
}
nb_tensor *nb_zeros_like(const nb_tensor *like) {
  NB_CHECK_T("nb_zeros_like", like, NULL);
  return nb_zeros(like->ndim, like->shape, (nb_dtype)like->dtype);
}
nb_tensor *nb_ones_like(const nb_tensor *like) {
  NB_CHECK_T("nb_ones_like", like, NULL);
  return nb_ones(like->ndim, like->shape, (nb_dtype)like->dtype);
}

nb_tensor *nb_arange(double start, double end, double step, nb_dtype dt) {
  if (check_dtype("nb_arange", dt) < 0)
    return NULL;
  if (dt == NB_BOOL) {
    nb_set_error(NB_EDTYPE, "nb_arange: dtype bool is not supported");
    return NULL;
  }
  if (!isfinite(start) || !isfinite(end) || !isfinite(step)) {
    nb_set_error(NB_EINVAL, "nb_arange: unsupported range %g -> %g with step %g (must be finite)",
                 start, end, step);
    return NULL;
  }
  if (step == 0.0) {
    nb_set_error(NB_EINVAL, "nb_arange: step must be nonzero");
    return NULL;
  }
  if ((step > 0 && end < start) || (step < 0 && end > start)) {
    nb_set_error(NB_EINVAL,
                 "nb_arange: upper bound %g and lower bound %g inconsistent with step sign %g",
                 end, start, step);
    return NULL;
  }
  double size_d = ceil((end - start) / step);
  if (!(size_d >= 0 && size_d < 9.0e15)) {
    nb_set_error(NB_EINVAL, "nb_arange: invalid size %g, possible overflow", size_d);
    return NULL;
  }
  int64_t n = (int64_t)size_d;
  if (n > 0 && (nb_value_check("nb_arange", start, dt) < 0 ||
                nb_value_check("nb_arange", start + step * (double)(n - 1), dt) < 0))
    return NULL;
  nb_tensor *t = new_checked("nb_arange", 1, &n, dt);
  if (!t)
    return NULL;
  char *p = t->storage->data;
  size_t es = nb__dtype_size(dt);
  for (int64_t i = 0; i < n; i++)
    store_d(p + (size_t)i * es, dt, start + step * (double)i);
  return nb__scope_register(t);
}

nb_tensor *nb_from_data(const void *data, int ndim, const int64_t *shape, nb_dtype dt) {
  nb_tensor *t = new_checked("nb_from_data", ndim, shape, dt);
  if (!t)
    return NULL;
  if (t->numel > 0 && !data) {
    nb_release(t);
    nb_set_error(NB_EINVAL, "nb_from_data: data is NULL for shape %s",
                 nb_shape_str(ndim, shape, nb__tmpbuf(NULL), 256));
    return NULL;
  }
  if (t->storage->nbytes)
    memcpy(t->storage->data, data, t->storage->nbytes);
  return nb__scope_register(t);
}

/* A tensor of (ndim, shape) from row-major doubles converted to dt; `fn` names the
 * caller in messages. */
static nb_tensor *from_doubles(const char *fn, const double *values, int ndim,
                               const int64_t *shape, nb_dtype dt) {
  nb_tensor *t = new_checked(fn, ndim, shape, dt);
  if (!t)
    return NULL;
  int64_t n = t->numel;
  if (n > 0 && !values) {
    nb_release(t);
    nb_set_error(NB_EINVAL, "%s: values is NULL for %lld elements", fn, (long long)n);
    return NULL;
  }
  for (int64_t i = 0; i < n; i++) {
    if (nb_value_check(fn, values[i], dt) < 0) {
      nb_release(t);
      nb_set_error(NB_EINVAL, "%s: element %lld, %g, does not fit int64", fn, (long long)i,
                   values[i]);
      return NULL;
    }
  }
  char *p = t->storage->data;
  size_t es = nb__dtype_size(dt);
  for (int64_t i = 0; i < n; i++)
    store_d(p + (size_t)i * es, dt, values[i]);
  return nb__scope_register(t);
}

nb_tensor *nb_from_doubles(const double *values, int64_t n, nb_dtype dt) {
  if (n < 0) {
    nb_set_error(NB_EINVAL, "nb_from_doubles: negative count %lld", (long long)n);
    return NULL;
  }
  return from_doubles("nb_from_doubles", values, 1, &n, dt);
}

nb_tensor *nb_from_array(const double *values, int ndim, const int64_t *shape, nb_dtype dt) {
  return from_doubles("nb_from_array", values, ndim, shape, dt);
}

nb_tensor *nb__scalar_new(double value, nb_dtype dt) {
  if (nb_value_check("nb_scalar", value, dt) < 0)
    return NULL;
  nb_tensor *t = new_checked("nb_scalar", 0, NULL, dt);
  if (t)
    store_d(t->storage->data, dt, value);
  return t;
}

nb_tensor *nb_op_scalar_operand(double value, nb_dtype dt) {
  nb_tensor *t = nb__scalar_new(value, dt);
  if (t)
    t->wrapped = true;
  return t;
}

nb_tensor *nb_scalar(double value, nb_dtype dt) {
  return nb__scope_register(nb__scalar_new(value, dt));
}

/* ---- element access ------------------------------------------------------------------------- */

int nb_item_checked(const nb_tensor *t, double *out) {
  NB_CHECK_T("nb_item", t, NB_EINVAL);
  if (t->numel != 1)
    return nb_set_error(NB_ESHAPE,
                        "nb_item: a tensor with %lld elements (shape %s) cannot be converted to a "
                        "scalar",
                        (long long)t->numel, nb_shape_of(t));
  if (out)
    *out = load_d(nb_data(t), t->dtype);
  return 0;
}

double nb_item(const nb_tensor *t) {
  double v = NAN;
  return nb_item_checked(t, &v) < 0 ? NAN : v;
}

/* Byte offset of element idx from nb_data(t), after range checks. */
static int elem_offset(const char *what, const nb_tensor *t, const int64_t *idx, int64_t *off) {
  NB_CHECK_T(what, t, NB_EINVAL);
  if (t->ndim > 0 && !idx)
    return nb_set_error(NB_EINVAL, "%s: index is NULL for a tensor of shape %s", what,
                        nb_shape_of(t));
  int64_t o = 0;
  for (int d = 0; d < t->ndim; d++) {
    int64_t i = idx[d], n = t->shape[d];
    if (i < -n || i >= n)
      return nb_set_error(NB_EINVAL, "%s: index %lld is out of bounds for dimension %d with size %lld",
                          what, (long long)i, d, (long long)n);
    if (i < 0)
      i += n;
    o += i * t->strides[d];
  }
  *off = o * (int64_t)nb__dtype_size((nb_dtype)t->dtype);
  return 0;
}

int nb_get(const nb_tensor *t, const int64_t *idx, double *out) {
  int64_t off;
  int rc = elem_offset("nb_get", t, idx, &off);
  if (rc < 0)
    return rc;
  if (!out)
    return nb_set_error(NB_EINVAL, "nb_get: out is NULL");
  *out = load_d((const char *)nb_data(t) + off, t->dtype);
  return 0;
}

int nb_set(nb_tensor *t, const int64_t *idx, double value) {
  int64_t off;
  int rc = elem_offset("nb_set", t, idx, &off);
  if (rc < 0)
    return rc;
  if ((rc = nb_value_check("nb_set", value, (nb_dtype)t->dtype)) < 0)
    return rc;
  store_d((char *)nb_data(t) + off, t->dtype, value);
  nb__bump_version(t);
  return 0;
}

int nb_to_doubles(const nb_tensor *t, double *out, int64_t n) {
  NB_CHECK_T("nb_to_doubles", t, NB_EINVAL);
  if (n < t->numel)
    return nb_set_error(NB_EINVAL, "nb_to_doubles: room for %lld values, tensor of shape %s has %lld",
                        (long long)n, nb_shape_of(t), (long long)t->numel);
  if (t->numel == 0)
    return 0;
  if (!out)
    return nb_set_error(NB_EINVAL, "nb_to_doubles: out is NULL");
  nb_tensor dt;
  nb_storage ds;
  return copy_iter(wrap_external(&dt, &ds, out, NB_F64, t->ndim, t->shape), t);
}

/* ---- copies and views -------------------------------------------------------------------------- */

nb_tensor *nb_convert(const nb_tensor *t, nb_dtype dt) {
  NB_CHECK_T("nb_convert", t, NULL);
  nb_tensor *r = new_checked("nb_convert", t->ndim, t->shape, dt);
  if (!r)
    return NULL;
  if (copy_iter(r, t) < 0) {
    nb_release(r);
    return NULL;
  }
  return nb__scope_register(r);
}

nb_tensor *nb_copy_data(const nb_tensor *t) {
  NB_CHECK_T("nb_copy_data", t, NULL);
  return nb_convert(t, (nb_dtype)t->dtype);
}

nb_tensor *nb_as_strided(nb_tensor *t, int ndim, const int64_t *shape, const int64_t *strides,
                         int64_t offset) {
  NB_CHECK_T("nb_as_strided", t, NULL);
  if (nb__check_shape("nb_as_strided", ndim, shape) < 0)
    return NULL;
  if (ndim > 0 && !strides) {
    nb_set_error(NB_EINVAL, "nb_as_strided: strides is NULL with ndim %d", ndim);
    return NULL;
  }
  if (offset < 0) {
    nb_set_error(NB_EINVAL, "nb_as_strided: negative storage offset %lld", (long long)offset);
    return NULL;
  }
  int64_t numel = 1, last = offset;
  bool overflow = false, empty = false;
  for (int d = 0; d < ndim; d++) {
    if (strides[d] < 0) {
      nb_set_error(NB_EINVAL, "nb_as_strided: negative stride %lld in dimension %d",
                   (long long)strides[d], d);
      return NULL;
    }
    if (shape[d] == 0)
      empty = true;
    else /* an overflowing element count must not wrap to 0 and skip the bounds check */
      overflow |= __builtin_mul_overflow(numel, shape[d], &numel);
    int64_t span;
    if (shape[d] > 0) {
      overflow |= __builtin_mul_overflow(shape[d] - 1, strides[d], &span);
      overflow |= __builtin_add_overflow(last, span, &last);
    }
  }
  int64_t have = (int64_t)(t->storage->nbytes / nb__dtype_size((nb_dtype)t->dtype));
  if (!empty && (overflow || last >= have)) {
    char sb[128];
    nb_set_error(NB_ESHAPE,
                 "nb_as_strided: view of shape %s with strides %s and offset %lld reaches element "
                 "%lld, but the storage holds %lld elements of %s",
                 nb_shape_str(ndim, shape, nb__tmpbuf(NULL), 256), nb_shape_str(ndim, strides, sb, sizeof sb),
                 (long long)offset, (long long)last, (long long)have, nb_dtype_name((nb_dtype)t->dtype));
    return NULL;
  }
  return nb__scope_register(nb__alias(t, ndim, shape, strides, offset));
}

int nb_copy_into(nb_tensor *dst, const nb_tensor *src) {
  NB_CHECK_T("nb_copy_into", dst, NB_EINVAL);
  NB_CHECK_T("nb_copy_into", src, NB_EINVAL);
  bool ok = src->ndim <= dst->ndim;
  for (int d = 0; ok && d < src->ndim; d++) {
    int64_t s = src->shape[src->ndim - 1 - d], t = dst->shape[dst->ndim - 1 - d];
    ok = s == t || s == 1;
  }
  if (!ok)
    return nb_set_error(NB_ESHAPE, "nb_copy_into: source shape %s cannot be broadcast to destination shape %s",
                        nb_shape_of(src), nb_shape_of(dst));
  int rc;
  if (src->storage == dst->storage && src != dst) {
    /* Possibly overlapping views: go through a temporary copy. */
    nb_tensor *tmp = new_checked("nb_copy_into", src->ndim, src->shape, (nb_dtype)src->dtype);
    if (!tmp)
      return nb_last_status();
    rc = copy_iter(tmp, src);
    if (rc == 0)
      rc = copy_iter(dst, tmp);
    nb_release(tmp);
  } else {
    rc = copy_iter(dst, src);
  }
  if (rc == 0)
    nb__bump_version(dst);
  return rc;
}

int nb_fill(nb_tensor *t, double value) {
  NB_CHECK_T("nb_fill", t, NB_EINVAL);
  int rc = nb_value_check("nb_fill", value, (nb_dtype)t->dtype);
  if (rc < 0)
    return rc;
  union {
    float f;
    double d;
    int64_t i;
    uint8_t b;
  } v;
  store_d((char *)&v, t->dtype, value);
  size_t es = nb__dtype_size((nb_dtype)t->dtype);
  nb_iter it;
  if (nb_is_contiguous(t)) { /* one flat run, no iterator (scalars are filled per op) */
    it.n = t->numel;
    it.ptr[0] = nb_data(t);
    it.step[0] = (int64_t)es;
    it.nops = 0; /* marks "no iterator" for the loop condition below */
  } else if (nb_iter_init(&it, 1, &t) < 0) {
    return nb_last_status();
  }
  do {
    char *p = it.ptr[0];
    int64_t s = it.step[0];
    switch (es) {
    case 1:
      if (s == 1)
        memset(p, v.b, (size_t)it.n);
      else
        for (int64_t k = 0; k < it.n; k++)
          p[k * s] = (char)v.b;
      break;
    case 4:
      for (int64_t k = 0; k < it.n; k++)
        *(float *)(p + k * s) = v.f;
      break;
    default:
      for (int64_t k = 0; k < it.n; k++)
        memcpy(p + k * s, &v, 8);
      break;
    }
  } while (it.nops > 0 && nb_iter_next(&it));
  nb__bump_version(t);
  return 0;
}
