/* ops/index/index_util.c — views along one dim, index checks, the gather/scatter walk
 * and sample helpers of the "index" plugin. */
#include <string.h>

#include "index.h"

nb_tensor *idx_slice_view(nb_tensor *t, int dim, int64_t start, int64_t len, int64_t step) {
  int nd = nb_ndim(t);
  int64_t shape[NB_MAX_DIMS], strides[NB_MAX_DIMS];
  memcpy(shape, nb_shape(t), (size_t)nd * sizeof shape[0]);
  memcpy(strides, nb_strides(t), (size_t)nd * sizeof strides[0]);
  int64_t skip = len > 0 ? start * strides[dim] : 0;
  shape[dim] = len;
  strides[dim] *= step;
  return ops_view(t, nd, shape, strides, skip);
}

nb_tensor *idx_select_view(nb_tensor *t, int dim, int64_t i) {
  int nd = nb_ndim(t);
  int64_t shape[NB_MAX_DIMS], strides[NB_MAX_DIMS];
  for (int d = 0, k = 0; d < nd; d++) {
    if (d == dim) continue;
    shape[k] = nb_shape(t)[d];
    strides[k++] = nb_strides(t)[d];
  }
  return ops_view(t, nd - 1, shape, strides, i * nb_strides(t)[dim]);
}

int idx_check_range(const char *op, const nb_tensor *index, int dim, int64_t size) {
  nb_iter it;
  if (nb_iter_init(&it, 1, (nb_tensor *const[]){(nb_tensor *)index}) < 0) return nb_last_status();
  do {
    for (int64_t k = 0; k < it.n; k++) {
      int64_t v = *(const int64_t *)(it.ptr[0] + k * it.step[0]);
      if (v < 0 || v >= size)
        return nb_set_error(NB_EINVAL, "%s: index %lld is out of bounds for dim %d with size %lld",
                            op, (long long)v, dim, (long long)size);
    }
  } while (nb_iter_next(&it));
  return 0;
}

void idx_walk_pairs(const nb_tensor *index, int dim, const int64_t *astr, const int64_t *istr,
                    idx_pair_fn fn, void *user) {
  int nd = nb_ndim(index);
  const int64_t *shape = nb_shape(index), *xs = nb_strides(index);
  if (nb_numel(index) == 0) return;
  const int64_t *iv = nb_data(index);
  int64_t pos[NB_MAX_DIMS] = {0};
  int64_t a = 0, b = 0, x = 0; /* offsets in aligned, indexed (without dim), index */
  for (;;) {
    fn(a, b + iv[x] * istr[dim], user);
    int d = nd - 1;
    for (; d >= 0; d--) {
      if (++pos[d] < shape[d]) {
        a += astr[d];
        x += xs[d];
        if (d != dim) b += istr[d];
        break;
      }
      a -= (shape[d] - 1) * astr[d];
      x -= (shape[d] - 1) * xs[d];
      if (d != dim) b -= (shape[d] - 1) * istr[d];
      pos[d] = 0;
    }
    if (d < 0) break;
  }
}

typedef struct pair_job {
  char *dst;
  const char *src;
  size_t es;
  nb_dtype dt;
} pair_job;

static void add_f32(int64_t a, int64_t b, void *u) {
  pair_job *j = u;
  ((float *)j->dst)[b] += ((const float *)j->src)[a];
}
static void add_f64(int64_t a, int64_t b, void *u) {
  pair_job *j = u;
  ((double *)j->dst)[b] += ((const double *)j->src)[a];
}
static void copy_any(int64_t a, int64_t b, void *u) {
  pair_job *j = u;
  memcpy(j->dst + a * (int64_t)j->es, j->src + b * (int64_t)j->es, j->es);
}

void idx_scatter_add_into(nb_tensor *dst, int dim, const nb_tensor *index, const nb_tensor *src) {
  pair_job j = {nb_data(dst), nb_data(src), nb_dtype_size(nb_dtype_of(dst)), nb_dtype_of(dst)};
  idx_walk_pairs(index, dim, nb_strides(src), nb_strides(dst), j.dt == NB_F32 ? add_f32 : add_f64,
                 &j);
}

void idx_gather_into(nb_tensor *dst, int dim, const nb_tensor *index, const nb_tensor *src) {
  pair_job j = {nb_data(dst), nb_data(src), nb_dtype_size(nb_dtype_of(dst)), nb_dtype_of(dst)};
  idx_walk_pairs(index, dim, nb_strides(dst), nb_strides(src), copy_any, &j);
}

int idx_check_gather_shapes(const char *op, const nb_tensor *indexed, const nb_tensor *index,
                            const nb_tensor *aligned, int dim) {
  int nd = nb_ndim(indexed);
  bool ok = nb_ndim(index) == nd && (!aligned || nb_ndim(aligned) == nd);
  for (int d = 0; ok && d < nd; d++) {
    int64_t s = nb_shape(index)[d];
    if (aligned && s > nb_shape(aligned)[d]) ok = false;
    if (d != dim && s > nb_shape(indexed)[d]) ok = false;
  }
  if (ok) return 0;
  char a[192], x[192], s[192] = "";
  nb_shape_str(nd, nb_shape(indexed), a, sizeof a);
  nb_shape_str(nb_ndim(index), nb_shape(index), x, sizeof x);
  if (aligned) nb_shape_str(nb_ndim(aligned), nb_shape(aligned), s, sizeof s);
  return nb_set_error(NB_ESHAPE,
                      "%s: index of shape %s does not fit input %s%s%s along dim %d (same number "
                      "of dims, and no larger than the input in every other dim%s)",
                      op, x, a, aligned ? " and src " : "", s, dim,
                      aligned ? " or than src" : "");
}

int idx_add_sample(nb_sample_sink *sink, const char *desc, int n_in, nb_tensor *const *in,
                   int n_attrs, const nb_attr *attrs, unsigned flags) {
  for (int i = 0; i < n_in; i++)
    if (!in[i] && nb_last_status() < 0) return nb_last_status();
  return nb_sample_add(sink, desc, n_in, in, n_attrs, attrs, flags);
}

nb_tensor *idx_long(int ndim, const int64_t *shape, const int64_t *values) {
  return nb_from_data(values, ndim, shape, NB_I64);
}

nb_tensor *idx_rand(nb_sample_sink *sink, int ndim, const int64_t *shape) {
  return nb_rand_range(ndim, shape, -2, 2, NB_F64, nb_sample_generator(sink));
}

int idx_where_into(nb_tensor *out, nb_tensor *cond, nb_tensor *a, nb_tensor *b) {
  nb_dtype dt = nb_dtype_of(out);
  if (!a) a = nb_zeros(0, NULL, dt);
  if (!b) b = nb_zeros(0, NULL, dt);
  if (!a || !b) return nb_last_status();
  nb_iter it;
  if (nb_iter_init(&it, 4, (nb_tensor *const[]){out, cond, a, b}) < 0) return nb_last_status();
  size_t es = nb_dtype_size(dt);
  do {
    for (int64_t k = 0; k < it.n; k++) {
      bool c = *(const uint8_t *)(it.ptr[1] + k * it.step[1]);
      const char *s = c ? it.ptr[2] + k * it.step[2] : it.ptr[3] + k * it.step[3];
      char *d = it.ptr[0] + k * it.step[0];
      switch (es) { /* fixed sizes: the compiler turns these into plain moves */
      case 1: memcpy(d, s, 1); break;
      case 4: memcpy(d, s, 4); break;
      default: memcpy(d, s, 8); break;
      }
    }
  } while (nb_iter_next(&it));
  return 0;
}

nb_tensor *idx_mask(nb_sample_sink *sink, int ndim, const int64_t *shape) {
  nb_tensor *r = nb_rand(ndim, shape, NB_F64, nb_sample_generator(sink));
  if (!r) return NULL;
  double *v = nb_data(r);
  for (int64_t i = 0; i < nb_numel(r); i++) v[i] = v[i] < 0.5;
  return nb_convert(r, NB_BOOL);
}
