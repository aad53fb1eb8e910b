/* libnabla/functional_internal.h — what the typed-wrapper files (functional*.c) share:
 * OP(name) resolves an op once per call site, call() runs a one-output op and
 * fn_ints_attr() builds an INTS attribute from a C array. Private
 * to the user library (not installed).
 */
#ifndef NABLA_FUNCTIONAL_INTERNAL_H
#define NABLA_FUNCTIONAL_INTERNAL_H

#include <nabla/nabla.h>

/* Resolve an op once per call site; ops are never unregistered once found. */
#define OP(name)                                                                           \
  static const nb_op *op_;                                                               \
  const nb_op *op = __atomic_load_n(&op_, __ATOMIC_ACQUIRE);                             \
  if (__builtin_expect(!op, 0)) {                                                        \
    op = nb_op_find(name);                                                               \
    if (!op) return NULL;                                                                \
    __atomic_store_n(&op_, op, __ATOMIC_RELEASE);                                        \
  }

static inline nb_tensor *call(const nb_op *op, int n_in, nb_tensor *const *in, int n_attrs,
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
