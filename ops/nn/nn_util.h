/* ops/nn/nn_util.h — helpers shared by the nn plugin's operators (not exported:
 * the module is built with hidden visibility). One operator per .c file; this header
 * holds the small pieces several of them need: dtype checks, attribute pairs,
 * contiguous copies, strided batched GEMM over the core's nb_gemm.
 */
#ifndef NABLA_OPS_NN_UTIL_H
#define NABLA_OPS_NN_UTIL_H

#include <nabla/sdk.h>
#include <stdint.h>

#include "../common/ops_util.h" /* ops_contig, ops_same_dtype */

/* Operator descriptors, one per file, registered by plugin.c. */
extern const nb_op_desc op_matmul;
extern const nb_op_desc op_linear;
extern const nb_op_desc op_conv2d;
extern const nb_op_desc op_conv2d_input_grad;
extern const nb_op_desc op_conv2d_weight_grad;
extern const nb_op_desc op_batch_norm;
extern const nb_op_desc op_max_pool2d;
extern const nb_op_desc op_avg_pool2d;
extern const nb_op_desc op_adaptive_avg_pool2d;
extern const nb_op_desc op_dropout;
extern const nb_op_desc op_softmax;
extern const nb_op_desc op_log_softmax;

/* Softmax kernels shared by softmax.c and log_softmax.c (forward/backward with the op
 * signature plus the log flag; samples used by both). */
int nn_softmax_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out, bool log);
/* The same with dispatched ops, for create_graph (backward_graph). */
int nn_softmax_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in,
                              bool log);
int nn_softmax_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in, bool log);
int nn_softmax_samples(nb_sample_sink *s);

/* conv2d's attributes (stride, padding, dilation, groups), which conv2d_input_grad and
 * conv2d_weight_grad (conv2d_grad.c) take too, in the same order. */
#define NN_CONV2D_ATTR_SPECS                                                                   \
  {"stride", NB_ATTR_INTS, NB_ATTR_HAS_MIN, {.ints = {2, {1, 1}}}, 1, 0, NULL,                 \
   "step of the window (1 or 2 values)"},                                                      \
  {"padding", NB_ATTR_INTS, NB_ATTR_HAS_MIN, {.ints = {2, {0, 0}}}, 0, 0, NULL,                \
   "implicit zeros on both sides (1 or 2 values)"},                                            \
  {"dilation", NB_ATTR_INTS, NB_ATTR_HAS_MIN, {.ints = {2, {1, 1}}}, 1, 0, NULL,               \
   "spacing between kernel elements (1 or 2 values)"},                                         \
  {"groups", NB_ATTR_INT, NB_ATTR_HAS_MIN, {.i = 1}, 1, 0, NULL,                               \
   "channel groups: in and out channels are split into this many independent convolutions"}
/* conv2d's input, weight and/or bias gradient (*dx, *dw, *db; NULL: not wanted) for an input of shape
 * xsh (xnd 3 or 4 dims) and a weight of shape wsh, from the output gradient gout and
 * conv2d's resolved attributes: x is needed for dw, w for dx; kept is forward's column
 * matrix or NULL. A gout of the wrong shape is an error. Returns 0 or a status. */
int nn_conv2d_grads(nb_dtype dt, int xnd, const int64_t *xsh, nb_tensor *x, const int64_t *wsh,
                    nb_tensor *w, nb_tensor *gout, const nb_attr_value *attrs, nb_tensor *kept,
                    nb_tensor **dx, nb_tensor **dw, nb_tensor **db);
/* Call op `name` on (a, b) with conv2d's resolved attributes, recorded like any op call:
 * "conv2d" (no bias; h, w unused), or "conv2d_input_grad" / "conv2d_weight_grad" with the
 * spatial size (h, w) of the input or kernel they rebuild. (conv2d.c, so that the
 * gradient ops depend on conv2d's file and not the other way round.) */
nb_tensor *nn_conv2d_call(const char *name, nb_tensor *a, nb_tensor *b, const nb_attr_value *conv_attrs,
                          int64_t h, int64_t w);

/* Largest magnitude nn_pair accepts for a size/stride/padding-like attribute: keeps the
 * output-size arithmetic of the conv and pooling ops far from int64 overflow. */
#define NN_ATTR_MAX ((int64_t)INT32_MAX)

/* Expand an INTS attribute of 0 (use def), 1 (both) or 2 values into out[2]. Returns 0,
 * or NB_EINVAL naming op, attribute and value (also for a value beyond ±NN_ATTR_MAX). */
int nn_pair(const char *op, const char *name, const nb_ints *v, int64_t def, int64_t out[2]);

/* Output length of a pooling/convolution window along one dimension (PyTorch's
 * pooling_output_shape; ceil_mode drops a last window that starts in the padding).
 * INT64_MIN when the arithmetic would overflow int64 or stride < 1. */
int64_t nn_pool_out(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dil, bool ceil_mode);

/* Pooling input: 3-D (C, H, W) or 4-D (N, C, H, W) with non-empty C, H, W. Sets the
 * number of planes (N·C) and the plane size. Returns 0 or NB_ESHAPE naming op and shape. */
int nn_pool_input(const char *op, const nb_tensor *x, int64_t *planes, int64_t *h, int64_t *w);

/* Forward of a pooling op: *x = input, contiguous, and *y = a new output of its dtype and
 * leading dims with (oh, ow) as the last two. Returns 0 or a status. */
int nn_pool_alloc(nb_tensor *input, int64_t oh, int64_t ow, nb_tensor **x, nb_tensor **y);
/* Backward of a pooling op: *g = grad_out, contiguous, and *dx = a new gradient of the
 * input's shape and dtype. Returns 0 or a status. */
int nn_pool_grad_alloc(nb_ctx *ctx, nb_tensor *grad_out, nb_tensor **g, nb_tensor **dx);

/* Window geometry of max_pool2d / avg_pool2d. */
typedef struct nn_pool {
  int64_t planes, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw;
} nn_pool;
/* Resolve kernel_size, stride (empty: kernel_size), padding and dilation (NULL: 1),
 * check padding <= half the effective kernel and a non-empty output. Returns 0 or an
 * error naming op, input shape and the offending values. */
int nn_pool_setup(const char *op, const nb_tensor *x, const nb_ints *k, const nb_ints *s,
                  const nb_ints *p, const nb_ints *d, bool ceil_mode, nn_pool *out);

/* A strided matrix inside a batch: element (b, i, j) is at
 * p + sum(bs[d] * idx[d]) + i * rs + j * cs (elements of the dtype). */
typedef struct nn_mat {
  void *p;
  int64_t bs[NB_MAX_DIMS];
  int64_t rs, cs;
} nn_mat;

/* For every batch index of shape bshape[nb]: C_b = alpha * A_b · B_b + beta * C_b
 * (A m×k, B k×n, C m×n). A C with stride 0 along a batch dim of size > 1 accumulates
 * (beta applies on the first visit only). Folds batch dims into m, n or k when the
 * strides allow, so a shared weight makes one large GEMM. Returns 0 or a status. */
int nn_gemm_batched(nb_dtype dt, int nb, const int64_t *bshape, int64_t m, int64_t n, int64_t k,
                    double alpha, const nn_mat *a, const nn_mat *b, double beta, nn_mat *c);

/* Plain strided GEMM (no batch): C = alpha A·B + beta C, tolerating empty sizes. */
int nn_gemm(nb_dtype dt, int64_t m, int64_t n, int64_t k, double alpha, const void *a,
            int64_t rs_a, int64_t cs_a, const void *b, int64_t rs_b, int64_t cs_b, double beta,
            void *c, int64_t rs_c, int64_t cs_c);

/* Average pooling over separable windows (avg_pool2d, adaptive_avg_pool2d): output
 * (oh, ow) of each H×W plane averages input rows [h0[oh], h1[oh]) × columns
 * [w0[ow], w1[ow]), divided by hdiv[oh]·wdiv[ow]; a zero divisor gives 0 and no gradient. */
typedef struct nn_avg_windows {
  int64_t planes, H, W, OH, OW;
  int64_t *h0, *h1, *hdiv, *w0, *w1, *wdiv; /* OH (h*) and OW (w*) entries */
} nn_avg_windows;
/* Point the six tables at scoped storage for a->OH and a->OW entries. 0 or a status. */
int nn_avg_windows_alloc(nn_avg_windows *a);
/* Forward (src = input, dst = output) or, with backward, src = output gradient and
 * dst = input gradient (zeroed first). Planes run in parallel with the given grain. */
void nn_avg_windows_run(const nn_avg_windows *a, nb_dtype dt, bool backward, const void *src, void *dst,
                        int64_t grain);

/* backward_graph of the pools, recorded (a scoped result or NULL): src (planes, M) added
 * at int64 positions index (planes, M), flat in each H×W plane, into zeros of the input
 * shape (nd, xshape) — max_pool2d's gradient at its argmax positions. */
nb_tensor *nn_pool_scatter_graph(nb_tensor *src, nb_tensor *index, int64_t planes, int64_t H, int64_t W,
                                 int nd, const int64_t *xshape);
/* The average pools' gradient, recorded: g (..., OH, OW) spread as g/divisor over each
 * window of a, through nn_pool_scatter_graph (windows padded to the largest, weight 0). */
nb_tensor *nn_avg_windows_graph(const nn_avg_windows *a, nb_tensor *g, int nd, const int64_t *xshape);

/* Input list {input (N, C, H, W) or (C, H, W)} of the pooling operators. */
extern const nb_input_spec nn_pool_inputs[1];
/* Random (-1, 1) float64 4-D input of shape xs added as a pooling sample. */
int nn_pool_sample(nb_sample_sink *s, const char *desc, const int64_t *xs, int n_at, const nb_attr *at);
/* kernel_size and stride attribute specs shared by max_pool2d and avg_pool2d. */
#define NN_POOL_KERNEL_STRIDE_ATTRS                                                               \
  {"kernel_size", NB_ATTR_INTS, NB_ATTR_REQUIRED | NB_ATTR_HAS_MIN, {.ints = {0, {0}}}, 1, 0, NULL, \
   "window size (1 or 2 values)"},                                                                \
  {"stride", NB_ATTR_INTS, NB_ATTR_OPTIONAL | NB_ATTR_HAS_MIN, {.ints = {0, {0}}}, 1, 0, NULL,     \
   "window step (1 or 2 values); absent: kernel_size"}

/* Input and attribute lists of softmax and log_softmax ({input}, {dim}). */
extern const nb_input_spec nn_softmax_inputs[1];
extern const nb_attr_spec nn_softmax_attrs[1];

#endif
