/* functional_call.h — private to the user library: how a typed wrapper finds its op once
 * and calls it (the pattern of functional.c, shared by the wrapper files added later).
 * Not installed.
 */
#ifndef NABLA_FUNCTIONAL_CALL_H
#define NABLA_FUNCTIONAL_CALL_H

#include <nabla/nabla.h>

/* Resolve an op once per call site into `op`; ops are never unregistered once found.
 * Returns NULL from the enclosing function when no plugin provides it. */
#define FN_OP(name)                                                                        \
  static const nb_op *op_;                                                               \
  const nb_op *op = __atomic_load_n(&op_, __ATOMIC_ACQUIRE);                             \
  if (__builtin_expect(!op, 0)) {                                                        \
    op = nb_op_find(name);                                                               \
    if (!op) return NULL;                                                                \
    __atomic_store_n(&op_, op, __ATOMIC_RELEASE);                                        \
  }

/* The single output of op on these inputs and attributes, NULL with the error set. */
static inline nb_tensor *fn_call(const nb_op *op, int n_in, nb_tensor *const *in, int n_attrs,
                                 const nb_attr *attrs) {
  nb_tensor *out = NULL;
  return nb_op_call(op, n_in, in, n_attrs, attrs, 1, &out) < 0 ? NULL : out;
}

/* An INTS attribute from n values (at most NB_MAX_DIMS, v non-NULL when n > 0). */
static inline int fn_ints_attr(const char *fn, const char *name, int n, const int64_t *v,
                               nb_attr *at) {
  if (n < 0 || n > NB_MAX_DIMS || (n > 0 && !v))
    return nb_set_error(NB_EINVAL, "%s: %d values for '%s' (at most %d, non-NULL)", fn, n, name,
                        NB_MAX_DIMS);
  *at = (nb_attr){.name = name, .type = NB_ATTR_INTS};
  at->v.ints.n = n;
  for (int i = 0; i < n; i++) at->v.ints.v[i] = v[i];
  return NB_OK;
}

#endif
