/* node.c — graph nodes (what an op records for backward) and the kernel context
 * plugins use to save tensors and read attributes. Nodes are refcounted; a tensor holds
 * its grad_fn strongly and a node holds its next nodes strongly. Saved tensors are
 * aliases without grad_fn, so saving an op's own output makes no reference cycle (a
 * scalar wrapped by functional.c is saved as itself: it can never gain a grad_fn). Each
 * slot also remembers the saved value's autograd identity (its grad_fn or leaf, or "output
 * j of this node"), so a create_graph backward gets it back connected to the graph. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define INLINE_SAVED 4

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

/* ---- node memory ---------------------------------------------------------------------
 * Nodes of up to 1 KiB come from per-thread free lists in 128-byte classes: a tiny op
 * records one node per call, and malloc/free dominated the dispatch profile. Bypassed
 * under AddressSanitizer so use-after-free stays detectable. */
#if defined(__SANITIZE_ADDRESS__)
#define NODE_NO_FREELIST 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NODE_NO_FREELIST 1
#endif
#endif

#define NODE_CLASS_BYTES 128
#define NODE_CLASSES 8
#define NODE_CACHE_MAX 2048 /* per class and thread: a 1000-op graph keeps 1000 nodes alive */

#ifndef NODE_NO_FREELIST
typedef struct node_cache {
  void *head[NODE_CLASSES]; /* linked through the first word */
  int n[NODE_CLASSES];
  bool registered, dead;
} node_cache;
static NB_TLS node_cache tl_nodes;

static void node_cache_destroy(void *arg) {
  node_cache *c = arg;
  c->dead = true;
  for (int k = 0; k < NODE_CLASSES; k++) {
    while (c->head[k]) {
      void *p = c->head[k];
      c->head[k] = *(void **)p;
      free(p);
    }
    c->n[k] = 0;
  }
}
#endif

/* Zeroed memory of sz bytes; *cls receives the class to free it with. */
static void *node_mem(size_t sz, int8_t *cls) {
  *cls = -1;
#ifndef NODE_NO_FREELIST
  int k = (int)((sz - 1) / NODE_CLASS_BYTES);
  if (k < NODE_CLASSES) {
    node_cache *c = NB_TLS_ADDR(tl_nodes);
    size_t csz = (size_t)(k + 1) * NODE_CLASS_BYTES;
    *cls = (int8_t)k;
    if (c->head[k]) {
      void *p = c->head[k];
      c->head[k] = *(void **)p;
      c->n[k]--;
      memset(p, 0, sz); /* only the bytes this node uses must start zeroed */
      return p;
    }
    return calloc(1, csz);
  }
#endif
  return calloc(1, sz);
}

static void node_mem_free(void *p, int8_t cls) {
#ifndef NODE_NO_FREELIST
  if (cls >= 0) {
    node_cache *c = NB_TLS_ADDR(tl_nodes);
    if (!c->dead && c->n[cls] < NODE_CACHE_MAX) {
      if (NB_UNLIKELY(!c->registered))
        c->registered = nb__at_thread_exit(node_cache_destroy, c);
      *(void **)p = c->head[cls];
      c->head[cls] = p;
      c->n[cls]++;
      return;
    }
  }
#endif
  (void)cls;
  free(p);
}

nb_node *nb__node_new(const nb_op *op, const char *name, int n_in, int n_out) {
  int n_attrs = op ? op->d.n_attrs : 0;
  size_t sz = align8(sizeof(nb_node));
  size_t off_next = sz;
  sz += align8((size_t)n_in * sizeof(nb_edge));
  size_t off_in = sz;
  sz += align8((size_t)n_in * sizeof(nb_meta));
  size_t off_out = sz;
  sz += align8((size_t)n_out * sizeof(nb_meta));
  size_t off_attrs = sz;
  sz += align8((size_t)n_attrs * sizeof(nb_attr_value));
  size_t off_saved = sz;
  sz += align8(INLINE_SAVED * sizeof(nb_saved));
  size_t off_buf = sz;
  sz += align8((size_t)n_out * sizeof(nb_tensor *));
  int8_t cls;
  char *mem = node_mem(sz, &cls);
  if (!mem) {
    nb_set_error(NB_ENOMEM, "%s: out of memory recording the graph node", name);
    return NULL;
  }
  nb_node *n = (nb_node *)mem;
  n->size_class = cls;
  n->refcount = 1;
  n->op = op;
  n->name = name;
  n->n_in = n_in;
  n->n_out = n_out;
  n->next = (nb_edge *)(mem + off_next);
  n->in_meta = (nb_meta *)(mem + off_in);
  n->out_meta = (nb_meta *)(mem + off_out);
  n->attrs = n_attrs ? (nb_attr_value *)(mem + off_attrs) : NULL;
  n->saved = (nb_saved *)(mem + off_saved);
  n->cap_saved = INLINE_SAVED;
  n->buf = (nb_tensor **)(mem + off_buf);
  return n;
}

/* Node refcounts are atomic: threads may build graphs from shared leaves at once. */
void nb__node_retain(nb_node *n) {
  if (n) __atomic_add_fetch(&n->refcount, 1, __ATOMIC_RELAXED);
}

static bool node_unref(nb_node *n) { /* true when this was the last reference */
  return __atomic_sub_fetch(&n->refcount, 1, __ATOMIC_ACQ_REL) == 0;
}

/* Guards leaf->grad_acc (created on demand, cleared when the accumulator dies). */
static pthread_mutex_t acc_lock = PTHREAD_MUTEX_INITIALIZER;

int nb__node_own_strings(nb_node *n) {
  if (!n->op) return NB_OK;
  const nb_op_desc *d = &n->op->d;
  size_t total = 0;
  for (int i = 0; i < d->n_attrs; i++)
    if (d->attrs[i].type == NB_ATTR_STRING && n->attrs[i].s) total += strlen(n->attrs[i].s) + 1;
  if (!total) return NB_OK;
  char *buf = malloc(total), *p = buf;
  if (!buf) return nb_set_error(NB_ENOMEM, "%s: out of memory copying attributes", n->name);
  for (int i = 0; i < d->n_attrs; i++) {
    if (d->attrs[i].type != NB_ATTR_STRING || !n->attrs[i].s) continue;
    size_t len = strlen(n->attrs[i].s) + 1;
    memcpy(p, n->attrs[i].s, len);
    n->attrs[i].s = p;
    p += len;
  }
  n->strs = buf;
  return NB_OK;
}

/* Drop a saved slot's tensor. */
static void saved_clear(nb_saved *sv) {
  nb_release(sv->t);
  sv->t = NULL;
}

void nb__node_release_saved(nb_node *n) {
  for (int i = 0; i < n->n_saved; i++) {
    if (!n->saved[i].t) continue; /* an empty slot: nothing was saved there */
    saved_clear(&n->saved[i]);
    n->saved_released = true;
  }
}

/* A stack of nodes to free: starts on the C stack, grows on the heap. */
typedef struct free_stack {
  nb_node **v;
  int depth, cap;
  nb_node *local[32];
} free_stack;

static void push_free(free_stack *s, nb_node *m) {
  if (s->depth == s->cap) {
    int nc = s->cap * 2;
    nb_node **v = malloc((size_t)nc * sizeof *v);
    if (!v) return; /* out of memory while freeing: leak rather than crash */
    memcpy(v, s->v, (size_t)s->depth * sizeof *v);
    if (s->v != s->local) free(s->v);
    s->v = v;
    s->cap = nc;
  }
  s->v[s->depth++] = m;
}

/* Free what n owns and push next nodes whose count drops to zero onto the stack. */
static void node_destroy(nb_node *n, free_stack *st) {
  for (int i = 0; i < n->n_in; i++) {
    nb_node *m = n->next[i].node;
    if (m && node_unref(m)) push_free(st, m);
  }
  for (int i = 0; i < n->n_saved; i++) saved_clear(&n->saved[i]);
  if (n->saved_heap) free(n->saved);
  for (int j = 0; j < n->n_out; j++) nb_release(n->buf[j]);
  if (n->out_hooks) {
    for (int j = 0; j < n->n_out; j++) nb__hooks_free(n->out_hooks[j]);
    free(n->out_hooks);
  }
  if (n->retain) {
    for (int j = 0; j < n->n_out; j++)
      if (n->retain[j]) n->retain[j]->retains_grad = false;
    free(n->retain);
  }
  free(n->blob);
  free(n->strs);
  if (n->variable) {
    nb_tensor *v = n->variable;
    pthread_mutex_lock(&acc_lock);
    if (v->grad_acc == n) v->grad_acc = NULL;
    pthread_mutex_unlock(&acc_lock);
    n->variable = NULL;
    nb_release(v);
  }
  node_mem_free(n, n->size_class);
}

void nb__node_release(nb_node *n) {
  if (!n || !node_unref(n)) return;
  free_stack st;
  st.v = st.local;
  st.depth = 0;
  st.cap = 32;
  push_free(&st, n);
  while (st.depth > 0) node_destroy(st.v[--st.depth], &st);
  if (st.v != st.local) free(st.v);
}

nb_node *nb__grad_accumulator(nb_tensor *leaf) {
  pthread_mutex_lock(&acc_lock);
  nb_node *n = leaf->grad_acc;
  if (n) { /* take a reference unless it is already dying (count 0, being destroyed) */
    int32_t c = __atomic_load_n(&n->refcount, __ATOMIC_ACQUIRE);
    while (c > 0 && !__atomic_compare_exchange_n(&n->refcount, &c, c + 1, false,
                                                 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    }
    if (c > 0) {
      pthread_mutex_unlock(&acc_lock);
      return n;
    }
  }
  n = nb__node_new(NULL, "AccumulateGrad", 0, 1);
  if (n) {
    n->variable = nb_retain(leaf);
    n->out_meta[0].dtype = leaf->dtype;
    n->out_meta[0].ndim = leaf->ndim;
    memcpy(n->out_meta[0].shape, leaf->shape, sizeof leaf->shape);
    leaf->grad_acc = n;
  }
  pthread_mutex_unlock(&acc_lock);
  return n;
}

/* ---- hook lists (tensor hooks and a node's per-output hooks) ------------------------- */

static int64_t next_hook_id;

int64_t nb__hook_append(nb_hook **list, nb_hook_fn fn, void *user) {
  nb_hook *h = malloc(sizeof *h);
  if (!h) return nb_set_error(NB_ENOMEM, "nb_register_hook: out of memory");
  h->id = __atomic_add_fetch(&next_hook_id, 1, __ATOMIC_RELAXED);
  h->fn = fn;
  h->user = user;
  h->next = NULL;
  while (*list) list = &(*list)->next;
  *list = h;
  return h->id;
}

int64_t nb__post_hook_append(nb_hook **list, nb_post_accumulate_hook_fn fn, void *user) {
  int64_t id = nb__hook_append(list, NULL, user);
  if (id < 0) return id;
  while ((*list)->id != id) list = &(*list)->next;
  (*list)->post = fn;
  return id;
}

void nb__hooks_free(nb_hook *h) {
  while (h) {
    nb_hook *n = h->next;
    free(h);
    h = n;
  }
}

/* ---- recording: a node's input edges, and outputs attached to their node ------------ */

/* The history rules live here, next to the node: an output that is an input handed back
 * gets an alias, an output sharing an input's storage remembers its view base, and an
 * in-place op rebases the tensor's history onto the new node. */

static void fill_meta(nb_meta *m, const nb_tensor *t) {
  m->dtype = t->dtype;
  m->ndim = t->ndim;
  memcpy(m->shape, t->shape, sizeof m->shape); /* fixed size: a few vector moves, no call */
}

/* The edge a gradient for t should flow along: (grad_fn, output_nr) or the leaf's
 * accumulator. Returns a new node reference in e->node. */
static int gradient_edge(nb_tensor *t, nb_edge *e) {
  if (t->grad_fn) {
    nb__node_retain(t->grad_fn);
    e->node = t->grad_fn;
    e->input_nr = t->output_nr;
    return NB_OK;
  }
  e->node = nb__grad_accumulator(t);
  e->input_nr = 0;
  return e->node ? NB_OK : nb_last_status();
}

int nb__node_record_inputs(nb_node *node, int n_in, nb_tensor *const *in, uint64_t needs) {
  for (int i = 0; i < n_in; i++) {
    if (in[i]) fill_meta(&node->in_meta[i], in[i]);
    if ((needs >> i) & 1u) {
      int rc = gradient_edge(in[i], &node->next[i]);
      if (rc < 0) return rc;
    }
  }
  return NB_OK;
}

int nb__node_attach_outputs(const nb_op *op, nb_node *node, int n_in, nb_tensor *const *in, int n_out,
                          nb_tensor **out) {
  const nb_op_desc *d = &op->d;
  bool inplace = d->flags & NB_OP_INPLACE;
  for (int j = 0; j < n_out; j++) {
    nb_tensor *t = out[j];
    /* An op that hands back one of its inputs unchanged (not in place) gets an alias, so
     * recording history on the output never touches the input. */
    if (!(inplace && j == 0)) {
      for (int i = 0; i < n_in; i++) {
        if (in[i] && t == in[i]) {
          nb_tensor *a = nb__alias(t, t->ndim, t->shape, t->strides, t->offset);
          if (!a) return nb_last_status();
          nb_release(t);
          out[j] = t = a;
          break;
        }
      }
    }
    if (!(inplace && j == 0) && !t->view_base) {
      /* An output sharing an input's storage is a view of it (view ops, reshape when it
       * can view, aliases): remember the base for the in-place rules. */
      for (int i = 0; i < n_in; i++) {
        if (in[i] && nb_shares_storage(t, in[i])) {
          t->view_base = nb_retain(in[i]->view_base ? in[i]->view_base : in[i]);
          break;
        }
      }
    }
    if (!node) continue;
    fill_meta(&node->out_meta[j], t);
    if (d->outputs[j].flags & NB_OUT_NONDIFF) continue;
    if (!nb__is_floating((nb_dtype)t->dtype)) continue;
    if (inplace && j == 0) {
      /* Rebase the history: the tensor now comes out of this node. The old grad_fn stays
       * reachable through the node's edge for input 0. */
      nb_node *old = t->grad_fn;
      if (old && t->retains_grad && old->retain && old->retain[t->output_nr] == t) {
        old->retain[t->output_nr] = NULL;
        if (!node->retain) node->retain = calloc((size_t)node->n_out, sizeof *node->retain);
        if (node->retain) node->retain[0] = t;
      }
      nb__node_release(old);
    }
    nb__node_retain(node);
    t->grad_fn = node;
    t->output_nr = j;
    t->requires_grad = true;
  }
  return NB_OK;
}

/* ---- public node queries ------------------------------------------------------------ */

const char *nb_node_name(const nb_node *n) { return n ? n->name : NULL; }
int nb_node_num_next(const nb_node *n) { return n ? n->n_in : 0; }

nb_node *nb_node_next(const nb_node *n, int i, int *input_nr) {
  if (!n || i < 0 || i >= n->n_in) {
    nb_set_error(NB_EINVAL, "nb_node_next: index %d out of range for %s with %d next functions",
                 i, n ? n->name : "(null)", n ? n->n_in : 0);
    return NULL;
  }
  if (input_nr) *input_nr = n->next[i].input_nr;
  return n->next[i].node;
}

nb_tensor *nb_node_variable(const nb_node *n) { return n ? n->variable : NULL; }

nb_node *nb_grad_accumulator(nb_tensor *leaf) { return leaf ? leaf->grad_acc : NULL; }

/* ---- kernel context ------------------------------------------------------------------- */

bool nb_ctx_recording(const nb_ctx *ctx) { return ctx && ctx->node; }

bool nb_ctx_needs_input_grad(const nb_ctx *ctx, int i) {
  return ctx && i >= 0 && i < 64 && ((ctx->needs_grad >> i) & 1u);
}

int nb_ctx_save(nb_ctx *ctx, nb_tensor *t) {
  if (!ctx || !ctx->node) return 0;
  nb_node *n = ctx->node;
  if (n->n_saved == n->cap_saved) {
    int cap = n->cap_saved * 2;
    nb_saved *s = malloc((size_t)cap * sizeof *s);
    if (!s) return nb_set_error(NB_ENOMEM, "%s: out of memory saving a tensor", n->name);
    memcpy(s, n->saved, (size_t)n->n_saved * sizeof *s);
    if (n->saved_heap) free(n->saved);
    n->saved = s;
    n->saved_heap = true;
    n->cap_saved = cap;
  }
  nb_saved *sv = &n->saved[n->n_saved];
  memset(sv, 0, sizeof *sv);
  sv->src_in = -1;
  sv->self_out = -1;
  if (t) {
    sv->t = t->wrapped ? nb_retain(t) : nb__alias(t, t->ndim, t->shape, t->strides, t->offset);
    if (!sv->t) return nb_last_status();
    sv->version = t->storage->version;
    sv->producer = t->grad_fn ? t->grad_fn->name : NULL;
    sv->producer_out = t->output_nr;
    /* Remember where the value came from, for a backward that records (create_graph):
     * a differentiable input's index (its edge holds the identity); no reference taken. */
    for (int i = 0; i < ctx->n_in && i < n->n_in; i++)
      if (ctx->in[i] == t && n->next[i].node) {
        sv->src_in = i;
        break;
      }
  }
  return n->n_saved++;
}

int nb_ctx_save_operand(nb_ctx *ctx, nb_tensor *t) {
  int rc = nb_ctx_save(ctx, t);
  /* the update bumped the version before forward ran: the operand's value is the one
   * from the version before, which backward will no longer find */
  if (rc >= 0 && t && ctx->node && ctx->updated == t->storage) ctx->node->saved[rc].version--;
  return rc;
}

static int check_saved(nb_node *n, int i) {
  if (n->saved_released)
    return nb_set_error(NB_ESTATE,
                        "%s: Trying to backward through the graph a second time (or directly "
                        "access saved tensors after they have already been freed). Saved "
                        "intermediate values of the graph are freed when you call nb_backward() "
                        "or nb_autograd_grad(). Specify NB_RETAIN_GRAPH if you need to backward "
                        "through the graph a second time",
                        n->name);
  nb_saved *sv = &n->saved[i];
  if (sv->t && sv->t->storage->version != sv->version) {
    char what[96] = "";
    if (sv->producer)
      snprintf(what, sizeof what, ", which is output %d of %s,", (int)sv->producer_out, sv->producer);
    return nb_set_error(NB_ESTATE,
                        "%s: one of the variables needed for gradient computation has been "
                        "modified by an inplace operation: [%s %s]%s is at version %u; expected "
                        "version %u instead (saved tensor %d of %s)",
                        n->name, nb_dtype_name((nb_dtype)sv->t->dtype), nb_shape_of(sv->t), what,
                        sv->t->storage->version, sv->version, i, n->name);
  }
  return NB_OK;
}

void nb__node_mark_saved_outputs(nb_node *n, int n_out, nb_tensor *const *out) {
  for (int i = 0; i < n->n_saved; i++) {
    nb_saved *sv = &n->saved[i];
    if (!sv->t || sv->src_in >= 0 || sv->t->wrapped) continue;
    for (int j = 0; j < n_out; j++) {
      const nb_tensor *o = out[j];
      if (o && o->grad_fn == n && o->storage == sv->t->storage && o->offset == sv->t->offset &&
          nb_same_shape(o, sv->t)) {
        sv->self_out = j;
        break;
      }
    }
  }
}

int nb__node_check_saved(nb_node *n) {
  if (n->saved_released) return check_saved(n, 0);
  for (int i = 0; i < n->n_saved; i++) {
    int rc = check_saved(n, i);
    if (rc < 0) return rc;
  }
  return NB_OK;
}

/* A saved value as a recording backward must see it: connected to the graph it came
 * from (the leaf itself, or an alias whose grad_fn is the producing node), so the
 * gradient computed from it can be differentiated again. Scoped. */
static nb_tensor *saved_unpack(nb_node *n, nb_saved *sv) {
  nb_node *src = NULL;
  int32_t nr = 0;
  if (sv->src_in >= 0) {
    nb_edge *e = &n->next[sv->src_in];
    if (!e->node->op && e->node->variable)
      return e->node->variable; /* a leaf: same storage, version checked: same value */
    src = e->node;
    nr = e->input_nr;
  } else if (sv->self_out >= 0) {
    src = n;
    nr = sv->self_out;
  }
  if (!src) return sv->t;
  nb_tensor *a = nb__alias(sv->t, sv->t->ndim, sv->t->shape, sv->t->strides, sv->t->offset);
  if (!a) return NULL;
  nb__node_retain(src);
  a->grad_fn = src;
  a->output_nr = nr;
  a->requires_grad = true;
  return nb__scope_register(a);
}

nb_tensor *nb_ctx_saved(nb_ctx *ctx, int i) {
  if (!ctx || !ctx->node) {
    nb_set_error(NB_ESTATE, "%s: nb_ctx_saved called outside a recorded node",
                 ctx && ctx->op ? ctx->op->d.name : "?");
    return NULL;
  }
  nb_node *n = ctx->node;
  if (i < 0 || i >= n->n_saved) {
    nb_set_error(NB_EINVAL, "%s: saved tensor %d requested, only %d saved", n->name, i, n->n_saved);
    return NULL;
  }
  if (check_saved(n, i) < 0) return NULL;
  if (!n->saved[i].t) /* an empty slot: NULL with a message, should the caller fail on it */
    nb_set_error(NB_ESTATE, "%s: saved slot %d is empty (forward saved NULL there)", n->name, i);
  if (NB_UNLIKELY(ctx->graph) && n->saved[i].t) return saved_unpack(n, &n->saved[i]);
  return n->saved[i].t;
}

int nb_ctx_save_blob(nb_ctx *ctx, const void *data, size_t size) {
  if (!ctx || !ctx->node) return 0;
  nb_node *n = ctx->node;
  void *b = malloc(size ? size : 1);
  if (!b) return nb_set_error(NB_ENOMEM, "%s: out of memory saving %zu bytes", n->name, size);
  if (size) memcpy(b, data, size);
  free(n->blob);
  n->blob = b;
  n->blob_size = size;
  return NB_OK;
}

const void *nb_ctx_blob(const nb_ctx *ctx, size_t *size) {
  if (size) *size = ctx && ctx->node ? ctx->node->blob_size : 0;
  return ctx && ctx->node ? ctx->node->blob : NULL;
}

const nb_attr_value *nb_ctx_attrs(const nb_ctx *ctx) { return ctx ? ctx->attrs : NULL; }

const int64_t *nb_ctx_input_shape(const nb_ctx *ctx, int i, int *ndim) {
  if (!ctx || !ctx->node || i < 0 || i >= ctx->node->n_in) {
    nb_set_error(NB_EINVAL, "nb_ctx_input_shape: no recorded input %d", i);
    return NULL;
  }
  if (ndim) *ndim = ctx->node->in_meta[i].ndim;
  return ctx->node->in_meta[i].shape;
}

nb_dtype nb_ctx_input_dtype(const nb_ctx *ctx, int i) {
  if (!ctx || !ctx->node || i < 0 || i >= ctx->node->n_in) return NB_F32;
  return (nb_dtype)ctx->node->in_meta[i].dtype;
}

const int64_t *nb_ctx_output_shape(const nb_ctx *ctx, int j, int *ndim) {
  if (!ctx || !ctx->node || j < 0 || j >= ctx->node->n_out) {
    nb_set_error(NB_EINVAL, "nb_ctx_output_shape: no recorded output %d", j);
    return NULL;
  }
  if (ndim) *ndim = ctx->node->out_meta[j].ndim;
  return ctx->node->out_meta[j].shape;
}

const char *nb_ctx_op_name(const nb_ctx *ctx) {
  return ctx && ctx->op ? ctx->op->d.name : "?";
}
