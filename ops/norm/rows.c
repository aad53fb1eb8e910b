/* ops/norm/rows.c — the (outer, R) row layout of a reduction over some dims (norm.h). */
#include "norm.h"
#include "../common/graph_util.h"

#include <string.h>

int rows_plan_init(const char *op, const nb_tensor *x, const nb_ints *dims, bool keepdim,
                   rows_plan *p) {
  memset(p, 0, sizeof *p);
  p->ndim = nb_ndim(x);
  memcpy(p->shape, nb_shape(x), (size_t)p->ndim * sizeof p->shape[0]);
  if (dims->n == 0)
    for (int d = 0; d < p->ndim; d++) p->red[d] = true;
  for (int i = 0; i < dims->n; i++) {
    int d = ops_wrap_dim(op, dims->v[i], p->ndim, p->shape, false);
    if (d < 0) return d;
    if (p->ndim == 0) continue; /* 0-d: dim 0 / -1 is the value itself */
    if (p->red[d])
      return nb_set_error(NB_EINVAL, "%s: dim %d appears twice in the dims of input of shape %s", op,
                          d, nb_shape_of(x));
    p->red[d] = true;
  }
  p->outer = 1, p->R = 1, p->trailing = true;
  bool seen_red = false;
  for (int d = 0; d < p->ndim; d++) {
    if (p->red[d]) {
      p->R *= p->shape[d];
      seen_red = true;
      if (keepdim) p->out_shape[p->out_ndim++] = 1;
    } else {
      p->outer *= p->shape[d];
      if (seen_red && p->shape[d] != 1) p->trailing = false;
      p->out_shape[p->out_ndim++] = p->shape[d];
    }
  }
  return 0;
}

/* Shape and strides of the permuted view of a contiguous tensor of the plan's shape:
 * kept dims in order, then reduced dims in order. */
static void permuted(const rows_plan *p, int64_t *shape, int64_t *strides) {
  int64_t st[NB_MAX_DIMS], s = 1;
  for (int d = p->ndim - 1; d >= 0; d--) st[d] = s, s *= p->shape[d];
  int k = 0;
  for (int pass = 0; pass < 2; pass++)
    for (int d = 0; d < p->ndim; d++)
      if (p->red[d] == (pass == 1)) shape[k] = p->shape[d], strides[k++] = st[d];
}

nb_tensor *rows_gather(nb_tensor *x, const rows_plan *p) {
  if (p->trailing) return ops_contig(x);
  nb_tensor *c = nb_copy_data(x); /* fresh: storage offset 0 */
  if (!c) return NULL;
  int64_t shape[NB_MAX_DIMS], strides[NB_MAX_DIMS];
  permuted(p, shape, strides);
  nb_tensor *v = nb_as_strided(c, p->ndim, shape, strides, 0);
  return v ? nb_copy_data(v) : NULL;
}

nb_tensor *rows_scatter(nb_tensor *rows, const rows_plan *p) {
  int64_t cst[NB_MAX_DIMS], s = 1;
  for (int d = p->ndim - 1; d >= 0; d--) cst[d] = s, s *= p->shape[d];
  if (p->trailing) return nb_as_strided(rows, p->ndim, p->shape, cst, 0);
  int64_t shape[NB_MAX_DIMS], strides[NB_MAX_DIMS], rst[NB_MAX_DIMS];
  permuted(p, shape, strides);
  s = 1;
  for (int d = p->ndim - 1; d >= 0; d--) rst[d] = s, s *= shape[d];
  nb_tensor *out = nb_empty(p->ndim, p->shape, nb_dtype_of(rows));
  nb_tensor *dst = out ? nb_as_strided(out, p->ndim, shape, strides, 0) : NULL;
  nb_tensor *src = dst ? nb_as_strided(rows, p->ndim, shape, rst, 0) : NULL;
  if (!src || nb_copy_into(dst, src) < 0) return NULL;
  return out;
}

int rows_graph_plan(const char *op, nb_tensor *x, const nb_ints *dims, rows_plan *p, int64_t *red,
                    nb_tensor *t, nb_tensor **kept) {
  if (rows_plan_init(op, x, dims, true, p) < 0) return nb_last_status();
  int n = 0;
  for (int d = 0; d < p->ndim; d++)
    if (p->red[d]) red[n++] = d;
  if (t && !(*kept = gu_reshape(t, p->out_ndim, p->out_shape))) return nb_last_status();
  return n;
}

nb_tensor *norm_graph_xhat(nb_tensor *x, int n, const int64_t *dims, double eps, nb_tensor **sd) {
  nb_tensor *mu = gu_reduce("mean", x, n, dims, true);
  nb_tensor *xc = mu ? NB_CALL("sub", x, mu) : NULL;
  nb_tensor *sq = xc ? NB_CALL("mul", xc, xc) : NULL;
  nb_tensor *var = sq ? gu_reduce("mean", sq, n, dims, true) : NULL;
  nb_tensor *ve = var ? gu_scalar("add", var, eps) : NULL;
  *sd = ve ? NB_CALL("sqrt", ve) : NULL;
  return *sd ? NB_CALL("div", xc, *sd) : NULL;
}

nb_tensor *norm_graph_dx(nb_tensor *h, nb_tensor *xh, nb_tensor *sd, int n, const int64_t *dims) {
  nb_tensor *mh = gu_reduce("mean", h, n, dims, true);
  nb_tensor *hx = mh ? NB_CALL("mul", h, xh) : NULL;
  nb_tensor *mhx = hx ? gu_reduce("mean", hx, n, dims, true) : NULL;
  nb_tensor *t = mhx ? NB_CALL("mul", xh, mhx) : NULL;
  nb_tensor *u = t ? NB_CALL("sub", h, mh) : NULL;
  nb_tensor *v = u ? NB_CALL("sub", u, t) : NULL;
  return v ? NB_CALL("div", v, sd) : NULL;
}
