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
#include "../elementwise/ew_exp.h" /* EW_EXP: an e^x the compiler can vectorise */

/* The first two FLOAT attributes of an op as kernel constants (the type of `a`, so a
 * float32 kernel stays in float). */
#define ACT_P0 ((__typeof__(a))X->v0)
#define ACT_P1 ((__typeof__(a))X->v1)

/* erf and tanh for float32 written so loops calling them vectorise (glibc's erff and
 * tanhf are opaque calls): erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7, the
 * formula of PyTorch's own vectorised float erf), tanh(z) = 1 − 2/(e^(2z) + 1)
 * (absolute error about 1e-7). float64 keeps libm's erf and tanh. */
static inline float act_erff(float x) {
  float ax = x < 0 ? -x : x;
  float t = 1.0f / (0.3275911f * ax + 1.0f);
  float r = (((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f;
  float y = 1.0f - r * t * ew_expf(-ax * ax);
  return x < 0 ? -y : y;
}
static inline float act_tanhf(float z) { return 1.0f - 2.0f / (ew_expf(2.0f * z) + 1.0f); }
static inline double act_erf(double x) { return erf(x); }
static inline double act_tanh(double x) { return tanh(x); }
#define ACT_ERF(x) _Generic((x), float : act_erff, default : act_erf)(x)
#define ACT_TANH(x) _Generic((x), float : act_tanhf, default : act_tanh)(x)

/* out[0] = fns(in[0]) with attributes attrs[0..n_attrs) as X; saves the input when it
 * needs a gradient. Returns 0 or a negative status. */
int act_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, int n_attrs,
                const ew_fns fns, nb_tensor **out);
/* grad_in[0] = grad_fns(g, saved input) with the node's attributes as X. */
int act_backward(nb_ctx *ctx, nb_tensor *const *grad_out, int n_attrs, const ew_fns grad_fns,
                 nb_tensor **grad_in);

/* f'(x) for the saved input x, written with dispatched ops (so recorded); attrs are the
 * node's resolved attributes. Returns a scoped tensor or NULL with the error set. */
typedef nb_tensor *(*act_deriv_fn)(nb_tensor *x, const nb_attr_value *attrs);
/* backward_graph of an activation: grad_in[0] = g · deriv(saved input), recorded. */
int act_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, act_deriv_fn deriv,
                       nb_tensor **grad_in);
/* where(x op c, 1, t) for a constant c ("gt" ...): 1 where the comparison holds, t
 * elsewhere; the branch not taken gets no gradient. */
nb_tensor *act_one_where(nb_tensor *x, const char *cmp, double c, nb_tensor *t);

/* The input list shared by every activation. */
extern const nb_input_spec act_inputs[1];
extern const nb_output_spec act_outputs[1];

extern const nb_op_desc op_gelu, op_silu, op_leaky_relu, op_elu, op_softplus;

#endif
