/* libcore/optim.c — the user-facing optimizer: parameter groups with their own
 * hyperparameters (resolved against the plugin's schema), per-parameter step counts and
 * state tensors, step / zero_grad, saving and loading that state (safetensors), and
 * printing it as PyTorch's print(optimizer) does.
 *
 * The update itself lives in the optimizer plugin (nb_optim_desc.step). This file makes
 * the guarantees around it: steps run under no-grad in a scope, frozen parameters and
 * parameters without .grad are skipped (spec items 28-29), the plugin sees contiguous
 * param and grad of equal dtype, and every updated parameter's version is bumped.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/nabla.h>
#include <nabla/sdk/optim.h> /* the kind's descriptor: hyperparameter schema, state slots */

typedef struct optim_param {
  nb_tensor *t;      /* retained */
  int64_t step;      /* updates done so far */
  nb_tensor **state; /* [n_state], owned references, NULL until the plugin makes them */
} optim_param;

typedef struct optim_group {
  nb_attr_value *hp; /* [n_hparams] */
  int n;
  optim_param *p;
} optim_group;

struct nb_optimizer {
  const nb_optim_desc *d;
  nb_attr_value *defaults; /* [n_hparams]: what nb_optimizer_new resolved */
  int n_groups;
  optim_group *groups;
};

/* ---- schema messages ------------------------------------------------------------------ */

/* Append "; <name> accepts: lr (float, default 0.001, >= 0), ..." to the current error. */
static int error_with_schema(const nb_optim_desc *d) {
  int st = nb_last_status() < 0 ? nb_last_status() : NB_EINVAL;
  nb_text t = {0};
  nb_text_printf(&t, "%s; %s accepts: ", nb_last_error(), d->name);
  for (int i = 0; i < d->n_hparams; i++) {
    if (i) nb_text_puts(&t, ", ");
    nb_attr_spec_text(&d->hparams[i], &t);
  }
  nb_set_error(st, "%s", nb_text_str(&t));
  nb_text_free(&t);
  return st;
}

/* Resolve a group's hyperparameters: `base` (defaults, may be NULL for the schema's) for
 * names not in attrs, then attrs; then NaN and cross-field checks. */
static int resolve_group(const nb_optim_desc *d, const nb_attr_value *base, int n_hp,
                         const nb_attr *hp, nb_attr_value *out) {
  if (n_hp < 0 || (n_hp > 0 && !hp))
    return nb_set_error(NB_EINVAL, "%s: %d hyperparameters given with a NULL array", d->name,
                        n_hp);
  nb_attr *all = calloc((size_t)(d->n_hparams + n_hp) + 1, sizeof *all);
  if (!all) return nb_set_error(NB_ENOMEM, "%s: out of memory", d->name);
  int n = 0;
  for (int i = 0; base && i < d->n_hparams; i++) {
    bool given = false;
    for (int k = 0; k < n_hp && !given; k++) given = hp[k].name && !strcmp(hp[k].name, d->hparams[i].name);
    if (!given) all[n++] = (nb_attr){.name = d->hparams[i].name, .type = d->hparams[i].type, .v = base[i]};
  }
  for (int k = 0; k < n_hp; k++) all[n++] = hp[k];
  int rc = nb_schema_resolve(d->name, d->n_hparams, d->hparams, n, all, out);
  free(all);
  if (rc < 0) return error_with_schema(d);
  for (int i = 0; i < d->n_hparams; i++)
    if (d->hparams[i].type == NB_ATTR_FLOAT && isnan(out[i].f)) {
      nb_set_error(NB_EINVAL, "%s: hyperparameter %s is NaN", d->name, d->hparams[i].name);
      return error_with_schema(d);
    }
  if (d->validate && (rc = d->validate(out)) < 0) return error_with_schema(d);
  return 0;
}

/* ---- creation -------------------------------------------------------------------------- */

static bool is_registered(const nb_optimizer *o, const nb_tensor *t) {
  for (int g = 0; g < o->n_groups; g++)
    for (int i = 0; i < o->groups[g].n; i++)
      if (o->groups[g].p[i].t == t) return true;
  return false;
}

static int check_params(const nb_optimizer *o, int n, nb_tensor *const *params) {
  if (n <= 0 || !params)
    return nb_set_error(NB_EINVAL, "%s: got an empty parameter list", o->d->name);
  for (int i = 0; i < n; i++) {
    const nb_tensor *t = params[i];
    if (!t) return nb_set_error(NB_EINVAL, "%s: parameter %d is NULL", o->d->name, i);
    if (!nb_dtype_is_floating(nb_dtype_of(t)))
      return nb_set_error(NB_EDTYPE, "%s: parameter %d %s is %s; only floating tensors can be "
                          "optimized", o->d->name, i, nb_shape_of(t), nb_dtype_name(nb_dtype_of(t)));
    if (!nb_is_leaf(t))
      return nb_set_error(NB_EINVAL, "%s: can't optimize a non-leaf tensor (parameter %d %s)",
                          o->d->name, i, nb_shape_of(t));
    bool dup = is_registered(o, t);
    for (int k = 0; k < i && !dup; k++) dup = params[k] == t;
    if (dup)
      return nb_set_error(NB_EINVAL, "%s: parameter %d %s appears more than once (in this or "
                          "another group)", o->d->name, i, nb_shape_of(t));
  }
  return 0;
}

static void free_group(const nb_optim_desc *d, optim_group *g) {
  for (int i = 0; i < g->n; i++) {
    for (int s = 0; s < d->n_state; s++) nb_release(g->p[i].state[s]);
    free(g->p[i].state);
    nb_release(g->p[i].t);
  }
  free(g->p);
  free(g->hp);
}

int nb_optimizer_add_group(nb_optimizer *o, int n_params, nb_tensor *const *params, int n_hp,
                           const nb_attr *hp) {
  if (!o) return nb_set_error(NB_EINVAL, "nb_optimizer_add_group: optimizer is NULL");
  const nb_optim_desc *d = o->d;
  int rc = check_params(o, n_params, params);
  if (rc < 0) return rc;
  optim_group g = {.n = n_params};
  g.hp = calloc((size_t)d->n_hparams + 1, sizeof *g.hp);
  g.p = calloc((size_t)n_params, sizeof *g.p);
  optim_group *grown = realloc(o->groups, (size_t)(o->n_groups + 1) * sizeof *grown);
  if (grown) o->groups = grown;
  if (!g.hp || !g.p || !grown) {
    free(g.hp);
    free(g.p);
    return nb_set_error(NB_ENOMEM, "%s: out of memory adding a group", d->name);
  }
  if ((rc = resolve_group(d, o->defaults, n_hp, hp, g.hp)) < 0) {
    free(g.hp);
    free(g.p);
    return rc;
  }
  for (int i = 0; i < n_params; i++) {
    g.p[i].state = calloc((size_t)d->n_state + 1, sizeof *g.p[i].state);
    if (!g.p[i].state) {
      g.n = i;
      free_group(d, &g);
      return nb_set_error(NB_ENOMEM, "%s: out of memory adding a group", d->name);
    }
    g.p[i].t = nb_retain(params[i]);
  }
  o->groups[o->n_groups] = g;
  return o->n_groups++;
}

nb_optimizer *nb_optimizer_new(const char *name, int n_params, nb_tensor *const *params,
                               int n_hp, const nb_attr *hp) {
  if (!name) {
    nb_set_error(NB_EINVAL, "nb_optimizer_new: name is NULL");
    return NULL;
  }
  const nb_optim_kind *k = nb_optim_find(name);
  if (!k) return NULL;
  nb_optimizer *o = calloc(1, sizeof *o);
  if (!o) {
    nb_set_error(NB_ENOMEM, "%s: out of memory", name);
    return NULL;
  }
  o->d = nb_optim_descriptor(k);
  o->defaults = calloc((size_t)o->d->n_hparams + 1, sizeof *o->defaults);
  if (!o->defaults) {
    nb_set_error(NB_ENOMEM, "%s: out of memory", name);
    free(o);
    return NULL;
  }
  if (resolve_group(o->d, NULL, n_hp, hp, o->defaults) < 0 ||
      nb_optimizer_add_group(o, n_params, params, 0, NULL) < 0) {
    nb_optimizer_free(o);
    return NULL;
  }
  return o;
}

void nb_optimizer_free(nb_optimizer *o) {
  if (!o) return;
  for (int g = 0; g < o->n_groups; g++) free_group(o->d, &o->groups[g]);
  free(o->groups);
  free(o->defaults);
  free(o);
}

/* ---- step and zero_grad ---------------------------------------------------------------- */

static int step_one(nb_optimizer *o, optim_group *g, int gi, int i) {
  optim_param *pp = &g->p[i];
  nb_tensor *p = pp->t, *grad = nb_grad(p);
  if (!nb_requires_grad(p) || !grad) return 0; /* frozen or no grad: never touched */
  if (nb_dtype_of(grad) != nb_dtype_of(p) || !nb_same_shape(grad, p))
    return nb_set_error(NB_EINVAL, "%s.step: group %d parameter %d is %s %s but its grad is %s %s",
                        o->d->name, gi, i, nb_shape_of(p), nb_dtype_name(nb_dtype_of(p)),
                        nb_shape_of(grad), nb_dtype_name(nb_dtype_of(grad)));
  /* the parameter changed dtype since the state was made (nb_module_to_dtype after the
   * optimizer was built): the state follows it, as it would have been made in that dtype */
  for (int s = 0; s < o->d->n_state; s++) {
    nb_tensor *st = pp->state[s];
    if (st && nb_dtype_of(st) != nb_dtype_of(p) && nb_dtype_is_floating(nb_dtype_of(st))) {
      nb_tensor *c = nb_convert(st, nb_dtype_of(p));
      if (!c || nb_set_data(st, c) < 0) return nb_last_status();
    }
  }
  nb_tensor *pw = nb_is_contiguous(p) ? p : nb_copy_data(p);
  nb_tensor *gw = nb_is_contiguous(grad) ? grad : nb_copy_data(grad);
  if (!pw || !gw) return nb_last_status();
  int rc = o->d->step(g->hp, pp->step + 1, pw, gw, pp->state);
  if (rc < 0) {
    nb_error_prefix("%s.step (group %d, parameter %d %s)", o->d->name, gi, i, nb_shape_of(p));
    return rc;
  }
  pp->step++;
  if (pw != p) return nb_copy_into(p, pw); /* bumps the version */
  nb_bump_version(p);
  return 0;
}

int nb_optimizer_step(nb_optimizer *o) {
  if (!o) return nb_set_error(NB_EINVAL, "nb_optimizer_step: optimizer is NULL");
  int rc = nb_no_grad_begin();
  if (rc < 0) return rc;
  for (int g = 0; g < o->n_groups && rc >= 0; g++) {
    for (int i = 0; i < o->groups[g].n && rc >= 0; i++) {
      if ((rc = nb_scope_begin()) < 0) break;
      rc = step_one(o, &o->groups[g], g, i);
      nb_scope_end();
    }
  }
  nb_grad_mode_end();
  return rc < 0 ? rc : 0;
}

int nb_optimizer_zero_grad(nb_optimizer *o, bool set_to_none) {
  if (!o) return nb_set_error(NB_EINVAL, "nb_optimizer_zero_grad: optimizer is NULL");
  for (int g = 0; g < o->n_groups; g++)
    for (int i = 0; i < o->groups[g].n; i++) {
      nb_tensor *p = o->groups[g].p[i].t, *grad = nb_grad(p);
      if (!grad) continue;
      int rc = set_to_none ? nb_set_grad(p, NULL) : nb_fill(grad, 0.0);
      if (rc < 0) return rc;
    }
  return 0;
}

/* ---- accessors -------------------------------------------------------------------------- */

const char *nb_optimizer_name(const nb_optimizer *o) { return o ? o->d->name : NULL; }
int nb_optimizer_num_groups(const nb_optimizer *o) { return o ? o->n_groups : 0; }

static const optim_group *get_group(const nb_optimizer *o, int group, const char *fn) {
  if (!o) {
    nb_set_error(NB_EINVAL, "%s: optimizer is NULL", fn);
    return NULL;
  }
  if (group < 0 || group >= o->n_groups) {
    nb_set_error(NB_EINVAL, "%s: group %d out of range (%s has %d)", fn, group, o->d->name,
                 o->n_groups);
    return NULL;
  }
  return &o->groups[group];
}

int nb_optimizer_group_size(const nb_optimizer *o, int group) {
  const optim_group *g = get_group(o, group, "nb_optimizer_group_size");
  return g ? g->n : nb_last_status();
}

static int hparam_index(const nb_optimizer *o, const char *name, const char *fn) {
  for (int i = 0; name && i < o->d->n_hparams; i++)
    if (!strcmp(o->d->hparams[i].name, name)) {
      nb_attr_type t = o->d->hparams[i].type;
      if (t == NB_ATTR_FLOAT || t == NB_ATTR_INT || t == NB_ATTR_BOOL) return i;
      break;
    }
  nb_set_error(NB_EINVAL, "%s: %s has no numeric hyperparameter '%s'", fn, o->d->name,
               name ? name : "(null)");
  return error_with_schema(o->d);
}

double nb_optimizer_get_hparam(const nb_optimizer *o, int group, const char *name) {
  const optim_group *g = get_group(o, group, "nb_optimizer_get_hparam");
  int k = g ? hparam_index(o, name, "nb_optimizer_get_hparam") : -1;
  if (k < 0) return NAN;
  return o->d->hparams[k].type == NB_ATTR_FLOAT ? g->hp[k].f : (double)g->hp[k].i;
}

int nb_optimizer_set_hparam(nb_optimizer *o, int group, const char *name, double value) {
  const optim_group *g = get_group(o, group, "nb_optimizer_set_hparam");
  if (!g) return nb_last_status();
  int k = hparam_index(o, name, "nb_optimizer_set_hparam");
  if (k < 0) return k;
  nb_attr a = {.name = name, .type = o->d->hparams[k].type};
  if (a.type == NB_ATTR_FLOAT) a.v.f = value;
  else if (a.type == NB_ATTR_BOOL && value != 0 && value != 1)
    return nb_set_error(NB_EINVAL, "nb_optimizer_set_hparam: %s.%s is a bool: give 0 or 1, got %g",
                        o->d->name, name, value);
  else if (a.type == NB_ATTR_BOOL) a.v.i = value != 0;
  else if (value != floor(value) || fabs(value) > 9e15)
    return nb_set_error(NB_EINVAL, "nb_optimizer_set_hparam: %s.%s is an int, got %g",
                        o->d->name, name, value);
  else a.v.i = (int64_t)value;
  nb_attr_value tmp[64];
  nb_attr_value *vals = o->d->n_hparams <= 64 ? tmp : calloc((size_t)o->d->n_hparams, sizeof *vals);
  if (!vals) return nb_set_error(NB_ENOMEM, "nb_optimizer_set_hparam: out of memory");
  int rc = resolve_group(o->d, g->hp, 1, &a, vals);
  if (rc >= 0) memcpy(g->hp, vals, (size_t)o->d->n_hparams * sizeof *vals);
  if (vals != tmp) free(vals);
  return rc < 0 ? rc : 0;
}

double nb_optimizer_get_lr(const nb_optimizer *o, int group) {
  return nb_optimizer_get_hparam(o, group, "lr");
}

int nb_optimizer_set_lr(nb_optimizer *o, int group, double lr) {
  return nb_optimizer_set_hparam(o, group, "lr", lr);
}

static const optim_param *get_param(const nb_optimizer *o, int group, int index, const char *fn) {
  const optim_group *g = get_group(o, group, fn);
  if (!g) return NULL;
  if (index < 0 || index >= g->n) {
    nb_set_error(NB_EINVAL, "%s: parameter %d out of range (group %d has %d)", fn, index, group,
                 g->n);
    return NULL;
  }
  return &g->p[index];
}

int64_t nb_optimizer_param_step(const nb_optimizer *o, int group, int index) {
  const optim_param *p = get_param(o, group, index, "nb_optimizer_param_step");
  return p ? p->step : -1;
}

nb_tensor *nb_optimizer_param_state(const nb_optimizer *o, int group, int index,
                                    const char *state_name) {
  const optim_param *p = get_param(o, group, index, "nb_optimizer_param_state");
  if (!p) return NULL;
  for (int s = 0; state_name && s < o->d->n_state; s++)
    if (!strcmp(o->d->state_names[s], state_name)) return p->state[s];
  nb_set_error(NB_ENOTFOUND, "nb_optimizer_param_state: %s has no state '%s'", o->d->name,
               state_name ? state_name : "(null)");
  return NULL;
}

/* ---- printing (torch.optim.Optimizer.__repr__) ------------------------------------------- */

/* PyTorch's class name for each bundled kind, and the keys PyTorch 2.x (2.7 and later) keeps
 * in every param group that nabla has no hyperparameter for — implementation switches
 * (foreach, fused, capturable, differentiable) printed at their defaults. Adam and AdamW
 * print decoupled_weight_decay since 2.7. Kinds not listed print under their own name.
 * (Debian's torch 1.13 differs: SGD has no fused, Adam shows fused: False, AdamW neither
 * differentiable nor fused, RMSprop no capturable, and none decoupled_weight_decay.) */
typedef struct torch_optim_names {
  const char *kind, *cls;
  const char *extra[6][2]; /* {key, value}, NULL-terminated */
} torch_optim_names;

static const torch_optim_names torch_names[] = {
    {"sgd", "SGD", {{"differentiable", "False"}, {"foreach", "None"}, {"fused", "None"}}},
    {"adam", "Adam", {{"capturable", "False"}, {"decoupled_weight_decay", "False"},
                      {"differentiable", "False"}, {"foreach", "None"}, {"fused", "None"}}},
    {"adamw", "AdamW", {{"capturable", "False"}, {"decoupled_weight_decay", "True"},
                        {"differentiable", "False"}, {"foreach", "None"}, {"fused", "None"}}},
    {"rmsprop", "RMSprop", {{"capturable", "False"}, {"differentiable", "False"}, {"foreach", "None"}}},
};

/* Python's repr() of a float: the shortest digits that round-trip, fixed notation for
 * decimal exponents -4 < e <= 16 (with ".0" when integral), else "1e-05" style. */
static void py_float(double v, char *out, size_t cap) {
  if (isnan(v)) {
    snprintf(out, cap, "nan");
    return;
  }
  if (isinf(v)) {
    snprintf(out, cap, v < 0 ? "-inf" : "inf");
    return;
  }
  char e[40] = "";
  for (int prec = 0; prec < 17; prec++) {
    snprintf(e, sizeof e, "%.*e", prec, v);
    if (strtod(e, NULL) == v) break;
  }
  const char *p = e;
  bool neg = *p == '-';
  if (neg) p++;
  char digits[24];
  int nd = 0;
  for (; *p && *p != 'e'; p++)
    if (*p >= '0' && *p <= '9' && nd < 23) digits[nd++] = *p;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = 0;
  int decpt = (*p == 'e' ? atoi(p + 1) : 0) + 1; /* value = 0.d1d2... x 10^decpt */
  if (v == 0) decpt = 1;
  size_t len = 0;
#define PUT(...) (len += (size_t)snprintf(out + (len < cap ? len : cap), len < cap ? cap - len : 0, __VA_ARGS__))
  if (neg) PUT("-");
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) PUT("0.%.*s%s", -decpt, "0000", digits);
    else if (decpt >= nd) PUT("%s%.*s.0", digits, decpt - nd, "0000000000000000");
    else PUT("%.*s.%s", decpt, digits, digits + decpt);
  } else {
    PUT("%c%s%s", digits[0], nd > 1 ? "." : "", digits + 1);
    PUT("e%c%02d", decpt - 1 < 0 ? '-' : '+', abs(decpt - 1));
  }
#undef PUT
}

/* str() of one hyperparameter value as PyTorch holds it. A float equal to an integral
 * schema default prints as an int ("0"): PyTorch's signatures write those defaults as int
 * literals (momentum=0, weight_decay=0). */
static void py_value(const nb_attr_spec *s, const nb_attr_value *v, char *out, size_t cap) {
  switch (s->type) {
  case NB_ATTR_FLOAT:
    if (v->f == s->def.f && s->def.f == floor(s->def.f) && fabs(s->def.f) < 1e15)
      snprintf(out, cap, "%lld", (long long)s->def.f);
    else py_float(v->f, out, cap);
    return;
  case NB_ATTR_BOOL: snprintf(out, cap, "%s", v->i ? "True" : "False"); return;
  case NB_ATTR_INT: snprintf(out, cap, "%lld", (long long)v->i); return;
  case NB_ATTR_STRING: snprintf(out, cap, "%s", v->s ? v->s : "None"); return;
  case NB_ATTR_INTS: {
    size_t len = (size_t)snprintf(out, cap, "(");
    for (int i = 0; i < v->ints.n && len < cap; i++)
      len += (size_t)snprintf(out + len, cap - len, "%s%lld", i ? ", " : "", (long long)v->ints.v[i]);
    if (len < cap) snprintf(out + len, cap - len, v->ints.n == 1 ? ",)" : ")");
    return;
  }
  }
  snprintf(out, cap, "?");
}

typedef struct repr_entry {
  const char *key;
  char value[96];
} repr_entry;

static int entry_cmp(const void *a, const void *b) {
  return strcmp(((const repr_entry *)a)->key, ((const repr_entry *)b)->key);
}

static int hparam_find(const nb_optim_desc *d, const char *name) {
  for (int i = 0; i < d->n_hparams; i++)
    if (!strcmp(d->hparams[i].name, name) && d->hparams[i].type == NB_ATTR_FLOAT) return i;
  return -1;
}

char *nb_optimizer_to_string(const nb_optimizer *o) {
  if (!o) {
    nb_set_error(NB_EINVAL, "nb_optimizer_to_string: optimizer is NULL");
    return NULL;
  }
  const nb_optim_desc *d = o->d;
  const torch_optim_names *tn = NULL;
  for (size_t i = 0; i < sizeof torch_names / sizeof *torch_names; i++)
    if (!strcmp(torch_names[i].kind, d->name)) tn = &torch_names[i];
  /* PyTorch keeps Adam's two betas as one tuple, "betas" */
  int b1 = hparam_find(d, "beta1"), b2 = hparam_find(d, "beta2");
  bool betas = b1 >= 0 && b2 >= 0 && hparam_find(d, "betas") < 0;
  int cap = d->n_hparams + 8;
  repr_entry *e = calloc((size_t)cap, sizeof *e);
  size_t total = strlen(tn ? tn->cls : d->name) + 8, size = 0;
  char *out = NULL;
  for (int pass = 0; pass < 2 && e; pass++) { /* measure, then write */
    if (pass == 1 && !(out = malloc(total + 1))) break;
    size_t len = 0;
#define PUT(...) (len += (size_t)snprintf(out ? out + len : NULL, out ? total + 1 - len : 0, __VA_ARGS__))
    PUT("%s (", tn ? tn->cls : d->name);
    for (int g = 0; g < o->n_groups; g++) {
      int n = 0;
      for (int h = 0; h < d->n_hparams; h++) {
        if (betas && h == b2) continue;
        if (betas && h == b1) {
          char x[40], y[40];
          py_value(&d->hparams[b1], &o->groups[g].hp[b1], x, sizeof x);
          py_value(&d->hparams[b2], &o->groups[g].hp[b2], y, sizeof y);
          e[n].key = "betas";
          snprintf(e[n++].value, sizeof e->value, "(%s, %s)", x, y);
          continue;
        }
        e[n].key = d->hparams[h].name;
        py_value(&d->hparams[h], &o->groups[g].hp[h], e[n++].value, sizeof e->value);
      }
      for (int x = 0; tn && x < 6 && tn->extra[x][0] && n < cap; x++) {
        e[n].key = tn->extra[x][0];
        snprintf(e[n++].value, sizeof e->value, "%s", tn->extra[x][1]);
      }
      qsort(e, (size_t)n, sizeof *e, entry_cmp);
      PUT("\nParameter Group %d\n", g);
      for (int i = 0; i < n; i++) PUT("    %s: %s\n", e[i].key, e[i].value);
    }
    PUT(")");
#undef PUT
    total = len;
    size = len;
  }
  free(e);
  if (!out) {
    nb_set_error(NB_ENOMEM, "nb_optimizer_to_string: out of memory");
    return NULL;
  }
  out[size] = 0;
  return out;
}

int nb_optimizer_print(const nb_optimizer *o, FILE *out) {
  char *s = nb_optimizer_to_string(o);
  if (!s) return nb_last_status();
  int rc = fprintf(out ? out : stdout, "%s\n", s) < 0
               ? nb_set_error(NB_EIO, "nb_optimizer_print: write failed")
               : 0;
  free(s);
  return rc;
}

/* ---- saving and loading state ------------------------------------------------------------ */

#define META_KIND "nabla.optimizer"

static int total_params(const nb_optimizer *o) {
  int n = 0;
  for (int g = 0; g < o->n_groups; g++) n += o->groups[g].n;
  return n;
}

static char *fmt_hparam(const nb_attr_spec *s, const nb_attr_value *v) {
  return s->type == NB_ATTR_FLOAT ? nb_strdup_printf("%.17g", v->f) : nb_strdup_printf("%lld", (long long)v->i);
}

void nb_optimizer_state_free(nb_optimizer_state *s) {
  if (!s) return;
  for (int i = 0; i < s->n; i++) {
    free(s->names[i]);
    nb_release(s->tensors[i]);
  }
  for (int i = 0; s->metadata && s->metadata[i]; i++) free(s->metadata[i]);
  free(s->names);
  free(s->tensors);
  free(s->metadata);
  free(s);
}

nb_optimizer_state *nb_optimizer_state_get(const nb_optimizer *o) {
  if (!o) {
    nb_set_error(NB_EINVAL, "nb_optimizer_state_get: NULL optimizer");
    return NULL;
  }
  const nb_optim_desc *d = o->d;
  int cap_t = total_params(o) * (d->n_state + 1), cap_m = 2 * (2 + o->n_groups * (1 + d->n_hparams)) + 1;
  nb_optimizer_state *st = calloc(1, sizeof *st);
  char **names = st ? calloc((size_t)cap_t + 1, sizeof *names) : NULL;
  nb_tensor **ts = st ? calloc((size_t)cap_t + 1, sizeof *ts) : NULL;
  char **meta = st ? calloc((size_t)cap_m, sizeof *meta) : NULL;
  int nt = 0, nm = 0, rc = 0;
  if (!names || !ts || !meta) rc = nb_set_error(NB_ENOMEM, "nb_optimizer_state_get: out of memory");
  if (rc >= 0 && (rc = nb_scope_begin()) >= 0) {
    meta[nm++] = strdup(META_KIND);
    meta[nm++] = strdup(d->name);
    meta[nm++] = strdup("groups");
    meta[nm++] = nb_strdup_printf("%d", o->n_groups);
    for (int g = 0, k = 0; g < o->n_groups; g++) {
      const optim_group *gr = &o->groups[g];
      meta[nm++] = nb_strdup_printf("group.%d.size", g);
      meta[nm++] = nb_strdup_printf("%d", gr->n);
      for (int h = 0; h < d->n_hparams; h++) {
        if (d->hparams[h].type == NB_ATTR_INTS || d->hparams[h].type == NB_ATTR_STRING) continue;
        meta[nm++] = nb_strdup_printf("group.%d.%s", g, d->hparams[h].name);
        meta[nm++] = fmt_hparam(&d->hparams[h], &gr->hp[h]);
      }
      for (int i = 0; i < gr->n; i++, k++) {
        const optim_param *pp = &gr->p[i];
        if (pp->step == 0) continue;
        names[nt] = nb_strdup_printf("state.%d.step", k);
        nb_tensor *step = nb_keep(nb_scalar(0, NB_I64));
        if (step) *(int64_t *)nb_data(step) = pp->step; /* exact, not through a double */
        ts[nt++] = step;
        for (int s = 0; s < d->n_state; s++)
          if (pp->state[s]) {
            names[nt] = nb_strdup_printf("state.%d.%s", k, d->state_names[s]);
            ts[nt++] = nb_retain(pp->state[s]);
          }
      }
    }
    for (int i = 0; i < nm; i++)
      if (!meta[i]) rc = nb_set_error(NB_ENOMEM, "nb_optimizer_state_get: out of memory");
    for (int i = 0; i < nt; i++)
      if (!names[i] || !ts[i]) rc = nb_set_error(NB_ENOMEM, "nb_optimizer_state_get: out of memory");
    nb_scope_end();
  }
  if (st) {
    st->n = nt;
    st->names = names;
    st->tensors = ts;
    st->metadata = meta; /* NULL-terminated: calloc'ed with one slot to spare */
  }
  if (rc < 0) {
    if (meta) /* a failed strdup leaves a hole: free every slot, then forget them */
      for (int i = 0; i < nm; i++) {
        free(meta[i]);
        meta[i] = NULL;
      }
    nb_optimizer_state_free(st);
    if (!st) nb_set_error(NB_ENOMEM, "nb_optimizer_state_get: out of memory");
    return NULL;
  }
  return st;
}

int nb_optimizer_save(const nb_optimizer *o, const char *path) {
  if (!o || !path) return nb_set_error(NB_EINVAL, "nb_optimizer_save: NULL argument");
  nb_optimizer_state *st = nb_optimizer_state_get(o);
  if (!st) {
    nb_error_prefix("nb_optimizer_save");
    return nb_last_status();
  }
  int rc = nb_safetensors_save(path, st->n, (const char *const *)st->names, st->tensors,
                               (const char *const *)st->metadata);
  nb_optimizer_state_free(st);
  return rc < 0 ? rc : 0;
}

/* The file is outside input: every key has one spelling (what nb_optimizer_save writes)
 * and every number is checked whole, for range, and for being finite. */

/* A canonical decimal integer at *p ("0" or [1-9][0-9]*, at most INT64_MAX); advances *p
 * past it. -1 if there is none or it overflows. */
static int64_t parse_index(const char **p) {
  const char *s = *p;
  if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9')) return -1;
  int64_t v = 0;
  for (; *s >= '0' && *s <= '9'; s++) {
    if (v > (INT64_MAX - (*s - '0')) / 10) return -1;
    v = v * 10 + (*s - '0');
  }
  *p = s;
  return v;
}

/* A whole string holding a canonical integer ("-"? then parse_index, no "-0") in
 * [lo, hi]. */
static bool parse_int_text(const char *s, int64_t lo, int64_t hi, int64_t *out) {
  bool neg = *s == '-';
  const char *p = s + neg;
  int64_t v = parse_index(&p);
  if (v < 0 || *p || (neg && v == 0)) return false;
  v = neg ? -v : v;
  if (v < lo || v > hi) return false;
  *out = v;
  return true;
}

/* A whole string holding a finite decimal number (no hex, inf, nan, or blanks). */
static bool parse_float_text(const char *s, double *out) {
  if (!*s || strspn(s, "0123456789+-.eE") != strlen(s)) return false;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || !isfinite(v) || (errno == ERANGE && fabs(v) == HUGE_VAL)) return false;
  *out = v;
  return true;
}

/* "state.<k>.<rest>" with k canonical and 0 <= k < n; returns k or -1. */
static int parse_state_key(const char *name, int n, const char **rest) {
  if (strncmp(name, "state.", 6) != 0) return -1;
  const char *p = name + 6;
  int64_t k = parse_index(&p);
  if (k < 0 || k >= n || *p != '.') return -1;
  *rest = p + 1;
  return (int)k;
}

/* "group.<g>.<rest>" with g canonical and 0 <= g < n; returns g or -1. */
static int parse_group_key(const char *name, int n, const char **rest) {
  if (strncmp(name, "group.", 6) != 0) return -1;
  const char *p = name + 6;
  int64_t g = parse_index(&p);
  if (g < 0 || g >= n || *p != '.') return -1;
  *rest = p + 1;
  return (int)g;
}

/* Index of the saved (numeric) hyperparameter `name`, or -1. */
static int saved_hparam(const nb_optim_desc *d, const char *name) {
  for (int h = 0; h < d->n_hparams; h++) {
    nb_attr_type t = d->hparams[h].type;
    if ((t == NB_ATTR_FLOAT || t == NB_ATTR_INT || t == NB_ATTR_BOOL) && !strcmp(d->hparams[h].name, name))
      return h;
  }
  return -1;
}

/* Every metadata key must be one nb_optimizer_save writes for this optimizer. */
static int check_metadata_keys(const nb_optimizer *o, const nb_safetensors *f, const char *path) {
  for (int i = 0, n = nb_safetensors_metadata_count(f); i < n; i++) {
    const char *key = nb_safetensors_metadata_key(f, i), *rest = NULL;
    if (!strcmp(key, META_KIND) || !strcmp(key, "groups")) continue;
    if (parse_group_key(key, o->n_groups, &rest) >= 0 &&
        (!strcmp(rest, "size") || saved_hparam(o->d, rest) >= 0))
      continue;
    return nb_set_error(NB_EINVAL, "nb_optimizer_load: %s: unexpected metadata key '%s' for %s "
                        "with %d group%s", path, key, o->d->name, o->n_groups, o->n_groups == 1 ? "" : "s");
  }
  return 0;
}

/* Check the file's kind, group layout and hyperparameters; resolves into hps[g][...]. */
static int load_groups(const nb_optimizer *o, const nb_safetensors *f, const char *path,
                       nb_attr_value **hps) {
  const nb_optim_desc *d = o->d;
  const char *kind = nb_safetensors_metadata(f, META_KIND);
  if (!kind || strcmp(kind, d->name) != 0)
    return nb_set_error(NB_EINVAL, "nb_optimizer_load: %s holds %s%s state, not %s", path,
                        kind ? "" : "no optimizer", kind ? kind : "", d->name);
  int rc = check_metadata_keys(o, f, path);
  if (rc < 0) return rc;
  const char *ng = nb_safetensors_metadata(f, "groups");
  int64_t v;
  if (!ng || !parse_int_text(ng, 0, INT_MAX, &v) || v != o->n_groups)
    return nb_set_error(NB_EINVAL, "nb_optimizer_load: %s has %s%s%s groups, the optimizer %d", path,
                        ng ? "'" : "", ng ? ng : "no", ng ? "'" : "", o->n_groups);
  nb_attr attrs[64];
  for (int g = 0; g < o->n_groups; g++) {
    char key[128];
    snprintf(key, sizeof key, "group.%d.size", g);
    const char *sz = nb_safetensors_metadata(f, key);
    if (!sz || !parse_int_text(sz, 0, INT_MAX, &v) || v != o->groups[g].n)
      return nb_set_error(NB_EINVAL, "nb_optimizer_load: %s: group %d has %s%s%s parameters, the "
                          "optimizer's %d", path, g, sz ? "'" : "", sz ? sz : "no", sz ? "'" : "",
                          o->groups[g].n);
    int na = 0;
    for (int h = 0; h < d->n_hparams && na < 64; h++) {
      const nb_attr_spec *s = &d->hparams[h];
      snprintf(key, sizeof key, "group.%d.%s", g, s->name);
      const char *text = nb_safetensors_metadata(f, key);
      if (!text || saved_hparam(d, s->name) < 0) continue;
      nb_attr a = {.name = s->name, .type = s->type};
      bool ok = s->type == NB_ATTR_FLOAT  ? parse_float_text(text, &a.v.f)
                : s->type == NB_ATTR_BOOL ? parse_int_text(text, 0, 1, &a.v.i)
                                          : parse_int_text(text, -INT64_MAX, INT64_MAX, &a.v.i);
      if (!ok)
        return nb_set_error(NB_EINVAL, "nb_optimizer_load: %s: '%s' is '%.64s', not %s", path, key,
                            text, s->type == NB_ATTR_FLOAT ? "a finite decimal number"
                            : s->type == NB_ATTR_BOOL ? "0 or 1" : "a decimal integer");
      attrs[na++] = a;
    }
    if (resolve_group(d, o->groups[g].hp, na, attrs, hps[g]) < 0) {
      nb_error_prefix("nb_optimizer_load: %s: group %d", path, g);
      return nb_last_status();
    }
  }
  return 0;
}

/* Read every tensor into steps[k] / st[k*n_state+s] (kept references), checking names,
 * shapes and dtypes against the parameters. */
static int load_tensors(const nb_optimizer *o, const nb_safetensors *f, const char *path,
                        optim_param **flat, int64_t *steps, nb_tensor **st) {
  const nb_optim_desc *d = o->d;
  int n = total_params(o), cnt = nb_safetensors_count(f);
  for (int i = 0; i < cnt; i++) {
    const char *name = nb_safetensors_name(f, i), *rest = NULL;
    int k = parse_state_key(name, n, &rest), slot = -2;
    if (k >= 0 && !strcmp(rest, "step")) slot = -1;
    for (int s = 0; k >= 0 && slot == -2 && s < d->n_state; s++)
      if (!strcmp(rest, d->state_names[s])) slot = s;
    if (k < 0 || slot == -2)
      return nb_set_error(NB_EINVAL, "nb_optimizer_load: %s: unexpected key '%s' for %s with %d "
                          "parameters", path, name, d->name, n);
    nb_tensor **dst = slot >= 0 ? &st[(size_t)k * (size_t)d->n_state + (size_t)slot] : NULL;
    if (slot == -1 ? steps[k] != 0 : *dst != NULL) /* unreachable with canonical keys; never leak */
      return nb_set_error(NB_EINVAL, "nb_optimizer_load: %s: '%s' is given twice", path, name);
    nb_tensor *t = nb_safetensors_get(f, name);
    if (!t) return nb_last_status();
    const nb_tensor *p = flat[k]->t;
    if (slot == -1) {
      /* an integer >= 1, exactly: int64 as stored, or an integral float up to 2^53 */
      double v = 0;
      int64_t step = 0;
      bool ok = nb_numel(t) == 1;
      if (ok && nb_dtype_of(t) == NB_I64) step = *(const int64_t *)nb_data(t);
      else if (ok && nb_dtype_is_floating(nb_dtype_of(t)) && nb_item_checked(t, &v) == 0 &&
               isfinite(v) && v == floor(v) && fabs(v) <= 9007199254740992.0)
        step = (int64_t)v;
      if (step < 1) {
        char has[64] = "";
        if (nb_numel(t) == 1 && nb_dtype_of(t) == NB_I64) snprintf(has, sizeof has, " = %lld", (long long)step);
        else if (nb_numel(t) == 1 && nb_item_checked(t, &v) == 0) snprintf(has, sizeof has, " = %.17g", v);
        return nb_set_error(NB_EINVAL, "nb_optimizer_load: %s: '%s' is not a step count (one integer "
                            ">= 1: int64, or an integral float up to 2^53): the file has %s %s%s", path,
                            name, nb_dtype_name(nb_dtype_of(t)), nb_shape_of(t), has);
      }
      steps[k] = step;
    } else {
      if (!nb_same_shape(t, p) || nb_dtype_of(t) != nb_dtype_of(p))
        return nb_set_error(NB_ESHAPE, "nb_optimizer_load: %s: '%s' is %s %s but the parameter "
                            "is %s %s", path, name, nb_shape_of(t), nb_dtype_name(nb_dtype_of(t)),
                            nb_shape_of(p), nb_dtype_name(nb_dtype_of(p)));
      *dst = nb_keep(t);
    }
  }
  for (int k = 0; k < n; k++)
    for (int s = 0; s < d->n_state; s++)
      if (st[(size_t)k * (size_t)d->n_state + (size_t)s] && steps[k] == 0)
        return nb_set_error(NB_EINVAL, "nb_optimizer_load: %s: parameter %d has state but no "
                            "'state.%d.step'", path, k, k);
  return 0;
}

/* Load from an opened file; `path` names it in messages. */
static int load_file(nb_optimizer *o, const nb_safetensors *f, const char *path) {
  const nb_optim_desc *d = o->d;
  int n = total_params(o);
  size_t ns = (size_t)n * (size_t)d->n_state;
  optim_param **flat = calloc((size_t)n + 1, sizeof *flat);
  int64_t *steps = calloc((size_t)n + 1, sizeof *steps);
  nb_tensor **st = calloc(ns + 1, sizeof *st);
  nb_attr_value **hps = calloc((size_t)o->n_groups + 1, sizeof *hps);
  int rc = (flat && steps && st && hps) ? 0 : nb_set_error(NB_ENOMEM, "nb_optimizer_load: out of memory");
  for (int g = 0, k = 0; rc >= 0 && g < o->n_groups; g++) {
    for (int i = 0; i < o->groups[g].n; i++) flat[k++] = &o->groups[g].p[i];
    if (!(hps[g] = calloc((size_t)d->n_hparams + 1, sizeof *hps[g])))
      rc = nb_set_error(NB_ENOMEM, "nb_optimizer_load: out of memory");
  }
  if (rc >= 0 && (rc = nb_scope_begin()) >= 0) {
    rc = load_groups(o, f, path, hps);
    if (rc >= 0) rc = load_tensors(o, f, path, flat, steps, st);
    nb_scope_end();
  }
  if (rc >= 0) { /* commit: swap everything in */
    for (int g = 0; g < o->n_groups; g++)
      memcpy(o->groups[g].hp, hps[g], (size_t)d->n_hparams * sizeof *hps[g]);
    for (int k = 0; k < n; k++) {
      flat[k]->step = steps[k];
      for (int s = 0; s < d->n_state; s++) {
        nb_tensor **slot = &st[(size_t)k * (size_t)d->n_state + (size_t)s];
        nb_release(flat[k]->state[s]);
        flat[k]->state[s] = *slot;
        *slot = NULL;
      }
    }
  }
  for (size_t i = 0; st && i < ns; i++) nb_release(st[i]);
  for (int g = 0; hps && g < o->n_groups; g++) free(hps[g]);
  free(hps);
  free(st);
  free(steps);
  free(flat);
  return rc < 0 ? rc : 0;
}

int nb_optimizer_load(nb_optimizer *o, const char *path) {
  if (!o || !path) return nb_set_error(NB_EINVAL, "nb_optimizer_load: NULL argument");
  nb_safetensors *f = nb_safetensors_load(path);
  if (!f) return nb_last_status();
  int rc = load_file(o, f, path);
  nb_safetensors_free(f);
  return rc;
}

int nb_optimizer_load_safetensors(nb_optimizer *o, const nb_safetensors *f) {
  if (!o || !f) return nb_set_error(NB_EINVAL, "nb_optimizer_load: NULL argument");
  return load_file(o, f, "file");
}
