/* nabla/functional.h — typed wrappers over the operators the bundled plugins provide.
 *
 * Each wrapper finds its op once, by name, and calls it through dispatch (so schema
 * checks and graph recording happen as for nb_call). All return a new scoped tensor,
 * or NULL with nb_last_error() naming the op, shapes and dtypes. NULL tensor arguments
 * are errors except where an argument is documented as optional. Scalars are wrapped
 * in 0-d tensors of the other operand's dtype, as PyTorch does.
 */
#ifndef NABLA_FUNCTIONAL_H
#define NABLA_FUNCTIONAL_H

#include <nabla/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- elementwise, with NumPy broadcasting (ops "add", "sub", "mul", "div", "pow") ---- */
nb_tensor *nb_add(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_sub(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_mul(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_div(nb_tensor *a, nb_tensor *b);
/* a ** b (both tensors). */
nb_tensor *nb_pow(nb_tensor *a, nb_tensor *b);
/* a + s, a - s, s - a, a * s, a / s, s / a */
nb_tensor *nb_add_scalar(nb_tensor *a, double s);
nb_tensor *nb_sub_scalar(nb_tensor *a, double s);
nb_tensor *nb_rsub_scalar(double s, nb_tensor *a);
nb_tensor *nb_mul_scalar(nb_tensor *a, double s);
nb_tensor *nb_div_scalar(nb_tensor *a, double s);
nb_tensor *nb_rdiv_scalar(double s, nb_tensor *a);
/* a ** s (tensor^scalar) and s ** a (scalar^tensor); both record PowBackward. */
nb_tensor *nb_pow_scalar(nb_tensor *a, double s);
nb_tensor *nb_rpow_scalar(double s, nb_tensor *a);
/* Elementwise comparisons giving NB_BOOL tensors (not differentiable). */
nb_tensor *nb_eq(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_gt(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_lt(nb_tensor *a, nb_tensor *b);

/* ---- unary ------------------------------------------------------------------------ */
nb_tensor *nb_neg(nb_tensor *a);
nb_tensor *nb_exp(nb_tensor *a);
nb_tensor *nb_log(nb_tensor *a);
nb_tensor *nb_sqrt(nb_tensor *a);
nb_tensor *nb_abs(nb_tensor *a);
nb_tensor *nb_relu(nb_tensor *a);
nb_tensor *nb_sigmoid(nb_tensor *a);
nb_tensor *nb_tanh(nb_tensor *a);
/* clamp to [min, max]; pass NAN for a side without a bound (op "clamp", attrs
 * "min"/"max" optional). */
nb_tensor *nb_clamp(nb_tensor *a, double min, double max);

/* ---- in place (bump the version; see spec items 17-20) ------------------------------ */
nb_tensor *nb_add_(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_sub_(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_mul_(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_div_(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_add_scalar_(nb_tensor *a, double s);
nb_tensor *nb_mul_scalar_(nb_tensor *a, double s);
nb_tensor *nb_exp_(nb_tensor *a);
nb_tensor *nb_relu_(nb_tensor *a);
nb_tensor *nb_zero_(nb_tensor *a);
nb_tensor *nb_fill_(nb_tensor *a, double value);

/* ---- reductions ("sum", "mean": attrs "dim" (INTS, optional: all), "keepdim") -------- */
nb_tensor *nb_sum(nb_tensor *a);
nb_tensor *nb_mean(nb_tensor *a);
nb_tensor *nb_sum_dims(nb_tensor *a, int n_dims, const int64_t *dims, bool keepdim);
nb_tensor *nb_mean_dims(nb_tensor *a, int n_dims, const int64_t *dims, bool keepdim);
/* Max/min over all elements ("max", "min"; ties split the gradient evenly). */
nb_tensor *nb_max(nb_tensor *a);
nb_tensor *nb_min(nb_tensor *a);
/* Along a dim ("max_dim", "min_dim": attrs "dim", "keepdim"): values and int64 indices
 * (indices may be NULL if not wanted). Gradient goes to the selected index. */
nb_tensor *nb_max_dim(nb_tensor *a, int64_t dim, bool keepdim, nb_tensor **indices);
nb_tensor *nb_min_dim(nb_tensor *a, int64_t dim, bool keepdim, nb_tensor **indices);

/* ---- shape ------------------------------------------------------------------------ */
/* "reshape" (view when possible, else copy; one -1 allowed), "view" (error when the
 * strides do not allow a view), "flatten" (start_dim, end_dim), "transpose" (dim0,
 * dim1), "permute" (dims), "squeeze"/"unsqueeze" (dim). */
nb_tensor *nb_reshape(nb_tensor *a, int ndim, const int64_t *shape);
nb_tensor *nb_view(nb_tensor *a, int ndim, const int64_t *shape);
nb_tensor *nb_flatten(nb_tensor *a, int64_t start_dim, int64_t end_dim);
nb_tensor *nb_transpose(nb_tensor *a, int64_t dim0, int64_t dim1);
nb_tensor *nb_permute(nb_tensor *a, int ndim, const int64_t *dims);
nb_tensor *nb_squeeze(nb_tensor *a, int64_t dim);
nb_tensor *nb_unsqueeze(nb_tensor *a, int64_t dim);
/* Recorded copies: "clone", "contiguous" (returns a itself, retained, when already
 * contiguous), "to_dtype" (attr "dtype": 0 float32, 1 float64; gradient converts back). */
nb_tensor *nb_clone(nb_tensor *a);
nb_tensor *nb_contiguous(nb_tensor *a);
nb_tensor *nb_to_dtype(nb_tensor *a, nb_dtype dt);

/* ---- neural-network ops (issue: NN operator plugins) ------------------------------- */
/* "matmul": 1-D, 2-D and batched with broadcasting. */
nb_tensor *nb_matmul(nb_tensor *a, nb_tensor *b);
/* "linear": x·Wᵀ + b over any leading dims; bias optional (NULL). */
nb_tensor *nb_linear(nb_tensor *x, nb_tensor *weight, nb_tensor *bias);
/* "conv2d": NCHW; stride/padding/dilation as 2 values each, NULL for the defaults
 * (1,1), (0,0), (1,1); bias optional. */
nb_tensor *nb_conv2d(nb_tensor *x, nb_tensor *weight, nb_tensor *bias, const int64_t *stride,
                     const int64_t *padding, const int64_t *dilation, int64_t groups);
/* "batch_norm": running_mean/running_var optional (updated in place in training),
 * weight/bias optional. */
nb_tensor *nb_batch_norm(nb_tensor *x, nb_tensor *running_mean, nb_tensor *running_var,
                         nb_tensor *weight, nb_tensor *bias, bool training, double momentum,
                         double eps);
/* "max_pool2d" / "avg_pool2d": stride NULL means kernel_size; padding NULL means 0. */
nb_tensor *nb_max_pool2d(nb_tensor *x, const int64_t *kernel_size, const int64_t *stride,
                         const int64_t *padding, const int64_t *dilation, bool ceil_mode);
nb_tensor *nb_avg_pool2d(nb_tensor *x, const int64_t *kernel_size, const int64_t *stride,
                         const int64_t *padding, bool ceil_mode, bool count_include_pad);
/* "adaptive_avg_pool2d": output_size (2 values). */
nb_tensor *nb_adaptive_avg_pool2d(nb_tensor *x, const int64_t *output_size);
/* "dropout": p in [0, 1] (p = 1 zeroes everything, as PyTorch); identity when !training.
 * Uses the default generator. */
nb_tensor *nb_dropout(nb_tensor *x, double p, bool training);
/* "softmax", "log_softmax" along dim. */
nb_tensor *nb_softmax(nb_tensor *x, int64_t dim);
nb_tensor *nb_log_softmax(nb_tensor *x, int64_t dim);

/* ---- losses (reduction: "none", "mean" or "sum") ----------------------------------- */
nb_tensor *nb_mse_loss(nb_tensor *input, nb_tensor *target, const char *reduction);
nb_tensor *nb_l1_loss(nb_tensor *input, nb_tensor *target, const char *reduction);
/* "cross_entropy": logits (N,C) or (N,C,d...) and int64 targets; weight optional;
 * ignore_index (default -100), label_smoothing in [0, 1]. */
nb_tensor *nb_cross_entropy(nb_tensor *input, nb_tensor *target, nb_tensor *weight,
                            const char *reduction, int64_t ignore_index, double label_smoothing);
/* "nll_loss": log-probabilities and int64 targets. */
nb_tensor *nb_nll_loss(nb_tensor *input, nb_tensor *target, nb_tensor *weight,
                       const char *reduction, int64_t ignore_index);
/* "binary_cross_entropy": inputs in [0, 1]; weight optional. */
nb_tensor *nb_binary_cross_entropy(nb_tensor *input, nb_tensor *target, nb_tensor *weight,
                                   const char *reduction);
/* "binary_cross_entropy_with_logits": weight and pos_weight optional. */
nb_tensor *nb_binary_cross_entropy_with_logits(nb_tensor *input, nb_tensor *target,
                                               nb_tensor *weight, nb_tensor *pos_weight,
                                               const char *reduction);

/* ---- derivatives of a function (torch.autograd.functional; libnabla/gradients.c) --------
 * f receives n input tensors (fresh leaves that require grad, sharing the caller's
 * memory) and returns one tensor (scoped is fine). Results are scoped tensors; an input
 * the output does not depend on gets zeros. flags: NB_CREATE_GRAPH keeps the results
 * differentiable (inputs that already require grad are then used as they are). Each
 * returns 0 or a negative status with the error set. */
typedef nb_tensor *(*nb_func)(nb_tensor *const *inputs, void *user);
/* out = f(x) and vjp[i] = vᵀ ∂f/∂x_i (v NULL: f must return one element, v = 1). */
int nb_vjp(nb_func f, void *user, int n, nb_tensor *const *inputs, nb_tensor *v, unsigned flags,
           nb_tensor **out, nb_tensor **vjp);
/* out = f(x) and *jvp = Σ_i ∂f/∂x_i v_i (the output's shape), through double backward:
 * the vector-Jacobian product of a dummy u is differentiated with respect to u. */
int nb_jvp(nb_func f, void *user, int n, nb_tensor *const *inputs, nb_tensor *const *v,
           unsigned flags, nb_tensor **out, nb_tensor **jvp);
/* For a one-element f: out = f(x) and hvp[i] = Σ_j ∂²f/∂x_i∂x_j v_j (Hessian times v). */
int nb_hvp(nb_func f, void *user, int n, nb_tensor *const *inputs, nb_tensor *const *v,
           unsigned flags, nb_tensor **out, nb_tensor **hvp);
/* jac[i] = ∂f/∂x_i with shape f(x).shape + x_i.shape (one backward per output element). */
int nb_jacobian(nb_func f, void *user, int n, nb_tensor *const *inputs, nb_tensor **jac);
/* For a one-element f: hess[i * n + j] = ∂²f/∂x_i∂x_j with shape x_i.shape + x_j.shape. */
int nb_hessian(nb_func f, void *user, int n, nb_tensor *const *inputs, nb_tensor **hess);

#ifdef __cplusplus
}
#endif
#endif
