/* accumulate.c — the engine's gradient arithmetic, built on the iterator:
 * nb_sum_to_shape, the one place where a gradient of a broadcast shape is summed back to
 * an input's shape, and nb_axpy_into, which adds gradients arriving on several paths and
 * accumulates them into a leaf's .grad.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

nb_tensor *nb_sum_to_shape(nb_tensor *grad, int ndim, const int64_t *shape) {
  if (!grad) {
    nb_set_error(NB_EINVAL, "sum_to_shape: gradient is NULL");
    return NULL;
  }
  /* The common case first: a shape equal to a tensor's is valid, so skip the checks. */
  bool same = grad->ndim == ndim && (shape || ndim == 0);
  for (int d = 0; same && d < ndim; d++)
    same = grad->shape[d] == shape[d];
  if (same)
    return grad;
  if (nb__check_shape("sum_to_shape", ndim, shape) < 0)
    return NULL;
  /* Align right; missing dims of either side count as size 1. */
  bool ok = true; /* extra leading grad dims are summed */
  for (int d = 0; ok && d < ndim; d++) {
    int gd = d - (ndim - grad->ndim);
    int64_t g = gd < 0 ? 1 : grad->shape[gd];
    ok = shape[d] == g || shape[d] == 1;
  }
  if (!ok) {
    nb_set_error(NB_ESHAPE, "sum_to_shape: gradient of shape %s cannot be summed to shape %s",
                 nb_shape_of(grad), nb_shape_str(ndim, shape, nb__tmpbuf(NULL), 256));
    return NULL;
  }
  if (!nb__is_floating((nb_dtype)grad->dtype)) {
    nb_set_error(NB_EDTYPE, "sum_to_shape: gradient dtype %s is not floating",
                 nb_dtype_name((nb_dtype)grad->dtype));
    return NULL;
  }
  nb_tensor *out = nb__tensor_new(ndim, shape, (nb_dtype)grad->dtype);
  if (!out)
    return NULL;
  /* Accumulate in double: a float64 view of scratch with stride 0 on summed dims. */
  double stackbuf[64];
  double *acc = out->numel <= 64 ? stackbuf : calloc((size_t)out->numel, sizeof *acc);
  if (!acc) {
    nb_release(out);
    nb_set_error(NB_ENOMEM, "sum_to_shape: out of memory");
    return NULL;
  }
  memset(acc, 0, (size_t)out->numel * sizeof *acc);
  nb_storage as = {.refcount = 1, .nbytes = (size_t)out->numel * sizeof(double), .data = acc};
  nb_tensor at;
  memset(&at, 0, sizeof at);
  at.refcount = 1;
  at.dtype = NB_F64;
  at.ndim = grad->ndim;
  at.numel = grad->numel;
  at.storage = &as;
  int lead = grad->ndim - ndim;
  for (int d = 0; d < grad->ndim; d++) {
    int od = d - lead;
    at.shape[d] = grad->shape[d];
    at.strides[d] = (od < 0 || shape[od] == 1) ? 0 : out->strides[od];
  }
  nb_iter it;
  if (nb_iter_init(&it, 2, (nb_tensor *[]){&at, grad}) == 0) {
    do {
      char *pa = it.ptr[0], *pg = it.ptr[1];
      if (grad->dtype == NB_F32)
        for (int64_t k = 0; k < it.n; k++)
          *(double *)(pa + k * it.step[0]) += *(const float *)(pg + k * it.step[1]);
      else
        for (int64_t k = 0; k < it.n; k++)
          *(double *)(pa + k * it.step[0]) += *(const double *)(pg + k * it.step[1]);
    } while (nb_iter_next(&it));
  }
  if (out->dtype == NB_F32) {
    float *po = out->storage->data;
    for (int64_t i = 0; i < out->numel; i++)
      po[i] = (float)acc[i];
  } else {
    memcpy(out->storage->data, acc, (size_t)out->numel * sizeof *acc);
  }
  if (acc != stackbuf)
    free(acc);
  return nb__scope_register(out);
}

typedef struct axpy_job {
  char *d;
  const char *s;
  double alpha;
  int dtype;
} axpy_job;

static void axpy_flat(int64_t b, int64_t e, void *user) {
  const axpy_job *j = user;
  if (j->dtype == NB_F32) {
    float a = (float)j->alpha, *d = (float *)j->d;
    const float *s = (const float *)j->s;
    for (int64_t k = b; k < e; k++)
      d[k] += a * s[k];
  } else {
    double *d = (double *)j->d;
    const double *s = (const double *)j->s;
    for (int64_t k = b; k < e; k++)
      d[k] += j->alpha * s[k];
  }
}

/* Contiguous runs at least this long are split over the core's threads. */

/* d += alpha * s over n elements with byte steps sd, ss. */
static void axpy_run(char *pd, int64_t sd, const char *ps, int64_t ss, int64_t n, double alpha,
                     uint8_t dtype) {
  if (dtype == NB_F32) {
    float a = (float)alpha;
    if (sd == 4 && ss == 4) {
      float *d = (float *)pd;
      const float *s = (const float *)ps;
      for (int64_t k = 0; k < n; k++)
        d[k] += a * s[k];
    } else {
      for (int64_t k = 0; k < n; k++)
        *(float *)(pd + k * sd) += a * *(const float *)(ps + k * ss);
    }
  } else {
    if (sd == 8 && ss == 8) {
      double *d = (double *)pd;
      const double *s = (const double *)ps;
      for (int64_t k = 0; k < n; k++)
        d[k] += alpha * s[k];
    } else {
      for (int64_t k = 0; k < n; k++)
        *(double *)(pd + k * sd) += alpha * *(const double *)(ps + k * ss);
    }
  }
}

int nb_axpy_into(nb_tensor *dst, double alpha, const nb_tensor *src) {
  if (!dst || !src)
    return nb_set_error(NB_EINVAL, "axpy_into: tensor argument is NULL");
  if (dst->dtype != src->dtype || !nb__is_floating((nb_dtype)dst->dtype))
    return nb_set_error(NB_EDTYPE, "axpy_into: dtypes %s and %s (need the same floating dtype)",
                        nb_dtype_name((nb_dtype)dst->dtype), nb_dtype_name((nb_dtype)src->dtype));
  int64_t es = (int64_t)nb__dtype_size((nb_dtype)dst->dtype);
  if (dst->numel <= NB_PARALLEL_GRAIN && nb_same_shape(dst, src) && nb_is_contiguous(dst) &&
      nb_is_contiguous(src)) { /* small and flat (gradient sums): no iterator */
    axpy_run(nb_data(dst), es, nb_data(src), es, dst->numel, alpha, dst->dtype);
    __atomic_add_fetch(&dst->storage->version, 1, __ATOMIC_RELAXED);
    return 0;
  }
  nb_iter it;
  if (nb_iter_init(&it, 2, (nb_tensor *[]){dst, (nb_tensor *)src}) < 0) {
    nb_error_prefix("axpy_into");
    return nb_last_status();
  }
  if (nb_iter_is_flat(&it) && it.n > NB_PARALLEL_GRAIN) { /* elementwise: any split gives the same bits */
    axpy_job job = {it.ptr[0], it.ptr[1], alpha, dst->dtype};
    nb_parallel_for(it.n, NB_PARALLEL_GRAIN, axpy_flat, &job);
    __atomic_add_fetch(&dst->storage->version, 1, __ATOMIC_RELAXED);
    return 0;
  }
  do {
    axpy_run(it.ptr[0], it.step[0], it.ptr[1], it.step[1], it.n, alpha, dst->dtype);
  } while (nb_iter_next(&it));
  __atomic_add_fetch(&dst->storage->version, 1, __ATOMIC_RELAXED);
  return 0;
}
