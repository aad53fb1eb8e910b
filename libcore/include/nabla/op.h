/* nabla/op.h — calling any registered operator by name.
 *
 * The typed wrappers of the user library (functional.h) are built on these calls. Find
 * an op with nb_op_find() (registry.h); attributes are given by name (schema.h) and
 * checked against the op's schema before its kernel runs.
 */
#ifndef NABLA_OP_H
#define NABLA_OP_H

#include "core.h"
#include "tensor.h"
#include "schema.h"
#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

int nb_op_count(void);
const nb_op *nb_op_at(int i);

/* Run an op: validate inputs and attributes against its schema, run forward, record
 * the graph node when needed. out[] receives n_out tensors registered in the current
 * scope. Attributes are matched by name; missing ones take their default. */
int nb_op_call(const nb_op *op, int n_in, nb_tensor *const *in, int n_attrs, const nb_attr *attrs,
               int n_out, nb_tensor **out);
/* nb_op_find + nb_op_call. */
int nb_call(const char *name, int n_in, nb_tensor *const *in, int n_attrs, const nb_attr *attrs,
            int n_out, nb_tensor **out);
/* Single-output convenience: returns the output or NULL. */
nb_tensor *nb_call1(const char *name, int n_in, nb_tensor *const *in, int n_attrs,
                    const nb_attr *attrs);

/* A 0-d operand of dtype dt holding `value`, for one op call (PyTorch's wrapped
 * number: `3 * a` records MulBackward with no edge for the 3). Not registered in any
 * scope: release it after the call. Graph nodes save it directly, without the alias
 * and version check a user-visible tensor needs, so never hand it to users. */
nb_tensor *nb_op_scalar_operand(double value, nb_dtype dt);

#ifdef __cplusplus
}
#endif
#endif
