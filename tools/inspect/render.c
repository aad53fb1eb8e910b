/* tools/inspect/render.c — human-readable text for nabla-inspect, rendered from the
 * same cJSON trees that `--json` prints (describe.c).
 */
#include <math.h>
#include <string.h>

#include "inspect.h"

static const char *str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}
static bool flag(const cJSON *o, const char *key) {
  return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}
static const cJSON *item(const cJSON *o, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* Print text wrapped at 80 columns, every line indented by `indent`. */
static void wrap(FILE *f, int indent, const char *text) {
  if (!text || !text[0]) return;
  int col = 0;
  for (const char *p = text; *p;) {
    while (*p == ' ' || *p == '\n') p++;
    size_t len = strcspn(p, " \n");
    if (!len) break;
    if (col > 0 && col + 1 + (int)len > 80) {
      fputc('\n', f);
      col = 0;
    }
    if (col == 0) col = fprintf(f, "%*s", indent, "");
    else col += fprintf(f, " ");
    col += fprintf(f, "%.*s", (int)len, p);
    p += len;
  }
  if (col) fputc('\n', f);
}

/* A scalar or list value as text: 3, 0.5, true, "mean", (1, 1). */
static void value_text(const cJSON *v, char *buf, size_t size) {
  buf[0] = '\0';
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (d == floor(d) && fabs(d) < 1e15) snprintf(buf, size, "%lld", (long long)d);
    else snprintf(buf, size, "%g", d);
  } else if (cJSON_IsString(v)) {
    snprintf(buf, size, "%s", v->valuestring);
  } else if (cJSON_IsBool(v)) {
    snprintf(buf, size, "%s", cJSON_IsTrue(v) ? "true" : "false");
  } else if (cJSON_IsArray(v)) {
    size_t len = 0;
    len += (size_t)snprintf(buf, size, "(");
    const cJSON *e;
    int k = 0;
    cJSON_ArrayForEach(e, v) {
      char one[64];
      value_text(e, one, sizeof one);
      if (len < size) len += (size_t)snprintf(buf + len, size - len, "%s%s", k++ ? ", " : "", one);
    }
    if (len < size) snprintf(buf + len, size - len, ")");
  } else {
    snprintf(buf, size, "-");
  }
}

static void join_array(const cJSON *a, const char *sep, char *buf, size_t size) {
  size_t len = 0;
  buf[0] = '\0';
  const cJSON *e;
  int k = 0;
  cJSON_ArrayForEach(e, a) {
    if (cJSON_IsString(e) && len < size)
      len += (size_t)snprintf(buf + len, size - len, "%s%s", k++ ? sep : "", e->valuestring);
  }
}

static void render_attrs(FILE *f, const char *title, const cJSON *attrs) {
  if (cJSON_GetArraySize(attrs) == 0) {
    fprintf(f, "  %s: none\n", title);
    return;
  }
  fprintf(f, "  %s:\n", title);
  const cJSON *a;
  cJSON_ArrayForEach(a, attrs) {
    char def[256], lo[64], hi[64], line[512];
    const cJSON *mn = item(a, "min"), *mx = item(a, "max");
    value_text(item(a, "default"), def, sizeof def);
    value_text(mn, lo, sizeof lo);
    value_text(mx, hi, sizeof hi);
    int n = snprintf(line, sizeof line, "    %-14s %-7s", str(a, "name"), str(a, "type"));
    if (flag(a, "required")) n += snprintf(line + n, sizeof line - (size_t)n, " required");
    else if (flag(a, "optional")) n += snprintf(line + n, sizeof line - (size_t)n, " optional");
    else if (strcmp(str(a, "type"), "string") == 0)
      n += snprintf(line + n, sizeof line - (size_t)n, " default \"%s\"", def);
    else n += snprintf(line + n, sizeof line - (size_t)n, " default %s", def);
    if (mn && mx) n += snprintf(line + n, sizeof line - (size_t)n, ", range [%s, %s]", lo, hi);
    else if (mn) n += snprintf(line + n, sizeof line - (size_t)n, ", range >= %s", lo);
    else if (mx) n += snprintf(line + n, sizeof line - (size_t)n, ", range <= %s", hi);
    const cJSON *ch = item(a, "choices");
    if (ch) {
      char c[256];
      join_array(ch, ", ", c, sizeof c);
      snprintf(line + n, sizeof line - (size_t)n, ", choices: %s", c);
    }
    fprintf(f, "%s\n", line);
    wrap(f, 19, str(a, "doc"));
  }
}

void render_op(FILE *f, const cJSON *op) {
  fprintf(f, "Op %s  (plugin %s, %s)\n\n", str(op, "name"), str(op, "plugin"), str(op, "file"));
  if (str(op, "doc")) {
    wrap(f, 2, str(op, "doc"));
    fputc('\n', f);
  }
  fprintf(f, "  Inputs:%s\n", cJSON_GetArraySize(item(op, "inputs")) ? "" : " none");
  const cJSON *x;
  cJSON_ArrayForEach(x, item(op, "inputs")) {
    char dt[128];
    join_array(item(x, "dtypes"), ", ", dt, sizeof dt);
    fprintf(f, "    %-14s %s%s%s\n", str(x, "name"), dt,
            flag(x, "differentiable") ? "" : "  (not differentiable)",
            flag(x, "optional") ? "  (optional, may be NULL)" : "");
    wrap(f, 19, str(x, "doc"));
  }
  fprintf(f, "  Outputs:\n");
  cJSON_ArrayForEach(x, item(op, "outputs")) {
    fprintf(f, "    %s%s\n", str(x, "name"),
            flag(x, "differentiable") ? "" : "  (not differentiable)");
    wrap(f, 19, str(x, "doc"));
  }
  render_attrs(f, "Attributes", item(op, "attributes"));
  char flags[128];
  join_array(item(op, "flags"), ", ", flags, sizeof flags);
  fprintf(f, "  Graph node:  %s\n", str(op, "node_name"));
  fprintf(f, "  Backward:    %s\n", flag(op, "has_backward") ? "yes" : "no (not differentiable)");
  fprintf(f, "  Samples:     %s\n", flag(op, "has_samples") ? "yes" : "no (gradcheck skips it)");
  if (flags[0]) fprintf(f, "  Flags:       %s\n", flags);
  if (str(op, "saves")) {
    fprintf(f, "  Saves:\n");
    wrap(f, 4, str(op, "saves"));
  }
}

void render_optim(FILE *f, const cJSON *k) {
  fprintf(f, "Optimizer %s  (plugin %s)\n\n", str(k, "name"), str(k, "plugin"));
  if (str(k, "doc")) {
    wrap(f, 2, str(k, "doc"));
    fputc('\n', f);
  }
  render_attrs(f, "Hyperparameters", item(k, "hyperparameters"));
  char st[256];
  join_array(item(k, "state"), ", ", st, sizeof st);
  fprintf(f, "  State:       %s\n", st[0] ? st : "none");
  fprintf(f, "  Cross-field checks: %s\n", flag(k, "has_validate") ? "yes" : "no");
}

void render_comm(FILE *f, const cJSON *k) {
  fprintf(f, "Communication backend %s  (plugin %s)\n\n", str(k, "name"), str(k, "plugin"));
  if (str(k, "doc")) {
    wrap(f, 2, str(k, "doc"));
    fputc('\n', f);
  }
  char ops[512];
  join_array(item(k, "operations"), ", ", ops, sizeof ops);
  fprintf(f, "  Operations:\n");
  wrap(f, 4, ops);
}

void render_plugin(FILE *f, const cJSON *p, bool verbose) {
  const char *state = str(p, "state");
  bool loaded = strcmp(state, "loaded") == 0;
  if (str(p, "name"))
    fprintf(f, "%s %s%s%s  %s\n", str(p, "name"), str(p, "version") ? str(p, "version") : "",
            loaded ? "" : "  ", loaded ? "" : state, str(p, "file"));
  else
    fprintf(f, "%s  %s\n", str(p, "file"), state);
  if (str(p, "description") && str(p, "description")[0]) wrap(f, 2, str(p, "description"));
  if (verbose && str(p, "license") && str(p, "license")[0])
    fprintf(f, "  license: %s\n", str(p, "license"));
  char names[4096];
  if (cJSON_GetArraySize(item(p, "ops"))) {
    join_array(item(p, "ops"), ", ", names, sizeof names);
    fprintf(f, "  ops (%d):\n", cJSON_GetArraySize(item(p, "ops")));
    wrap(f, 4, names);
  }
  if (cJSON_GetArraySize(item(p, "optimizers"))) {
    join_array(item(p, "optimizers"), ", ", names, sizeof names);
    fprintf(f, "  optimizers (%d):\n", cJSON_GetArraySize(item(p, "optimizers")));
    wrap(f, 4, names);
  }
  if (cJSON_GetArraySize(item(p, "comms"))) {
    join_array(item(p, "comms"), ", ", names, sizeof names);
    fprintf(f, "  communication backends (%d):\n", cJSON_GetArraySize(item(p, "comms")));
    wrap(f, 4, names);
  }
  const char *msg = str(p, "message");
  if (msg && msg[0]) {
    fprintf(f, "  %s:\n    %s\n", loaded ? "warning" : "why", msg); /* unwrapped: greppable */
  }
}

void render_paths(FILE *f, const cJSON *paths) {
  const cJSON *e;
  int i = 0;
  fprintf(f, "Plugin search path (first plugin name found wins):\n");
  cJSON_ArrayForEach(e, item(paths, "paths")) {
    const char *dir = str(e, "dir"), *origin = str(e, "origin");
    fprintf(f, "  %2d. %s  [%s]%s\n", ++i, dir ? dir : "?", origin ? origin : "?",
            flag(e, "exists") ? "" : "  (missing)");
  }
  if (i == 0) fprintf(f, "  (empty)\n");
  const char *def = str(paths, "default");
  fprintf(f, "Default directory: %s%s\n", def ? def : "(unknown: core library not found)",
          flag(paths, "default_used") ? "" : "  (not searched: NABLA_PLUGIN_SYSTEM_PATH is set)");
}
