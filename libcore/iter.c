/* iter.c — broadcasting, strided iteration, and the two gradient helpers built on it
 * (nb_sum_to_shape, nb_axpy_into).
 *
 * nb_iter walks up to NB_ITER_MAX_OPS operands over op[0]'s shape: size-1 dimensions
 * are dropped, broadcast dimensions get byte stride 0, and neighbouring dimensions
 * that are contiguous for every operand are merged, so contiguous tensors are one run.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Slot in the private stride table where each operand's element size is kept (the
 * outer dimensions use at most NB_MAX_DIMS - 1 slots: the inner one is separate). */
#define ES_SLOT (NB_MAX_DIMS - 1)

/* ---- broadcasting ------------------------------------------------------------------ */

int nb_broadcast_shapes(const char *opname, int n, const nb_tensor *const *ts, int *out_ndim,
                        int64_t *out_shape) {
  const char *op = opname ? opname : "broadcast";
  if (n < 1 || !ts || !out_ndim || !out_shape)
    return nb_set_error(NB_EINVAL, "%s: nb_broadcast_shapes needs at least one tensor and outputs", op);
  int nd = 0;
  for (int i = 0; i < n; i++) {
    if (!ts[i])
      return nb_set_error(NB_EINVAL, "%s: tensor argument %d is NULL", op, i);
    if (ts[i]->ndim > nd)
      nd = ts[i]->ndim;
  }
  bool ok = true;
  for (int d = 0; d < nd; d++) { /* d counts from the right */
    int64_t size = 1;
    for (int i = 0; i < n; i++) {
      const nb_tensor *t = ts[i];
      if (d >= t->ndim)
        continue;
      int64_t s = t->shape[t->ndim - 1 - d];
      if (s == size || s == 1)
        continue;
      if (size == 1)
        size = s;
      else
        ok = false;
    }
    out_shape[nd - 1 - d] = size;
  }
  if (ok) {
    *out_ndim = nd;
    return 0;
  }
  char msg[512];
  size_t pos = 0;
  for (int i = 0; i < n && pos < sizeof msg; i++) {
    const char *sep = i == 0 ? "" : (i == n - 1 ? " and " : ", ");
    int w = snprintf(msg + pos, sizeof msg - pos, "%s%s", sep, nb_shape_of(ts[i]));
    if (w < 0)
      break;
    pos += (size_t)w;
  }
  return nb_set_error(NB_ESHAPE, "%s: shapes %s cannot be broadcast", op, msg);
}

/* ---- iteration ---------------------------------------------------------------------- */

int nb_iter_init(nb_iter *it, int nops, nb_tensor *const *ops) {
  if (!it || nops < 1 || nops > NB_ITER_MAX_OPS || !ops)
    return nb_set_error(NB_EINVAL, "nb_iter_init: between 1 and %d operands are required", NB_ITER_MAX_OPS);
  for (int i = 0; i < nops; i++)
    if (!ops[i])
      return nb_set_error(NB_EINVAL, "nb_iter_init: operand %d is NULL", i);
  const nb_tensor *o = ops[0];
  int nd = o->ndim;
  /* No memset of the whole struct (~500 bytes, on every kernel call): every field that
   * is read is set below. */
  it->nops = nops;

  /* Byte strides of every operand over the output's dims (size-1 dims dropped). */
  int64_t shape[NB_MAX_DIMS], str[NB_ITER_MAX_OPS][NB_MAX_DIMS];
  int k = 0;
  for (int i = 1; i < nops; i++) {
    const nb_tensor *t = ops[i];
    bool ok = true;
    for (int d = 0; d < t->ndim - nd; d++) /* extra leading dims must be 1 */
      ok = ok && t->shape[d] == 1;
    for (int d = 0; ok && d < nd && d < t->ndim; d++) {
      int64_t s = t->shape[t->ndim - 1 - d];
      ok = s == o->shape[nd - 1 - d] || s == 1;
    }
    if (!ok)
      return nb_set_error(NB_ESHAPE, "nb_iter_init: operand %d of shape %s cannot be broadcast to %s", i,
                          nb_shape_of(t), nb_shape_of(o));
  }
  for (int d = 0; d < nd; d++) {
    if (o->shape[d] == 1)
      continue;
    shape[k] = o->shape[d];
    for (int i = 0; i < nops; i++) {
      const nb_tensor *t = ops[i];
      int td = d - (nd - t->ndim);
      int64_t es = (int64_t)nb__dtype_size((nb_dtype)t->dtype);
      str[i][k] = (td < 0 || t->shape[td] == 1) ? 0 : t->strides[td] * es;
    }
    k++;
  }
  for (int i = 0; i < nops; i++) {
    it->base[i] = nb_data(ops[i]);
    it->ptr[i] = it->base[i];
  }
  if (o->numel == 0) {
    it->n = 0;
    it->ndim = 0;
    it->runs_left = 0;
    for (int i = 0; i < nops; i++)
      it->step[i] = it->strides[i][ES_SLOT] = (int64_t)nb__dtype_size((nb_dtype)ops[i]->dtype);
    return 0;
  }
  /* Coalesce: dim j-1 merges into j when every operand steps over j contiguously. */
  int m = 0; /* dims kept so far */
  for (int d = 0; d < k; d++) {
    if (m > 0) {
      bool merge = true;
      for (int i = 0; i < nops && merge; i++)
        merge = str[i][m - 1] == str[i][d] * shape[d];
      if (merge) {
        shape[m - 1] *= shape[d];
        for (int i = 0; i < nops; i++)
          str[i][m - 1] = str[i][d];
        continue;
      }
    }
    shape[m] = shape[d];
    for (int i = 0; i < nops; i++)
      str[i][m] = str[i][d];
    m++;
  }
  int64_t runs = 1;
  if (m == 0) { /* a single element */
    it->n = 1;
    for (int i = 0; i < nops; i++)
      it->step[i] = (int64_t)nb__dtype_size((nb_dtype)ops[i]->dtype);
  } else {
    it->n = shape[m - 1];
    for (int i = 0; i < nops; i++)
      it->step[i] = str[i][m - 1];
  }
  it->ndim = m > 0 ? m - 1 : 0;
  for (int d = 0; d < it->ndim; d++) {
    it->idx[d] = 0;
    it->shape[d] = shape[d];
    runs *= shape[d];
    for (int i = 0; i < nops; i++)
      it->strides[i][d] = str[i][d];
  }
  for (int i = 0; i < nops; i++)
    it->strides[i][ES_SLOT] = (int64_t)nb__dtype_size((nb_dtype)ops[i]->dtype);
  it->runs_left = runs - 1;
  return 0;
}

bool nb_iter_next(nb_iter *it) {
  if (it->runs_left <= 0)
    return false;
  it->runs_left--;
  for (int d = it->ndim - 1; d >= 0; d--) {
    if (++it->idx[d] < it->shape[d]) {
      for (int i = 0; i < it->nops; i++)
        it->ptr[i] += it->strides[i][d];
      return true;
    }
    it->idx[d] = 0;
    for (int i = 0; i < it->nops; i++)
      it->ptr[i] -= it->strides[i][d] * (it->shape[d] - 1);
  }
  return true; /* not reached while runs_left is consistent */
}

int64_t nb_iter_runs(const nb_iter *it) {
  if (it->n == 0)
    return 0;
  int64_t runs = 1;
  for (int d = 0; d < it->ndim; d++)
    runs *= it->shape[d];
  return runs;
}

void nb_iter_seek(nb_iter *it, int64_t run) {
  int64_t total = nb_iter_runs(it);
  if (run < 0)
    run = 0;
  for (int i = 0; i < it->nops; i++)
    it->ptr[i] = it->base[i];
  int64_t r = run;
  for (int d = it->ndim - 1; d >= 0; d--) {
    it->idx[d] = r % it->shape[d];
    r /= it->shape[d];
    for (int i = 0; i < it->nops; i++)
      it->ptr[i] += it->idx[d] * it->strides[i][d];
  }
  it->runs_left = total - run - 1;
}

bool nb_iter_is_flat(const nb_iter *it) {
  if (it->ndim != 0)
    return false;
  for (int i = 0; i < it->nops; i++)
    if (it->step[i] != it->strides[i][ES_SLOT])
      return false;
  return true;
}

/* ---- gradient helpers ------------------------------------------------------------------ */

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
#define NB_AXPY_GRAIN 32768

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
  if (dst->numel <= NB_AXPY_GRAIN && nb_same_shape(dst, src) && nb_is_contiguous(dst) &&
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
  if (nb_iter_is_flat(&it) && it.n > NB_AXPY_GRAIN) { /* elementwise: any split gives the same bits */
    axpy_job job = {it.ptr[0], it.ptr[1], alpha, dst->dtype};
    nb_parallel_for(it.n, NB_AXPY_GRAIN, axpy_flat, &job);
    __atomic_add_fetch(&dst->storage->version, 1, __ATOMIC_RELAXED);
    return 0;
  }
  do {
    axpy_run(it.ptr[0], it.step[0], it.ptr[1], it.step[1], it.n, alpha, dst->dtype);
  } while (nb_iter_next(&it));
  __atomic_add_fetch(&dst->storage->version, 1, __ATOMIC_RELAXED);
  return 0;
}
