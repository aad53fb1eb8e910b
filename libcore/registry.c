/* libcore/registry.c — the op, optimizer and communication backend registries and
 * schema validation at
 * registration time. A store: it knows nothing of plugin files or loading. Who
 * registered an entry is an nb_provider the loader hands to the registrar (lookup.c puts
 * "load the plugins, then find" on top of both).
 *
 * Attribute schemas themselves are checked and resolved in attrs.c.
 *
 * Registration happens only inside a plugin's init, through an nb_registrar. What an
 * init registers is kept pending in the registrar and published only when init
 * succeeded, so a failed init (or an invalid schema) leaves nothing behind and a
 * concurrent lookup never sees a half-registered plugin.
 *
 * Lookups are lock-free: the name -> entry hash map and the registration-order
 * array are published with release stores; writers (serialised by a mutex) replace
 * them with larger copies when full and keep the old ones reachable (never freed),
 * so a reader holding an old table stays valid.
 */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Smallest descriptors accepted: the ABI 1.0 layouts (up to `saves` / `step`). */
#define NB_OP_DESC_MIN_SIZE ((uint32_t)(offsetof(nb_op_desc, saves) + sizeof(const char *)))
#define NB_OPTIM_DESC_MIN_SIZE \
  ((uint32_t)(offsetof(nb_optim_desc, step) + sizeof(nb_optim_step_fn)))
#define NB_MAX_OPTIM_STATE 16
/* ABI 1.0's nb_comm_desc ends with `abort`: the first version already had all fields. */
#define NB_COMM_DESC_MIN_SIZE ((uint32_t)(offsetof(nb_comm_desc, test) + sizeof(void *)))

/* ---- a published, append-only table: array in order + open-addressing map ---------- */

typedef struct nb_vec {
  struct nb_vec *prev; /* retired predecessor, kept reachable */
  int cap;
  void *items[];
} nb_vec;

typedef struct nb_map {
  struct nb_map *prev;
  size_t cap; /* power of two */
  _Atomic(void *) slot[];
} nb_map;

typedef struct nb_table {
  _Atomic(nb_vec *) vec;
  atomic_int count;
  _Atomic(nb_map *) map;
  const char *(*key)(const void *item);
} nb_table;

static const char *op_key(const void *p) { return ((const nb_op *)p)->d.name; }
static const char *optim_key(const void *p) { return ((const nb_optim_kind *)p)->d.name; }
static const char *comm_key(const void *p) { return ((const nb_comm_kind *)p)->d.name; }

static nb_table g_ops = {.key = op_key};
static nb_table g_optims = {.key = optim_key};
static nb_table g_comms = {.key = comm_key};
static pthread_mutex_t g_write = PTHREAD_MUTEX_INITIALIZER;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static void *table_get(nb_table *t, const char *name) {
  nb_map *m = atomic_load_explicit(&t->map, memory_order_acquire);
  if (!m) return NULL;
  for (size_t i = hash_str(name) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    void *e = atomic_load_explicit(&m->slot[i], memory_order_acquire);
    if (!e) return NULL;
    if (strcmp(t->key(e), name) == 0) return e;
  }
}

static void map_insert(nb_map *m, const char *(*key)(const void *), void *item) {
  size_t i = hash_str(key(item)) & (m->cap - 1);
  while (atomic_load_explicit(&m->slot[i], memory_order_relaxed)) i = (i + 1) & (m->cap - 1);
  atomic_store_explicit(&m->slot[i], item, memory_order_release);
}

/* Make room for `extra` more items (writer lock held), so adding them cannot fail. */
static int table_reserve(nb_table *t, int extra) {
  int n = atomic_load_explicit(&t->count, memory_order_relaxed);
  nb_vec *v = atomic_load_explicit(&t->vec, memory_order_relaxed);
  if (!v || n + extra > v->cap) {
    int cap = v ? v->cap : 16;
    while (cap < n + extra) cap *= 2;
    nb_vec *nv = calloc(1, sizeof(nb_vec) + (size_t)cap * sizeof(void *));
    if (!nv) return NB_ENOMEM;
    nv->cap = cap;
    nv->prev = v;
    if (v) memcpy(nv->items, v->items, (size_t)n * sizeof(void *));
    atomic_store_explicit(&t->vec, nv, memory_order_release);
  }
  nb_map *m = atomic_load_explicit(&t->map, memory_order_relaxed);
  if (!m || (size_t)(n + extra) * 2 > m->cap) {
    size_t cap = m ? m->cap : 32;
    while ((size_t)(n + extra) * 2 > cap) cap *= 2;
    nb_map *nm = calloc(1, sizeof(nb_map) + cap * sizeof(_Atomic(void *)));
    if (!nm) return NB_ENOMEM;
    nm->cap = cap;
    nm->prev = m;
    for (int i = 0; i < n; i++)
      map_insert(nm, t->key, atomic_load_explicit(&t->vec, memory_order_relaxed)->items[i]);
    atomic_store_explicit(&t->map, nm, memory_order_release);
  }
  return 0;
}

/* Append (writer lock held, room reserved). Returns the item's index. */
static int table_add(nb_table *t, void *item) {
  int n = atomic_load_explicit(&t->count, memory_order_relaxed);
  nb_vec *v = atomic_load_explicit(&t->vec, memory_order_relaxed);
  v->items[n] = item;
  map_insert(atomic_load_explicit(&t->map, memory_order_relaxed), t->key, item);
  atomic_store_explicit(&t->count, n + 1, memory_order_release);
  return n;
}

static int table_count(nb_table *t) { return atomic_load_explicit(&t->count, memory_order_acquire); }

static void *table_at(nb_table *t, int i) {
  int n = table_count(t);
  if (i < 0 || i >= n) return NULL;
  return atomic_load_explicit(&t->vec, memory_order_acquire)->items[i];
}

/* ---- small string helpers ------------------------------------------------------------ */

/* Levenshtein distance, capped (for "did you mean" hints). */
static int edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63) return 99;
  int row[64];
  for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      diag = up;
      row[j] = best;
    }
  }
  return row[lb];
}

/* ---- reading the store (no loading here: lookup.c loads plugins first) --------------- */

static const char *provider_name(const nb_provider *p) { return p ? p->name : "core"; }
static const char *provider_path(const nb_provider *p) { return p ? p->path : "(built in)"; }
/* For messages that put the file in parentheses already. */
static const char *provider_where(const nb_provider *p) { return p ? p->path : "built in"; }

const nb_op *nb__op_get(const char *name) { return table_get(&g_ops, name); }
const nb_optim_kind *nb__optim_get(const char *name) { return table_get(&g_optims, name); }
const nb_comm_kind *nb__comm_get(const char *name) { return table_get(&g_comms, name); }

const char *nb__op_suggest(const char *name) {
  const char *best = NULL;
  int best_d = 3;
  for (int i = 0, n = table_count(&g_ops); i < n; i++) {
    const char *cand = op_key(table_at(&g_ops, i));
    int d = edit_distance(name, cand);
    if (d < best_d) best_d = d, best = cand;
  }
  return best;
}

const nb_op_desc *nb_op_descriptor(const nb_op *op) { return op ? &op->d : NULL; }
const char *nb_op_plugin_name(const nb_op *op) { return op ? provider_name(op->provider) : NULL; }
const char *nb_op_plugin_path(const nb_op *op) { return op ? provider_path(op->provider) : NULL; }
int nb_op_count(void) { return table_count(&g_ops); }
const nb_op *nb_op_at(int i) { return table_at(&g_ops, i); }

const nb_optim_desc *nb_optim_descriptor(const nb_optim_kind *k) { return k ? &k->d : NULL; }
const char *nb_optim_plugin_name(const nb_optim_kind *k) {
  return k ? provider_name(k->provider) : NULL;
}
int nb_optim_count(void) { return table_count(&g_optims); }
const nb_optim_kind *nb_optim_at(int i) { return table_at(&g_optims, i); }

const nb_comm_desc *nb_comm_descriptor(const nb_comm_kind *k) { return k ? &k->d : NULL; }
const char *nb_comm_plugin_name(const nb_comm_kind *k) {
  return k ? provider_name(k->provider) : NULL;
}
const char *nb__comm_plugin_path(const nb_comm_kind *k) {
  return k ? provider_path(k->provider) : NULL;
}
int nb__comm_count(void) { return table_count(&g_comms); }
const nb_comm_kind *nb__comm_at(int i) { return table_at(&g_comms, i); }

/* ---- schema validation ---------------------------------------------------------------- */

#define ERRF(...) (snprintf(err, errsz, __VA_ARGS__), -1)

static int check_name(const char *name, const char *kind, char *err, size_t errsz) {
  if (!name || !name[0]) return ERRF("%s has no name", kind);
  if (strlen(name) > 48) return ERRF("%s name '%s' is longer than 48 characters", kind, name);
  if (!islower((unsigned char)name[0])) goto bad;
  for (const char *p = name; *p; p++)
    if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_') goto bad;
  return 0;
bad:
  return ERRF("%s name '%s' is not lower_snake_case (a-z, 0-9, '_', starting with a letter)",
              kind, name);
}

static int check_op(const nb_op_desc *d, char *err, size_t errsz) {
  if (!d->forward) return ERRF("no forward function");
  if (d->n_inputs < 0 || d->n_inputs > NB_MAX_OP_INPUTS)
    return ERRF("n_inputs %d is outside [0, %d]", d->n_inputs, NB_MAX_OP_INPUTS);
  if (d->n_inputs > 0 && !d->inputs) return ERRF("n_inputs is %d but inputs is NULL", d->n_inputs);
  for (int i = 0; i < d->n_inputs; i++) {
    const nb_input_spec *in = &d->inputs[i];
    if (!in->name || !in->name[0]) return ERRF("input %d has no name", i);
    for (int j = 0; j < i; j++)
      if (strcmp(d->inputs[j].name, in->name) == 0)
        return ERRF("input name '%s' is used twice", in->name);
    if (in->dtypes == 0) return ERRF("input '%s' accepts no dtype (empty dtype mask)", in->name);
    if (in->dtypes & ~(unsigned)NB_DT_ANY)
      return ERRF("input '%s' has dtype mask 0x%x with bits outside NB_DT_ANY", in->name,
                  in->dtypes);
  }
  if (d->n_outputs < 1 || d->n_outputs > NB_MAX_OP_OUTPUTS)
    return ERRF("n_outputs %d is outside [1, %d]", d->n_outputs, NB_MAX_OP_OUTPUTS);
  for (int j = 0; d->outputs && j < d->n_outputs; j++)
    if (!d->outputs[j].name || !d->outputs[j].name[0]) return ERRF("output %d has no name", j);
  if ((d->flags & (NB_OP_INPLACE | NB_OP_VIEW)) && d->n_inputs < 1)
    return ERRF("an in-place or view op needs at least one input");
  return nb__check_attr_specs(d->n_attrs, d->attrs, "attribute", err, errsz);
}

static int check_optim(const nb_optim_desc *d, char *err, size_t errsz) {
  if (!d->step) return ERRF("no step function");
  if (d->n_state < 0 || d->n_state > NB_MAX_OPTIM_STATE)
    return ERRF("n_state %d is outside [0, %d]", d->n_state, NB_MAX_OPTIM_STATE);
  if (d->n_state > 0 && !d->state_names)
    return ERRF("n_state is %d but state_names is NULL", d->n_state);
  for (int i = 0; i < d->n_state; i++)
    if (!d->state_names[i] || !d->state_names[i][0]) return ERRF("state slot %d has no name", i);
  return nb__check_attr_specs(d->n_hparams, d->hparams, "hyperparameter", err, errsz);
}

static int check_comm(const nb_comm_desc *d, char *err, size_t errsz) {
  struct { const char *name; const void *fn; } need[] = {
      {"start", (const void *)d->start}, {"stop", (const void *)d->stop},
      {"rank", (const void *)d->rank}, {"size", (const void *)d->size},
      {"allreduce", (const void *)d->allreduce}, {"broadcast", (const void *)d->broadcast},
      {"barrier", (const void *)d->barrier}, {"allreduce_start", (const void *)d->allreduce_start},
      {"wait", (const void *)d->wait}, {"test", (const void *)d->test}};
  for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
    if (!need[i].fn) return ERRF("no %s function", need[i].name);
  if (!d->local_rank != !d->local_size)
    return ERRF("local_rank and local_size come together (one is NULL)");
  return 0;
}

/* Output specs used when an op leaves `outputs` NULL (the core indexes outputs[j]). */
static const nb_output_spec k_out_one[1] = {{"out", 0, NULL}};
static const nb_output_spec k_out_many[NB_MAX_OP_OUTPUTS] = {
    {"out0", 0, NULL}, {"out1", 0, NULL}, {"out2", 0, NULL}, {"out3", 0, NULL},
    {"out4", 0, NULL}, {"out5", 0, NULL}, {"out6", 0, NULL}, {"out7", 0, NULL}};

/* "max_pool2d" -> "MaxPool2dBackward". */
static int derive_node_name(const char *name, char *out, size_t size) {
  size_t j = 0;
  bool up = true;
  for (const char *p = name; *p; p++) {
    if (*p == '_') {
      up = true;
      continue;
    }
    if (j + 1 >= size) return -1;
    out[j++] = up ? (char)toupper((unsigned char)*p) : *p;
    up = false;
  }
  int n = snprintf(out + j, size - j, "Backward");
  return n < 0 || (size_t)n >= size - j ? -1 : 0;
}

/* ---- the registrar ------------------------------------------------------------------- */

struct nb_registrar {
  const nb_provider *provider;
  bool skip_duplicates; /* discovery: later duplicates are skipped with a warning */
  int status;           /* first registration error */
  char *error, *warnings;
  nb_op **ops; /* pending until nb__registrar_finish */
  int n_ops, cap_ops;
  nb_optim_kind **optims;
  int n_optims, cap_optims;
  nb_comm_kind **comms;
  int n_comms, cap_comms;
};

nb_registrar *nb__registrar_new(const nb_provider *provider, bool skip_duplicates) {
  nb_registrar *r = calloc(1, sizeof *r);
  if (!r) {
    nb_set_error(NB_ENOMEM, "nb_plugin_load: out of memory");
    return NULL;
  }
  r->provider = provider;
  r->skip_duplicates = skip_duplicates;
  return r;
}

/* Record a registration error ("plugin 'x': <what>"), set it as the thread's error and
 * return status. The first error is what the load report shows. */
static int reg_fail(nb_registrar *r, int status, const char *fmt, ...) NB_PRINTF(3, 4);
static int reg_fail(nb_registrar *r, int status, const char *fmt, ...) {
  char what[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  nb_set_error(status, "plugin '%s': %s", provider_name(r->provider), what);
  if (r->status == 0) {
    r->status = status;
    r->error = strdup(nb_last_error());
  }
  return status;
}

static int push(void ***arr, int *n, int *cap, void *item) {
  if (*n == *cap) {
    int nc = *cap ? *cap * 2 : 8;
    void **na = realloc(*arr, (size_t)nc * sizeof(void *));
    if (!na) return NB_ENOMEM;
    *arr = na;
    *cap = nc;
  }
  (*arr)[(*n)++] = item;
  return 0;
}

/* Duplicate handling shared by ops and optimizers. Returns 1 to skip (warning
 * recorded), 0 when the name is free, or a negative status. */
static int check_duplicate(nb_registrar *r, const char *kind, const char *name, void *existing,
                           const nb_provider *owner, bool pending) {
  if (pending) return reg_fail(r, NB_EINVAL, "%s '%s' is registered twice", kind, name);
  if (!existing) return 0;
  if (r->skip_duplicates) {
    nb_text w = {0};
    if (r->warnings) nb_text_puts(&w, r->warnings);
    free(r->warnings);
    nb_text_sepf(&w, "; ", "%s '%s' skipped: already registered by plugin '%s' (%s), first wins "
        "over plugin '%s' (%s)", kind, name, provider_name(owner), provider_where(owner),
        provider_name(r->provider), provider_where(r->provider));
    r->warnings = nb_text_take(&w);
    return 1;
  }
  return reg_fail(r, NB_EPLUGIN, "%s '%s' is already registered by plugin '%s' (%s); plugin '%s' "
                  "(%s) registers it again", kind, name, provider_name(owner),
                  provider_where(owner), provider_name(r->provider), provider_where(r->provider));
}

int nb_register_op(nb_registrar *r, const nb_op_desc *desc) {
  if (!r) return nb_set_error(NB_EINVAL, "nb_register_op: registrar is NULL (call it from init)");
  if (!desc) return reg_fail(r, NB_EINVAL, "nb_register_op: descriptor is NULL");
  if (desc->struct_size < NB_OP_DESC_MIN_SIZE)
    return reg_fail(r, NB_EINVAL, "nb_register_op: descriptor struct_size %u is smaller than the "
                    "ABI 1.0 nb_op_desc (%u bytes): set .struct_size = NB_OP_DESC_SIZE",
                    (unsigned)desc->struct_size, (unsigned)NB_OP_DESC_MIN_SIZE);
  nb_op *op = calloc(1, sizeof *op);
  if (!op) return reg_fail(r, NB_ENOMEM, "nb_register_op: out of memory");
  size_t sz = desc->struct_size < sizeof(nb_op_desc) ? desc->struct_size : sizeof(nb_op_desc);
  memcpy(&op->d, desc, sz);
  op->d.struct_size = NB_OP_DESC_SIZE;
  op->provider = r->provider;
  char err[512];
  const char *name = op->d.name ? op->d.name : "(null)";
  if (check_name(op->d.name, "op", err, sizeof err) || check_op(&op->d, err, sizeof err)) {
    free(op);
    return reg_fail(r, NB_EINVAL, "op '%s': invalid schema: %s", name, err);
  }
  if (op->d.node_name) {
    if (!op->d.node_name[0] || strlen(op->d.node_name) >= sizeof op->node_name) {
      free(op);
      return reg_fail(r, NB_EINVAL, "op '%s': node_name must have 1..%d characters", name,
                      (int)sizeof op->node_name - 1);
    }
    snprintf(op->node_name, sizeof op->node_name, "%s", op->d.node_name);
  } else {
    derive_node_name(name, op->node_name, sizeof op->node_name); /* fits: name <= 48 */
  }
  op->d.node_name = op->node_name;
  if (!op->d.outputs) op->d.outputs = op->d.n_outputs == 1 ? k_out_one : k_out_many;
  bool pending = false;
  for (int i = 0; i < r->n_ops; i++) pending |= strcmp(r->ops[i]->d.name, name) == 0;
  nb_op *existing = table_get(&g_ops, name);
  int dup = check_duplicate(r, "op", name, existing, existing ? existing->provider : NULL, pending);
  if (dup != 0 || push((void ***)&r->ops, &r->n_ops, &r->cap_ops, op) < 0) {
    free(op);
    return dup > 0 ? 0 : dup < 0 ? dup : reg_fail(r, NB_ENOMEM, "nb_register_op: out of memory");
  }
  return 0;
}

int nb_register_ops(nb_registrar *r, const nb_op_desc *const *descs) {
  if (!descs) return nb_set_error(NB_EINVAL, "nb_register_ops: descriptor array is NULL");
  for (int i = 0; descs[i]; i++) {
    int rc = nb_register_op(r, descs[i]);
    if (rc < 0) return rc;
  }
  return 0;
}

int nb_register_optimizer(nb_registrar *r, const nb_optim_desc *desc) {
  if (!r)
    return nb_set_error(NB_EINVAL, "nb_register_optimizer: registrar is NULL (call it from init)");
  if (!desc) return reg_fail(r, NB_EINVAL, "nb_register_optimizer: descriptor is NULL");
  if (desc->struct_size < NB_OPTIM_DESC_MIN_SIZE)
    return reg_fail(r, NB_EINVAL, "nb_register_optimizer: descriptor struct_size %u is smaller "
                    "than the ABI 1.0 nb_optim_desc (%u bytes): set .struct_size = "
                    "NB_OPTIM_DESC_SIZE", (unsigned)desc->struct_size,
                    (unsigned)NB_OPTIM_DESC_MIN_SIZE);
  nb_optim_kind *k = calloc(1, sizeof *k);
  if (!k) return reg_fail(r, NB_ENOMEM, "nb_register_optimizer: out of memory");
  size_t sz = desc->struct_size < sizeof(nb_optim_desc) ? desc->struct_size : sizeof(nb_optim_desc);
  memcpy(&k->d, desc, sz);
  k->d.struct_size = NB_OPTIM_DESC_SIZE;
  k->provider = r->provider;
  char err[512];
  const char *name = k->d.name ? k->d.name : "(null)";
  if (check_name(k->d.name, "optimizer", err, sizeof err) || check_optim(&k->d, err, sizeof err)) {
    free(k);
    return reg_fail(r, NB_EINVAL, "optimizer '%s': invalid schema: %s", name, err);
  }
  bool pending = false;
  for (int i = 0; i < r->n_optims; i++) pending |= strcmp(r->optims[i]->d.name, name) == 0;
  nb_optim_kind *existing = table_get(&g_optims, name);
  int dup = check_duplicate(r, "optimizer", name, existing, existing ? existing->provider : NULL,
                            pending);
  if (dup != 0 || push((void ***)&r->optims, &r->n_optims, &r->cap_optims, k) < 0) {
    free(k);
    return dup > 0 ? 0 : dup < 0 ? dup : reg_fail(r, NB_ENOMEM, "nb_register_optimizer: out of memory");
  }
  return 0;
}

int nb_register_comm(nb_registrar *r, const nb_comm_desc *desc) {
  if (!r) return nb_set_error(NB_EINVAL, "nb_register_comm: registrar is NULL (call it from init)");
  if (!desc) return reg_fail(r, NB_EINVAL, "nb_register_comm: descriptor is NULL");
  if (desc->struct_size < NB_COMM_DESC_MIN_SIZE)
    return reg_fail(r, NB_EINVAL, "nb_register_comm: descriptor struct_size %u is smaller than "
                    "the ABI 1.0 nb_comm_desc (%u bytes): set .struct_size = NB_COMM_DESC_SIZE",
                    (unsigned)desc->struct_size, (unsigned)NB_COMM_DESC_MIN_SIZE);
  nb_comm_kind *k = calloc(1, sizeof *k);
  if (!k) return reg_fail(r, NB_ENOMEM, "nb_register_comm: out of memory");
  size_t sz = desc->struct_size < sizeof(nb_comm_desc) ? desc->struct_size : sizeof(nb_comm_desc);
  memcpy(&k->d, desc, sz);
  k->d.struct_size = NB_COMM_DESC_SIZE;
  k->provider = r->provider;
  char err[512];
  const char *name = k->d.name ? k->d.name : "(null)";
  if (check_name(k->d.name, "communication backend", err, sizeof err) ||
      check_comm(&k->d, err, sizeof err)) {
    free(k);
    return reg_fail(r, NB_EINVAL, "communication backend '%s': invalid descriptor: %s", name, err);
  }
  bool pending = false;
  for (int i = 0; i < r->n_comms; i++) pending |= strcmp(r->comms[i]->d.name, name) == 0;
  nb_comm_kind *existing = table_get(&g_comms, name);
  int dup = check_duplicate(r, "communication backend", name, existing,
                            existing ? existing->provider : NULL, pending);
  if (dup != 0 || push((void ***)&r->comms, &r->n_comms, &r->cap_comms, k) < 0) {
    free(k);
    return dup > 0 ? 0 : dup < 0 ? dup : reg_fail(r, NB_ENOMEM, "nb_register_comm: out of memory");
  }
  return 0;
}

static void registrar_free(nb_registrar *r, bool free_pending) {
  if (free_pending) {
    for (int i = 0; i < r->n_ops; i++) free(r->ops[i]);
    for (int i = 0; i < r->n_optims; i++) free(r->optims[i]);
    for (int i = 0; i < r->n_comms; i++) free(r->comms[i]);
  }
  free(r->ops);
  free(r->optims);
  free(r->comms);
  free(r->error);
  free(r->warnings);
  free(r);
}

int nb__registrar_finish(nb_registrar *r, int init_status, char **message, int *n_ops,
                         int *n_optims, int *n_comms) {
  *message = NULL;
  *n_ops = *n_optims = *n_comms = 0;
  if (init_status >= 0 && r->status == 0) {
    pthread_mutex_lock(&g_write);
    int rc = table_reserve(&g_ops, r->n_ops);
    if (rc == 0) rc = table_reserve(&g_optims, r->n_optims);
    if (rc == 0) rc = table_reserve(&g_comms, r->n_comms);
    if (rc == 0) {
      for (int i = 0; i < r->n_ops; i++) r->ops[i]->index = table_add(&g_ops, r->ops[i]);
      for (int i = 0; i < r->n_optims; i++)
        r->optims[i]->index = table_add(&g_optims, r->optims[i]);
      for (int i = 0; i < r->n_comms; i++) r->comms[i]->index = table_add(&g_comms, r->comms[i]);
    }
    pthread_mutex_unlock(&g_write);
    if (rc == 0) {
      *n_ops = r->n_ops;
      *n_optims = r->n_optims;
      *n_comms = r->n_comms;
      *message = r->warnings;
      r->warnings = NULL;
      registrar_free(r, false);
      return 0;
    }
    reg_fail(r, rc, "out of memory while publishing its registrations");
  }
  /* Roll back: nothing pending was ever visible to lookups. */
  nb_text msg = {0};
  nb_text_puts(&msg, "init failed: ");
  if (r->status < 0)
    nb_text_puts(&msg, r->error ? r->error : "invalid registration");
  else if (nb_last_error()[0])
    nb_text_puts(&msg, nb_last_error());
  else
    nb_text_printf(&msg, "init returned %s without an error message", nb_status_name(init_status));
  if (r->n_ops + r->n_optims + r->n_comms > 0) {
    nb_text_printf(&msg, "; rolled back %d op%s and %d optimizer%s", r->n_ops,
                   r->n_ops == 1 ? "" : "s", r->n_optims, r->n_optims == 1 ? "" : "s");
    if (r->n_comms)
      nb_text_printf(&msg, " and %d communication backend%s", r->n_comms,
                     r->n_comms == 1 ? "" : "s");
    nb_text_puts(&msg, " (");
    int k = 0;
    for (int i = 0; i < r->n_ops; i++) nb_text_printf(&msg, "%s%s", k++ ? ", " : "", r->ops[i]->d.name);
    for (int i = 0; i < r->n_optims; i++)
      nb_text_printf(&msg, "%s%s", k++ ? ", " : "", r->optims[i]->d.name);
    for (int i = 0; i < r->n_comms; i++)
      nb_text_printf(&msg, "%s%s", k++ ? ", " : "", r->comms[i]->d.name);
    nb_text_puts(&msg, ")");
  }
  if (r->warnings) nb_text_printf(&msg, "; %s", r->warnings);
  int status = r->status < 0 ? r->status : init_status;
  *message = nb_text_take(&msg);
  registrar_free(r, true);
  return status;
}
