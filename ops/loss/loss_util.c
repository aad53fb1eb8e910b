/* ops/loss/loss_util.c — helpers shared by the loss operators (see loss_util.h). */
#include "loss_util.h"

#include <math.h>

typedef struct lb_job {
  loss_block_fn fn;
  void *user;
  double *partial;
  int64_t n;
} lb_job;

static void lb_run(int64_t b0, int64_t b1, void *u) {
  lb_job *j = u;
  for (int64_t b = b0; b < b1; b++) {
    int64_t i0 = b * LOSS_BLOCK, i1 = i0 + LOSS_BLOCK < j->n ? i0 + LOSS_BLOCK : j->n;
    double acc = 0;
    j->fn(i0, i1, j->user, &acc);
    j->partial[b] = acc;
  }
}

double loss_blocks(int64_t n, loss_block_fn fn, void *user) {
  if (n <= 0) return 0.0;
  int64_t nblk = (n + LOSS_BLOCK - 1) / LOSS_BLOCK;
  double one, *partial = nblk == 1 ? &one : nb_scratch(3, sizeof(double) * (size_t)nblk);
  if (partial == NULL) return NAN;
  lb_job j = {fn, user, partial, n};
  nb_parallel_for(nblk, 8, lb_run, &j);
  double s = 0;
  for (int64_t b = 0; b < nblk; b++) s += partial[b];
  return s;
}

nb_tensor *loss_expand(const char *op, nb_tensor *t, int nd, const int64_t *shape) {
  if (t == NULL) return NULL;
  bool same = nb_ndim(t) == nd;
  for (int d = 0; same && d < nd; d++) same = nb_shape(t)[d] == shape[d];
  if (same && nb_is_contiguous(t)) return t;
  nb_tensor *c = nb_empty(nd, shape, nb_dtype_of(t));
  if (c == NULL) return NULL;
  if (nb_copy_into(c, t) < 0) {
    char buf[128];
    nb_set_error(NB_ESHAPE, "%s: shape %s cannot be broadcast to %s", op, nb_shape_of(t),
                 nb_shape_str(nd, shape, buf, sizeof buf));
    return NULL;
  }
  return c;
}

int loss_same_dtype(const char *op, const nb_tensor *a, const char *aname, const nb_tensor *b,
                    const char *bname) {
  if (b == NULL || nb_dtype_of(a) == nb_dtype_of(b)) return 0;
  return nb_set_error(NB_EDTYPE, "%s: %s dtype %s does not match %s dtype %s", op, bname,
                      nb_dtype_name(nb_dtype_of(b)), aname, nb_dtype_name(nb_dtype_of(a)));
}

nb_tensor *loss_scalar(double total, double denom, int red, nb_dtype dt) {
  return nb_scalar(red == LOSS_MEAN ? total / denom : total, dt);
}

double loss_grad_scale(nb_tensor *grad_out, int red, double denom, nb_tensor **gvec) {
  *gvec = NULL;
  if (red == LOSS_NONE) {
    *gvec = nb_is_contiguous(grad_out) ? grad_out : nb_copy_data(grad_out);
    return 0;
  }
  double g = nb_item(grad_out);
  return red == LOSS_MEAN ? g / denom : g;
}

int loss_cls_setup(const char *op, const nb_tensor *input, const nb_tensor *target,
                   const nb_tensor *weight, int64_t ignore_index, loss_cls *g) {
  int nd = nb_ndim(input), td = nb_ndim(target);
  const int64_t *is = nb_shape(input), *ts = nb_shape(target);
  if (loss_same_dtype(op, input, "input", weight, "weight") < 0) return NB_EDTYPE;
  if (nd < 1)
    return nb_set_error(NB_ESHAPE, "%s: input must be (C) or (N, C, ...), got %s", op, nb_shape_of(input));
  bool ok = td == (nd == 1 ? 0 : nd - 1);
  for (int d = 0; ok && d < td; d++) ok = ts[d] == is[d == 0 ? 0 : d + 1];
  if (!ok)
    return nb_set_error(NB_ESHAPE, "%s: target %s does not fit input %s (expected the input's shape without dim 1)",
                        op, nb_shape_of(target), nb_shape_of(input));
  g->N = nd == 1 ? 1 : is[0];
  g->C = nd == 1 ? is[0] : is[1];
  g->S = 1;
  for (int d = 2; d < nd; d++) g->S *= is[d];
  g->npos = g->N * g->S;
  if (weight && (nb_ndim(weight) != 1 || nb_shape(weight)[0] != g->C))
    return nb_set_error(NB_ESHAPE, "%s: weight %s must have shape [%lld] (one per class) for input %s", op,
                        nb_shape_of(weight), (long long)g->C, nb_shape_of(input));
  const int64_t *t = nb_data(target);
  double ws = 0;
  for (int64_t p = 0; p < g->npos; p++) {
    if (t[p] == ignore_index) continue;
    if (t[p] < 0 || t[p] >= g->C)
      return nb_set_error(NB_EINVAL, "%s: target %lld at position %lld is out of bounds for %lld classes (input %s, target %s)",
                          op, (long long)t[p], (long long)p, (long long)g->C, nb_shape_of(input),
                          nb_shape_of(target));
    if (weight == NULL)
      ws += 1;
    else if (nb_dtype_of(weight) == NB_F32)
      ws += ((const float *)nb_data(weight))[t[p]];
    else
      ws += ((const double *)nb_data(weight))[t[p]];
  }
  g->wsum = ws;
  return 0;
}
