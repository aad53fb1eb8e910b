/* tools/gradcheck/jacobian.c — evaluating an op on sample inputs, and its Jacobians.
 *
 * Numeric: central differences, (f(x + eps e_m) - f(x - eps e_m)) / 2 eps, one pair of
 * forwards (under no-grad, on fresh copies of every input) per input element.
 * Analytic: one backward per output element with a one-hot output gradient
 * (nb_autograd_grad with NB_RETAIN_GRAPH over one recorded graph), run twice to check
 * the second pass is bit-identical, then once more with a zero output gradient.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"

static const char *in_name(const gc_case *c, int i) {
  return i < c->d->n_inputs && c->d->inputs[i].name ? c->d->inputs[i].name : "?";
}
static const char *out_name(const gc_case *c, int j) {
  return j < c->d->n_outputs && c->d->outputs[j].name ? c->d->outputs[j].name : "?";
}

void gc_jac_free(gc_jac *J) {
  for (int j = 0; j < GC_MAX_OUT; j++)
    for (int i = 0; i < GC_MAX_IN; i++) {
      free(J->blk[j][i]);
      J->blk[j][i] = NULL;
    }
}

static int alloc_blocks(const gc_case *c, gc_jac *J) {
  memset(J, 0, sizeof *J);
  for (int j = 0; j < c->n_out; j++)
    for (int i = 0; i < c->n_in; i++)
      if (c->diff_out[j] && c->diff_in[i]) {
        size_t n = (size_t)(c->out_numel[j] * c->in_numel[i]);
        J->blk[j][i] = calloc(n ? n : 1, sizeof(double));
        if (!J->blk[j][i]) return -1;
      }
  return 0;
}

int gc_forward(const gc_case *c, nb_tensor *const *in, nb_tensor **out) {
  if (c->d->flags & NB_OP_RANDOM) nb_manual_seed(NULL, c->o->seed);
  for (int j = 0; j < c->n_out; j++) out[j] = NULL;
  return nb_op_call(c->op, c->n_in, in, c->n_attrs, c->attrs, c->n_out, out);
}

int gc_fresh_inputs(const gc_case *c, nb_dtype dt, int pi, int64_t m, double delta, nb_tensor **in) {
  for (int i = 0; i < c->n_in; i++) {
    in[i] = NULL;
    if (!c->base[i]) continue;
    bool fl = nb_dtype_is_floating(nb_dtype_of(c->base[i]));
    in[i] = fl ? nb_convert(c->base[i], dt) : nb_copy_data(c->base[i]);
    if (!in[i]) return nb_last_status();
    if (i == pi) {
      if (dt == NB_F64)
        ((double *)nb_data(in[i]))[m] += delta;
      else
        ((float *)nb_data(in[i]))[m] += (float)delta;
    }
  }
  return 0;
}

double *gc_values(const nb_tensor *t) {
  int64_t n = nb_numel(t);
  double *v = malloc((size_t)(n ? n : 1) * sizeof(double));
  if (v && nb_to_doubles(t, v, n) < 0) {
    free(v);
    return NULL;
  }
  return v;
}

const char *gc_index_str(int ndim, const int64_t *shape, int64_t m, char *buf, size_t n) {
  int64_t idx[NB_MAX_DIMS];
  for (int k = ndim - 1; k >= 0; k--) {
    idx[k] = shape[k] ? m % shape[k] : 0;
    m = shape[k] ? m / shape[k] : 0;
  }
  return nb_shape_str(ndim, idx, buf, n);
}

static void worst(double a, double b, double atol, double *wabs, double *wrel) {
  double d = fabs(a - b);
  if (a == b) d = 0; /* equal infinities */
  if (isnan(d)) d = INFINITY;
  double rel = d / fmax(fabs(b), atol > 0 ? atol : 1e-300);
  if (d > *wabs) *wabs = d;
  if (rel > *wrel) *wrel = rel;
}

static bool close_enough(double a, double b, double atol, double rtol) {
  return a == b || fabs(a - b) <= atol + rtol * fabs(b);
}

int64_t gc_compare_values(const double *a, const double *b, int64_t n, double atol, double rtol,
                          int ndim, const int64_t *shape, int max, cJSON **entries, double *wabs,
                          double *wrel) {
  int64_t bad = 0;
  for (int64_t m = 0; m < n; m++) {
    worst(a[m], b[m], atol, wabs, wrel);
    if (close_enough(a[m], b[m], atol, rtol)) continue;
    if (bad++ < max && entries) {
      if (!*entries) *entries = cJSON_CreateArray();
      char ib[128];
      cJSON *e = cJSON_CreateObject();
      cJSON_AddStringToObject(e, "index", gc_index_str(ndim, shape, m, ib, sizeof ib));
      gc_json_num(e, "got", a[m]);
      gc_json_num(e, "expected", b[m]);
      cJSON_AddItemToArray(*entries, e);
    }
  }
  return bad;
}

/* ---- numeric -------------------------------------------------------------------------- */

static int eval_perturbed(gc_case *c, int pi, int64_t m, double delta, double **y) {
  nb_scope_begin();
  nb_no_grad_begin();
  nb_tensor *in[GC_MAX_IN], *out[GC_MAX_OUT];
  int rc = gc_fresh_inputs(c, NB_F64, pi, m, delta, in);
  if (!rc) rc = gc_forward(c, in, out);
  for (int j = 0; j < c->n_out && !rc; j++) {
    if (!c->diff_out[j]) continue;
    if (!out[j] || nb_numel(out[j]) != c->out_numel[j])
      rc = nb_set_error(NB_ESHAPE, "output %d changed shape when input %d was perturbed", j, pi);
    else if (!(y[j] = gc_values(out[j])))
      rc = nb_last_status();
  }
  nb_grad_mode_end();
  nb_scope_end();
  return rc;
}

int gc_numeric_jacobian(gc_case *c, gc_jac *N) {
  if (alloc_blocks(c, N) < 0) return -1;
  double eps = c->o->eps;
  for (int i = 0; i < c->n_in; i++) {
    if (!c->diff_in[i]) continue;
    for (int64_t m = 0; m < c->in_numel[i]; m++) {
      double *yp[GC_MAX_OUT] = {0}, *ym[GC_MAX_OUT] = {0};
      int rc = eval_perturbed(c, i, m, eps, yp);
      if (!rc) rc = eval_perturbed(c, i, m, -eps, ym);
      if (rc) {
        gc_fail(c->r, c->idx, "forward", -1, i, NULL, "forward failed with input %d (%s) perturbed: %s",
                i, in_name(c, i), nb_last_error());
      }
      for (int j = 0; j < c->n_out; j++) {
        if (!rc && c->diff_out[j])
          for (int64_t k = 0; k < c->out_numel[j]; k++)
            N->blk[j][i][k * c->in_numel[i] + m] = (yp[j][k] - ym[j][k]) / (2 * eps);
        free(yp[j]);
        free(ym[j]);
      }
      if (rc) return -1;
    }
  }
  return 0;
}

/* ---- analytic ------------------------------------------------------------------------- */

/* Check a gradient's shape and dtype against input i; copy its values into dst. */
static int take_grad(gc_case *c, const char *check, int j, int i, nb_tensor *g, double *dst) {
  if (!g) { /* not reached: zeros */
    memset(dst, 0, (size_t)c->in_numel[i] * sizeof(double));
    return 0;
  }
  const nb_tensor *x = c->base[i];
  if (!nb_same_shape(g, x) || nb_dtype_of(g) != nb_dtype_of(x)) {
    gc_fail(c->r, c->idx, check, j, i, NULL,
            "gradient for input %d (%s) has shape %s and dtype %s, expected shape %s and dtype %s%s", i,
            in_name(c, i), nb_shape_of(g), nb_dtype_name(nb_dtype_of(g)), nb_shape_of(x),
            nb_dtype_name(nb_dtype_of(x)),
            (c->flags & NB_SAMPLE_BROADCAST) ? " (broadcasting sample: broadcast dimensions must be summed back)" : "");
    return -1;
  }
  return nb_to_doubles(g, dst, c->in_numel[i]) < 0 ? -1 : 0;
}

/* One full analytic pass over the recorded graph into A. */
static int analytic_pass(gc_case *c, nb_tensor **out, nb_tensor **leaf, const int *li, int nl,
                         const char *check, gc_jac *A) {
  for (int j = 0; j < c->n_out; j++) {
    if (!c->diff_out[j]) continue;
    for (int64_t k = 0; k < c->out_numel[j]; k++) {
      nb_scope_begin();
      nb_tensor *onehot = nb_zeros(c->out_ndim[j], c->out_shape[j], nb_dtype_of(out[j]));
      nb_tensor *res[GC_MAX_IN] = {0};
      int rc = onehot ? 0 : -1;
      if (!rc) {
        if (nb_dtype_of(onehot) == NB_F64)
          ((double *)nb_data(onehot))[k] = 1;
        else
          ((float *)nb_data(onehot))[k] = 1;
        rc = nb_autograd_grad(&out[j], &onehot, 1, leaf, nl, res, NB_RETAIN_GRAPH, true);
      }
      if (rc < 0) {
        char ib[128];
        gc_fail(c->r, c->idx, check, j, -1, NULL, "backward failed for output %d (%s) element %s: %s", j,
                out_name(c, j), gc_index_str(c->out_ndim[j], c->out_shape[j], k, ib, sizeof ib),
                nb_last_error());
      }
      for (int l = 0; l < nl && !rc; l++) {
        int i = li[l];
        double *row = malloc((size_t)(c->in_numel[i] ? c->in_numel[i] : 1) * sizeof(double));
        rc = row ? take_grad(c, check, j, i, res[l], row) : -1;
        if (!rc) memcpy(A->blk[j][i] + k * c->in_numel[i], row, (size_t)c->in_numel[i] * sizeof(double));
        free(row);
      }
      nb_scope_end();
      if (rc < 0) return -1;
    }
  }
  return 0;
}

/* Zero output gradients must give zero input gradients of the right shape and dtype. */
static void zero_grad_check(gc_case *c, nb_tensor **out, nb_tensor **leaf, const int *li, int nl) {
  nb_scope_begin();
  nb_tensor *roots[GC_MAX_OUT], *zeros[GC_MAX_OUT], *res[GC_MAX_IN] = {0};
  int nr = 0;
  for (int j = 0; j < c->n_out; j++)
    if (c->diff_out[j]) {
      roots[nr] = out[j];
      zeros[nr++] = nb_zeros(c->out_ndim[j], c->out_shape[j], nb_dtype_of(out[j]));
    }
  c->r->checks++;
  if (nb_autograd_grad(roots, zeros, nr, leaf, nl, res, NB_RETAIN_GRAPH, true) < 0) {
    gc_fail(c->r, c->idx, "zero-grad", -1, -1, NULL, "backward with zero output gradients failed: %s",
            nb_last_error());
  } else {
    for (int l = 0; l < nl; l++) {
      int i = li[l];
      double *v = malloc((size_t)(c->in_numel[i] ? c->in_numel[i] : 1) * sizeof(double));
      if (v && take_grad(c, "zero-grad", -1, i, res[l], v) == 0) {
        for (int64_t m = 0; m < c->in_numel[i]; m++)
          if (v[m] != 0) {
            char ib[128];
            gc_fail(c->r, c->idx, "zero-grad", -1, i, NULL,
                    "zero output gradients gave a non-zero gradient for input %d (%s): %s = %g", i,
                    in_name(c, i), gc_index_str(nb_ndim(c->base[i]), nb_shape(c->base[i]), m, ib, sizeof ib),
                    v[m]);
            break;
          }
      }
      free(v);
    }
  }
  nb_scope_end();
}

static int first_difference(const gc_case *c, const gc_jac *A, const gc_jac *B, int *jj, int *ii, int64_t *kk) {
  for (int j = 0; j < c->n_out; j++)
    for (int i = 0; i < c->n_in; i++)
      if (A->blk[j][i]) {
        int64_t n = c->out_numel[j] * c->in_numel[i];
        for (int64_t k = 0; k < n; k++)
          if (memcmp(&A->blk[j][i][k], &B->blk[j][i][k], sizeof(double)) != 0) {
            *jj = j, *ii = i, *kk = k;
            return 1;
          }
      }
  return 0;
}

int gc_analytic_jacobian(gc_case *c, gc_jac *A) {
  gc_jac B;
  if (alloc_blocks(c, A) < 0 || alloc_blocks(c, &B) < 0) return -1;
  nb_scope_begin();
  nb_enable_grad_begin();
  nb_tensor *in[GC_MAX_IN], *leaf[GC_MAX_IN], *out[GC_MAX_OUT];
  int li[GC_MAX_IN], nl = 0, rc = gc_fresh_inputs(c, NB_F64, -1, 0, 0, in);
  for (int i = 0; i < c->n_in && !rc; i++) {
    if (!c->diff_in[i]) continue;
    if (nb_set_requires_grad(in[i], true) < 0) {
      rc = -1;
      break;
    }
    leaf[nl] = in[i];
    li[nl++] = i;
    /* An in-place op may not write into a leaf that requires grad: give it a clone. */
    if (i == 0 && (c->d->flags & NB_OP_INPLACE) && !(in[0] = nb_clone(in[0]))) rc = -1;
  }
  if (rc) {
    gc_fail(c->r, c->idx, "setup", -1, -1, NULL, "cannot prepare leaves: %s", nb_last_error());
    goto done;
  }
  c->r->checks++;
  if (gc_forward(c, in, out) < 0) {
    gc_fail(c->r, c->idx, "forward", -1, -1, NULL, "forward with inputs requiring grad failed: %s",
            nb_last_error());
    rc = -1;
    goto done;
  }
  for (int j = 0; j < c->n_out && !rc; j++)
    if (c->diff_out[j] && (!nb_requires_grad(out[j]) || !nb_grad_fn(out[j]))) {
      gc_fail(c->r, c->idx, "record", j, -1, NULL,
              "output %d (%s) has no grad_fn although inputs require grad (dispatch did not record)", j,
              out_name(c, j));
      rc = -1;
    }
  c->r->checks++;
  if (!rc) rc = analytic_pass(c, out, leaf, li, nl, "backward", A);
  c->r->checks++;
  if (!rc && analytic_pass(c, out, leaf, li, nl, "second-backward", &B) == 0) {
    int j, i;
    int64_t k;
    if (first_difference(c, A, &B, &j, &i, &k)) {
      char ob[128], ib[128];
      int64_t row = k / c->in_numel[i], col = k % c->in_numel[i];
      gc_fail(c->r, c->idx, "second-backward", j, i, NULL,
              "second backward is not bit-identical: d out%d%s / d in%d%s was %.17g, then %.17g", j,
              gc_index_str(c->out_ndim[j], c->out_shape[j], row, ob, sizeof ob), i,
              gc_index_str(nb_ndim(c->base[i]), nb_shape(c->base[i]), col, ib, sizeof ib),
              A->blk[j][i][k], B.blk[j][i][k]);
    }
  }
  if (!rc) zero_grad_check(c, out, leaf, li, nl);
done:
  nb_grad_mode_end();
  nb_scope_end();
  gc_jac_free(&B);
  return rc ? -1 : 0;
}

/* ---- comparison ------------------------------------------------------------------------- */

int gc_compare_jacobians(gc_case *c, const gc_jac *A, const gc_jac *N) {
  int bad_blocks = 0;
  const gc_opts *o = c->o;
  for (int j = 0; j < c->n_out; j++)
    for (int i = 0; i < c->n_in; i++) {
      if (!A->blk[j][i]) continue;
      int64_t rows = c->out_numel[j], cols = c->in_numel[i], bad = 0;
      cJSON *entries = NULL;
      double wa = 0, wr = 0;
      for (int64_t k = 0; k < rows * cols; k++) {
        double a = A->blk[j][i][k], n = N->blk[j][i][k];
        worst(a, n, o->atol, &wa, &wr);
        if (close_enough(a, n, o->atol, o->rtol)) continue;
        if (bad++ < o->max_entries) {
          char ob[128], ib[128];
          if (!entries) entries = cJSON_CreateArray();
          cJSON *e = cJSON_CreateObject();
          cJSON_AddStringToObject(e, "out_index", gc_index_str(c->out_ndim[j], c->out_shape[j], k / cols, ob, sizeof ob));
          cJSON_AddStringToObject(e, "in_index", gc_index_str(nb_ndim(c->base[i]), nb_shape(c->base[i]), k % cols, ib, sizeof ib));
          gc_json_num(e, "analytic", a);
          gc_json_num(e, "numeric", n);
          cJSON_AddItemToArray(entries, e);
        }
      }
      if (wa > c->r->worst_abs) c->r->worst_abs = wa;
      if (wr > c->r->worst_rel) c->r->worst_rel = wr;
      if (bad) {
        bad_blocks++;
        gc_fail(c->r, c->idx, "jacobian", j, i, entries,
                "d output %d (%s) / d input %d (%s): %lld of %lld entries differ (max abs err %.3g, "
                "max rel err %.3g)",
                j, out_name(c, j), i, in_name(c, i), (long long)bad, (long long)(rows * cols), wa, wr);
      }
    }
  return bad_blocks;
}

double *gc_vjp(const gc_case *c, const gc_jac *A, int i) {
  int64_t cols = c->in_numel[i];
  double *g = calloc((size_t)(cols ? cols : 1), sizeof(double));
  if (!g) return NULL;
  for (int j = 0; j < c->n_out; j++) {
    if (!A->blk[j][i]) continue;
    const double *w = nb_data(c->w[j]);
    for (int64_t k = 0; k < c->out_numel[j]; k++)
      for (int64_t m = 0; m < cols; m++) g[m] += w[k] * A->blk[j][i][k * cols + m];
  }
  return g;
}
