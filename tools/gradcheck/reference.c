/* tools/gradcheck/reference.c — sample dumps for the PyTorch generator, and comparison
 * with the reference files it wrote.
 *
 * --dump-samples DIR writes DIR/<op>.safetensors: tensors "s<k>.in<i>" (the sample
 * inputs) and in "__metadata__" the key "nabla_samples", a JSON description of the op
 * (inputs, outputs, flags) and of each sample (description, present inputs, inputs that
 * get gradients, every schema attribute resolved to its value or default).
 *
 * tests/reference/generate.py answers with <op>.safetensors holding, per sample k, the
 * inputs again ("s<k>.in<i>", to detect stale data), PyTorch's float64 outputs
 * ("s<k>.out<j>"), output weights ("s<k>.w<j>"), gradients of sum_j <w_j, out_j>
 * ("s<k>.grad<i>") and the same in float32 ("s<k>.f32.out<j>", "s<k>.f32.grad<i>");
 * "__metadata__" key "reference" is JSON {"samples": [...]} with, per sample, "outputs"
 * (compared), "grad_inputs", "grad_outputs" (weighted), "f32" (float32 data present) or
 * "skip" (a reason PyTorch could not run it).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"

/* ---- dumping ------------------------------------------------------------------------------ */

static cJSON *attr_json(const nb_attr_spec *sp, const nb_attr *given) {
  nb_attr_value v = given ? given->v : sp->def;
  nb_attr_type gt = given ? given->type : sp->type;
  if (!given && (sp->flags & NB_ATTR_OPTIONAL)) return cJSON_CreateNull();
  switch (sp->type) {
  case NB_ATTR_INT:
    return cJSON_CreateNumber(gt == NB_ATTR_FLOAT ? (double)(int64_t)v.f : (double)v.i);
  case NB_ATTR_FLOAT:
    return cJSON_CreateNumber(gt == NB_ATTR_INT || gt == NB_ATTR_BOOL ? (double)v.i : v.f);
  case NB_ATTR_BOOL:
    return cJSON_CreateBool(v.i != 0);
  case NB_ATTR_INTS: {
    cJSON *a = cJSON_CreateArray();
    if (gt == NB_ATTR_INT)
      cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v.i));
    else
      for (int k = 0; k < v.ints.n && k < NB_MAX_DIMS; k++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v.ints.v[k]));
    return a;
  }
  case NB_ATTR_STRING: {
    if (v.s) return cJSON_CreateString(v.s);
    /* a default given by index into the choices */
    const char *ch = sp->choices ? sp->choices : "";
    for (int64_t k = 0; k < v.i && ch; k++) {
      ch = strchr(ch, ',');
      if (ch) ch++;
    }
    if (!ch) return cJSON_CreateNull();
    size_t len = strcspn(ch, ",");
    char buf[128];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), ch);
    return cJSON_CreateString(buf);
  }
  }
  return cJSON_CreateNull();
}

static cJSON *sample_json(const nb_op_desc *d, const nb_sample *s) {
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "desc", s->desc ? s->desc : "");
  cJSON_AddBoolToObject(j, "no_grad_check", (s->flags & NB_SAMPLE_NO_GRAD_CHECK) != 0);
  cJSON_AddBoolToObject(j, "broadcast", (s->flags & NB_SAMPLE_BROADCAST) != 0);
  cJSON *present = cJSON_AddArrayToObject(j, "present"), *gi = cJSON_AddArrayToObject(j, "grad_inputs");
  for (int i = 0; i < s->n_in; i++) {
    nb_tensor *t = s->in[i];
    cJSON_AddItemToArray(present, cJSON_CreateBool(t != NULL));
    if (t && nb_dtype_is_floating(nb_dtype_of(t)) && !(i < d->n_inputs && (d->inputs[i].flags & NB_IN_NONDIFF)))
      cJSON_AddItemToArray(gi, cJSON_CreateNumber(i));
  }
  cJSON *attrs = cJSON_AddObjectToObject(j, "attrs");
  for (int a = 0; a < d->n_attrs; a++) {
    const nb_attr *given = NULL;
    for (int g = 0; g < s->n_attrs; g++)
      if (s->attrs[g].name && strcmp(s->attrs[g].name, d->attrs[a].name) == 0) given = &s->attrs[g];
    cJSON_AddItemToObject(attrs, d->attrs[a].name, attr_json(&d->attrs[a], given));
  }
  return j;
}

static cJSON *op_json(const nb_op *op, const nb_op_desc *d) {
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "op", d->name);
  cJSON_AddStringToObject(j, "plugin", nb_op_plugin_name(op) ? nb_op_plugin_name(op) : "");
  cJSON_AddBoolToObject(j, "random", (d->flags & NB_OP_RANDOM) != 0);
  cJSON_AddBoolToObject(j, "inplace", (d->flags & NB_OP_INPLACE) != 0);
  cJSON_AddBoolToObject(j, "differentiable", d->backward != NULL);
  cJSON *ins = cJSON_AddArrayToObject(j, "inputs"), *outs = cJSON_AddArrayToObject(j, "outputs");
  for (int i = 0; i < d->n_inputs; i++) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", d->inputs[i].name ? d->inputs[i].name : "");
    cJSON_AddBoolToObject(e, "nondiff", (d->inputs[i].flags & NB_IN_NONDIFF) != 0);
    cJSON_AddBoolToObject(e, "optional", (d->inputs[i].flags & NB_IN_OPTIONAL) != 0);
    cJSON_AddItemToArray(ins, e);
  }
  for (int k = 0; k < d->n_outputs; k++) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", d->outputs[k].name ? d->outputs[k].name : "");
    cJSON_AddBoolToObject(e, "nondiff", (d->outputs[k].flags & NB_OUT_NONDIFF) != 0);
    cJSON_AddItemToArray(outs, e);
  }
  return j;
}

int gc_dump_samples(const nb_op *op, const gc_opts *o, gc_result *r) {
  const nb_op_desc *d = r->d;
  nb_scope_begin();
  nb_sample_sink *sink = nb_sample_sink_new(o->seed);
  cJSON *meta = op_json(op, d), *samples = cJSON_AddArrayToObject(meta, "samples");
  const char **names = NULL;
  nb_tensor **tensors = NULL;
  char *json = NULL;
  int n = 0, rc = 0;
  if (!sink || nb_op_collect_samples(op, sink) < 0) {
    gc_fail(r, -1, "samples", -1, -1, NULL, "collecting samples failed: %s", nb_last_error());
    rc = -1;
    goto out;
  }
  r->samples = nb_sample_count(sink);
  names = calloc((size_t)r->samples * GC_MAX_IN + 1, sizeof *names);
  tensors = calloc((size_t)r->samples * GC_MAX_IN + 1, sizeof *tensors);
  for (int k = 0; k < r->samples && names && tensors; k++) {
    nb_sample s;
    if (nb_sample_get(sink, k, &s) < 0 || s.n_in > GC_MAX_IN) continue;
    cJSON_AddItemToArray(samples, sample_json(d, &s));
    for (int i = 0; i < s.n_in; i++) {
      if (!s.in[i]) continue;
      char nm[32];
      snprintf(nm, sizeof nm, "s%d.in%d", k, i);
      names[n] = strdup(nm);
      tensors[n++] = s.in[i];
    }
  }
  json = cJSON_PrintUnformatted(meta);
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.safetensors", o->dump_dir, d->name);
  const char *md[] = {"format", "nabla-samples-1", "op", d->name, "nabla_samples", json, NULL};
  r->checks++;
  if (!names || !tensors || !json || nb_safetensors_save(path, n, names, tensors, md) < 0) {
    gc_fail(r, -1, "dump", -1, -1, NULL, "writing %s failed: %s", path, nb_last_error());
    rc = -1;
  } else {
    gc_note(r, "wrote %s", path);
  }
out:
  for (int i = 0; i < n; i++) free((char *)names[i]);
  free(names);
  free(tensors);
  free(json);
  cJSON_Delete(meta);
  nb_sample_sink_free(sink);
  nb_scope_end();
  return rc;
}

/* ---- comparing ------------------------------------------------------------------------------ */

static nb_tensor *ref_get(nb_safetensors *ref, const char *fmt, int k, int i) {
  char nm[48];
  snprintf(nm, sizeof nm, fmt, k, i);
  return nb_safetensors_get(ref, nm);
}

static double scale_of(const double *v, int64_t n) {
  double m = 1;
  for (int64_t k = 0; k < n; k++)
    if (isfinite(v[k]) && fabs(v[k]) > m) m = fabs(v[k]);
  return m;
}

/* Compare got (or, when NULL, gotv: gotn values of input idx's shape) against the
 * reference tensor named fmt(k, idx); records a failure. */
static void cmp_ref(gc_case *c, nb_safetensors *ref, const char *fmt, int idx, const nb_tensor *got,
                    const double *gotv, int64_t gotn, bool f32, const char *what) {
  nb_tensor *e = ref_get(ref, fmt, c->idx, idx);
  char nm[48];
  snprintf(nm, sizeof nm, fmt, c->idx, idx);
  c->r->checks++;
  if (!e) {
    gc_fail(c->r, c->idx, "reference", -1, -1, NULL, "reference tensor %s missing: regenerate tests/reference", nm);
    return;
  }
  int64_t n = nb_numel(e);
  double *ev = gc_values(e), *gv = NULL;
  if (!gotv && got) gotv = gv = gc_values(got);
  if (got && !nb_same_shape(got, e)) {
    gc_fail(c->r, c->idx, "reference", -1, -1, NULL, "%s has shape %s, PyTorch's %s has %s", what, nb_shape_of(got),
            nm, nb_shape_of(e));
  } else if (!got && n != gotn) { /* the file is outside input: never read past gotv */
    gc_fail(c->r, c->idx, "reference", -1, -1, NULL, "%s has %lld elements, PyTorch's %s has %s", what,
            (long long)gotn, nm, nb_shape_of(e));
  } else if (ev && gotv) {
    double rtol = f32 ? c->o->ref32_rtol : c->o->ref64_rtol, atol = (f32 ? c->o->ref32_atol : c->o->ref64_atol) * scale_of(ev, n);
    double wa = 0, wr = 0;
    cJSON *entries = NULL;
    int64_t bad = gc_compare_values(gotv, ev, n, atol, rtol, nb_ndim(e), nb_shape(e), c->o->max_entries, &entries, &wa, &wr);
    if (bad)
      gc_fail(c->r, c->idx, "reference", -1, -1, entries,
              "%s differs from PyTorch (%s) in %lld of %lld elements (max abs err %.3g, tolerance %g + %g*|ref|)",
              what, nm, (long long)bad, (long long)n, wa, atol, rtol);
  }
  free(ev);
  free(gv);
}

static bool inputs_match(gc_case *c, nb_safetensors *ref) {
  for (int i = 0; i < c->n_in; i++) {
    if (!c->base[i]) continue;
    nb_tensor *e = ref_get(ref, "s%d.in%d", c->idx, i);
    bool same = e && nb_same_shape(e, c->base[i]);
    if (same) {
      double *a = gc_values(e), *b = gc_values(c->base[i]);
      same = a && b && memcmp(a, b, (size_t)c->in_numel[i] * sizeof(double)) == 0;
      free(a);
      free(b);
    }
    if (!same) return false;
  }
  return true;
}

/* The reference metadata is outside input: an index list must hold distinct integers in
 * [0, n). Returns 0, or -1 with a failure recorded. */
static int check_indices(gc_case *c, const cJSON *list, const char *key, int n) {
  if (!list) return 0;
  bool seen[GC_MAX_IN > GC_MAX_OUT ? GC_MAX_IN : GC_MAX_OUT] = {0};
  const cJSON *it;
  if (!cJSON_IsArray(list)) goto bad;
  cJSON_ArrayForEach(it, list) {
    double v = cJSON_IsNumber(it) ? it->valuedouble : -1;
    if (!(v >= 0 && v < n) || v != (int)v) goto bad;
    if (seen[(int)v]) {
      gc_fail(c->r, c->idx, "reference", -1, -1, NULL, "reference metadata: \"%s\" lists %d twice", key, (int)v);
      return -1;
    }
    seen[(int)v] = true;
  }
  return 0;
bad:
  gc_fail(c->r, c->idx, "reference", -1, -1, NULL, "reference metadata: \"%s\" is not a list of indices "
          "in [0, %d)", key, n);
  return -1;
}

/* Forward and gradients in dtype dt against the reference tensors. */
static void ref_pass(gc_case *c, nb_safetensors *ref, const cJSON *gi, const cJSON *go, const cJSON *outs,
                     nb_dtype dt) {
  bool f32 = dt == NB_F32;
  nb_scope_begin();
  nb_enable_grad_begin();
  nb_tensor *in[GC_MAX_IN], *out[GC_MAX_OUT], *leaf[GC_MAX_IN], *roots[GC_MAX_OUT], *ws[GC_MAX_OUT],
      *res[GC_MAX_IN] = {0};
  int li[GC_MAX_IN], nl = 0, nr = 0;
  if (gc_fresh_inputs(c, dt, -1, 0, 0, in) < 0) goto done;
  const cJSON *it;
  cJSON_ArrayForEach(it, gi) {
    int i = it->valueint;
    if (i < 0 || i >= c->n_in || !in[i] || nb_set_requires_grad(in[i], true) < 0) continue;
    leaf[nl] = in[i];
    li[nl++] = i;
    if (i == 0 && (c->d->flags & NB_OP_INPLACE)) in[0] = nb_clone(in[0]);
  }
  if (gc_forward(c, in, out) < 0) {
    gc_fail(c->r, c->idx, "reference", -1, -1, NULL, "forward in %s failed: %s", nb_dtype_name(dt), nb_last_error());
    goto done;
  }
  cJSON_ArrayForEach(it, outs) {
    int j = it->valueint;
    if (j < 0 || j >= c->n_out) continue;
    char what[64], fmt[32];
    snprintf(what, sizeof what, "%s output %d", nb_dtype_name(dt), j);
    snprintf(fmt, sizeof fmt, "%s", f32 ? "s%d.f32.out%d" : "s%d.out%d");
    cmp_ref(c, ref, fmt, j, out[j], NULL, 0, f32, what);
  }
  cJSON_ArrayForEach(it, go) {
    int j = it->valueint;
    nb_tensor *w = j >= 0 && j < c->n_out && out[j] ? ref_get(ref, "s%d.w%d", c->idx, j) : NULL;
    if (!w) continue;
    roots[nr] = out[j];
    ws[nr++] = f32 ? nb_convert(w, NB_F32) : w;
  }
  if (!nl || !nr) goto done;
  if (nb_autograd_grad(roots, ws, nr, leaf, nl, res, 0, true) < 0) {
    gc_fail(c->r, c->idx, "reference", -1, -1, NULL, "backward in %s failed: %s", nb_dtype_name(dt), nb_last_error());
    goto done;
  }
  for (int l = 0; l < nl; l++) {
    char what[64], fmt[32];
    snprintf(what, sizeof what, "%s gradient of input %d", nb_dtype_name(dt), li[l]);
    snprintf(fmt, sizeof fmt, "%s", f32 ? "s%d.f32.grad%d" : "s%d.grad%d");
    double *zeros = res[l] ? NULL : calloc((size_t)c->in_numel[li[l]] + 1, sizeof(double));
    cmp_ref(c, ref, fmt, li[l], res[l], zeros, c->in_numel[li[l]], f32, what);
    free(zeros);
  }
done:
  nb_grad_mode_end();
  nb_scope_end();
}

void gc_check_reference(gc_case *c, nb_safetensors *ref) {
  const char *meta = nb_safetensors_metadata(ref, "reference");
  cJSON *root = meta ? cJSON_Parse(meta) : NULL;
  cJSON *samples = cJSON_GetObjectItemCaseSensitive(root, "samples");
  int n = cJSON_GetArraySize(samples);
  c->r->checks++;
  if (!root || !cJSON_IsArray(samples)) {
    gc_fail(c->r, c->idx, "reference", -1, -1, NULL, "reference file has no valid \"reference\" metadata");
  } else if (n != c->r->samples) {
    gc_fail(c->r, c->idx, "reference", -1, -1, NULL,
            "reference data is stale: it has %d samples, the op has %d (rerun tests/reference/generate.py)", n,
            c->r->samples);
  } else {
    const cJSON *s = cJSON_GetArrayItem(samples, c->idx);
    const cJSON *skip = cJSON_GetObjectItemCaseSensitive(s, "skip");
    if (cJSON_IsString(skip)) {
      gc_note(c->r, "reference: sample %d not covered by PyTorch (%s)", c->idx, skip->valuestring);
    } else if (!inputs_match(c, ref)) {
      gc_fail(c->r, c->idx, "reference", -1, -1, NULL,
              "reference data is stale: its inputs differ from the op's sample (rerun tests/reference/generate.py)");
    } else {
      const cJSON *gi = cJSON_GetObjectItemCaseSensitive(s, "grad_inputs");
      const cJSON *go = cJSON_GetObjectItemCaseSensitive(s, "grad_outputs");
      const cJSON *outs = cJSON_GetObjectItemCaseSensitive(s, "outputs");
      if (check_indices(c, gi, "grad_inputs", c->n_in) < 0 || check_indices(c, go, "grad_outputs", c->n_out) < 0 ||
          check_indices(c, outs, "outputs", c->n_out) < 0) {
        cJSON_Delete(root);
        return;
      }
      ref_pass(c, ref, gi, go, outs, NB_F64);
      if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "f32"))) ref_pass(c, ref, gi, go, outs, NB_F32);
    }
  }
  cJSON_Delete(root);
}
