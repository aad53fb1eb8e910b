/* dispatch.c — running an op: validate the call against the op's schema, resolve
 * attributes, run forward in its own scope under no-grad, and record the graph node when
 * grad mode is on and a differentiable input requires grad. In-place ops bump the
 * version and take over the tensor's history; the leaf rule (spec item 20) lives here. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* "float32, float64" for a dtype mask. */
static void dtype_list(unsigned mask, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int d = 0; d < NB_NUM_DTYPES; d++) {
    if (!(mask & (1u << d))) continue;
    int w = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", nb_dtype_name((nb_dtype)d));
    if (w < 0 || (size_t)w >= size - used) break;
    used += (size_t)w;
  }
}

static int check_inputs(const nb_op_desc *d, int n_in, nb_tensor *const *in) {
  if (n_in != d->n_inputs) {
    char names[256] = "";
    size_t used = 0;
    for (int i = 0; i < d->n_inputs && used < sizeof names; i++) {
      int w = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", d->inputs[i].name);
      if (w < 0) break;
      used += (size_t)w;
    }
    return nb_set_error(NB_EINVAL, "%s: expects %d input%s (%s), got %d", d->name, d->n_inputs,
                        d->n_inputs == 1 ? "" : "s", names, n_in);
  }
  if (n_in > 0 && !in) return nb_set_error(NB_EINVAL, "%s: inputs array is NULL", d->name);
  for (int i = 0; i < n_in; i++) {
    const nb_input_spec *s = &d->inputs[i];
    if (!in[i]) {
      if (s->flags & NB_IN_OPTIONAL) continue;
      return nb_set_null_error("%s: input '%s' (argument %d) is NULL", d->name, s->name, i);
    }
    if (!(s->dtypes & (1u << in[i]->dtype))) {
      char ok[96];
      dtype_list(s->dtypes, ok, sizeof ok);
      return nb_set_error(NB_EDTYPE, "%s: input '%s' has dtype %s %s; accepted: %s", d->name,
                          s->name, nb_dtype_name((nb_dtype)in[i]->dtype), nb_shape_of(in[i]), ok);
    }
  }
  return NB_OK;
}

/* In-place rules (spec item 20 and views): in grad mode, no in-place write to a leaf that
 * requires grad or to a view of one; and since the base's history is not rewritten
 * (PyTorch's CopySlices), no recorded in-place op on a view whose base requires grad. */
static int check_inplace(const nb_op_desc *d, const nb_tensor *self, bool grad_on, uint64_t needs) {
  if (!grad_on) return NB_OK;
  if (!self->grad_fn && self->requires_grad)
    return nb_set_error(NB_ESTATE,
                        "%s: a leaf tensor that requires grad is being used in an in-place "
                        "operation (allowed only under nb_no_grad_begin())",
                        d->name);
  const nb_tensor *base = self->view_base;
  if (!base) return NB_OK;
  if (!base->grad_fn && base->requires_grad)
    return nb_set_error(NB_ESTATE,
                        "%s: a view of a leaf tensor that requires grad is being used in an "
                        "in-place operation (allowed only under nb_no_grad_begin())",
                        d->name);
  if (needs || nb_requires_grad(base))
    return nb_set_error(NB_EUNSUPPORTED,
                        "%s: in-place operation on a view (%s of a %s tensor) while recording "
                        "gradients is not supported: the base's history would not see it; use "
                        "the out-of-place op",
                        d->name, nb_shape_of(self), nb_shape_of(base));
  return NB_OK;
}

/* Undo an in-place op's version bump after a failure; returns rc. */
static int unbump(nb_tensor *self, int rc) {
  if (self) __atomic_sub_fetch(&self->storage->version, 1, __ATOMIC_RELAXED);
  return rc;
}

int nb_op_call(const nb_op *op, int n_in, nb_tensor *const *in, int n_attrs, const nb_attr *attrs,
               int n_out, nb_tensor **out) {
  if (!op) return nb_set_error(NB_EINVAL, "nb_op_call: op is NULL");
  const nb_op_desc *d = &op->d;
  if (!out || n_out != d->n_outputs)
    return nb_set_error(NB_EINVAL, "%s: has %d output%s, caller asked for %d%s", d->name,
                        d->n_outputs, d->n_outputs == 1 ? "" : "s", n_out,
                        out ? "" : " (out is NULL)");
  for (int j = 0; j < n_out; j++) out[j] = NULL;
  int rc = check_inputs(d, n_in, in);
  if (rc < 0) return rc;

  nb_attr_value av[d->n_attrs + 1];
  if (d->n_attrs || n_attrs) { /* most elementwise ops take none */
    rc = nb_schema_resolve(d->name, d->n_attrs, d->attrs, n_attrs, attrs, av);
    if (rc < 0) return rc;
  }

  bool inplace = d->flags & NB_OP_INPLACE;
  bool grad_on = nb_is_grad_enabled();
  uint64_t needs = 0;
  if (grad_on) {
    for (int i = 0; i < n_in; i++) {
      if (!in[i] || (d->inputs[i].flags & NB_IN_NONDIFF)) continue;
      if (nb_requires_grad(in[i])) needs |= (uint64_t)1 << i;
    }
  }
  if (needs && !d->backward) {
    int i = __builtin_ctzll(needs);
    return nb_set_error(NB_EUNSUPPORTED,
                        "%s: the op has no backward (not differentiable) but input '%s' requires "
                        "grad; call it under nb_no_grad_begin() or on nb_detach()ed inputs",
                        d->name, d->inputs[i].name);
  }
  nb_tensor *self = inplace && n_in > 0 ? in[0] : NULL;
  if (inplace) {
    if (!self) return nb_set_error(NB_EINVAL, "%s: in-place op needs input 0", d->name);
    rc = check_inplace(d, self, grad_on, needs);
    if (rc < 0) return rc;
    /* Bump before forward, so what forward saves is current; undone if the call fails. */
    __atomic_add_fetch(&self->storage->version, 1, __ATOMIC_RELAXED);
  }

  nb_node *node = NULL;
  if (needs) {
    node = nb__node_new(op, op->node_name, n_in, n_out);
    if (!node) return unbump(self, nb_last_status());
    if (d->n_attrs) memcpy(node->attrs, av, (size_t)d->n_attrs * sizeof av[0]);
    rc = d->n_attrs ? nb__node_own_strings(node) : NB_OK;
    if (rc >= 0) rc = nb__node_record_inputs(node, n_in, in, needs);
    if (NB_UNLIKELY(nb__anomaly_on)) nb__anomaly_record(node);
    if (rc < 0) {
      nb__node_release(node);
      return unbump(self, rc);
    }
  }
  nb_ctx ctx = {.node = node, .op = op, .attrs = node ? node->attrs : av, .needs_grad = needs,
                .updated = self ? self->storage : NULL, .in = in, .n_in = n_in};

  bool prev_mode = nb_set_grad_enabled(false);
  int depth = nb_scope_begin();
  if (depth < 0) {
    nb_set_grad_enabled(prev_mode);
    nb__node_release(node);
    return unbump(self, depth);
  }
  rc = d->forward(&ctx, in, ctx.attrs, out);
  if (rc >= 0) {
    for (int j = 0; j < n_out; j++) {
      if (!out[j]) {
        rc = nb_set_error(NB_EPLUGIN, "%s: forward returned no tensor for output %d ('%s')",
                          d->name, j, d->outputs[j].name);
        break;
      }
    }
  }
  if (rc >= 0)
    nb__scope_end_keep(n_out, out); /* dispatch owns the outputs now */
  else
    nb_scope_end();
  nb_set_grad_enabled(prev_mode);
  if (rc < 0) {
    if (nb_last_status() == NB_OK) nb_set_error(rc, "%s: forward failed (status %d)", d->name, rc);
    for (int j = 0; j < n_out; j++) out[j] = NULL;
    nb__node_release(node);
    return unbump(self, rc);
  }
  rc = nb__node_attach_outputs(op, node, n_in, in, n_out, out);
  if (rc >= 0 && node && node->n_saved) nb__node_mark_saved_outputs(node, n_out, out);
  nb__node_release(node); /* outputs hold it now */
  if (rc < 0) {
    for (int j = 0; j < n_out; j++) {
      nb_release(out[j]);
      out[j] = NULL;
    }
    return rc;
  }
  for (int j = 0; j < n_out; j++) nb__scope_register(out[j]);
  return NB_OK;
}

int nb_call(const char *name, int n_in, nb_tensor *const *in, int n_attrs, const nb_attr *attrs,
            int n_out, nb_tensor **out) {
  if (!name) return nb_set_error(NB_EINVAL, "nb_call: op name is NULL");
  const nb_op *op = nb_op_find(name);
  if (!op) return nb_last_status();
  return nb_op_call(op, n_in, in, n_attrs, attrs, n_out, out);
}

nb_tensor *nb_call1(const char *name, int n_in, nb_tensor *const *in, int n_attrs,
                    const nb_attr *attrs) {
  nb_tensor *out = NULL;
  return nb_call(name, n_in, in, n_attrs, attrs, 1, &out) < 0 ? NULL : out;
}
