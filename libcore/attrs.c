/* libcore/attrs.c — attribute schemas (of ops and optimizer hyperparameters): checking
 * a schema when a plugin registers it, and resolving the attributes a caller gives by
 * name into values in schema order (defaults filled, types converted, ranges and choices
 * checked) before a kernel runs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define ERRF(...) (snprintf(err, errsz, __VA_ARGS__), -1)

/* Index of `s` in a comma-separated list, or -1. */
static int choice_index(const char *choices, const char *s) {
  if (!choices || !s) return -1;
  size_t n = strlen(s);
  int idx = 0;
  for (const char *p = choices;; idx++) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && strncmp(p, s, n) == 0) return idx;
    if (!end) return -1;
    p = end + 1;
  }
}

const char *nb_attr_type_name(nb_attr_type t) {
  switch (t) {
  case NB_ATTR_INT: return "int";
  case NB_ATTR_FLOAT: return "float";
  case NB_ATTR_BOOL: return "bool";
  case NB_ATTR_INTS: return "int[]";
  case NB_ATTR_STRING: return "string";
  }
  return "?";
}

void nb_attr_spec_text(const nb_attr_spec *s, nb_text *out) {
  nb_text_printf(out, "%s (%s", s->name ? s->name : "(null)", nb_attr_type_name(s->type));
  if (s->flags & NB_ATTR_REQUIRED) {
    nb_text_puts(out, ", required");
  } else if (s->flags & NB_ATTR_OPTIONAL) {
    nb_text_puts(out, ", optional");
  } else {
    switch (s->type) {
    case NB_ATTR_INT: nb_text_printf(out, ", default %lld", (long long)s->def.i); break;
    case NB_ATTR_FLOAT: nb_text_printf(out, ", default %g", s->def.f); break;
    case NB_ATTR_BOOL: nb_text_printf(out, ", default %s", s->def.i ? "true" : "false"); break;
    case NB_ATTR_STRING: nb_text_printf(out, ", default \"%s\"", s->def.s ? s->def.s : ""); break;
    case NB_ATTR_INTS:
      nb_text_puts(out, ", default [");
      for (int j = 0; j < s->def.ints.n && j < NB_MAX_DIMS; j++)
        nb_text_printf(out, "%s%lld", j ? ", " : "", (long long)s->def.ints.v[j]);
      nb_text_puts(out, "]");
      break;
    }
  }
  if ((s->flags & NB_ATTR_HAS_MIN) && (s->flags & NB_ATTR_HAS_MAX))
    nb_text_printf(out, ", in [%g, %g]", s->min, s->max);
  else if (s->flags & NB_ATTR_HAS_MIN)
    nb_text_printf(out, ", >= %g", s->min);
  else if (s->flags & NB_ATTR_HAS_MAX)
    nb_text_printf(out, ", <= %g", s->max);
  if (s->type == NB_ATTR_STRING && s->choices) nb_text_printf(out, ", one of %s", s->choices);
  nb_text_puts(out, ")");
}

/* Range check of one number against a spec; writes a message on failure. */
static int check_range(const nb_attr_spec *s, double v, const char *what, char *err, size_t errsz) {
  if ((s->flags & NB_ATTR_HAS_MIN) && !(v >= s->min))
    return ERRF("%s '%s' = %g is below the minimum %g", what, s->name, v, s->min);
  if ((s->flags & NB_ATTR_HAS_MAX) && !(v <= s->max))
    return ERRF("%s '%s' = %g is above the maximum %g", what, s->name, v, s->max);
  return 0;
}

/* Validate an attribute (or hyperparameter) schema; `kind` is "attribute" or
 * "hyperparameter". */
int nb__check_attr_specs(int n, const nb_attr_spec *a, const char *kind, char *err,
                            size_t errsz) {
  if (n < 0 || n > NB_MAX_ATTRS) return ERRF("%d %ss (must be 0..%d)", n, kind, NB_MAX_ATTRS);
  if (n > 0 && !a) return ERRF("%d %ss declared but the array is NULL", n, kind);
  for (int k = 0; k < n; k++) {
    const nb_attr_spec *s = &a[k];
    if (!s->name || !s->name[0]) return ERRF("%s %d has no name", kind, k);
    for (int j = 0; j < k; j++)
      if (strcmp(a[j].name, s->name) == 0) return ERRF("%s '%s' is declared twice", kind, s->name);
    if ((unsigned)s->type > NB_ATTR_STRING)
      return ERRF("%s '%s' has an invalid type %d", kind, s->name, (int)s->type);
    if ((s->flags & NB_ATTR_HAS_MIN) && (s->flags & NB_ATTR_HAS_MAX) && s->min > s->max)
      return ERRF("%s '%s' has min %g > max %g", kind, s->name, s->min, s->max);
    if (s->type == NB_ATTR_INTS && (s->def.ints.n < 0 || s->def.ints.n > NB_MAX_DIMS))
      return ERRF("%s '%s' default has %d values (at most %d)", kind, s->name, s->def.ints.n,
                  NB_MAX_DIMS);
    if (s->type == NB_ATTR_STRING && s->choices && !s->choices[0])
      return ERRF("%s '%s' has an empty choices list", kind, s->name);
    if (s->flags & (NB_ATTR_REQUIRED | NB_ATTR_OPTIONAL)) continue; /* no default used */
    char what[32];
    snprintf(what, sizeof what, "default of %s", kind);
    switch (s->type) {
    case NB_ATTR_INT:
      if (check_range(s, (double)s->def.i, what, err, errsz)) return -1;
      break;
    case NB_ATTR_FLOAT:
      if (check_range(s, s->def.f, what, err, errsz)) return -1;
      break;
    case NB_ATTR_INTS:
      for (int j = 0; j < s->def.ints.n; j++)
        if (check_range(s, (double)s->def.ints.v[j], what, err, errsz)) return -1;
      break;
    case NB_ATTR_STRING:
      if (s->choices && choice_index(s->choices, s->def.s) < 0)
        return ERRF("%s '%s' default \"%s\" is not one of its choices \"%s\"", kind, s->name,
                    s->def.s ? s->def.s : "(null)", s->choices);
      break;
    case NB_ATTR_BOOL: break;
    }
  }
  return 0;
}

/* ---- attribute resolution (used by dispatch and optimizers) --------------------------- */

static int attr_error(const char *what, const char *fmt, ...) NB_PRINTF(2, 3);
static int attr_error(const char *what, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return nb_set_error(NB_EINVAL, "%s: %s", what ? what : "attributes", msg);
}

/* Convert a given attribute to the spec's type into *out. */
static int convert_attr(const char *what, const nb_attr_spec *s, const nb_attr *a,
                        nb_attr_value *out) {
  nb_attr_type t = a->type;
  switch (s->type) {
  case NB_ATTR_INT:
    if (t != NB_ATTR_INT && t != NB_ATTR_BOOL) break;
    out->i = a->v.i;
    return 0;
  case NB_ATTR_FLOAT:
    if (t == NB_ATTR_FLOAT) out->f = a->v.f;
    else if (t == NB_ATTR_INT) out->f = (double)a->v.i;
    else break;
    return 0;
  case NB_ATTR_BOOL:
    if (t != NB_ATTR_BOOL && t != NB_ATTR_INT) break;
    if (a->v.i != 0 && a->v.i != 1)
      return attr_error(what, "attribute '%s' is a bool: give 0 or 1, got %lld", s->name,
                        (long long)a->v.i);
    out->i = a->v.i;
    return 0;
  case NB_ATTR_INTS: {
    int want = s->def.ints.n; /* expected length when the default has one */
    if (t == NB_ATTR_INT) {
      out->ints.n = want > 0 ? want : 1;
      for (int j = 0; j < out->ints.n; j++) out->ints.v[j] = a->v.i;
      return 0;
    }
    if (t != NB_ATTR_INTS) break;
    int n = a->v.ints.n;
    if (n < 0 || n > NB_MAX_DIMS)
      return attr_error(what, "attribute '%s' has %d values (at most %d)", s->name, n, NB_MAX_DIMS);
    if (n == 1 && want > 1) {
      out->ints.n = want;
      for (int j = 0; j < want; j++) out->ints.v[j] = a->v.ints.v[0];
      return 0;
    }
    if (want > 0 && n != want)
      return attr_error(what, "attribute '%s' expects %d values (or one for all), got %d",
                        s->name, want, n);
    out->ints = a->v.ints;
    return 0;
  }
  case NB_ATTR_STRING:
    if (t != NB_ATTR_STRING) break;
    if (!a->v.s) return attr_error(what, "attribute '%s' is a NULL string", s->name);
    out->s = a->v.s;
    out->i = 0;
    if (s->choices) {
      int idx = choice_index(s->choices, a->v.s);
      if (idx < 0)
        return attr_error(what, "attribute '%s' = \"%s\" is not one of: %s", s->name, a->v.s,
                          s->choices);
      out->i = idx;
    }
    return 0;
  }
  return attr_error(what, "attribute '%s' expects %s, got %s", s->name, nb_attr_type_name(s->type),
                    (unsigned)t <= NB_ATTR_STRING ? nb_attr_type_name(t) : "an invalid type");
}

static int check_value_range(const char *what, const nb_attr_spec *s, const nb_attr_value *v) {
  char err[256];
  size_t errsz = sizeof err;
  int bad = 0;
  if (s->type == NB_ATTR_INT) bad = check_range(s, (double)v->i, "attribute", err, errsz);
  else if (s->type == NB_ATTR_FLOAT) bad = check_range(s, v->f, "attribute", err, errsz);
  else if (s->type == NB_ATTR_INTS)
    for (int j = 0; j < v->ints.n && !bad; j++)
      bad = check_range(s, (double)v->ints.v[j], "attribute", err, errsz);
  return bad ? attr_error(what, "%s", err) : 0;
}

int nb_schema_resolve(const char *what, int n_specs, const nb_attr_spec *specs, int n_attrs,
                      const nb_attr *attrs, nb_attr_value *values) {
  if (n_attrs < 0 || (n_attrs > 0 && !attrs))
    return attr_error(what, "%d attributes given with a %s array", n_attrs, attrs ? "" : "NULL");
  if (n_specs > NB_MAX_ATTRS) return attr_error(what, "too many attributes in the schema");
  for (int k = 0; k < n_specs; k++) {
    const nb_attr_spec *s = &specs[k];
    memset(&values[k], 0, sizeof values[k]);
    if (s->flags & (NB_ATTR_OPTIONAL | NB_ATTR_REQUIRED)) continue;
    values[k] = s->def;
    if (s->type == NB_ATTR_STRING && s->choices) values[k].i = choice_index(s->choices, s->def.s);
  }
  uint64_t given = 0;
  for (int a = 0; a < n_attrs; a++) {
    const char *name = attrs[a].name;
    if (!name) return attr_error(what, "attribute %d has no name", a);
    int k = 0;
    while (k < n_specs && strcmp(specs[k].name, name) != 0) k++;
    if (k == n_specs) {
      char list[512] = "";
      size_t used = 0;
      for (int j = 0; j < n_specs && used < sizeof list; j++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s", j ? ", " : "", specs[j].name);
        if (w < 0) break;
        used += (size_t)w;
      }
      return attr_error(what, "unknown attribute '%s'; accepted: %s", name,
                        n_specs ? list : "none (this takes no attributes)");
    }
    if (given & (1ull << k)) return attr_error(what, "attribute '%s' given twice", name);
    given |= 1ull << k;
    int rc = convert_attr(what, &specs[k], &attrs[a], &values[k]);
    if (rc < 0) return rc;
    if ((rc = check_value_range(what, &specs[k], &values[k])) < 0) return rc;
  }
  for (int k = 0; k < n_specs; k++)
    if ((specs[k].flags & NB_ATTR_REQUIRED) && !(given & (1ull << k)))
      return attr_error(what, "missing required attribute '%s' (%s)", specs[k].name,
                        nb_attr_type_name(specs[k].type));
  return 0;
}
