/* autograd.c — the tensor side of autograd: requires_grad, .grad, grad_fn, detach,
 * retain_grad and hooks. Hooks of a leaf live on the tensor; hooks of a non-leaf live on
 * its grad_fn (per output), as in PyTorch, so they run even if the tensor is freed. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"


int nb_set_requires_grad(nb_tensor *t, bool requires_grad) {
  if (!t) return nb_set_error(NB_EINVAL, "nb_set_requires_grad: tensor is NULL");
  if (t->grad_fn)
    return nb_set_error(NB_ESTATE,
                        "nb_set_requires_grad: only leaf tensors can change requires_grad (this "
                        "tensor was produced by %s; use nb_detach() to get a leaf)",
                        t->grad_fn->name);
  if (requires_grad && !nb__is_floating((nb_dtype)t->dtype))
    return nb_set_error(NB_EDTYPE,
                        "nb_set_requires_grad: only floating tensors can require gradients "
                        "(got %s)",
                        nb_dtype_name((nb_dtype)t->dtype));
  t->requires_grad = requires_grad;
  return NB_OK;
}

nb_tensor *nb_requires_grad_(nb_tensor *t) {
  return nb_set_requires_grad(t, true) < 0 ? NULL : t;
}

bool nb_requires_grad(const nb_tensor *t) { return t && (t->requires_grad || t->grad_fn); }
bool nb_is_leaf(const nb_tensor *t) { return t && !t->grad_fn; }
nb_tensor *nb_grad(const nb_tensor *t) { return t ? t->grad : NULL; }
nb_node *nb_grad_fn(const nb_tensor *t) { return t ? t->grad_fn : NULL; }
bool nb_retains_grad(const nb_tensor *t) { return t && t->retains_grad; }

int nb_set_grad(nb_tensor *t, nb_tensor *grad) {
  if (!t) return nb_set_error(NB_EINVAL, "nb_set_grad: tensor is NULL");
  if (grad && (!nb_same_shape(t, grad) || grad->dtype != t->dtype))
    return nb_set_error(NB_ESHAPE,
                        "nb_set_grad: assigned grad has %s %s but the tensor is %s %s",
                        nb_dtype_name((nb_dtype)grad->dtype), nb_shape_of(grad),
                        nb_dtype_name((nb_dtype)t->dtype), nb_shape_of(t));
  /* PyTorch: "can't assign Variable as its own grad". A grad sharing t's memory (a
   * detach or view of t) is refused too: backward accumulates into .grad in place, so
   * it would change t itself. */
  if (grad == t)
    return nb_set_error(NB_EINVAL, "nb_set_grad: cannot assign a tensor as its own grad");
  if (grad && nb_shares_storage(grad, t))
    return nb_set_error(NB_EINVAL, "nb_set_grad: the grad shares memory with the tensor (a "
                                   "detach or view of it); assign a copy (nb_copy_data)");
  nb_retain(grad);
  nb_release(t->grad);
  t->grad = grad;
  return NB_OK;
}

nb_tensor *nb_detach(nb_tensor *t) {
  if (!t) {
    nb_set_error(NB_EINVAL, "nb_detach: tensor is NULL");
    return NULL;
  }
  nb_tensor *d = nb__alias(t, t->ndim, t->shape, t->strides, t->offset);
  return d ? nb__scope_register(d) : NULL;
}

int nb_retain_grad(nb_tensor *t) {
  if (!t) return nb_set_error(NB_EINVAL, "nb_retain_grad: tensor is NULL");
  if (!nb_requires_grad(t))
    return nb_set_error(NB_ESTATE, "nb_retain_grad: can't retain_grad on a tensor that has "
                                   "requires_grad=False");
  if (!t->grad_fn) return NB_OK; /* leaves keep their grad anyway */
  nb_node *n = t->grad_fn;
  if (!n->retain) {
    n->retain = calloc((size_t)n->n_out, sizeof *n->retain);
    if (!n->retain) return nb_set_error(NB_ENOMEM, "nb_retain_grad: out of memory");
  }
  n->retain[t->output_nr] = t;
  t->retains_grad = true;
  return NB_OK;
}

/* ---- hooks --------------------------------------------------------------------------- */

static nb_hook **hook_list(nb_tensor *t) {
  if (!t->grad_fn) return &t->hooks;
  nb_node *n = t->grad_fn;
  if (!n->out_hooks) {
    n->out_hooks = calloc((size_t)n->n_out, sizeof *n->out_hooks);
    if (!n->out_hooks) return NULL;
  }
  return &n->out_hooks[t->output_nr];
}

int64_t nb_register_hook(nb_tensor *t, nb_hook_fn fn, void *user) {
  if (!t || !fn) return nb_set_error(NB_EINVAL, "nb_register_hook: %s is NULL", t ? "hook" : "tensor");
  if (!nb_requires_grad(t))
    return nb_set_error(NB_ESTATE, "nb_register_hook: cannot register a hook on a tensor that "
                                   "doesn't require gradient");
  nb_hook **list = hook_list(t);
  if (!list) return nb_set_error(NB_ENOMEM, "nb_register_hook: out of memory");
  return nb__hook_append(list, fn, user);
}

int64_t nb_register_post_accumulate_grad_hook(nb_tensor *leaf, nb_post_accumulate_hook_fn fn,
                                              void *user) {
  if (!leaf || !fn)
    return nb_set_error(NB_EINVAL, "nb_register_post_accumulate_grad_hook: %s is NULL",
                        leaf ? "hook" : "tensor");
  if (leaf->grad_fn)
    return nb_set_error(NB_ESTATE, "nb_register_post_accumulate_grad_hook: post accumulate grad "
                                   "hooks cannot be registered on non-leaf tensors");
  if (!leaf->requires_grad)
    return nb_set_error(NB_ESTATE, "nb_register_post_accumulate_grad_hook: cannot register a "
                                   "hook on a tensor that doesn't require gradient");
  return nb__post_hook_append(&leaf->post_hooks, fn, user);
}

static bool remove_from(nb_hook **list, int64_t handle) {
  for (; list && *list; list = &(*list)->next) {
    if ((*list)->id == handle) {
      nb_hook *h = *list;
      *list = h->next;
      free(h);
      return true;
    }
  }
  return false;
}

int nb_remove_hook(nb_tensor *t, int64_t handle) {
  if (!t) return nb_set_error(NB_EINVAL, "nb_remove_hook: tensor is NULL");
  if (remove_from(&t->hooks, handle) || remove_from(&t->post_hooks, handle)) return NB_OK;
  /* A hook registered before in-place ops stays on the node the tensor came out of then;
   * walk back through the in-place history (input 0 of each in-place node). */
  nb_node *n = t->grad_fn;
  int out = t->output_nr;
  while (n) {
    if (n->out_hooks && remove_from(&n->out_hooks[out], handle)) return NB_OK;
    if (!n->op || !(n->op->d.flags & NB_OP_INPLACE) || n->n_in == 0) break;
    out = n->next[0].input_nr;
    n = n->next[0].node;
  }
  return nb_set_error(NB_ENOTFOUND, "nb_remove_hook: no hook with handle %lld on this tensor",
                      (long long)handle);
}

/* ---- destruction ------------------------------------------------------------------------ */

/* Installed as storage's tensor finalizer when the library loads, so storage.c needs no
 * call up into this layer. */
static void autograd_forget(nb_tensor *t) {
  nb_node *n = t->grad_fn;
  if (n && t->retains_grad && n->retain && n->retain[t->output_nr] == t)
    n->retain[t->output_nr] = NULL;
  if (t->grad_acc && t->grad_acc->variable == t) t->grad_acc->variable = NULL; /* defensive */
  t->grad_acc = NULL;
  nb__hooks_free(t->hooks);
  t->hooks = NULL;
  nb__hooks_free(t->post_hooks);
  t->post_hooks = NULL;
  nb_tensor *g = t->grad, *base = t->view_base;
  t->grad = NULL;
  t->grad_fn = NULL;
  t->view_base = NULL;
  nb_release(g);
  nb_release(base);
  nb__node_release(n);
}

__attribute__((constructor)) static void install_finalizer(void) {
  nb__set_tensor_finalizer(autograd_forget);
}
