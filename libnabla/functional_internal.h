/* libnabla/functional_internal.h — what the typed-wrapper files (functional*.c) share:
 * OP(name) resolves an op once per call site and call() runs a one-output op. Private
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

#endif
