/* libcore/module.c — the module tree: named children, parameters and buffers in
 * registration order (as PyTorch's ordered dicts), dotted-name lookup, train/eval,
 * freezing, parameter listings in PyTorch's order and PyTorch-style printing.
 * Layers (layers.c) and networks (resnet.c) are built on this public API only.
 */
#include <stdlib.h>
#include <string.h>

#include <nabla/nabla.h>
#include "nabla/module.h"

typedef struct named_t {
  char *name;
  nb_tensor *t; /* owned reference */
} named_t;

typedef struct named_m {
  char *name;
  nb_module *m; /* owned */
} named_m;

struct nb_module {
  char *type;
  char *extra;
  bool training;
  nb_module_forward_fn forward;
  void *user;
  void (*free_user)(void *);
  int n_params, n_buffers, n_children;
  named_t *params, *buffers;
  named_m *children;
  const nb_module *parent; /* set while a module owns this one as a child */
};

/* ---- creation and destruction ------------------------------------------------------------ */

nb_module *nb_module_new(const char *type_name, nb_module_forward_fn forward, void *user,
                         void (*free_user)(void *)) {
  nb_module *m = calloc(1, sizeof *m);
  if (m) m->type = strdup(type_name ? type_name : "Module");
  if (!m || !m->type) {
    free(m);
    if (free_user) free_user(user);
    nb_set_error(NB_ENOMEM, "nb_module_new: out of memory");
    return NULL;
  }
  m->training = true;
  m->forward = forward;
  m->user = user;
  m->free_user = free_user;
  return m;
}

void nb_module_free(nb_module *m) {
  if (!m) return;
  for (int i = 0; i < m->n_params; i++) {
    free(m->params[i].name);
    nb_release(m->params[i].t);
  }
  for (int i = 0; i < m->n_buffers; i++) {
    free(m->buffers[i].name);
    nb_release(m->buffers[i].t);
  }
  for (int i = 0; i < m->n_children; i++) {
    free(m->children[i].name);
    nb_module_free(m->children[i].m);
  }
  if (m->free_user) m->free_user(m->user);
  free(m->params);
  free(m->buffers);
  free(m->children);
  free(m->type);
  free(m->extra);
  free(m);
}

void *nb_module_user(const nb_module *m) { return m ? m->user : NULL; }
const char *nb_module_type(const nb_module *m) { return m ? m->type : NULL; }

int nb_module_set_extra_repr(nb_module *m, const char *text) {
  if (!m) return nb_set_error(NB_EINVAL, "nb_module_set_extra_repr: module is NULL");
  char *s = strdup(text ? text : "");
  if (!s) return nb_set_error(NB_ENOMEM, "nb_module_set_extra_repr: out of memory");
  free(m->extra);
  m->extra = s;
  return 0;
}

/* ---- names ---------------------------------------------------------------------------------- */

static int find_t(const named_t *v, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(v[i].name, name)) return i;
  return -1;
}

static int find_m(const named_m *v, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(v[i].name, name)) return i;
  return -1;
}

static int check_name(const nb_module *m, const char *fn, const char *name) {
  if (!m) return nb_set_error(NB_EINVAL, "%s: module is NULL", fn);
  if (!name || !*name || strchr(name, '.'))
    return nb_set_error(NB_EINVAL, "%s: name \"%s\" must be non-empty without '.'", fn,
                        name ? name : "(null)");
  return 0;
}

/* Walk a dotted path to the module owning its last component; *last gets that component. */
static nb_module *walk(const nb_module *m, const char *path, const char **last, const char *fn) {
  const char *p = path;
  for (const char *dot; (dot = strchr(p, '.')) != NULL; p = dot + 1) {
    int k = -1;
    for (int i = 0; i < m->n_children && k < 0; i++)
      if ((size_t)(dot - p) == strlen(m->children[i].name) &&
          !strncmp(m->children[i].name, p, (size_t)(dot - p)))
        k = i;
    if (k < 0) {
      nb_set_error(NB_ENOTFOUND, "%s: %s has no submodule \"%.*s\" (path \"%s\")", fn, m->type,
                   (int)(dot - p), p, path);
      return NULL;
    }
    m = m->children[k].m;
  }
  *last = p;
  return (nb_module *)m;
}

nb_module *nb_module_child(const nb_module *m, const char *path) {
  if (!m || !path) {
    nb_set_error(NB_EINVAL, "nb_module_child: NULL argument");
    return NULL;
  }
  const char *last;
  nb_module *owner = walk(m, path, &last, "nb_module_child");
  if (!owner) return NULL;
  int k = find_m(owner->children, owner->n_children, last);
  if (k < 0) {
    nb_set_error(NB_ENOTFOUND, "nb_module_child: %s has no submodule \"%s\" (path \"%s\")",
                 owner->type, last, path);
    return NULL;
  }
  return owner->children[k].m;
}

nb_tensor *nb_module_get(const nb_module *m, const char *path) {
  if (!m || !path) {
    nb_set_error(NB_EINVAL, "nb_module_get: NULL argument");
    return NULL;
  }
  const char *last;
  nb_module *owner = walk(m, path, &last, "nb_module_get");
  if (!owner) return NULL;
  int k = find_t(owner->params, owner->n_params, last);
  if (k >= 0) return owner->params[k].t;
  k = find_t(owner->buffers, owner->n_buffers, last);
  if (k >= 0) return owner->buffers[k].t;
  nb_set_error(NB_ENOTFOUND, "nb_module_get: %s has no parameter or buffer \"%s\" (path \"%s\")",
               owner->type, last, path);
  return NULL;
}

int nb_module_num_children(const nb_module *m) { return m ? m->n_children : 0; }

nb_module *nb_module_child_at(const nb_module *m, int i, const char **name) {
  if (!m || i < 0 || i >= m->n_children) {
    nb_set_error(NB_EINVAL, "nb_module_child_at: index %d out of range", i);
    return NULL;
  }
  if (name) *name = m->children[i].name;
  return m->children[i].m;
}

/* ---- registration ---------------------------------------------------------------------------- */

static int clash(const nb_module *m, const char *fn, const char *name, int kind) {
  bool c = (kind != 0 && find_t(m->params, m->n_params, name) >= 0) ||
           (kind != 1 && find_t(m->buffers, m->n_buffers, name) >= 0) ||
           (kind != 2 && find_m(m->children, m->n_children, name) >= 0);
  return c ? nb_set_error(NB_EINVAL, "%s: %s already has an attribute \"%s\" of another kind",
                          fn, m->type, name)
           : 0;
}

/* Insert or replace name -> t in a tensor list (takes a new reference). */
static int put_tensor(named_t **v, int *n, const char *name, nb_tensor *t, const char *fn) {
  int k = find_t(*v, *n, name);
  if (k >= 0) {
    nb_retain(t);
    nb_release((*v)[k].t);
    (*v)[k].t = t;
    return 0;
  }
  named_t *grown = realloc(*v, (size_t)(*n + 1) * sizeof *grown);
  char *nm = strdup(name);
  if (!grown || !nm) {
    if (grown) *v = grown;
    free(nm);
    return nb_set_error(NB_ENOMEM, "%s: out of memory", fn);
  }
  *v = grown;
  grown[*n] = (named_t){nm, nb_retain(t)};
  (*n)++;
  return 0;
}

int nb_module_register_parameter(nb_module *m, const char *name, nb_tensor *t) {
  const char *fn = "nb_module_register_parameter";
  int rc = check_name(m, fn, name);
  if (rc < 0 || (rc = clash(m, fn, name, 0)) < 0) return rc;
  if (!t) return nb_set_error(NB_EINVAL, "%s: tensor for \"%s\" is NULL", fn, name);
  if (!nb_is_leaf(t) || !nb_dtype_is_floating(nb_dtype_of(t)))
    return nb_set_error(NB_EINVAL, "%s: \"%s\" must be a floating leaf tensor (got %s %s%s)", fn,
                        name, nb_shape_of(t), nb_dtype_name(nb_dtype_of(t)),
                        nb_is_leaf(t) ? "" : ", non-leaf");
  if (!nb_requires_grad(t) && (rc = nb_set_requires_grad(t, true)) < 0) return rc;
  return put_tensor(&m->params, &m->n_params, name, t, fn);
}

int nb_module_register_buffer(nb_module *m, const char *name, nb_tensor *t) {
  const char *fn = "nb_module_register_buffer";
  int rc = check_name(m, fn, name);
  if (rc < 0 || (rc = clash(m, fn, name, 1)) < 0) return rc;
  if (!t) return nb_set_error(NB_EINVAL, "%s: tensor for \"%s\" is NULL", fn, name);
  if (nb_requires_grad(t))
    return nb_set_error(NB_EINVAL, "%s: buffer \"%s\" must not require grad", fn, name);
  return put_tensor(&m->buffers, &m->n_buffers, name, t, fn);
}

/* A NULL child usually means its constructor failed: keep that error, with context. */
static int null_child(const char *fn, const char *name) {
  if (nb_last_status() == NB_OK)
    return nb_set_error(NB_EINVAL, "%s: module for \"%s\" is NULL", fn, name ? name : "");
  nb_error_prefix("%s: module for \"%s\"", fn, name ? name : "");
  return nb_last_status();
}

/* A child that already belongs to a module tree (or is the parent itself) must not be
 * taken over: freeing it on failure would free something its owner still uses. */
static int owned_elsewhere(const char *fn, const nb_module *parent, const nb_module *child) {
  for (const nb_module *p = parent; p; p = p->parent)
    if (p == child) return nb_set_error(NB_EINVAL, "%s: a module cannot contain itself", fn);
  if (child->parent)
    return nb_set_error(NB_EINVAL, "%s: the %s already belongs to a %s; one module under two "
                                   "names (weight sharing) is not supported",
                        fn, child->type, child->parent->type);
  return NB_OK;
}

int nb_module_add(nb_module *parent, const char *name, nb_module *child) {
  const char *fn = "nb_module_add";
  if (!child) return null_child(fn, name);
  if (owned_elsewhere(fn, parent, child) < 0) return nb_last_status();
  int rc = check_name(parent, fn, name);
  if (rc >= 0) rc = clash(parent, fn, name, 2);
  if (rc >= 0 && find_m(parent->children, parent->n_children, name) >= 0)
    rc = nb_set_error(NB_EINVAL, "%s: %s already has a child \"%s\"", fn, parent->type, name);
  named_m *grown = NULL;
  char *nm = NULL;
  if (rc >= 0) {
    grown = realloc(parent->children, (size_t)(parent->n_children + 1) * sizeof *grown);
    if (grown) parent->children = grown;
    nm = strdup(name);
    if (!grown || !nm) rc = nb_set_error(NB_ENOMEM, "%s: out of memory", fn);
  }
  if (rc < 0) {
    free(nm);
    nb_module_free(child);
    return rc;
  }
  grown[parent->n_children++] = (named_m){nm, child};
  child->parent = parent;
  return 0;
}

int nb_module_replace(nb_module *m, const char *path, nb_module *child) {
  const char *fn = "nb_module_replace", *last = NULL;
  if (!child) return null_child(fn, path);
  nb_module *owner = NULL;
  int k = -1;
  if (!m || !path) nb_set_error(NB_EINVAL, "%s: NULL argument", fn);
  else if ((owner = walk(m, path, &last, fn)) != NULL &&
           (k = find_m(owner->children, owner->n_children, last)) < 0)
    nb_set_error(NB_ENOTFOUND, "%s: %s has no submodule \"%s\" (path \"%s\")", fn, owner->type,
                 last, path);
  if (k >= 0 && owner->children[k].m == child) return 0; /* replaced by itself */
  if (k < 0) { /* free what was handed over, never a module another tree owns */
    int rc = nb_last_status();
    if (!child->parent) nb_module_free(child);
    return rc;
  }
  if (owned_elsewhere(fn, owner, child) < 0) return nb_last_status();
  nb_module_free(owner->children[k].m);
  owner->children[k].m = child;
  child->parent = owner;
  return 0;
}

/* ---- using ------------------------------------------------------------------------------------- */

nb_tensor *nb_module_forward(nb_module *m, nb_tensor *x) {
  if (!m) {
    nb_set_error(NB_EINVAL, "nb_module_forward: module is NULL");
    return NULL;
  }
  if (!m->forward) {
    nb_set_error(NB_EUNSUPPORTED, "%s: this module has no forward", m->type);
    return NULL;
  }
  if (!x) {
    nb_set_error(NB_EINVAL, "%s.forward: input is NULL", m->type);
    return NULL;
  }
  nb_tensor *y = m->forward(m, x);
  if (!y && nb_last_status() == NB_OK)
    nb_set_error(NB_EPLUGIN, "%s.forward returned NULL without an error", m->type);
  return y;
}

void nb_module_train(nb_module *m, bool training) {
  if (!m) return;
  m->training = training;
  for (int i = 0; i < m->n_children; i++) nb_module_train(m->children[i].m, training);
}

bool nb_module_is_training(const nb_module *m) { return m && m->training; }

int nb_module_set_requires_grad(nb_module *m, bool requires_grad) {
  if (!m) return nb_set_error(NB_EINVAL, "nb_module_set_requires_grad: module is NULL");
  for (int i = 0; i < m->n_params; i++) {
    int rc = nb_set_requires_grad(m->params[i].t, requires_grad);
    if (rc < 0) return rc;
  }
  for (int i = 0; i < m->n_children; i++) {
    int rc = nb_module_set_requires_grad(m->children[i].m, requires_grad);
    if (rc < 0) return rc;
  }
  return 0;
}

/* ---- listings ------------------------------------------------------------------------------------ */

enum { LIST_PARAMS = 1, LIST_BUFFERS = 2, LIST_DEDUP = 4 };

static int list_push(nb_named_tensors *l, int *cap, const char *prefix, const char *name,
                     nb_tensor *t) {
  if (l->n == *cap) {
    int nc = *cap ? 2 * *cap : 16;
    char **nn = realloc(l->names, (size_t)nc * sizeof *nn);
    if (nn) l->names = nn;
    nb_tensor **nt = realloc(l->tensors, (size_t)nc * sizeof *nt);
    if (nt) l->tensors = nt;
    if (!nn || !nt) return nb_set_error(NB_ENOMEM, "nb_module listing: out of memory");
    *cap = nc;
  }
  size_t len = strlen(prefix) + strlen(name) + 1;
  char *s = malloc(len);
  if (!s) return nb_set_error(NB_ENOMEM, "nb_module listing: out of memory");
  snprintf(s, len, "%s%s", prefix, name);
  l->names[l->n] = s;
  l->tensors[l->n++] = t;
  return 0;
}

static bool listed(const nb_named_tensors *l, const nb_tensor *t) {
  for (int i = 0; i < l->n; i++)
    if (l->tensors[i] == t) return true;
  return false;
}

static int collect(const nb_module *m, const char *prefix, unsigned what, nb_named_tensors *l,
                   int *cap) {
  int rc = 0;
  for (int i = 0; rc >= 0 && (what & LIST_PARAMS) && i < m->n_params; i++)
    if (!(what & LIST_DEDUP) || !listed(l, m->params[i].t))
      rc = list_push(l, cap, prefix, m->params[i].name, m->params[i].t);
  for (int i = 0; rc >= 0 && (what & LIST_BUFFERS) && i < m->n_buffers; i++)
    if (!(what & LIST_DEDUP) || !listed(l, m->buffers[i].t))
      rc = list_push(l, cap, prefix, m->buffers[i].name, m->buffers[i].t);
  for (int i = 0; rc >= 0 && i < m->n_children; i++) {
    size_t len = strlen(prefix) + strlen(m->children[i].name) + 2;
    char *sub = malloc(len);
    if (!sub) return nb_set_error(NB_ENOMEM, "nb_module listing: out of memory");
    snprintf(sub, len, "%s%s.", prefix, m->children[i].name);
    rc = collect(m->children[i].m, sub, what, l, cap);
    free(sub);
  }
  return rc;
}

static nb_named_tensors *list_new(const nb_module *m, unsigned what) {
  if (!m) {
    nb_set_error(NB_EINVAL, "nb_module listing: module is NULL");
    return NULL;
  }
  nb_named_tensors *l = calloc(1, sizeof *l);
  int cap = 0;
  if (!l) {
    nb_set_error(NB_ENOMEM, "nb_module listing: out of memory");
    return NULL;
  }
  if (collect(m, "", what, l, &cap) < 0) {
    nb_named_tensors_free(l);
    return NULL;
  }
  return l;
}

nb_named_tensors *nb_module_named_parameters(const nb_module *m) {
  return list_new(m, LIST_PARAMS | LIST_DEDUP);
}
nb_named_tensors *nb_module_named_buffers(const nb_module *m) {
  return list_new(m, LIST_BUFFERS | LIST_DEDUP);
}
nb_named_tensors *nb_module_state_dict(const nb_module *m) {
  return list_new(m, LIST_PARAMS | LIST_BUFFERS);
}

void nb_named_tensors_free(nb_named_tensors *l) {
  if (!l) return;
  for (int i = 0; i < l->n; i++) free(l->names[i]);
  free(l->names);
  free(l->tensors);
  free(l);
}

int64_t nb_module_num_parameters(const nb_module *m, bool trainable_only) {
  nb_named_tensors *l = nb_module_named_parameters(m);
  if (!l) return nb_last_status();
  int64_t n = 0;
  for (int i = 0; i < l->n; i++)
    if (!trainable_only || nb_requires_grad(l->tensors[i])) n += nb_numel(l->tensors[i]);
  nb_named_tensors_free(l);
  return n;
}

int nb_module_zero_grad(nb_module *m, bool set_to_none) {
  nb_named_tensors *l = nb_module_named_parameters(m);
  if (!l) return nb_last_status();
  int rc = 0;
  for (int i = 0; i < l->n && rc >= 0; i++) {
    nb_tensor *g = nb_grad(l->tensors[i]);
    if (g) rc = set_to_none ? nb_set_grad(l->tensors[i], NULL) : nb_fill(g, 0.0);
  }
  nb_named_tensors_free(l);
  return rc < 0 ? rc : 0;
}

/* ---- printing (torch.nn.Module.__repr__) ----------------------------------------------------- */

/* Append s with every line after the first indented by `indent` spaces (_addindent). */
static void sb_indented(nb_text *b, const char *s, int indent) {
  for (const char *nl; (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
    nb_text_add(b, s, (size_t)(nl - s) + 1);
    nb_text_spaces(b, indent);
  }
  nb_text_puts(b, s);
}

static void repr(const nb_module *m, nb_text *b) {
  const char *extra = m->extra ? m->extra : "";
  nb_text_puts(b, m->type);
  nb_text_puts(b, "(");
  bool has_extra = *extra != 0;
  if (has_extra && m->n_children == 0 && !strchr(extra, '\n')) {
    nb_text_puts(b, extra);
  } else if (has_extra || m->n_children) {
    if (has_extra) {
      nb_text_puts(b, "\n  ");
      sb_indented(b, extra, 2);
    }
    for (int i = 0; i < m->n_children; i++) {
      nb_text c = {0};
      repr(m->children[i].m, &c);
      b->oom |= c.oom;
      nb_text_puts(b, "\n  (");
      nb_text_puts(b, m->children[i].name);
      nb_text_puts(b, "): ");
      if (c.s) sb_indented(b, c.s, 2);
      nb_text_free(&c);
    }
    nb_text_puts(b, "\n");
  }
  nb_text_puts(b, ")");
}

char *nb_module_to_string(const nb_module *m) {
  if (!m) {
    nb_set_error(NB_EINVAL, "nb_module_to_string: module is NULL");
    return NULL;
  }
  nb_text b = {0};
  repr(m, &b);
  char *str = nb_text_take(&b);
  if (!str) nb_set_error(NB_ENOMEM, "nb_module_to_string: out of memory");
  return str;
}

int nb_module_print(const nb_module *m, FILE *out) {
  char *s = nb_module_to_string(m);
  if (!s) return nb_last_status();
  int rc = fprintf(out ? out : stdout, "%s\n", s) < 0
               ? nb_set_error(NB_EIO, "nb_module_print: write failed")
               : 0;
  free(s);
  return rc;
}
