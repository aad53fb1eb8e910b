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
/* "erf": the error function, elementwise (torch.erf). */
nb_tensor *nb_erf(nb_tensor *a);
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
/* As PyTorch: a bool sum counts true elements (int64); mean refuses bool and int64. */
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

/* ==== indexing, slicing, joining and masks (libnabla/functional_index.c) =============
 * Ops of the "index" plugin, argmax/argmin of "reduction", and comparisons and logical
 * ops of "elementwise". select, slice/narrow/split/chunk and expand return views (they
 * share the input's storage and version counter, as in PyTorch). Index tensors are
 * int64; masks and conditions are bool. */

/* More comparisons ("ne", "ge", "le") and logical ops ("logical_and", "logical_or",
 * "logical_not"; any dtype, nonzero is true): bool results, not differentiable. */
nb_tensor *nb_ne(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_ge(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_le(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_logical_and(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_logical_or(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_logical_not(nb_tensor *a);

/* "select": x[..., index, ...] at dim, that dim removed (a view; negatives count from
 * the end). */
nb_tensor *nb_select(nb_tensor *x, int64_t dim, int64_t index);
/* "slice": x[start:end:step] along dim (a view), clamped as Python slicing; pass
 * INT64_MAX as end for "to the end". step >= 1. */
nb_tensor *nb_slice(nb_tensor *x, int64_t dim, int64_t start, int64_t end, int64_t step);
/* torch.narrow: `length` elements from `start` along dim (a view); unlike slicing, a
 * range outside the dim is an error. */
nb_tensor *nb_narrow(nb_tensor *x, int64_t dim, int64_t start, int64_t length);
/* torch.split with one size / torch.chunk: views of x along dim, pieces of split_size
 * (the last may be shorter) / ceil(size / chunks) elements (so possibly fewer than
 * `chunks` pieces). Writes them to out[0..count) (room for max_out) and returns count,
 * or a negative status. Each piece is a "slice". */
int nb_split(nb_tensor *x, int64_t split_size, int64_t dim, int max_out, nb_tensor **out);
int nb_chunk(nb_tensor *x, int64_t chunks, int64_t dim, int max_out, nb_tensor **out);
/* "index_select": the slices of dim at the positions in a 1-d int64 index. */
nb_tensor *nb_index_select(nb_tensor *x, int64_t dim, nb_tensor *index);
/* "gather": out[p] = x[p with dim's coordinate replaced by index[p]]; index's shape. */
nb_tensor *nb_gather(nb_tensor *x, int64_t dim, nb_tensor *index);
/* "scatter_add" (out of place): a copy of x with src[p] added at index[p] along dim. */
nb_tensor *nb_scatter_add(nb_tensor *x, int64_t dim, nb_tensor *index, nb_tensor *src);
/* "masked_fill": x with value where the bool mask (broadcast) holds; -INFINITY works. */
nb_tensor *nb_masked_fill(nb_tensor *x, nb_tensor *mask, double value);
/* "where": cond ? x : y elementwise, all three broadcast; cond is bool. */
nb_tensor *nb_where(nb_tensor *cond, nb_tensor *x, nb_tensor *y);
/* "expand": a view broadcast to size[ndim] (-1 keeps a dim; new dims in front). */
nb_tensor *nb_expand(nb_tensor *x, int ndim, const int64_t *size);
/* "repeat": x tiled repeats[d] times along dim d (n >= x's ndim; a copy). */
nb_tensor *nb_repeat(nb_tensor *x, int n, const int64_t *repeats);
/* "cat" along an existing dim / "stack" along a new one, of n >= 1 tensors of one dtype
 * (the ops take up to 16; longer lists are chained, with the same values and gradients). */
nb_tensor *nb_cat(int n, nb_tensor *const *ts, int64_t dim);
nb_tensor *nb_stack(int n, nb_tensor *const *ts, int64_t dim);
/* "tril" / "triu": the lower / upper triangle of the last two dims, from `diagonal`
 * (0 the main one), the rest zero. nb_tril(nb_ones(..., NB_BOOL), 0) is a causal mask. */
nb_tensor *nb_tril(nb_tensor *x, int64_t diagonal);
nb_tensor *nb_triu(nb_tensor *x, int64_t diagonal);
/* "topk": the k largest (or smallest) values along dim, best first; their int64
 * positions go to *indices when not NULL (not differentiable). */
nb_tensor *nb_topk(nb_tensor *x, int64_t k, int64_t dim, bool largest, nb_tensor **indices);
/* "argmax" / "argmin": int64 positions of the extreme along dim (first on ties), or in
 * the flattened input (_all, 0-d). Not differentiable; x may require grad. */
nb_tensor *nb_argmax(nb_tensor *x, int64_t dim, bool keepdim);
nb_tensor *nb_argmin(nb_tensor *x, int64_t dim, bool keepdim);
nb_tensor *nb_argmax_all(nb_tensor *x);
nb_tensor *nb_argmin_all(nb_tensor *x);

/* ==== issue 15: activations, normalisation, statistics, embedding, attention ==========
 * (functional_transformer.c; ops in the activation, norm and attention plugins) */
/* "gelu": x·Φ(x); approximate "none" (NULL) or "tanh", as F.gelu. */
nb_tensor *nb_gelu(nb_tensor *x, const char *approximate);
/* "silu": x·σ(x). "leaky_relu": x > 0 ? x : slope·x (PyTorch's default slope 0.01). */
nb_tensor *nb_silu(nb_tensor *x);
nb_tensor *nb_leaky_relu(nb_tensor *x, double negative_slope);
/* "elu": x > 0 ? x : alpha·(eˣ − 1). "softplus": log(1 + e^(βx))/β, x where βx > threshold
 * (PyTorch's defaults: alpha 1; beta 1, threshold 20). */
nb_tensor *nb_elu(nb_tensor *x, double alpha);
nb_tensor *nb_softplus(nb_tensor *x, double beta, double threshold);
/* "var" / "std" over n dims (n = 0: all), divided by N − 1 when unbiased, else N;
 * "logsumexp" over n dims (n = 0: all), computed stably. */
nb_tensor *nb_var(nb_tensor *x, int n, const int64_t *dims, bool unbiased, bool keepdim);
nb_tensor *nb_std(nb_tensor *x, int n, const int64_t *dims, bool unbiased, bool keepdim);
nb_tensor *nb_logsumexp(nb_tensor *x, int n, const int64_t *dims, bool keepdim);
/* "layer_norm" over the trailing n dims given by normalized_shape; weight and bias
 * (shaped normalized_shape) optional; eps as F.layer_norm (1e-5 by default there). */
nb_tensor *nb_layer_norm(nb_tensor *x, int n, const int64_t *normalized_shape, nb_tensor *weight,
                         nb_tensor *bias, double eps);
/* "group_norm": (N, C, *) in num_groups channel groups; weight, bias (C) optional. */
nb_tensor *nb_group_norm(nb_tensor *x, int64_t num_groups, nb_tensor *weight, nb_tensor *bias, double eps);
/* "cumsum": running sum along dim (floating dtypes). */
nb_tensor *nb_cumsum(nb_tensor *x, int64_t dim);
/* "embedding": rows of weight (num, dim) picked by int64 indices; padding_idx's row gets
 * no gradient (NB_NO_PADDING: none; negative counts from the end). */
#define NB_NO_PADDING INT64_MIN
nb_tensor *nb_embedding(nb_tensor *input, nb_tensor *weight, int64_t padding_idx);
/* "scaled_dot_product_attention": softmax(q·kᵀ·scale)·v over (..., L, E), (..., S, E),
 * (..., S, Ev) with equal leading dims; is_causal masks keys after each query; scale NAN
 * means 1/√E. Batched matmul with broadcast leading dims is nb_matmul. */
nb_tensor *nb_scaled_dot_product_attention(nb_tensor *q, nb_tensor *k, nb_tensor *v, bool is_causal,
                                           double scale);

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
