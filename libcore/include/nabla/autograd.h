/* nabla/autograd.h — requires_grad, .grad, the recorded graph, backward, hooks and
 * grad mode. Semantics follow PyTorch 2.x (see spec/autograd.md).
 */
#ifndef NABLA_AUTOGRAD_H
#define NABLA_AUTOGRAD_H

#include <stdio.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- leaves, grads, graph nodes ------------------------------------------ */

/* Mark a leaf as requiring grad (or not). Errors: non-leaf ("only leaf tensors can
 * change requires_grad"), integer/bool dtype. Returns 0 or a negative status. */
int nb_set_requires_grad(nb_tensor *t, bool requires_grad);
/* Convenience: nb_set_requires_grad(t, true) and return t (NULL on error). */
nb_tensor *nb_requires_grad_(nb_tensor *t);
bool nb_requires_grad(const nb_tensor *t);
/* A tensor is a leaf iff it has no grad_fn. */
bool nb_is_leaf(const nb_tensor *t);
/* The accumulated gradient (borrowed; NULL when none). */
nb_tensor *nb_grad(const nb_tensor *t);
/* Replace .grad (takes a new reference; NULL clears it). Shape and dtype must match; t
 * itself, or a tensor sharing its memory, is refused (NB_EINVAL). */
int nb_set_grad(nb_tensor *t, nb_tensor *grad);
/* The node that produced t (borrowed; NULL for leaves). */
nb_node *nb_grad_fn(const nb_tensor *t);
/* Node name: "MulBackward", "AccumulateGrad", ... */
const char *nb_node_name(const nb_node *n);
/* Number of next functions (one per op input, in argument order). */
int nb_node_num_next(const nb_node *n);
/* The i-th next function: the node (NULL for an input that does not require grad)
 * and, through *input_nr, which output of that node feeds it. */
nb_node *nb_node_next(const nb_node *n, int i, int *input_nr);
/* For an AccumulateGrad node: the leaf it accumulates into (borrowed); else NULL. */
nb_tensor *nb_node_variable(const nb_node *n);
/* The AccumulateGrad node of a leaf while some recorded graph holds one (borrowed), else
 * NULL. Graphs reach the same node through nb_node_next(). */
nb_node *nb_grad_accumulator(nb_tensor *leaf);

/* ---- detach and retain_grad -------------------------------------------- */

/* A leaf that shares t's storage and version counter and does not require grad. */
nb_tensor *nb_detach(nb_tensor *t);
/* Ask a non-leaf to keep its .grad after backward (after all hooks, accumulating).
 * No-op on leaves. Error if t does not require grad. */
int nb_retain_grad(nb_tensor *t);
bool nb_retains_grad(const nb_tensor *t);

/* ---- backward ------------------------------------------------------------ */

enum {
  NB_RETAIN_GRAPH = 1u << 0, /* keep saved tensors so backward can run again */
  /* Record the backward pass: the gradients it produces require grad and can be
   * differentiated again, to any order (PyTorch's create_graph=True). Implies
   * NB_RETAIN_GRAPH. Every op reached must declare a backward_graph (sdk/op.h); one that
   * does not makes backward fail with NB_EUNSUPPORTED naming it. As in PyTorch,
   * nb_backward with it makes a reference cycle between a leaf and its .grad (whose graph
   * reaches the leaf): prefer nb_autograd_grad, or clear .grad (nb_set_grad(t, NULL))
   * when done with it. */
  NB_CREATE_GRAPH = 1u << 1
};

/* Backpropagate from `root`. `grad` is the gradient of root (NULL allowed only for
 * one-element roots: a 1 is used). Accumulates into .grad of every leaf that requires
 * grad and of non-leaves that retain grad. Frees saved tensors unless NB_RETAIN_GRAPH. */
int nb_backward(nb_tensor *root, nb_tensor *grad, unsigned flags);
/* Like nb_backward but accumulates only into the given tensors (PyTorch's inputs=). */
int nb_backward_inputs(nb_tensor *root, nb_tensor *grad, nb_tensor *const *inputs, int n_inputs,
                       unsigned flags);
/* PyTorch's autograd.grad: gradients of `n_out` outputs (with grad_outputs, entries may
 * be NULL for one-element outputs) with respect to `inputs`, returned in results[i]
 * (scoped tensors; NULL when an input is not reached and allow_unused is true). Does not
 * touch any .grad. */
int nb_autograd_grad(nb_tensor *const *outputs, nb_tensor *const *grad_outputs, int n_out,
                     nb_tensor *const *inputs, int n_inputs, nb_tensor **results, unsigned flags,
                     bool allow_unused);

/* ---- hooks ---------------------------------------------------------------- */

/* A tensor hook sees the gradient of the tensor it was registered on. To replace the
 * gradient, set *replace to a tensor of the same shape (a scoped result is fine: the
 * engine keeps what it needs); leave it NULL to keep the gradient as is. Return 0, or a
 * negative status to abort backward (set an error message). */
typedef int (*nb_hook_fn)(nb_tensor *grad, nb_tensor **replace, void *user);
/* Register a hook; returns a handle (> 0) or a negative status. Hooks run in
 * registration order, each seeing the previous one's result. Error if t does not
 * require grad. A backward runs the hooks present when it reaches the tensor: a hook may
 * remove itself or others (a removed one that has not run yet is skipped) and register
 * new ones (they run from the next backward on). A hook may open and close its own
 * scopes; ending one it did not begin fails with NB_ESTATE, and leaving one open makes
 * backward fail. */
int64_t nb_register_hook(nb_tensor *t, nb_hook_fn fn, void *user);
/* A post-accumulate-grad hook (PyTorch's register_post_accumulate_grad_hook) runs on a
 * leaf right after a backward has accumulated into its .grad, so .grad is final for that
 * backward (a leaf reached along several paths gets one call, after the sum). It sees the
 * leaf itself, may read .grad or change it in place, and returns 0, or a negative status
 * to abort backward (set an error message). It does not run for nb_autograd_grad, for a
 * nb_backward_inputs that leaves the leaf out, or when no gradient reached the leaf. Data
 * parallel training uses it to start averaging gradients while backward goes on. */
typedef int (*nb_post_accumulate_hook_fn)(nb_tensor *leaf, void *user);
/* Register one on a leaf that requires grad; returns a handle (> 0, removed with
 * nb_remove_hook) or a negative status (a non-leaf is refused, as in PyTorch). Several
 * run in registration order; removal and registration during backward follow the rules
 * of nb_register_hook. */
int64_t nb_register_post_accumulate_grad_hook(nb_tensor *leaf, nb_post_accumulate_hook_fn fn,
                                              void *user);
/* Remove a hook (of either kind) by its handle. Returns 0, or NB_ENOTFOUND. */
int nb_remove_hook(nb_tensor *t, int64_t handle);

/* ---- grad mode (thread-local) ---------------------------------------------- */

bool nb_is_grad_enabled(void);
/* Set grad mode; returns the previous mode. */
bool nb_set_grad_enabled(bool enabled);
/* Push the current mode and disable (no_grad) / enable (enable_grad) recording.
 * Each begin must be matched by nb_grad_mode_end(). Returns 0 or NB_ENOMEM. */
int nb_no_grad_begin(void);
int nb_enable_grad_begin(void);
/* Restore the mode saved by the matching begin. NB_ESTATE when none is open. */
int nb_grad_mode_end(void);
/* Alias of nb_grad_mode_end() for readability after nb_no_grad_begin(). */
int nb_no_grad_end(void);

/* ---- anomaly detection (PyTorch's detect_anomaly; thread-local, off by default) ---- */

/* Turn anomaly detection on or off for this thread; returns the previous setting. While
 * on, every graph node records where it was created (the label below), and a backward
 * (started while on) checks the gradients every node's backward returns, failing at the
 * first NaN or Inf with an error naming the node, its op, its inputs' shapes and dtypes
 * and that origin. Off, it costs nothing measurable. */
bool nb_set_detect_anomaly(bool enabled);
bool nb_is_anomaly_enabled(void);
/* The label recorded on nodes created from now on (this thread, anomaly mode on): a
 * string that outlives the graph, such as a literal. NULL clears it. Returns the
 * previous label. NB_ANOMALY_HERE() labels with the C call site, "file.c:42". */
const char *nb_anomaly_label(const char *label);
#define NB_ANOMALY_STR2_(x) #x
#define NB_ANOMALY_STR_(x) NB_ANOMALY_STR2_(x)
#define NB_ANOMALY_HERE() nb_anomaly_label(__FILE__ ":" NB_ANOMALY_STR_(__LINE__))
/* Where a node was created (its label), or NULL when anomaly detection was off. */
const char *nb_node_origin(const nb_node *n);

/* ---- graph drawing ---------------------------------------------------------- */

/* Write the backward graph reachable from root as Graphviz DOT (nodes labelled with
 * their names; leaves show their shape). Returns 0 or a negative status. */
int nb_graph_dot(const nb_tensor *root, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
