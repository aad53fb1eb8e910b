/* ops/shape/shape_util.c — view strides, views, reshape-or-copy, the
 * backwards and attribute schema several shape operators share, and sample helpers. */
#include <string.h>

#include "shape.h"

nb_tensor *shp_view(nb_tensor *t, int ndim, const int64_t *shape, const int64_t *strides) {
  return ops_view(t, ndim, shape, strides, 0);
}

bool shp_view_strides(int ondim, const int64_t *oshape, const int64_t *ostrides, int nndim,
                      const int64_t *nshape, int64_t *nstrides) {
  if (ondim == 0) { /* a one-element tensor: any shape of ones */
    for (int i = 0; i < nndim; i++) nstrides[i] = 1;
    return true;
  }
  int64_t numel = 1;
  for (int i = 0; i < ondim; i++) numel *= oshape[i];
  if (numel == 0) {
    if (ondim == nndim && memcmp(oshape, nshape, (size_t)ondim * sizeof(int64_t)) == 0) {
      memcpy(nstrides, ostrides, (size_t)ondim * sizeof(int64_t));
      return true;
    }
    for (int d = nndim - 1; d >= 0; d--) /* contiguous strides, treating 0 as 1 */
      nstrides[d] = d == nndim - 1 ? 1 : (nshape[d + 1] > 1 ? nshape[d + 1] : 1) * nstrides[d + 1];
    return true;
  }
  /* Walk the old dims from the innermost, grouping them into chunks that are contiguous
   * among themselves; each chunk must be matched exactly by a run of new dims. */
  int vd = nndim - 1;
  int64_t chunk_base = ostrides[ondim - 1], tnum = 1, vnum = 1;
  for (int td = ondim - 1; td >= 0; td--) {
    tnum *= oshape[td];
    if (td == 0 || (oshape[td - 1] != 1 && ostrides[td - 1] != tnum * chunk_base)) {
      while (vd >= 0 && (vnum < tnum || nshape[vd] == 1)) {
        nstrides[vd] = vnum * chunk_base;
        vnum *= nshape[vd];
        vd--;
      }
      if (vnum != tnum) return false;
      if (td > 0) {
        chunk_base = ostrides[td - 1];
        tnum = 1;
        vnum = 1;
      }
    }
  }
  return vd == -1;
}

nb_tensor *shp_reshape_any(nb_tensor *t, int ndim, const int64_t *shape) {
  int64_t st[NB_MAX_DIMS];
  if (shp_view_strides(nb_ndim(t), nb_shape(t), nb_strides(t), ndim, shape, st))
    return shp_view(t, ndim, shape, st);
  nb_tensor *c = nb_copy_data(t);
  if (!c) return NULL;
  for (int d = ndim - 1; d >= 0; d--) st[d] = d == ndim - 1 ? 1 : shape[d + 1] * st[d + 1];
  return nb_as_strided(c, ndim, shape, st, 0); /* a fresh copy starts at offset 0 */
}

int shp_backward_reshape_back(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int ndim;
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &ndim);
  grad_in[0] = shp_reshape_any(grad_out[0], ndim, shape);
  return grad_in[0] ? 0 : nb_last_status();
}

int shp_backward_identity(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  (void)ctx;
  grad_in[0] = grad_out[0];
  return 0;
}

const nb_attr_spec shp_shape_attrs[1] = {
    {.name = "shape",
     .type = NB_ATTR_INTS,
     .flags = NB_ATTR_REQUIRED,
     .doc = "new shape; one entry may be -1 (inferred from the number of elements)"},
};

int shp_infer_shape(const char *op, const nb_tensor *t, const nb_ints *req, int64_t *out) {
  char buf[128];
  int64_t numel = nb_numel(t), prod = 1;
  int infer = -1;
  for (int i = 0; i < req->n; i++) {
    int64_t v = req->v[i];
    if (v == -1) {
      if (infer >= 0)
        return nb_set_error(NB_EINVAL, "%s: only one dimension can be inferred (-1) in shape %s",
                            op, ops_ints_str(req, buf, sizeof buf));
      infer = i;
      out[i] = -1;
      continue;
    }
    if (v < 0)
      return nb_set_error(NB_EINVAL, "%s: invalid shape dimension %lld in shape %s", op,
                          (long long)v, ops_ints_str(req, buf, sizeof buf));
    if (__builtin_mul_overflow(prod, v, &prod))
      return nb_set_error(NB_EINVAL, "%s: shape %s has too many elements", op,
                          ops_ints_str(req, buf, sizeof buf));
    out[i] = v;
  }
  if (infer >= 0) {
    if (prod == 0 && numel == 0)
      return nb_set_error(NB_EINVAL,
                          "%s: cannot reshape a tensor of 0 elements into shape %s because the "
                          "unspecified dimension size -1 can be any value and is ambiguous",
                          op, ops_ints_str(req, buf, sizeof buf));
    if (prod != 0 && numel % prod == 0) {
      out[infer] = numel / prod;
      return 0;
    }
  } else if (prod == numel) {
    return 0;
  }
  return nb_set_error(NB_ESHAPE, "%s: shape %s is invalid for input of size %lld (shape %s)", op,
                      ops_ints_str(req, buf, sizeof buf), (long long)numel, nb_shape_of(t));
}

nb_tensor *shp_transposed_sample(nb_generator *g, int64_t rows, int64_t cols) {
  nb_tensor *t = nb_rand_range(2, (int64_t[]){rows, cols}, -2.0, 2.0, NB_F64, g);
  if (!t) return NULL;
  return nb_as_strided(t, 2, (int64_t[]){cols, rows}, (int64_t[]){1, cols}, 0);
}

int shp_add_sample(nb_sample_sink *sink, const char *desc, nb_tensor *x, int n_attrs,
                   const nb_attr *attrs, unsigned flags) {
  if (!x) return nb_last_status() < 0 ? nb_last_status() : NB_ENOMEM;
  return nb_sample_add(sink, desc, 1, &x, n_attrs, attrs, flags);
}
