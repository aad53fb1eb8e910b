/* gradients.c — torch.autograd.functional for C: vjp, jvp, hvp, jacobian and hessian of
 * a function given as a callback, built on nb_autograd_grad (jvp and hvp through double
 * backward with NB_CREATE_GRAPH).
 *
 * The function sees fresh leaves that require grad (detached from the caller's inputs,
 * sharing their memory), so its graph ends at them; with NB_CREATE_GRAPH an input that
 * already requires grad is passed as it is, and the results stay connected to it.
 */
#include <stdlib.h>
#include <string.h>

#include "nabla/nabla.h"

/* The function's view of the inputs. */
static int prepare(const char *what, int n, nb_tensor *const *inputs, unsigned flags,
                   nb_tensor **x) {
  if (n <= 0 || n > 64 || !inputs)
    return nb_set_error(NB_EINVAL, "%s: between 1 and 64 inputs are needed, got %d", what, n);
  for (int i = 0; i < n; i++) {
    if (!inputs[i]) return nb_set_error(NB_EINVAL, "%s: input %d is NULL", what, i);
    if (!nb_dtype_is_floating(nb_dtype_of(inputs[i])))
      return nb_set_error(NB_EDTYPE, "%s: input %d has dtype %s; a floating dtype is needed", what,
                          i, nb_dtype_name(nb_dtype_of(inputs[i])));
    if ((flags & NB_CREATE_GRAPH) && nb_requires_grad(inputs[i])) {
      x[i] = inputs[i];
    } else {
      x[i] = nb_detach(inputs[i]);
      if (!x[i] || nb_set_requires_grad(x[i], true) < 0) return nb_last_status();
    }
  }
  return NB_OK;
}

/* out = f(x), checked. */
static nb_tensor *call(const char *what, nb_func f, void *user, nb_tensor *const *x) {
  if (!f) {
    nb_set_error(NB_EINVAL, "%s: function is NULL", what);
    return NULL;
  }
  nb_tensor *out = f(x, user);
  if (!out && nb_last_status() == NB_OK) nb_set_error(NB_EINVAL, "%s: the function returned NULL", what);
  return out;
}

/* Missing gradients (an input the output does not depend on) as zeros of its shape. */
static int fill_zeros(int n, nb_tensor *const *like, nb_tensor **g) {
  for (int i = 0; i < n; i++)
    if (!g[i] && !(g[i] = nb_zeros_like(like[i]))) return nb_last_status();
  return NB_OK;
}

/* Needs a graph: an output that does not depend on any input has zero derivatives. */
static bool differentiable(nb_tensor *t) { return t && nb_requires_grad(t); }

int nb_vjp(nb_func f, void *user, int n, nb_tensor *const *inputs, nb_tensor *v, unsigned flags,
           nb_tensor **out, nb_tensor **vjp) {
  nb_tensor *x[64];
  int rc = prepare("nb_vjp", n, inputs, flags, x);
  if (rc < 0) return rc;
  nb_tensor *y = call("nb_vjp", f, user, x);
  if (!y) return nb_last_status();
  for (int i = 0; i < n; i++) vjp[i] = NULL;
  if (differentiable(y)) {
    rc = nb_autograd_grad(&y, v ? &v : NULL, 1, x, n, vjp, flags & NB_CREATE_GRAPH, true);
    if (rc < 0) return rc;
  }
  if (out) *out = y;
  return fill_zeros(n, x, vjp);
}

int nb_jvp(nb_func f, void *user, int n, nb_tensor *const *inputs, nb_tensor *const *v,
           unsigned flags, nb_tensor **out, nb_tensor **jvp) {
  nb_tensor *x[64], *g[64];
  int rc = prepare("nb_jvp", n, inputs, flags, x);
  if (rc < 0) return rc;
  if (!v) return nb_set_error(NB_EINVAL, "nb_jvp: the tangents v are NULL");
  nb_tensor *y = call("nb_jvp", f, user, x);
  if (!y) return nb_last_status();
  *jvp = NULL;
  if (differentiable(y)) {
    /* g(u) = Jᵀu is linear in a dummy u; its vector-Jacobian product with v is J v. */
    nb_tensor *u = nb_zeros_like(y);
    if (!u || nb_set_requires_grad(u, true) < 0) return nb_last_status();
    rc = nb_autograd_grad(&y, &u, 1, x, n, g, NB_CREATE_GRAPH, true);
    if (rc < 0) return rc;
    nb_tensor *gs[64], *vs[64];
    int m = 0;
    for (int i = 0; i < n; i++)
      if (differentiable(g[i])) gs[m] = g[i], vs[m++] = v[i];
    if (m) {
      rc = nb_autograd_grad(gs, vs, m, &u, 1, jvp, flags & NB_CREATE_GRAPH, true);
      if (rc < 0) return rc;
    }
  }
  if (out) *out = y;
  return fill_zeros(1, &y, jvp);
}

int nb_hvp(nb_func f, void *user, int n, nb_tensor *const *inputs, nb_tensor *const *v,
           unsigned flags, nb_tensor **out, nb_tensor **hvp) {
  nb_tensor *x[64], *g[64];
  int rc = prepare("nb_hvp", n, inputs, flags, x);
  if (rc < 0) return rc;
  if (!v) return nb_set_error(NB_EINVAL, "nb_hvp: the vectors v are NULL");
  nb_tensor *y = call("nb_hvp", f, user, x);
  if (!y) return nb_last_status();
  if (nb_numel(y) != 1)
    return nb_set_error(NB_EINVAL, "nb_hvp: the function must return one element, got shape %s",
                        nb_shape_of(y));
  for (int i = 0; i < n; i++) hvp[i] = NULL;
  if (differentiable(y)) {
    rc = nb_autograd_grad(&y, NULL, 1, x, n, g, NB_CREATE_GRAPH, true);
    if (rc < 0) return rc;
    nb_tensor *gs[64], *vs[64];
    int m = 0;
    for (int i = 0; i < n; i++)
      if (differentiable(g[i])) gs[m] = g[i], vs[m++] = v[i];
    if (m) {
      rc = nb_autograd_grad(gs, vs, m, x, n, hvp, flags & NB_CREATE_GRAPH, true);
      if (rc < 0) return rc;
    }
  }
  if (out) *out = y;
  return fill_zeros(n, x, hvp);
}

/* Rows of d ys[k] / d x_i for every element of every ys[k] into blocks[k * n + i] of shape
 * ys[k].shape + x_i.shape (one backward per element, the graph retained). */
static int jacobian_rows(const char *what, int ny, nb_tensor *const *ys, int n, nb_tensor *const *x,
                         nb_tensor **blocks) {
  for (int k = 0; k < ny; k++) {
    for (int i = 0; i < n; i++) {
      int nd = nb_ndim(ys[k]) + nb_ndim(x[i]);
      if (nd > NB_MAX_DIMS)
        return nb_set_error(NB_ESHAPE, "%s: block %d,%d would have %d dims (at most %d): shapes %s and %s",
                            what, k, i, nd, NB_MAX_DIMS, nb_shape_of(ys[k]), nb_shape_of(x[i]));
      int64_t shape[NB_MAX_DIMS];
      memcpy(shape, nb_shape(ys[k]), sizeof(int64_t) * (size_t)nb_ndim(ys[k]));
      memcpy(shape + nb_ndim(ys[k]), nb_shape(x[i]), sizeof(int64_t) * (size_t)nb_ndim(x[i]));
      if (!(blocks[k * n + i] = nb_zeros(nd, shape, nb_dtype_of(x[i])))) return nb_last_status();
    }
    if (!differentiable(ys[k])) continue;
    for (int64_t e = 0; e < nb_numel(ys[k]); e++) {
      int depth = nb_scope_begin();
      if (depth < 0) return depth;
      nb_tensor *onehot = nb_zeros_like(ys[k]), *row[64];
      int rc = onehot ? NB_OK : nb_last_status();
      if (rc >= 0 && nb_dtype_of(onehot) == NB_F64)
        ((double *)nb_data(onehot))[e] = 1;
      else if (rc >= 0)
        ((float *)nb_data(onehot))[e] = 1;
      if (rc >= 0) rc = nb_autograd_grad(&ys[k], &onehot, 1, x, n, row, NB_RETAIN_GRAPH, true);
      for (int i = 0; rc >= 0 && i < n; i++) {
        if (!row[i]) continue;
        nb_tensor *b = blocks[k * n + i];
        int64_t len = nb_numel(x[i]);
        nb_tensor *dst = nb_as_strided(b, 1, &len, (int64_t[]){1}, e * len);
        nb_tensor *src = dst ? nb_reshape(nb_contiguous(row[i]), 1, &len) : NULL;
        rc = src ? nb_copy_into(dst, src) : nb_last_status();
      }
      nb_scope_end();
      if (rc < 0) return rc;
    }
  }
  return NB_OK;
}

int nb_jacobian(nb_func f, void *user, int n, nb_tensor *const *inputs, nb_tensor **jac) {
  nb_tensor *x[64];
  int rc = prepare("nb_jacobian", n, inputs, 0, x);
  if (rc < 0) return rc;
  nb_tensor *y = call("nb_jacobian", f, user, x);
  if (!y) return nb_last_status();
  return jacobian_rows("nb_jacobian", 1, &y, n, x, jac);
}

int nb_hessian(nb_func f, void *user, int n, nb_tensor *const *inputs, nb_tensor **hess) {
  nb_tensor *x[64], *g[64];
  int rc = prepare("nb_hessian", n, inputs, 0, x);
  if (rc < 0) return rc;
  nb_tensor *y = call("nb_hessian", f, user, x);
  if (!y) return nb_last_status();
  if (nb_numel(y) != 1)
    return nb_set_error(NB_EINVAL, "nb_hessian: the function must return one element, got shape %s",
                        nb_shape_of(y));
  for (int i = 0; i < n; i++) g[i] = NULL;
  if (differentiable(y) && (rc = nb_autograd_grad(&y, NULL, 1, x, n, g, NB_CREATE_GRAPH, true)) < 0)
    return rc;
  if ((rc = fill_zeros(n, x, g)) < 0) return rc;
  return jacobian_rows("nb_hessian", n, g, n, x, hess);
}
