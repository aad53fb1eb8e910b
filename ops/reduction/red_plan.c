/* ops/reduction/red_plan.c — dims parsing, output shapes and the reduction plan/walker
 * shared by every reduction in this plugin. */
#include <stdlib.h>

#include "reduce.h"

int red_dims_mask(const char *op, int ndim, const int64_t *shape, const nb_ints *dims,
                  uint32_t *mask) {
  uint32_t m = 0;
  if (dims->n == 0) {
    *mask = ndim > 0 ? (1u << ndim) - 1u : 0u;
    return 0;
  }
  for (int i = 0; i < dims->n; i++) {
    int d = ops_wrap_dim(op, dims->v[i], ndim, shape, false);
    if (d < 0) return d;
    if (m & (1u << d)) {
      char buf[128], sbuf[128];
      return nb_set_error(NB_EINVAL,
                          "%s: dim %d appears multiple times in the list of dims %s (input "
                          "shape %s)",
                          op, d, ops_ints_str(dims, buf, sizeof buf),
                          nb_shape_str(ndim, shape, sbuf, sizeof sbuf));
    }
    m |= 1u << d;
  }
  *mask = ndim > 0 ? m : 0u;
  return 0;
}

int red_out_shape(int ndim, const int64_t *shape, uint32_t mask, bool keepdim, int64_t *out) {
  int n = 0;
  for (int i = 0; i < ndim; i++) {
    if (mask & (1u << i)) {
      if (keepdim) out[n++] = 1;
    } else {
      out[n++] = shape[i];
    }
  }
  return n;
}

int64_t red_count(int ndim, const int64_t *shape, uint32_t mask) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    if (mask & (1u << i)) n *= shape[i];
  return n;
}

static int64_t iabs64(int64_t v) { return v < 0 ? -v : v; }

void red_plan_init(red_plan *p, int ndim, const int64_t *shape, const int64_t *strides,
                   uint32_t mask) {
  p->nk = p->nr = 0;
  p->nout = p->nred = 1;
  for (int i = 0; i < ndim; i++) {
    bool red = (mask >> i) & 1u;
    if (red)
      p->nred *= shape[i];
    else
      p->nout *= shape[i];
    if (shape[i] == 1) continue; /* contributes nothing to either group */
    if (red) {
      p->rsize[p->nr] = shape[i];
      p->rstride[p->nr++] = strides[i];
    } else {
      /* coalesce with the previous kept dim when it continues it in memory */
      if (p->nk > 0 && p->kstride[p->nk - 1] == strides[i] * shape[i]) {
        p->ksize[p->nk - 1] *= shape[i];
        p->kstride[p->nk - 1] = strides[i];
      } else {
        p->ksize[p->nk] = shape[i];
        p->kstride[p->nk++] = strides[i];
      }
    }
  }
  /* reduced dims: order does not change the set of elements; sort outermost (largest
   * stride) first so the innermost run has the smallest stride, then coalesce */
  for (int i = 1; i < p->nr; i++) {
    int64_t s = p->rsize[i], st = p->rstride[i];
    int j = i;
    while (j > 0 && iabs64(p->rstride[j - 1]) < iabs64(st)) {
      p->rsize[j] = p->rsize[j - 1];
      p->rstride[j] = p->rstride[j - 1];
      j--;
    }
    p->rsize[j] = s;
    p->rstride[j] = st;
  }
  int nr = 0;
  for (int i = 0; i < p->nr; i++) {
    if (nr > 0 && p->rstride[nr - 1] == p->rstride[i] * p->rsize[i]) {
      p->rsize[nr - 1] *= p->rsize[i];
      p->rstride[nr - 1] = p->rstride[i];
    } else {
      p->rsize[nr] = p->rsize[i];
      p->rstride[nr++] = p->rstride[i];
    }
  }
  p->nr = nr;
  p->real_reduce = nr > 0;
  if (p->nr == 0) { /* nothing reduced: one element per output */
    p->rsize[0] = 1;
    p->rstride[0] = 0;
    p->nr = 1;
  }
}

int64_t red_kept_offset(const red_plan *p, int64_t o) {
  int64_t off = 0;
  for (int i = p->nk - 1; i >= 0 && o > 0; i--) {
    off += (o % p->ksize[i]) * p->kstride[i];
    o /= p->ksize[i];
  }
  return off;
}

bool red_outer_mode(const red_plan *p) {
  if (p->nk == 0) return false;
  if (!p->real_reduce) return true;
  return iabs64(p->kstride[p->nk - 1]) < iabs64(p->rstride[p->nr - 1]);
}

void red_walk(const red_plan *p, const char *base, size_t esize, int64_t start, int64_t count,
              red_run_fn fn, void *acc) {
  int nr = p->nr;
  int64_t idx[NB_MAX_DIMS];
  int64_t off = 0, rem = start;
  for (int i = nr - 1; i >= 0; i--) {
    idx[i] = rem % p->rsize[i];
    rem /= p->rsize[i];
    off += idx[i] * p->rstride[i];
  }
  int64_t inner = p->rsize[nr - 1], step = p->rstride[nr - 1];
  while (count > 0) {
    int64_t n = inner - idx[nr - 1];
    if (n > count) n = count;
    fn(base + off * (int64_t)esize, n, step, acc);
    count -= n;
    if (count == 0) break;
    /* advance the odometer past this run */
    off += (n - 1) * step; /* now at the last element of the run */
    idx[nr - 1] += n - 1;
    int i = nr - 1;
    for (;;) {
      if (idx[i] + 1 < p->rsize[i]) {
        idx[i]++;
        off += p->rstride[i];
        break;
      }
      off -= idx[i] * p->rstride[i];
      idx[i] = 0;
      i--;
      if (i < 0) return; /* walked past the end (count was too large) */
    }
  }
}
