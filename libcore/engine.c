/* engine.c — the backward engine.
 *
 * One run: find every node reachable from the roots, order them topologically (Kahn's
 * algorithm on edge counts, so a node runs only after every gradient for it has been
 * summed), and walk that order. For each node: run the tensor hooks of each output on the
 * summed gradient, store retained grads, then either accumulate into a leaf's .grad
 * (AccumulateGrad, followed by the leaf's post-accumulate-grad hooks) or call the op's backward, reduce each returned gradient to its input's
 * shape (nb_sum_to_shape, the one place this happens) and add it into the buffer of the
 * next node. Saved tensors are freed as nodes finish unless NB_RETAIN_GRAPH.
 *
 * Restricted runs (backward with inputs=, autograd.grad) mark the nodes that lead to a
 * target as needed and skip the rest.
 *
 * With NB_CREATE_GRAPH the run records: grad mode stays on, each node runs its op's
 * backward_graph (written with dispatched ops, so it records nodes itself; saved tensors
 * come back connected to the forward graph), and the engine's own arithmetic (summing
 * paths, reducing broadcast dims, accumulating .grad) goes through dispatched ops too
 * (graph_* below). The gradients it produces require grad and can be differentiated
 * again. An op without backward_graph reached in such a run is an error naming it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct target {
  nb_node *node; /* accumulator of a leaf, or grad_fn of a non-leaf */
  int out_nr;
  nb_tensor *tensor;
  nb_tensor *captured; /* autograd.grad: the gradient reaching it (strong) */
} target;

typedef struct run {
  uint64_t id;
  unsigned flags;
  bool graph;      /* NB_CREATE_GRAPH: record the backward pass */
  bool anomaly;    /* anomaly detection: check every gradient for NaN/Inf */
  bool capture;    /* autograd.grad: do not touch .grad */
  nb_node **order; /* reachable nodes, then (after toposort) in topological order */
  nb_node **sorted; /* toposort's output buffer, same capacity */
  int n, cap;
  target *targets;
  int n_targets;
} run;

static uint64_t run_ids;

/* Per-thread arrays reused across runs, so a small backward allocates nothing. A run
 * that re-enters the engine on the same thread (a hook calling nb_backward) takes fresh
 * arrays instead. */
typedef struct run_arrays {
  nb_node **order, **sorted;
  int cap;
  bool busy, registered;
} run_arrays;
static NB_TLS run_arrays tl;

static void tl_free(void *arg) { /* thread exit */
  run_arrays *a = arg;
  free(a->order);
  free(a->sorted);
  memset(a, 0, sizeof *a);
}

static int grow(nb_node ***v, int cap) {
  nb_node **o = realloc(*v, (size_t)cap * sizeof *o);
  if (!o) return nb_set_error(NB_ENOMEM, "backward: out of memory for %d graph nodes", cap);
  *v = o;
  return NB_OK;
}

static int push_node(run *r, nb_node *n) {
  if (r->n == r->cap) {
    int cap = r->cap ? r->cap * 2 : 64;
    if (grow(&r->order, cap) < 0 || grow(&r->sorted, cap) < 0) return nb_last_status();
    r->cap = cap;
  }
  r->order[r->n++] = n;
  return NB_OK;
}

/* Per-run state lives on the nodes, so two runs through one node at the same time (a
 * hook calling nb_backward on a graph that shares nodes, or two threads) would corrupt
 * each other: refuse instead. */
static int busy_error(const nb_node *n) {
  return nb_set_error(NB_EUNSUPPORTED,
                      "backward: %s is already being differentiated by another backward "
                      "(re-entrant or concurrent backward through shared graph nodes is not "
                      "supported)",
                      n->name);
}

/* Collect reachable nodes (into r->order, unordered) and count incoming edges. */
static int discover(run *r, nb_node *const *roots, int n_roots) {
  for (int k = 0; k < n_roots; k++) {
    nb_node *root = roots[k];
    if (root->run_id == r->id) continue;
    if (root->run_id != 0) return busy_error(root);
    root->run_id = r->id;
    root->deps = 0;
    root->ran = false;
    root->needed = r->n_targets == 0;
    if (push_node(r, root) < 0) return nb_last_status();
  }
  for (int i = 0; i < r->n; i++) { /* r->order grows while we scan it: a BFS */
    nb_node *n = r->order[i];
    for (int e = 0; e < n->n_in; e++) {
      nb_node *m = n->next[e].node;
      if (!m) continue;
      if (m->run_id != r->id) {
        if (m->run_id != 0) return busy_error(m);
        m->run_id = r->id;
        m->deps = 0;
        m->ran = false;
        m->needed = r->n_targets == 0;
        for (int j = 0; j < m->n_out; j++) m->buf[j] = NULL;
        if (push_node(r, m) < 0) return nb_last_status();
      }
      m->deps++;
    }
  }
  return NB_OK;
}

/* Reorder r->order topologically (Kahn). Every node is reachable, so all are placed. */
static int toposort(run *r) {
  nb_node **out = r->sorted;
  int head = 0, tail = 0;
  for (int i = 0; i < r->n; i++)
    if (r->order[i]->deps == 0) out[tail++] = r->order[i];
  while (head < tail) {
    nb_node *n = out[head++];
    for (int e = 0; e < n->n_in; e++) {
      nb_node *m = n->next[e].node;
      if (m && --m->deps == 0) out[tail++] = m;
    }
  }
  r->sorted = r->order;
  r->order = out;
  return NB_OK;
}

static target *find_target(run *r, nb_node *n, int out_nr) {
  for (int i = 0; i < r->n_targets; i++)
    if (r->targets[i].node == n && r->targets[i].out_nr == out_nr) return &r->targets[i];
  return NULL;
}

/* needed(n) = n is a target or some next node is needed; walk the order backwards. */
static void mark_needed(run *r) {
  if (r->n_targets == 0) return;
  for (int i = r->n - 1; i >= 0; i--) {
    nb_node *n = r->order[i];
    bool need = false;
    for (int t = 0; t < r->n_targets && !need; t++) need = r->targets[t].node == n;
    for (int e = 0; e < n->n_in && !need; e++) need = n->next[e].node && n->next[e].node->needed;
    n->needed = need;
  }
}

/* ---- recorded arithmetic for NB_CREATE_GRAPH runs ------------------------------------
 * When a gradient requires grad, the engine's sums, reductions and casts must record
 * like any op, so they go through dispatch (the add, sum, reshape and to_dtype ops). */

/* A new reference to a + b, recorded. */
static nb_tensor *graph_add(nb_tensor *a, nb_tensor *b) {
  nb_tensor *s = nb_call1("add", 2, (nb_tensor *const[]){a, b}, 0, NULL);
  return s ? nb_retain(s) : NULL;
}

/* nb_sum_to_shape, recorded (a scoped result). */
static nb_tensor *graph_sum_to_shape(nb_tensor *g, int ndim, const int64_t *shape) {
  if (g->ndim == ndim && !memcmp(g->shape, shape, (size_t)ndim * sizeof *shape)) return g;
  nb_attr dims = {.name = "dim", .type = NB_ATTR_INTS};
  int lead = g->ndim - ndim;
  for (int d = 0; d < g->ndim; d++) {
    int td = d - lead;
    if (td < 0 || (shape[td] == 1 && g->shape[d] != 1)) dims.v.ints.v[dims.v.ints.n++] = d;
  }
  nb_tensor *s = g;
  if (dims.v.ints.n)
    s = nb_call1("sum", 1, &g, 2, (nb_attr[]){dims, NB_A_BOOL("keepdim", true)});
  if (!s) return NULL;
  nb_attr to = {.name = "shape", .type = NB_ATTR_INTS};
  to.v.ints.n = ndim;
  for (int d = 0; d < ndim; d++) to.v.ints.v[d] = shape[d];
  return nb_call1("reshape", 1, &s, 1, &to);
}

/* buf += g (a new tensor when buf already holds something: buffers may be shared). */
static int add_to_buffer(nb_tensor **buf, nb_tensor *g) {
  if (!*buf) {
    *buf = nb_retain(g);
    return NB_OK;
  }
  if (NB_UNLIKELY(g->requires_grad || (*buf)->requires_grad)) { /* create_graph */
    nb_tensor *sum = graph_add(*buf, g);
    if (!sum) return nb_last_status();
    nb_release(*buf);
    *buf = sum;
    return NB_OK;
  }
  nb_tensor *sum = nb__tensor_new((*buf)->ndim, (*buf)->shape, (nb_dtype)(*buf)->dtype);
  if (!sum) return nb_last_status();
  int rc = nb_copy_into(sum, *buf);
  if (rc >= 0) rc = nb_axpy_into(sum, 1.0, g);
  if (rc < 0) {
    nb_release(sum);
    return rc;
  }
  nb_release(*buf);
  *buf = sum;
  return NB_OK;
}

/* Run the hooks of *list on *g; each hook sees the previous one's result. As in PyTorch,
 * the hooks that run are those present when the pass reached the tensor: the list is
 * copied first, so a hook may remove itself or others (one removed by an earlier hook of
 * this pass is skipped) or register new ones (they run in the next backward) without
 * this loop touching freed or growing lists. */
static bool hook_present(nb_hook *h, int64_t id) {
  for (; h; h = h->next)
    if (h->id == id) return true;
  return false;
}

/* leaf != NULL: the list holds post-accumulate-grad hooks of that leaf (no gradient to
 * hand over or replace). */
static int run_hook_list(nb_hook **list, nb_tensor **g, nb_tensor *leaf, const char *where) {
  int n = 0;
  for (nb_hook *h = *list; h; h = h->next) n++;
  nb_hook local[8], *snap = n <= 8 ? local : malloc((size_t)n * sizeof *snap);
  if (!snap) return nb_set_error(NB_ENOMEM, "backward: out of memory running the hooks on %s", where);
  int k = 0;
  for (nb_hook *h = *list; h; h = h->next) snap[k++] = *h;
  int rc = NB_OK;
  for (int i = 0; i < n && rc == NB_OK; i++) {
    if (i > 0 && !hook_present(*list, snap[i].id)) continue; /* removed by an earlier hook */
    nb_tensor *replace = NULL;
    int depth = nb_scope_depth(), floor = nb__scope_protect();
    rc = leaf ? snap[i].post(leaf, snap[i].user) : snap[i].fn(*g, &replace, snap[i].user);
    nb__scope_unprotect(floor);
    if (nb_scope_depth() > depth) { /* scopes the hook began and left open */
      while (nb_scope_depth() > depth) nb_scope_end();
      if (rc >= 0)
        rc = nb_set_error(NB_ESTATE, "backward: a hook on %s left a scope open (pair each "
                                     "nb_scope_begin with nb_scope_end)", where);
      replace = NULL; /* whatever it made was in those scopes */
    }
    if (rc < 0) {
      if (nb_last_status() == NB_OK) nb_set_error(rc, "backward: a hook on %s failed", where);
      break;
    }
    rc = NB_OK;
    if (replace && replace != *g) {
      if (!nb_same_shape(replace, *g)) {
        rc = nb_set_error(NB_ESHAPE,
                          "backward: hook on %s returned a gradient of shape %s, expected %s",
                          where, nb_shape_of(replace), nb_shape_of(*g));
      } else if (replace->dtype != (*g)->dtype) {
        rc = nb_set_error(NB_EDTYPE, "backward: hook on %s changed the gradient's dtype from "
                                     "%s to %s",
                          where, nb_dtype_name((nb_dtype)(*g)->dtype),
                          nb_dtype_name((nb_dtype)replace->dtype));
      } else {
        nb_retain(replace);
        nb_release(*g);
        *g = replace;
      }
    }
  }
  if (snap != local) free(snap);
  return rc;
}

static int run_hooks(nb_hook **list, nb_tensor **g, const char *where) {
  return run_hook_list(list, g, NULL, where);
}

/* True when nothing but the caller's one reference can see g's memory: then .grad may
 * take g itself instead of a copy (PyTorch steals such buffers too). A tensor the user
 * passed in, a gradient passed through to several inputs, or a view is always shared. */
static bool exclusively_owned(const nb_tensor *g) {
  return __atomic_load_n(&g->refcount, __ATOMIC_ACQUIRE) == 1 &&
         __atomic_load_n(&g->storage->refcount, __ATOMIC_ACQUIRE) == 1 && !g->grad_fn &&
         !g->view_base && nb_is_contiguous(g);
}

/* .grad += g, in place after the first time. The first store takes g when the engine
 * owns it alone, else a copy, so .grad never aliases a caller's tensor (items 8, 9). */
static int accumulate_grad(nb_tensor *t, nb_tensor *g) {
  if (NB_UNLIKELY(g->requires_grad) && nb_is_grad_enabled()) {
    /* create_graph: .grad keeps the history (a recorded copy the first time, so it
     * never aliases a caller's tensor) */
    nb_tensor *s = t->grad ? graph_add(t->grad, g) : nb_call1("clone", 1, &g, 0, NULL);
    if (s && !t->grad) nb_retain(s);
    if (!s) return nb_last_status();
    nb_release(t->grad);
    t->grad = s;
    return NB_OK;
  }
  if (!t->grad && g->dtype == t->dtype && nb_same_shape(g, t) && exclusively_owned(g)) {
    t->grad = nb_retain(g);
    return NB_OK;
  }
  if (!t->grad) {
    nb_tensor *c = nb__tensor_new(t->ndim, t->shape, (nb_dtype)t->dtype);
    if (!c) return nb_last_status();
    int rc = nb_copy_into(c, g);
    if (rc < 0) {
      nb_release(c);
      return rc;
    }
    t->grad = c;
    return NB_OK;
  }
  return nb_axpy_into(t->grad, 1.0, g);
}

/* autograd.grad: hand g to every target at (n, out_nr) (an input may be listed twice). */
static void capture(run *r, nb_node *n, int out_nr, nb_tensor *g) {
  for (int i = 0; i < r->n_targets; i++)
    if (r->targets[i].node == n && r->targets[i].out_nr == out_nr && !r->targets[i].captured)
      r->targets[i].captured = nb_retain(g);
}

static int run_accumulate(run *r, nb_node *n) {
  nb_tensor *leaf = n->variable;
  nb_tensor *g = n->buf[0];
  /* A leaf frozen after the graph was recorded gets nothing (PyTorch's AccumulateGrad). */
  if (!leaf || !g || (!leaf->requires_grad && !r->capture)) return NB_OK;
  n->buf[0] = NULL;
  int rc = run_hooks(&leaf->hooks, &g, "a leaf tensor");
  if (rc >= 0) {
    if (r->capture)
      capture(r, n, 0, g);
    else if (!r->n_targets || find_target(r, n, 0)) {
      rc = accumulate_grad(leaf, g);
      /* .grad is final for this run: a leaf's AccumulateGrad runs once, after the sum */
      if (rc >= 0 && leaf->post_hooks)
        rc = run_hook_list(&leaf->post_hooks, NULL, leaf, "a leaf tensor (post-accumulate-grad)");
    }
  }
  nb_release(g);
  return rc;
}

static int run_node(run *r, nb_node *n) {
  const nb_op_desc *d = &n->op->d;
  nb_tensor *gout[NB_MAX_OP_OUTPUTS] = {0};
  nb_tensor *gin[NB_MAX_OP_INPUTS] = {0};
  bool any = false;
  int rc = NB_OK;

  for (int j = 0; j < n->n_out; j++) {
    gout[j] = n->buf[j];
    n->buf[j] = NULL;
    if (!gout[j]) continue;
    any = true;
    if (n->out_hooks && n->out_hooks[j]) {
      rc = run_hooks(&n->out_hooks[j], &gout[j], n->name);
      if (rc < 0) goto done;
    }
    if (!r->capture && n->retain && n->retain[j]) {
      rc = accumulate_grad(n->retain[j], gout[j]);
      if (rc < 0) goto done;
    }
    target *t = r->n_targets ? find_target(r, n, j) : NULL;
    if (t) {
      if (r->capture) {
        capture(r, n, j, gout[j]);
      } else if (t->tensor && !(n->retain && n->retain[j] == t->tensor)) {
        rc = accumulate_grad(t->tensor, gout[j]);
        if (rc < 0) goto done;
      }
    }
  }
  uint64_t needs = 0;
  for (int i = 0; i < n->n_in; i++)
    if (n->next[i].node && n->next[i].node->needed) needs |= (uint64_t)1 << i;
  if (!any || !needs) goto done;

  rc = nb__node_check_saved(n);
  if (rc < 0) goto done;
  for (int j = 0; j < n->n_out; j++) {
    if (gout[j] || (d->outputs[j].flags & NB_OUT_NONDIFF)) continue;
    if (!nb__is_floating((nb_dtype)n->out_meta[j].dtype)) continue;
    gout[j] = nb__tensor_new(n->out_meta[j].ndim, n->out_meta[j].shape,
                             (nb_dtype)n->out_meta[j].dtype);
    if (!gout[j]) {
      rc = nb_last_status();
      goto done;
    }
    memset(nb_data(gout[j]), 0, (size_t)nb_numel(gout[j]) * nb__dtype_size((nb_dtype)gout[j]->dtype));
  }
  nb_backward_fn bw = d->backward;
  if (NB_UNLIKELY(r->graph)) {
    if (!d->backward_graph) {
      rc = nb_set_error(NB_EUNSUPPORTED,
                        "backward: %s (op '%s') cannot be differentiated twice: the op declares "
                        "no backward_graph, so NB_CREATE_GRAPH cannot record its gradient",
                        n->name, d->name);
      goto done;
    }
    bw = d->backward_graph;
  }
  nb_ctx ctx = {.node = n, .op = n->op, .attrs = n->attrs, .needs_grad = needs, .graph = r->graph};
  n->ran = true;
  rc = bw(&ctx, gout, gin);
  if (rc < 0) {
    if (nb_last_status() == NB_OK) nb_set_error(rc, "%s: backward failed (status %d)", n->name, rc);
    goto done;
  }
  for (int i = 0; i < n->n_in; i++) {
    if (!((needs >> i) & 1u) || !gin[i]) continue;
    if (NB_UNLIKELY(r->anomaly) && (rc = nb__anomaly_check(n, i, gin[i])) < 0) goto done;
    const nb_meta *m = &n->in_meta[i];
    nb_tensor *g = NB_UNLIKELY(r->graph && nb_requires_grad(gin[i]))
                       ? graph_sum_to_shape(gin[i], m->ndim, m->shape)
                       : nb_sum_to_shape(gin[i], m->ndim, m->shape);
    if (!g) {
      rc = nb_set_error(NB_ESHAPE, "%s: backward returned a gradient of shape %s for input %d "
                                   "('%s') of shape %s",
                        n->name, nb_shape_of(gin[i]), i, d->inputs[i].name,
                        nb_shape_str(m->ndim, m->shape, (char[64]){0}, 64));
      goto done;
    }
    if (g->dtype != m->dtype) {
      g = nb_requires_grad(g) ? nb_call1("to_dtype", 1, &g, 1,
                                         (nb_attr[]){NB_A_INT("dtype", m->dtype)})
                              : nb_convert(g, (nb_dtype)m->dtype);
      if (!g) {
        rc = nb_last_status();
        goto done;
      }
    }
    nb_edge *e = &n->next[i];
    rc = add_to_buffer(&e->node->buf[e->input_nr], g);
    if (rc < 0) goto done;
  }
done:
  for (int j = 0; j < n->n_out; j++) nb_release(gout[j]);
  return rc;
}

/* Cleanup after a run (also after an error): drop leftover buffers and saved tensors. */
static void finish(run *r, bool ok) {
  for (int i = 0; i < r->n; i++) {
    nb_node *n = r->order[i];
    for (int j = 0; j < n->n_out; j++) {
      nb_release(n->buf[j]);
      n->buf[j] = NULL;
    }
    /* Only nodes whose backward ran free their saved tensors: a restricted backward may
     * leave another branch for a later call, as in PyTorch. */
    if (ok && n->ran && !(r->flags & NB_RETAIN_GRAPH)) nb__node_release_saved(n);
    n->ran = false;
    n->run_id = 0;
  }
}

/* Validate root and its gradient; returns the root's edge (new node reference) and the
 * gradient to seed (new reference). */
static int seed(nb_tensor *root, nb_tensor *grad, int k, nb_edge *e, nb_tensor **g) {
  if (!root) return nb_set_error(NB_EINVAL, "backward: output %d is NULL", k);
  if (!nb_requires_grad(root))
    return nb_set_error(NB_ESTATE, "backward: element %d of tensors does not require grad and "
                                   "does not have a grad_fn",
                        k);
  if (!grad) {
    if (root->numel != 1)
      return nb_set_error(NB_EINVAL, "backward: grad can be implicitly created only for scalar "
                                     "outputs (output %d has shape %s)",
                          k, nb_shape_of(root));
    *g = nb__tensor_new(root->ndim, root->shape, (nb_dtype)root->dtype);
    if (!*g) return nb_last_status();
    nb_fill(*g, 1.0);
  } else {
    if (!nb_same_shape(grad, root)) {
      char a[64];
      return nb_set_error(NB_ESHAPE, "backward: Mismatch in shape: grad_output[%d] has a shape "
                                     "of %s and output[%d] has a shape of %s",
                          k, nb_shape_str(grad->ndim, grad->shape, a, sizeof a), k,
                          nb_shape_of(root));
    }
    if (!nb__is_floating((nb_dtype)grad->dtype))
      return nb_set_error(NB_EDTYPE, "backward: grad_output[%d] has dtype %s; a floating dtype is "
                                     "needed",
                          k, nb_dtype_name((nb_dtype)grad->dtype));
    *g = grad->dtype == root->dtype ? nb_retain(grad) : nb_convert(grad, (nb_dtype)root->dtype);
    if (*g && grad->dtype != root->dtype) nb_retain(*g); /* nb_convert's is scoped */
    if (!*g) return nb_last_status();
  }
  if (root->grad_fn) {
    e->node = root->grad_fn;
    nb__node_retain(e->node);
    e->input_nr = root->output_nr;
  } else {
    e->node = nb__grad_accumulator(root);
    e->input_nr = 0;
    if (!e->node) {
      nb_release(*g);
      return nb_last_status();
    }
  }
  return NB_OK;
}

static int engine_run(nb_tensor *const *roots, nb_tensor *const *grads, int n_roots, unsigned flags,
                      target *targets, int n_targets, bool capture) {
  if (n_roots <= 0 || !roots) return nb_set_error(NB_EINVAL, "backward: no outputs given");
  bool graph = flags & NB_CREATE_GRAPH;
  if (graph) flags |= NB_RETAIN_GRAPH; /* as PyTorch: retain_graph defaults to create_graph */
  int scope = nb_scope_begin();
  if (scope < 0) return scope;
  bool prev_mode = nb_set_grad_enabled(graph);
  run r = {.id = __atomic_add_fetch(&run_ids, 1, __ATOMIC_RELAXED), .flags = flags,
           .graph = graph, .anomaly = nb__anomaly_on, .capture = capture, .targets = targets,
           .n_targets = n_targets};
  bool owns_tl = !tl.busy;
  if (owns_tl) { /* borrow this thread's arrays */
    if (!tl.registered) tl.registered = nb__at_thread_exit(tl_free, &tl);
    tl.busy = true;
    r.order = tl.order;
    r.sorted = tl.sorted;
    r.cap = tl.cap;
  }
  nb_edge edges[n_roots];
  nb_tensor *seeds[n_roots];
  nb_node *root_nodes[n_roots];
  int n_seeded = 0, rc = NB_OK;
  for (int k = 0; k < n_roots; k++) {
    rc = seed(roots[k], grads ? grads[k] : NULL, k, &edges[k], &seeds[k]);
    if (rc < 0) break;
    root_nodes[k] = edges[k].node;
    n_seeded++;
  }
  if (rc >= 0) rc = discover(&r, root_nodes, n_roots);
  if (rc >= 0) rc = toposort(&r);
  if (rc >= 0) {
    mark_needed(&r);
    for (int k = 0; k < n_roots && rc >= 0; k++)
      rc = add_to_buffer(&edges[k].node->buf[edges[k].input_nr], seeds[k]);
  }
  for (int i = 0; rc >= 0 && i < r.n; i++) {
    nb_node *n = r.order[i];
    if (!n->needed) continue;
    int inner = nb_scope_begin();
    if (inner < 0) {
      rc = inner;
      break;
    }
    rc = n->op ? run_node(&r, n) : run_accumulate(&r, n);
    nb_scope_end();
  }
  finish(&r, rc >= 0);
  if (owns_tl) { /* keep the (possibly grown) arrays for the next run */
    tl.order = r.order;
    tl.sorted = r.sorted;
    tl.cap = r.cap;
    tl.busy = false;
  } else {
    free(r.order);
    free(r.sorted);
  }
  for (int k = 0; k < n_seeded; k++) {
    nb_release(seeds[k]);
    nb__node_release(edges[k].node);
  }
  nb_set_grad_enabled(prev_mode);
  nb_scope_end();
  return rc;
}

int nb_backward(nb_tensor *root, nb_tensor *grad, unsigned flags) {
  return engine_run(&root, &grad, 1, flags, NULL, 0, false);
}

/* Targets for inputs: a leaf's accumulator (a new reference) or (grad_fn, output_nr). */
static int make_targets(nb_tensor *const *inputs, int n, target *t, const char *what) {
  for (int i = 0; i < n; i++) {
    memset(&t[i], 0, sizeof t[i]);
    if (!inputs || !inputs[i]) return nb_set_error(NB_EINVAL, "%s: input %d is NULL", what, i);
    if (!nb_requires_grad(inputs[i]))
      return nb_set_error(NB_ESTATE, "%s: input %d does not require grad", what, i);
    t[i].tensor = inputs[i];
    if (inputs[i]->grad_fn) {
      t[i].node = inputs[i]->grad_fn;
      nb__node_retain(t[i].node);
      t[i].out_nr = inputs[i]->output_nr;
    } else {
      t[i].node = nb__grad_accumulator(inputs[i]);
      if (!t[i].node) return nb_last_status();
    }
  }
  return NB_OK;
}

static void free_targets(target *t, int n) {
  for (int i = 0; i < n; i++) {
    nb__node_release(t[i].node);
    nb_release(t[i].captured);
  }
}

int nb_backward_inputs(nb_tensor *root, nb_tensor *grad, nb_tensor *const *inputs, int n_inputs,
                       unsigned flags) {
  if (n_inputs <= 0) return nb_set_error(NB_EINVAL, "backward: inputs list is empty");
  target t[n_inputs];
  int rc = make_targets(inputs, n_inputs, t, "backward");
  if (rc >= 0) rc = engine_run(&root, &grad, 1, flags, t, n_inputs, false);
  free_targets(t, n_inputs);
  return rc;
}

int nb_autograd_grad(nb_tensor *const *outputs, nb_tensor *const *grad_outputs, int n_out,
                     nb_tensor *const *inputs, int n_inputs, nb_tensor **results, unsigned flags,
                     bool allow_unused) {
  if (n_inputs <= 0 || !results)
    return nb_set_error(NB_EINVAL, "autograd_grad: inputs and results are required");
  for (int i = 0; i < n_inputs; i++) results[i] = NULL;
  target t[n_inputs];
  int rc = make_targets(inputs, n_inputs, t, "autograd_grad");
  if (rc >= 0) rc = engine_run(outputs, grad_outputs, n_out, flags, t, n_inputs, true);
  for (int i = 0; rc >= 0 && i < n_inputs; i++) {
    if (!t[i].captured) {
      if (!allow_unused) {
        rc = nb_set_error(NB_ESTATE, "autograd_grad: input %d appears to not have been used in "
                                     "the graph; pass allow_unused=true if this is intended",
                          i);
        break;
      }
      continue;
    }
    results[i] = nb__scope_register(nb_retain(t[i].captured));
  }
  if (rc < 0)
    for (int i = 0; i < n_inputs; i++) results[i] = NULL;
  free_targets(t, n_inputs);
  return rc;
}
