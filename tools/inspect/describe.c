/* tools/inspect/describe.c — nabla-inspect's model: plugins, ops and optimizers turned
 * into cJSON trees from their registered specs. `--json` prints these trees; the text
 * output (render.c) is rendered from the same trees, so both always agree.
 */
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "inspect.h"

bool inspect_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static cJSON *str_or_null(const char *s) { return s ? cJSON_CreateString(s) : cJSON_CreateNull(); }

/* Numbers that JSON cannot hold (inf, nan) become strings. */
static cJSON *number(double v) {
  if (isfinite(v)) return cJSON_CreateNumber(v);
  return cJSON_CreateString(isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

const char *inspect_state_name(nb_plugin_state s) {
  switch (s) {
  case NB_PLUGIN_LOADED: return "loaded";
  case NB_PLUGIN_FAILED: return "failed";
  case NB_PLUGIN_REJECTED: return "rejected";
  case NB_PLUGIN_DUPLICATE: return "duplicate";
  }
  return "?";
}

static cJSON *dtype_list(unsigned mask) {
  cJSON *a = cJSON_CreateArray();
  for (int d = 0; d < NB_NUM_DTYPES; d++)
    if (mask & (1u << d)) cJSON_AddItemToArray(a, cJSON_CreateString(nb_dtype_name((nb_dtype)d)));
  return a;
}

static cJSON *attr_value(const nb_attr_spec *s, const nb_attr_value *v) {
  switch (s->type) {
  case NB_ATTR_INT: return cJSON_CreateNumber((double)v->i);
  case NB_ATTR_FLOAT: return number(v->f);
  case NB_ATTR_BOOL: return cJSON_CreateBool(v->i != 0);
  case NB_ATTR_INTS: {
    cJSON *a = cJSON_CreateArray();
    for (int j = 0; j < v->ints.n && j < NB_MAX_DIMS; j++)
      cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v->ints.v[j]));
    return a;
  }
  case NB_ATTR_STRING: return str_or_null(v->s);
  }
  return cJSON_CreateNull();
}

/* One attribute or hyperparameter spec. */
static cJSON *describe_attr(const nb_attr_spec *s) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "name", str_or_null(s->name));
  cJSON_AddStringToObject(o, "type", nb_attr_type_name(s->type));
  cJSON_AddBoolToObject(o, "required", (s->flags & NB_ATTR_REQUIRED) != 0);
  cJSON_AddBoolToObject(o, "optional", (s->flags & NB_ATTR_OPTIONAL) != 0);
  if (s->flags & (NB_ATTR_REQUIRED | NB_ATTR_OPTIONAL))
    cJSON_AddNullToObject(o, "default");
  else
    cJSON_AddItemToObject(o, "default", attr_value(s, &s->def));
  if (s->flags & NB_ATTR_HAS_MIN) cJSON_AddItemToObject(o, "min", number(s->min));
  if (s->flags & NB_ATTR_HAS_MAX) cJSON_AddItemToObject(o, "max", number(s->max));
  if (s->type == NB_ATTR_STRING && s->choices) {
    cJSON *c = cJSON_CreateArray();
    for (const char *p = s->choices; *p;) {
      const char *end = strchr(p, ',');
      size_t len = end ? (size_t)(end - p) : strlen(p);
      char buf[128];
      snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), p);
      cJSON_AddItemToArray(c, cJSON_CreateString(buf));
      if (!end) break;
      p = end + 1;
    }
    cJSON_AddItemToObject(o, "choices", c);
  }
  cJSON_AddItemToObject(o, "doc", str_or_null(s->doc));
  return o;
}

static cJSON *describe_attrs(int n, const nb_attr_spec *specs) {
  cJSON *a = cJSON_CreateArray();
  for (int k = 0; k < n; k++) cJSON_AddItemToArray(a, describe_attr(&specs[k]));
  return a;
}

cJSON *inspect_describe_op(const nb_op *op) {
  const nb_op_desc *d = nb_op_descriptor(op);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "kind", "op");
  cJSON_AddItemToObject(o, "name", str_or_null(d->name));
  cJSON_AddItemToObject(o, "plugin", str_or_null(nb_op_plugin_name(op)));
  cJSON_AddItemToObject(o, "file", str_or_null(nb_op_plugin_path(op)));
  cJSON_AddItemToObject(o, "doc", str_or_null(d->doc));
  cJSON_AddItemToObject(o, "node_name", str_or_null(d->node_name));
  cJSON *flags = cJSON_AddArrayToObject(o, "flags");
  if (d->flags & NB_OP_INPLACE) cJSON_AddItemToArray(flags, cJSON_CreateString("inplace"));
  if (d->flags & NB_OP_VIEW) cJSON_AddItemToArray(flags, cJSON_CreateString("view"));
  if (d->flags & NB_OP_RANDOM) cJSON_AddItemToArray(flags, cJSON_CreateString("random"));
  cJSON *ins = cJSON_AddArrayToObject(o, "inputs");
  for (int i = 0; i < d->n_inputs; i++) {
    const nb_input_spec *in = &d->inputs[i];
    cJSON *x = cJSON_CreateObject();
    cJSON_AddItemToObject(x, "name", str_or_null(in->name));
    cJSON_AddItemToObject(x, "dtypes", dtype_list(in->dtypes));
    cJSON_AddBoolToObject(x, "differentiable", !(in->flags & NB_IN_NONDIFF));
    cJSON_AddBoolToObject(x, "optional", (in->flags & NB_IN_OPTIONAL) != 0);
    cJSON_AddItemToObject(x, "doc", str_or_null(in->doc));
    cJSON_AddItemToArray(ins, x);
  }
  cJSON *outs = cJSON_AddArrayToObject(o, "outputs");
  for (int j = 0; j < d->n_outputs; j++) {
    const nb_output_spec *out = d->outputs ? &d->outputs[j] : NULL;
    cJSON *x = cJSON_CreateObject();
    char def[16];
    snprintf(def, sizeof def, "out%d", j);
    cJSON_AddStringToObject(x, "name", out && out->name ? out->name : def);
    cJSON_AddBoolToObject(x, "differentiable", !(out && (out->flags & NB_OUT_NONDIFF)));
    cJSON_AddItemToObject(x, "doc", str_or_null(out ? out->doc : NULL));
    cJSON_AddItemToArray(outs, x);
  }
  cJSON_AddItemToObject(o, "attributes", describe_attrs(d->n_attrs, d->attrs));
  cJSON_AddItemToObject(o, "saves", str_or_null(d->saves));
  cJSON_AddBoolToObject(o, "has_backward", d->backward != NULL);
  cJSON_AddBoolToObject(o, "has_samples", d->samples != NULL);
  return o;
}

cJSON *inspect_describe_optim(const nb_optim_kind *k) {
  const nb_optim_desc *d = nb_optim_descriptor(k);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "kind", "optimizer");
  cJSON_AddItemToObject(o, "name", str_or_null(d->name));
  cJSON_AddItemToObject(o, "plugin", str_or_null(nb_optim_plugin_name(k)));
  cJSON_AddItemToObject(o, "doc", str_or_null(d->doc));
  cJSON_AddItemToObject(o, "hyperparameters", describe_attrs(d->n_hparams, d->hparams));
  cJSON *st = cJSON_AddArrayToObject(o, "state");
  for (int i = 0; i < d->n_state; i++)
    cJSON_AddItemToArray(st, str_or_null(d->state_names[i]));
  cJSON_AddBoolToObject(o, "has_validate", d->validate != NULL);
  return o;
}

cJSON *inspect_describe_comm(const nb_comm_kind *k) {
  const nb_comm_desc *d = nb_comm_descriptor(k);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "kind", "communication backend");
  cJSON_AddItemToObject(o, "name", str_or_null(d->name));
  cJSON_AddItemToObject(o, "plugin", str_or_null(nb_comm_plugin_name(k)));
  cJSON_AddItemToObject(o, "doc", str_or_null(d->doc));
  cJSON *ops = cJSON_AddArrayToObject(o, "operations");
  const char *names[] = {"allreduce (sum, average)", "allreduce_start / wait / test",
                         "broadcast", "barrier"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    cJSON_AddItemToArray(ops, cJSON_CreateString(names[i]));
  if (d->local_size) cJSON_AddItemToArray(ops, cJSON_CreateString("local_rank / local_size"));
  if (d->abort) cJSON_AddItemToArray(ops, cJSON_CreateString("abort"));
  return o;
}

static cJSON *name_list(int i, int (*fn)(int, const char **, int)) {
  cJSON *a = cJSON_CreateArray();
  int n = fn(i, NULL, 0);
  if (n <= 0) return a;
  const char **names = calloc((size_t)n, sizeof *names);
  if (!names) return a;
  n = fn(i, names, n);
  for (int j = 0; j < n; j++) cJSON_AddItemToArray(a, cJSON_CreateString(names[j]));
  free(names);
  return a;
}

cJSON *inspect_describe_plugin(int i) {
  const nb_plugin_info *p = nb_plugin_report_at(i);
  cJSON *o = cJSON_CreateObject();
  if (!p) return o;
  cJSON_AddItemToObject(o, "name", str_or_null(p->name));
  cJSON_AddItemToObject(o, "version", str_or_null(p->version));
  cJSON_AddItemToObject(o, "description", str_or_null(p->description));
  cJSON_AddItemToObject(o, "license", str_or_null(p->license));
  cJSON_AddItemToObject(o, "file", str_or_null(p->path));
  cJSON_AddStringToObject(o, "state", inspect_state_name(p->state));
  cJSON_AddStringToObject(o, "message", p->message ? p->message : "");
  cJSON_AddItemToObject(o, "ops", name_list(i, nb_plugin_report_ops));
  cJSON_AddItemToObject(o, "optimizers", name_list(i, nb_plugin_report_optimizers));
  cJSON_AddItemToObject(o, "comms", name_list(i, nb_plugin_report_comms));
  return o;
}

cJSON *inspect_describe_bad(const plugscan_bad *b) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNullToObject(o, "name");
  cJSON_AddNullToObject(o, "version");
  cJSON_AddNullToObject(o, "description");
  cJSON_AddNullToObject(o, "license");
  cJSON_AddItemToObject(o, "file", str_or_null(b->path));
  cJSON_AddStringToObject(o, "state", b->state);
  cJSON_AddStringToObject(o, "message", b->message);
  if (b->signal) cJSON_AddStringToObject(o, "signal", plugscan_signal_name(b->signal));
  if (b->exit_status >= 0) cJSON_AddNumberToObject(o, "exit_status", b->exit_status);
  cJSON_AddArrayToObject(o, "ops");
  cJSON_AddArrayToObject(o, "optimizers");
  return o;
}

cJSON *inspect_describe_paths(void) {
  cJSON *o = cJSON_CreateObject();
  cJSON *a = cJSON_AddArrayToObject(o, "paths");
  for (int i = 0, n = nb_plugin_path_count(); i < n; i++) {
    const char *origin = NULL, *dir = nb_plugin_path_at(i, &origin);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddItemToObject(e, "dir", str_or_null(dir));
    cJSON_AddItemToObject(e, "origin", str_or_null(origin));
    cJSON_AddBoolToObject(e, "exists", dir && inspect_is_dir(dir));
    cJSON_AddItemToArray(a, e);
  }
  cJSON_AddItemToObject(o, "default", str_or_null(nb_plugin_default_dir()));
  cJSON_AddBoolToObject(o, "default_used", getenv("NABLA_PLUGIN_SYSTEM_PATH") == NULL);
  return o;
}
