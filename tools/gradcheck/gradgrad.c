/* tools/gradcheck/gradgrad.c — the second-order check (PyTorch's gradgradcheck) for ops
 * that declare a backward_graph.
 *
 * The first-order vector-Jacobian product G_i(x, w) = d<w, f(x)>/dx_i (w the sample's
 * fixed output weights) is itself a function of the inputs x and of w. With fixed random
 * weights u_i, S(x, w) = sum_i <u_i, G_i(x, w)>. Analytic: G recorded with
 * NB_CREATE_GRAPH (the op's backward_graph), then one backward of S to every x_i and w_j.
 * Numeric: central differences of S, with G from the plain backward (already checked
 * against finite differences of f), one pair per element of x and w. The recorded G must
 * also equal the plain one ("graph-value"), so backward_graph computes the same
 * gradient as backward.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"

#define GG_MAX_VARS (GC_MAX_IN + GC_MAX_OUT)

/* The variables S depends on: differentiable inputs, then output weights. */
typedef struct gg_vars {
  int n;
  bool is_w[GG_MAX_VARS];
  int index[GG_MAX_VARS]; /* input i or output j */
  int64_t numel[GG_MAX_VARS];
  nb_tensor *u[GC_MAX_IN]; /* weights of G_i */
} gg_vars;

static const char *var_name(const gc_case *c, const gg_vars *v, int k, char *buf, size_t n) {
  int i = v->index[k];
  if (v->is_w[k])
    snprintf(buf, n, "grad_output %d (%s)", i, i < c->d->n_outputs ? c->d->outputs[i].name : "?");
  else
    snprintf(buf, n, "input %d (%s)", i, i < c->d->n_inputs ? c->d->inputs[i].name : "?");
  return buf;
}

/* Inputs (element m of variable `pv` shifted by delta, pv < 0: none) and weights, the
 * differentiable ones requiring grad; forward; then G by nb_autograd_grad with `flags`.
 * g[i] receives G_i (NULL when input i is not differentiable or not reached). Scoped. */
static int eval_vjp(gc_case *c, const gg_vars *v, int pv, int64_t m, double delta, unsigned flags,
                    nb_tensor **in, nb_tensor **w, nb_tensor **g) {
  int pi = pv >= 0 && !v->is_w[pv] ? v->index[pv] : -1;
  int rc = gc_fresh_inputs(c, NB_F64, pi, m, delta, in);
  nb_tensor *leaves[GC_MAX_IN], *outs[GC_MAX_OUT], *ws[GC_MAX_OUT];
  int nl = 0, no = 0, li[GC_MAX_IN];
  for (int i = 0; !rc && i < c->n_in; i++)
    if (c->diff_in[i]) {
      rc = nb_set_requires_grad(in[i], true);
      leaves[nl] = in[i];
      li[nl++] = i;
    }
  for (int j = 0; !rc && j < c->n_out; j++) {
    w[j] = NULL;
    if (!c->diff_out[j]) continue;
    if (!(w[j] = nb_copy_data(c->w[j]))) return -1;
    if (pv >= 0 && v->is_w[pv] && v->index[pv] == j) ((double *)nb_data(w[j]))[m] += delta;
    if (flags & NB_CREATE_GRAPH) rc = nb_set_requires_grad(w[j], true);
  }
  nb_tensor *out[GC_MAX_OUT];
  if (!rc) rc = gc_forward(c, in, out);
  for (int j = 0; !rc && j < c->n_out; j++)
    if (c->diff_out[j] && nb_requires_grad(out[j])) outs[no] = out[j], ws[no++] = w[j];
  nb_tensor *res[GC_MAX_IN] = {0};
  if (!rc && no) rc = nb_autograd_grad(outs, ws, no, leaves, nl, res, flags, true);
  for (int i = 0; i < c->n_in; i++) g[i] = NULL;
  for (int k = 0; !rc && k < nl; k++) g[li[k]] = res[k];
  return rc;
}

/* S = sum_i <u_i, G_i>, in doubles (numeric side). */
static double s_value(const gc_case *c, const gg_vars *v, nb_tensor *const *g) {
  double s = 0;
  for (int i = 0; i < c->n_in; i++) {
    if (!g[i] || !v->u[i]) continue;
    double *a = gc_values(g[i]), *b = gc_values(v->u[i]);
    for (int64_t m = 0; a && b && m < c->in_numel[i]; m++) s += a[m] * b[m];
    free(a);
    free(b);
  }
  return s;
}

/* Recorded G against the plain one. */
static void value_check(gc_case *c, nb_tensor *const *gg, nb_tensor *const *gp) {
  for (int i = 0; i < c->n_in; i++) {
    if (!c->diff_in[i] || (!gg[i] && !gp[i])) continue;
    c->r->checks++;
    double *a = gg[i] ? gc_values(gg[i]) : calloc((size_t)c->in_numel[i] + 1, sizeof(double));
    double *b = gp[i] ? gc_values(gp[i]) : calloc((size_t)c->in_numel[i] + 1, sizeof(double));
    bool shape_ok = (!gg[i] || nb_numel(gg[i]) == c->in_numel[i]) && (!gp[i] || nb_numel(gp[i]) == c->in_numel[i]);
    cJSON *entries = NULL;
    double wa = 0, wr = 0;
    int64_t bad = a && b && shape_ok
                      ? gc_compare_values(a, b, c->in_numel[i], 1e-9, 1e-7, nb_ndim(c->base[i]),
                                          nb_shape(c->base[i]), c->o->max_entries, &entries, &wa, &wr)
                      : 1;
    if (bad)
      gc_fail(c->r, c->idx, "graph-value", -1, i, entries,
              "the gradient for input %d from backward_graph (NB_CREATE_GRAPH) differs from the "
              "plain backward's in %lld of %lld elements",
              i, (long long)bad, (long long)c->in_numel[i]);
    free(a);
    free(b);
  }
}

void gc_gradgrad_check(gc_case *c) {
  gg_vars v;
  memset(&v, 0, sizeof v);
  for (int i = 0; i < c->n_in; i++)
    if (c->diff_in[i]) v.is_w[v.n] = false, v.index[v.n] = i, v.numel[v.n++] = c->in_numel[i];
  for (int j = 0; j < c->n_out; j++)
    if (c->diff_out[j]) v.is_w[v.n] = true, v.index[v.n] = j, v.numel[v.n++] = c->out_numel[j];
  nb_scope_begin();
  nb_enable_grad_begin();
  nb_generator *gen = nb_generator_new(c->o->seed + 104729u * (uint64_t)(c->idx + 1));
  for (int i = 0; i < c->n_in; i++)
    if (c->diff_in[i]) v.u[i] = nb_rand_range(nb_ndim(c->base[i]), nb_shape(c->base[i]), -1, 1, NB_F64, gen);
  nb_generator_free(gen);

  /* analytic: S recorded, then its gradient to every variable */
  c->r->checks++;
  nb_tensor *in[GC_MAX_IN], *w[GC_MAX_OUT], *g[GC_MAX_IN], *gp[GC_MAX_IN];
  nb_tensor *pin[GC_MAX_IN], *pw[GC_MAX_OUT];
  double *ana[GG_MAX_VARS] = {0};
  if (eval_vjp(c, &v, -1, 0, 0, NB_CREATE_GRAPH, in, w, g) < 0) {
    gc_fail(c->r, c->idx, "gradgrad", -1, -1, NULL,
            "backward with NB_CREATE_GRAPH failed: %s", nb_last_error());
    goto done;
  }
  if (eval_vjp(c, &v, -1, 0, 0, 0, pin, pw, gp) == 0) value_check(c, g, gp);
  nb_tensor *s = NULL, *vars[GG_MAX_VARS], *res[GG_MAX_VARS] = {0};
  for (int i = 0; i < c->n_in; i++) {
    if (!g[i] || !nb_requires_grad(g[i])) continue;
    nb_tensor *t = nb_sum(nb_mul(g[i], v.u[i]));
    s = s ? nb_add(s, t) : t;
  }
  for (int k = 0; k < v.n; k++) {
    vars[k] = v.is_w[k] ? w[v.index[k]] : in[v.index[k]];
    if (!(ana[k] = calloc((size_t)v.numel[k] + 1, sizeof(double)))) goto done;
  }
  if (s && nb_autograd_grad(&s, NULL, 1, vars, v.n, res, 0, true) < 0) {
    gc_fail(c->r, c->idx, "gradgrad", -1, -1, NULL,
            "backward through the recorded gradient (double backward) failed: %s", nb_last_error());
    goto done;
  }
  for (int k = 0; k < v.n; k++)
    if (res[k] && nb_to_doubles(res[k], ana[k], v.numel[k]) < 0) goto done;

  /* numeric: central differences of S with the plain backward, compared per variable */
  double eps = c->o->eps;
  for (int k = 0; k < v.n; k++) {
    double *num = calloc((size_t)v.numel[k] + 1, sizeof(double));
    if (!num) goto done;
    for (int64_t m = 0; m < v.numel[k]; m++) {
      double sp = 0, sm = 0;
      nb_scope_begin();
      int rc = eval_vjp(c, &v, k, m, eps, 0, pin, pw, gp);
      if (!rc) sp = s_value(c, &v, gp);
      nb_scope_end();
      nb_scope_begin();
      if (!rc) rc = eval_vjp(c, &v, k, m, -eps, 0, pin, pw, gp);
      if (!rc) sm = s_value(c, &v, gp);
      nb_scope_end();
      if (rc) {
        char vn[96];
        gc_fail(c->r, c->idx, "gradgrad", -1, -1, NULL, "backward failed with %s perturbed: %s",
                var_name(c, &v, k, vn, sizeof vn), nb_last_error());
        free(num);
        goto done;
      }
      num[m] = (sp - sm) / (2 * eps);
    }
    cJSON *entries = NULL;
    int nd = v.is_w[k] ? c->out_ndim[v.index[k]] : nb_ndim(c->base[v.index[k]]);
    const int64_t *shape = v.is_w[k] ? c->out_shape[v.index[k]] : nb_shape(c->base[v.index[k]]);
    int64_t bad = gc_compare_values(ana[k], num, v.numel[k], c->o->atol, c->o->rtol, nd, shape,
                                    c->o->max_entries, &entries, &c->r->worst_abs, &c->r->worst_rel);
    if (bad) {
      char vn[96];
      gc_fail(c->r, c->idx, "gradgrad", -1, v.is_w[k] ? -1 : v.index[k], entries,
              "double backward: the derivative of the vector-Jacobian product with respect to %s "
              "differs from finite differences of the first-order backward in %lld of %lld "
              "elements (the op's backward_graph is wrong)",
              var_name(c, &v, k, vn, sizeof vn), (long long)bad, (long long)v.numel[k]);
    }
    free(num);
  }
done:
  for (int k = 0; k < GG_MAX_VARS; k++) free(ana[k]);
  nb_grad_mode_end();
  nb_scope_end();
}
