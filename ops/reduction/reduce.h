/* ops/reduction/reduce.h — helpers shared by the reduction operators (plugin-private,
 * hidden visibility).
 *
 * A reduction sees its input as two groups of dimensions: the kept ones (in order; the
 * output is contiguous over them) and the reduced ones. red_plan_init drops size-1
 * dimensions, coalesces each group and orders the reduced group outermost-first by stride,
 * so kernels walk long inner runs whatever the input's layout (a transposed input costs
 * no copy).
 */
#ifndef NABLA_OPS_REDUCE_H
#define NABLA_OPS_REDUCE_H

#include <nabla/sdk.h>

#include "../common/ops_util.h" /* ops_wrap_dim, ops_ints_str */

/* ---- descriptors (one per operator file) -------------------------------------- */
extern const nb_op_desc op_sum, op_mean, op_max, op_min,
    op_max_dim, op_min_dim, op_argmax, op_argmin;

/* ---- dims and shapes ------------------------------------------------------------ */

/* Bit mask of reduced dims from a "dim" INTS attribute (n == 0: all dims). Duplicates
 * and out-of-range dims are errors naming the op, the dims and the input's shape. */
int red_dims_mask(const char *op, int ndim, const int64_t *shape, const nb_ints *dims,
                  uint32_t *mask);
/* Output shape for reducing `mask` of (ndim, shape), with or without kept size-1 dims.
 * Returns the output's ndim. */
int red_out_shape(int ndim, const int64_t *shape, uint32_t mask, bool keepdim, int64_t *out);
/* Number of elements reduced into each output. */
int64_t red_count(int ndim, const int64_t *shape, uint32_t mask);

/* ---- the plan and its walker ------------------------------------------------------ */

typedef struct red_plan {
  int nk, nr;                              /* kept / reduced groups after coalescing */
  int64_t ksize[NB_MAX_DIMS], kstride[NB_MAX_DIMS]; /* kept: input strides (elements) */
  int64_t rsize[NB_MAX_DIMS], rstride[NB_MAX_DIMS]; /* reduced: outermost first */
  int64_t nout, nred;                      /* outputs, elements per output */
  bool real_reduce;                        /* some reduced dim has size > 1 */
} red_plan;

/* Plan the reduction of `mask` over a tensor of the given shape and strides. nr >= 1
 * always (a dummy size-1 dim when nothing is reduced). */
void red_plan_init(red_plan *p, int ndim, const int64_t *shape, const int64_t *strides,
                   uint32_t mask);
/* Offset (elements) of the first input element of output `o` (row-major over kept dims). */
int64_t red_kept_offset(const red_plan *p, int64_t o);
/* True when the kept group has the smallest stride: kernels then sweep the reduced space
 * once per block of outputs, updating a vector of accumulators ("outer" reduction). */
bool red_outer_mode(const red_plan *p);

/* Called for every inner run of a walk: n elements from p, stride `step` elements. */
typedef void (*red_run_fn)(const void *p, int64_t n, int64_t step, void *acc);
/* Walk reduced positions [start, start + count) (row-major over the reduced group) from
 * `base`, calling fn on each inner run in order. */
void red_walk(const red_plan *p, const char *base, size_t esize, int64_t start, int64_t count,
              red_run_fn fn, void *acc);
/* Block size (elements) of full reductions: partial results are computed per fixed block
 * and combined in order, so results do not depend on the thread count. */
#define RED_BLOCK 8192

/* ---- kernels (red_sum.c, red_extreme.c) ---------------------------------------------- */

/* Sum (mean when `mean`) of x over `mask`: a new output of the reduced shape. */
nb_tensor *red_sum_kernel(const char *op, nb_tensor *x, uint32_t mask, bool keepdim, bool mean);
/* Gradient of sum/mean: g (the output's shape) broadcast back to the input's shape and
 * multiplied by `scale`, as a new contiguous tensor of g's dtype. */
nb_tensor *red_expand(const char *op, nb_tensor *g, int ndim, const int64_t *shape,
                      uint32_t mask, bool keepdim, double scale);

/* Max (is_max) or min over all elements: value, and (unless ties is NULL) how many
 * elements equal it (NaNs when the result is NaN). x has at least one element. */
int red_extreme_all(nb_tensor *x, bool is_max, double *value, int64_t *ties);
/* Values and int64 indices of max/min along `dim` (first occurrence on ties; NaN wins).
 * vals/idx are contiguous with the output shape. */
int red_extreme_dim(nb_tensor *x, int dim, bool is_max, nb_tensor *vals, nb_tensor *idx);

/* ---- op pieces shared by the operator files ------------------------------------------ */

/* sum and mean (red_sum_ops.c): forward/backward of attrs "dim" (optional INTS, absent:
 * all dims) and "keepdim"; `mean` divides by the number of elements reduced. Errors name
 * the running op. */
int red_sum_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, bool mean,
                    nb_tensor **out);
int red_sum_backward(nb_ctx *ctx, nb_tensor *const *grad_out, bool mean, nb_tensor **grad_in);
/* Their attribute schema ("dim", "keepdim") and samples (all dims, dim lists, keepdim,
 * transposed and 0-d inputs, a size-1 reduced dim). */
extern const nb_attr_spec red_dims_attrs[2];
int red_dims_samples(nb_sample_sink *sink);

/* max/min and max_dim/min_dim (red_extreme_ops.c); is_max selects the op. */
int red_extreme_all_forward(nb_ctx *ctx, nb_tensor *const *in, bool is_max, nb_tensor **out);
int red_extreme_all_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in);
int red_extreme_dim_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                            bool is_max, nb_tensor **out);
int red_extreme_dim_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in);
/* Their inputs, max_dim/min_dim's attributes ("dim", "keepdim"), and samples with
 * distinct values (so gradients are well defined under finite differences). */
extern const nb_input_spec red_extreme_all_inputs[1], red_extreme_dim_inputs[1];
extern const nb_attr_spec red_extreme_dim_attrs[2];
int red_extreme_all_samples(nb_sample_sink *sink);
int red_extreme_dim_samples(nb_sample_sink *sink);
/* argmax/argmin (red_arg_ops.c): forward (attrs "dim", optional INTS of at most one dim,
 * and "keepdim"), their schema pieces and samples. */
int red_arg_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, bool is_max,
                    nb_tensor **out);
extern const nb_input_spec red_arg_inputs[1];
extern const nb_output_spec red_arg_outputs[1];
extern const nb_attr_spec red_arg_attrs[2];
int red_arg_samples(nb_sample_sink *sink);

/* Float64 input of `ndim`/`shape` with distinct values spaced >= 0.05 apart (random
 * order), so max/min gradients are well defined under finite differences. */
nb_tensor *red_distinct_sample(nb_generator *g, int ndim, const int64_t *shape);
/* A transposed (non-contiguous) view of a fresh float64 tensor: shape [cols, rows]. */
nb_tensor *red_transposed_sample(nb_tensor *fresh2d);

#endif
