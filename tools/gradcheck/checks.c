/* tools/gradcheck/checks.c — every check the harness runs on one op's samples.
 *
 * Per sample, in float64: the forward runs and gives finite values; the analytic
 * Jacobian (jacobian.c) matches central differences, a second backward is bit-identical
 * and zero output gradients give zero input gradients of the input's shape and dtype;
 * with only one input requiring grad (each in turn) nb_backward fills exactly that
 * input's .grad with the expected values, and with none the outputs do not require grad;
 * the float32 forward agrees with float64; outputs and gradients do not depend on the
 * inputs' memory layout (strided, offset copies); for ops with a backward_graph, the
 * second-order check (gradgrad.c); and, with --reference, the values agree with
 * PyTorch's.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"

/* Analytic-vs-analytic comparisons (other backward paths, other layouts). */
#define GC_TIGHT_ATOL 1e-9
#define GC_TIGHT_RTOL 1e-7

/* ---- helpers ----------------------------------------------------------------------------- */

static const char *in_name(const gc_case *c, int i) {
  return i < c->d->n_inputs && c->d->inputs[i].name ? c->d->inputs[i].name : "?";
}

static double max_abs(const double *v, int64_t n) {
  double m = 0;
  for (int64_t k = 0; k < n; k++)
    if (isfinite(v[k]) && fabs(v[k]) > m) m = fabs(v[k]);
  return m;
}

/* A copy of t with the same values in a non-contiguous layout: for >= 2-D the last two
 * dimensions transposed in memory, for 1-D every other element; storage offset 1. */
static nb_tensor *strided_copy(nb_tensor *t) {
  int nd = nb_ndim(t);
  int64_t n = nb_numel(t), shape[NB_MAX_DIMS] = {0}, st[NB_MAX_DIMS] = {0};
  memcpy(shape, nb_shape(t), sizeof(int64_t) * (size_t)nd);
  int64_t buf_n = 1 + (nd == 1 ? 2 * n : n);
  nb_tensor *buf = nb_empty(1, &buf_n, nb_dtype_of(t));
  if (!buf) return NULL;
  if (nd == 1) {
    st[0] = 2;
  } else {
    int64_t ms[NB_MAX_DIMS], acc = 1; /* memory order: last two dims swapped */
    memcpy(ms, shape, sizeof ms);
    ms[nd - 1] = shape[nd - 2], ms[nd - 2] = shape[nd - 1];
    int64_t mst[NB_MAX_DIMS] = {0};
    for (int k = nd - 1; k >= 0; k--) mst[k] = acc, acc *= ms[k];
    memcpy(st, mst, sizeof st);
    st[nd - 1] = mst[nd - 2], st[nd - 2] = mst[nd - 1];
  }
  nb_tensor *v = nb_as_strided(buf, nd, shape, st, 1);
  if (!v || nb_copy_into(v, t) < 0) return NULL;
  return v;
}

static bool needs_layout_check(const nb_tensor *t) { return t && nb_ndim(t) >= 1 && nb_numel(t) >= 2; }

/* ---- the checks ------------------------------------------------------------------------ */

/* First float64 forward: records output shapes and values; outputs must be finite.
 * Returns -1 when the sample cannot be checked further (failure recorded). */
static int forward_check(gc_case *c) {
  const nb_op_desc *d = c->d;
  c->r->checks++;
  nb_scope_begin();
  nb_no_grad_begin();
  nb_tensor *in[GC_MAX_IN], *out[GC_MAX_OUT];
  int rc = gc_fresh_inputs(c, NB_F64, -1, 0, 0, in);
  if (!rc && gc_forward(c, in, out) < 0) rc = -1;
  if (rc) gc_fail(c->r, c->idx, "forward", -1, -1, NULL, "forward failed: %s", nb_last_error());
  /* Forward must not write into its (differentiable) inputs, except an in-place op's self. */
  for (int i = 0; i < c->n_in && !rc; i++) {
    if (!c->diff_in[i] || (i == 0 && (d->flags & NB_OP_INPLACE))) continue;
    double *a = gc_values(in[i]), *b = gc_values(c->base[i]);
    if (a && b && memcmp(a, b, (size_t)c->in_numel[i] * sizeof(double)) != 0)
      gc_fail(c->r, c->idx, "forward", -1, i, NULL, "forward modified its input %d (%s)", i, in_name(c, i));
    free(a);
    free(b);
  }
  bool finite_in = true;
  for (int i = 0; i < c->n_in && !rc; i++)
    if (c->base[i] && nb_dtype_is_floating(nb_dtype_of(c->base[i]))) {
      double *v = gc_values(c->base[i]);
      for (int64_t m = 0; v && m < c->in_numel[i]; m++) finite_in = finite_in && isfinite(v[m]);
      free(v);
    }
  for (int j = 0; j < c->n_out && !rc; j++) {
    if (!out[j]) {
      gc_fail(c->r, c->idx, "forward", j, -1, NULL, "forward left output %d NULL", j);
      rc = -1;
      break;
    }
    c->out_ndim[j] = nb_ndim(out[j]);
    memcpy(c->out_shape[j], nb_shape(out[j]), sizeof(int64_t) * (size_t)c->out_ndim[j]);
    c->out_numel[j] = nb_numel(out[j]);
    bool fl = nb_dtype_is_floating(nb_dtype_of(out[j]));
    c->diff_out[j] = fl && !(j < d->n_outputs && (d->outputs[j].flags & NB_OUT_NONDIFF));
    if (!(c->y[j] = gc_values(out[j]))) {
      rc = -1;
      break;
    }
    int64_t bad = 0, first = -1;
    for (int64_t m = 0; fl && m < c->out_numel[j]; m++)
      if (!isfinite(c->y[j][m]) && bad++ == 0) first = m;
    if (bad && finite_in) {
      char ib[128];
      c->r->checks++;
      gc_fail(c->r, c->idx, "finite", j, -1, NULL,
              "forward wrote non-finite values into output %d (%s): %lld of %lld elements, first %s = %g", j,
              j < d->n_outputs ? d->outputs[j].name : "?", (long long)bad, (long long)c->out_numel[j],
              gc_index_str(c->out_ndim[j], c->out_shape[j], first, ib, sizeof ib), c->y[j][first]);
      rc = -1; /* the other checks would only repeat it */
    }
  }
  nb_grad_mode_end();
  nb_scope_end();
  return rc;
}

/* With only input `i` requiring grad (given `strided` layout or not), nb_backward with the
 * weights must give exactly that input a .grad equal to the analytic vector-Jacobian
 * product, and leave the other inputs without one. */
static void single_input_check(gc_case *c, const gc_jac *A, int i, bool strided) {
  const char *check = strided ? "layout-grad" : "only-requested";
  c->r->checks++;
  nb_scope_begin();
  nb_enable_grad_begin();
  nb_tensor *in[GC_MAX_IN], *out[GC_MAX_OUT], *leaf = NULL;
  double *expect = gc_vjp(c, A, i), *got = NULL;
  int rc = gc_fresh_inputs(c, NB_F64, -1, 0, 0, in);
  if (!rc && strided && !(in[i] = strided_copy(in[i]))) rc = -1;
  if (!rc && nb_set_requires_grad(in[i], true) < 0) rc = -1;
  leaf = in[i];
  if (!rc && i == 0 && (c->d->flags & NB_OP_INPLACE) && !(in[0] = nb_clone(leaf))) rc = -1;
  if (rc) {
    gc_fail(c->r, c->idx, check, -1, i, NULL, "cannot prepare input %d: %s", i, nb_last_error());
    goto done;
  }
  if (gc_forward(c, in, out) < 0) {
    gc_fail(c->r, c->idx, check, -1, i, NULL, "forward with only input %d (%s)%s requiring grad failed: %s", i,
            in_name(c, i), strided ? " (non-contiguous)" : "", nb_last_error());
    goto done;
  }
  int last = -1;
  for (int j = 0; j < c->n_out; j++)
    if (c->diff_out[j]) last = j;
  for (int j = 0; j < c->n_out; j++) {
    if (!c->diff_out[j]) continue;
    nb_tensor *w = nb_copy_data(c->w[j]); /* a copy: a backward that writes into it spoils no later check */
    double *w_before = gc_values(c->w[j]), *w_after = NULL;
    int brc = nb_grad_fn(out[j]) && w ? nb_backward(out[j], w, j == last ? 0 : NB_RETAIN_GRAPH) : 0;
    if (!brc && w_before && (w_after = gc_values(w)) &&
        memcmp(w_before, w_after, (size_t)c->out_numel[j] * sizeof(double)) != 0)
      gc_fail(c->r, c->idx, check, j, i, NULL,
              "backward modified the output gradient it was given (grad_out[%d] must be read-only)", j);
    free(w_before);
    free(w_after);
    if (!nb_grad_fn(out[j])) {
      gc_fail(c->r, c->idx, check, j, i, NULL, "output %d has no grad_fn with only input %d (%s) requiring grad",
              j, i, in_name(c, i));
      goto done;
    }
    if (brc < 0) {
      gc_fail(c->r, c->idx, check, j, i, NULL, "nb_backward with only input %d (%s)%s requiring grad failed: %s",
              i, in_name(c, i), strided ? " (non-contiguous)" : "", nb_last_error());
      goto done;
    }
  }
  for (int l = 0; l < c->n_in; l++)
    if (l != i && in[l] && nb_grad(in[l]))
      gc_fail(c->r, c->idx, check, -1, l, NULL, "input %d (%s) got a .grad although only input %d requires grad",
              l, in_name(c, l), i);
  nb_tensor *g = nb_grad(leaf);
  if (!g) {
    if (max_abs(expect, c->in_numel[i]) != 0)
      gc_fail(c->r, c->idx, check, -1, i, NULL, "input %d (%s) got no .grad after nb_backward", i, in_name(c, i));
    goto done;
  }
  if (!nb_same_shape(g, c->base[i]) || nb_dtype_of(g) != NB_F64) {
    gc_fail(c->r, c->idx, check, -1, i, NULL, ".grad of input %d (%s) has shape %s and dtype %s, expected %s float64%s",
            i, in_name(c, i), nb_shape_of(g), nb_dtype_name(nb_dtype_of(g)), nb_shape_of(c->base[i]),
            (c->flags & NB_SAMPLE_BROADCAST) ? " (broadcasting sample)" : "");
    goto done;
  }
  if (!(got = gc_values(g))) goto done;
  cJSON *entries = NULL;
  double wa = 0, wr = 0;
  double atol = GC_TIGHT_ATOL * fmax(1, max_abs(expect, c->in_numel[i]));
  int64_t bad = gc_compare_values(got, expect, c->in_numel[i], atol, GC_TIGHT_RTOL, nb_ndim(c->base[i]),
                                  nb_shape(c->base[i]), c->o->max_entries, &entries, &wa, &wr);
  if (bad)
    gc_fail(c->r, c->idx, check, -1, i, entries,
            "%s: .grad of input %d (%s) differs from the full backward's vector-Jacobian product in "
            "%lld of %lld elements",
            strided ? "with a non-contiguous input" : "with only this input requiring grad", i, in_name(c, i),
            (long long)bad, (long long)c->in_numel[i]);
done:
  free(expect);
  free(got);
  nb_grad_mode_end();
  nb_scope_end();
}

/* With no input requiring grad, outputs must not require grad. */
static void no_input_check(gc_case *c) {
  c->r->checks++;
  nb_scope_begin();
  nb_enable_grad_begin();
  nb_tensor *in[GC_MAX_IN], *out[GC_MAX_OUT];
  if (gc_fresh_inputs(c, NB_F64, -1, 0, 0, in) < 0 || gc_forward(c, in, out) < 0) {
    gc_fail(c->r, c->idx, "no-grad-inputs", -1, -1, NULL, "forward in grad mode failed: %s", nb_last_error());
  } else {
    for (int j = 0; j < c->n_out; j++)
      if (out[j] && (nb_requires_grad(out[j]) || nb_grad_fn(out[j])))
        gc_fail(c->r, c->idx, "no-grad-inputs", j, -1, NULL,
                "output %d requires grad although no input does", j);
  }
  nb_grad_mode_end();
  nb_scope_end();
}

/* Compare a forward run on `in` with the float64 values. */
static void compare_forward(gc_case *c, const char *check, nb_tensor *const *in, double atol, double rtol,
                            const char *what) {
  c->r->checks++;
  nb_tensor *out[GC_MAX_OUT];
  if (gc_forward(c, in, out) < 0) {
    gc_fail(c->r, c->idx, check, -1, -1, NULL, "forward %s failed: %s", what, nb_last_error());
    return;
  }
  for (int j = 0; j < c->n_out; j++) {
    double *v = out[j] ? gc_values(out[j]) : NULL;
    if (!v || nb_numel(out[j]) != c->out_numel[j]) {
      gc_fail(c->r, c->idx, check, j, -1, NULL, "forward %s gave output %d of shape %s, expected %s", what, j,
              out[j] ? nb_shape_of(out[j]) : "NULL", nb_shape_str(c->out_ndim[j], c->out_shape[j], (char[128]){0}, 128));
      free(v);
      continue;
    }
    cJSON *entries = NULL;
    double wa = 0, wr = 0, scale = fmax(1, max_abs(c->y[j], c->out_numel[j]));
    int64_t bad = gc_compare_values(v, c->y[j], c->out_numel[j], atol * scale, rtol, c->out_ndim[j],
                                    c->out_shape[j], c->o->max_entries, &entries, &wa, &wr);
    if (bad)
      gc_fail(c->r, c->idx, check, j, -1, entries,
              "forward %s differs from the float64 contiguous forward in %lld of %lld elements of output %d "
              "(max abs err %.3g)",
              what, (long long)bad, (long long)c->out_numel[j], j, wa);
    free(v);
  }
}

static void f32_check(gc_case *c) {
  for (int i = 0; i < c->n_in; i++)
    if (c->base[i] && nb_dtype_is_floating(nb_dtype_of(c->base[i])) &&
        !(i < c->d->n_inputs && (c->d->inputs[i].dtypes & NB_DT_F32))) {
      gc_note(c->r, "float32 forward not checked: input %d (%s) does not accept float32", i, in_name(c, i));
      return;
    }
  nb_scope_begin();
  nb_no_grad_begin();
  nb_tensor *in[GC_MAX_IN];
  if (gc_fresh_inputs(c, NB_F32, -1, 0, 0, in) == 0)
    compare_forward(c, "float32", in, c->o->f32_atol, c->o->f32_rtol, "in float32");
  nb_grad_mode_end();
  nb_scope_end();
}

static void layout_check(gc_case *c, const gc_jac *A, bool have_A) {
  for (int i = 0; i < c->n_in; i++) {
    if (!needs_layout_check(c->base[i])) continue;
    nb_scope_begin();
    nb_no_grad_begin();
    nb_tensor *in[GC_MAX_IN];
    char what[96];
    snprintf(what, sizeof what, "with input %d (%s) non-contiguous", i, in_name(c, i));
    if (gc_fresh_inputs(c, NB_F64, -1, 0, 0, in) == 0 && (in[i] = strided_copy(in[i])))
      compare_forward(c, "layout", in, 1e-12, 1e-10, what);
    nb_grad_mode_end();
    nb_scope_end();
    if (have_A && c->diff_in[i]) single_input_check(c, A, i, true);
  }
}

/* ---- one sample ------------------------------------------------------------------------- */

static void check_sample(const nb_op *op, const gc_opts *o, gc_result *r, int k, const nb_sample *s,
                         nb_safetensors *ref) {
  const nb_op_desc *d = r->d;
  gc_case c;
  memset(&c, 0, sizeof c);
  c.op = op, c.d = d, c.o = o, c.r = r, c.idx = k, c.desc = s->desc, c.flags = s->flags;
  c.n_in = s->n_in, c.n_out = d->n_outputs, c.n_attrs = s->n_attrs, c.attrs = s->attrs;
  if (c.n_in > GC_MAX_IN || c.n_out > GC_MAX_OUT) {
    gc_fail(r, k, "setup", -1, -1, NULL, "too many inputs (%d) or outputs (%d) for the harness", c.n_in, c.n_out);
    return;
  }
  bool any_in = false, any_out = false;
  for (int i = 0; i < c.n_in; i++) {
    nb_tensor *t = s->in[i];
    bool fl = t && nb_dtype_is_floating(nb_dtype_of(t));
    c.base[i] = fl && nb_dtype_of(t) != NB_F64 ? nb_convert(t, NB_F64) : t;
    c.in_numel[i] = t ? nb_numel(t) : 0;
    c.diff_in[i] = fl && !(i < d->n_inputs && (d->inputs[i].flags & NB_IN_NONDIFF));
    any_in = any_in || c.diff_in[i];
  }
  if (forward_check(&c) < 0) goto out;
  for (int j = 0; j < c.n_out; j++) {
    any_out = any_out || c.diff_out[j];
    if (c.diff_out[j]) {
      nb_generator *g = nb_generator_new(o->seed + 7919u * (uint64_t)(k + 1) + (uint64_t)j);
      c.w[j] = nb_rand_range(c.out_ndim[j], c.out_shape[j], -1, 1, NB_F64, g);
      nb_generator_free(g);
    }
  }
  if (!d->backward && any_in && any_out && !r->missing_backward) {
    r->missing_backward = true;
    gc_fail(r, k, "backward", -1, -1, NULL,
            "op has differentiable inputs and floating outputs but no backward (declare its inputs "
            "NB_IN_NONDIFF or outputs NB_OUT_NONDIFF if it is not differentiable)");
  }
  gc_jac A, N;
  memset(&A, 0, sizeof A);
  memset(&N, 0, sizeof N);
  bool have_A = false;
  if (d->backward && any_in && any_out && o->gradcheck && !(s->flags & NB_SAMPLE_NO_GRAD_CHECK)) {
    int64_t rows = 0, cols = 0;
    for (int j = 0; j < c.n_out; j++) rows += c.diff_out[j] ? c.out_numel[j] : 0;
    for (int i = 0; i < c.n_in; i++) cols += c.diff_in[i] ? c.in_numel[i] : 0;
    if (rows * cols > o->max_jacobian) {
      gc_note(r, "sample %d: Jacobian of %lld x %lld entries is above --max-jacobian; gradient checks skipped", k,
              (long long)rows, (long long)cols);
    } else if (gc_analytic_jacobian(&c, &A) == 0) {
      have_A = true;
      r->checks++;
      if (gc_numeric_jacobian(&c, &N) == 0) gc_compare_jacobians(&c, &A, &N);
      for (int i = 0; i < c.n_in; i++)
        if (c.diff_in[i]) single_input_check(&c, &A, i, false);
      no_input_check(&c);
      if (d->backward_graph && o->gradgrad) gc_gradgrad_check(&c);
    }
  }
  if (o->gradcheck) {
    f32_check(&c);
    layout_check(&c, &A, have_A);
  }
  if (ref) gc_check_reference(&c, ref);
  gc_jac_free(&A);
  gc_jac_free(&N);
out:
  for (int j = 0; j < GC_MAX_OUT; j++) free(c.y[j]);
}

/* ---- one op ---------------------------------------------------------------------------- */

void gc_check_op(const nb_op *op, const gc_opts *o, gc_result *r) {
  const nb_op_desc *d = r->d;
  bool decl_in = false, decl_out = false;
  for (int i = 0; i < d->n_inputs; i++)
    decl_in = decl_in || ((d->inputs[i].dtypes & NB_DT_FLOAT) && !(d->inputs[i].flags & NB_IN_NONDIFF));
  for (int j = 0; j < d->n_outputs; j++) decl_out = decl_out || !(d->outputs[j].flags & NB_OUT_NONDIFF);
  if (!d->backward && (!decl_in || !decl_out)) {
    r->not_diff = true;
    gc_note(r, "not differentiable (declared: %s)", !decl_in ? "no differentiable floating input" : "all outputs NB_OUT_NONDIFF");
  }
  nb_scope_begin();
  nb_sample_sink *sink = nb_sample_sink_new(o->seed);
  nb_safetensors *ref = NULL;
  if (!sink || nb_op_collect_samples(op, sink) < 0) {
    gc_fail(r, -1, "samples", -1, -1, NULL, "collecting samples failed: %s", nb_last_error());
    goto out;
  }
  r->samples = nb_sample_count(sink);
  if (r->samples == 0) gc_fail(r, -1, "samples", -1, -1, NULL, "the samples function added no sample");
  if (o->reference_dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.safetensors", o->reference_dir, d->name);
    ref = nb_safetensors_load(path);
    if (!ref && nb_last_status() == NB_ENOTFOUND)
      gc_note(r, "no PyTorch reference data (%s)", path);
    else if (!ref)
      gc_fail(r, -1, "reference", -1, -1, NULL, "cannot read reference data: %s", nb_last_error());
  }
  for (int k = 0; k < r->samples; k++) {
    nb_sample s;
    if (nb_sample_get(sink, k, &s) < 0) {
      gc_fail(r, k, "samples", -1, -1, NULL, "nb_sample_get failed: %s", nb_last_error());
      continue;
    }
    r->cur_desc = s.desc;
    gc_progress(k, s.desc);
    int64_t live = nb_live_tensors();
    nb_scope_begin();
    int before = r->n_failed;
    check_sample(op, o, r, k, &s, ref);
    nb_scope_end();
    int64_t leaked = nb_live_tensors() - live;
    r->checks++;
    if (leaked > 0 && r->n_failed == before)
      gc_fail(r, k, "leak", -1, -1, NULL, "%lld tensors still alive after the sample's checks (leak)",
              (long long)leaked);
  }
  r->cur_desc = NULL;
  if (!d->backward && !r->missing_backward && !r->not_diff) {
    r->not_diff = true;
    gc_note(r, "not differentiable (no backward; no sample has a differentiable input and floating output)");
  }
out:
  nb_safetensors_free(ref);
  nb_sample_sink_free(sink);
  nb_scope_end();
}
