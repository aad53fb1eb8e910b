/* ops/common/ops_util.h — small helpers several operator families share (nn, loss, ...).
 * Header-only (static inline), so each family stays one self-contained shared module
 * with hidden visibility and nothing here is exported. Not installed.
 */
#ifndef NABLA_OPS_COMMON_UTIL_H
#define NABLA_OPS_COMMON_UTIL_H

#include <nabla/sdk.h>

/* t itself when contiguous (or NULL), else a contiguous scoped copy (NULL on error). */
static inline nb_tensor *ops_contig(nb_tensor *t) {
  if (t == NULL || nb_is_contiguous(t)) return t;
  return nb_copy_data(t);
}

/* Error unless b (when not NULL) has a's dtype: "op: <bname> dtype float64 does not
 * match <aname> dtype float32". Returns 0 or NB_EDTYPE. */
static inline int ops_same_dtype(const char *op, const nb_tensor *a, const char *aname,
                                 const nb_tensor *b, const char *bname) {
  if (b == NULL || nb_dtype_of(a) == nb_dtype_of(b)) return 0;
  return nb_set_error(NB_EDTYPE, "%s: %s dtype %s does not match %s dtype %s", op, bname,
                      nb_dtype_name(nb_dtype_of(b)), aname, nb_dtype_name(nb_dtype_of(a)));
}

#endif
