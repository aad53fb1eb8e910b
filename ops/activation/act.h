/* ops/activation/act.h — shared pieces of the activation plugin (not installed).
 *
 * Every activation is elementwise, so the kernels are built with the elementwise
 * family's run macros and drivers (ops/elementwise/ew.h; apply.c and samples.c are
 * compiled into this module too). Each op saves its input and computes its gradient
 * from (g, x); the op's FLOAT attributes reach the kernels as X->v0, X->v1.
 */
#ifndef NB_OPS_ACT_H
#define NB_OPS_ACT_H

#include "../elementwise/ew.h"

/* The first two FLOAT attributes of an op as kernel constants (the type of `a`, so a
 * float32 kernel stays in float). */
#define ACT_P0 ((__typeof__(a))X->v0)
#define ACT_P1 ((__typeof__(a))X->v1)

/* out[0] = fns(in[0]) with attributes attrs[0..n_attrs) as X; saves the input when it
 * needs a gradient. Returns 0 or a negative status. */
int act_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, int n_attrs,
                const ew_fns fns, nb_tensor **out);
/* grad_in[0] = grad_fns(g, saved input) with the node's attributes as X. */
int act_backward(nb_ctx *ctx, nb_tensor *const *grad_out, int n_attrs, const ew_fns grad_fns,
                 nb_tensor **grad_in);

/* The input list shared by every activation. */
extern const nb_input_spec act_inputs[1];
extern const nb_output_spec act_outputs[1];

extern const nb_op_desc op_gelu, op_silu, op_leaky_relu, op_elu, op_softplus;

#endif
