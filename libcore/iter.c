/* iter.c — broadcasting and strided iteration.
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
