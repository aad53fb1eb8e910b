/* functional.c — typed wrappers: each finds its op once by name and calls it through
 * dispatch. Scalars become 0-d tensors of the other operand's dtype (as PyTorch wraps
 * Python numbers), so e.g. 3 * a records MulBackward with no edge for the 3. */
#include <math.h>
#include <string.h>

#include <nabla/nabla.h>
#include <nabla/sdk/op.h> /* descriptor fields: the op name for messages */

#include "functional_internal.h" /* OP(), call() */

static nb_tensor *unary(const nb_op *op, nb_tensor *a) { return call(op, 1, &a, 0, NULL); }

static nb_tensor *binary(const nb_op *op, nb_tensor *a, nb_tensor *b) {
  nb_tensor *in[2] = {a, b};
  return call(op, 2, in, 0, NULL);
}

/* op(a, s) or op(s, a) with s a 0-d tensor of a's dtype (not scoped: released here). */
static nb_tensor *with_scalar(const nb_op *op, nb_tensor *a, double s, bool scalar_first) {
  if (!a) {
    nb_set_null_error("%s: tensor argument is NULL", nb_op_descriptor(op)->name);
    return NULL;
  }
  if (!nb_dtype_is_floating(nb_dtype_of(a)) && s != floor(s)) {
    /* PyTorch would promote to float; nabla keeps dtypes explicit instead of truncating */
    nb_set_error(NB_EDTYPE, "%s: scalar %g is not an integer but the tensor is %s %s; convert "
                            "the tensor with nb_to_dtype first",
                 nb_op_descriptor(op)->name, s, nb_dtype_name(nb_dtype_of(a)), nb_shape_of(a));
    return NULL;
  }
  nb_tensor *sc = nb_op_scalar_operand(s, nb_dtype_of(a));
  if (!sc) return NULL;
  nb_tensor *in[2] = {scalar_first ? sc : a, scalar_first ? a : sc};
  nb_tensor *r = call(op, 2, in, 0, NULL);
  nb_release(sc);
  return r;
}

nb_tensor *nb_add(nb_tensor *a, nb_tensor *b) { OP("add"); return binary(op, a, b); }
nb_tensor *nb_sub(nb_tensor *a, nb_tensor *b) { OP("sub"); return binary(op, a, b); }
nb_tensor *nb_mul(nb_tensor *a, nb_tensor *b) { OP("mul"); return binary(op, a, b); }
nb_tensor *nb_div(nb_tensor *a, nb_tensor *b) { OP("div"); return binary(op, a, b); }
nb_tensor *nb_pow(nb_tensor *a, nb_tensor *b) { OP("pow"); return binary(op, a, b); }
nb_tensor *nb_eq(nb_tensor *a, nb_tensor *b) { OP("eq"); return binary(op, a, b); }
nb_tensor *nb_gt(nb_tensor *a, nb_tensor *b) { OP("gt"); return binary(op, a, b); }
nb_tensor *nb_lt(nb_tensor *a, nb_tensor *b) { OP("lt"); return binary(op, a, b); }

nb_tensor *nb_add_scalar(nb_tensor *a, double s) { OP("add"); return with_scalar(op, a, s, false); }
nb_tensor *nb_sub_scalar(nb_tensor *a, double s) { OP("sub"); return with_scalar(op, a, s, false); }
nb_tensor *nb_rsub_scalar(double s, nb_tensor *a) { OP("sub"); return with_scalar(op, a, s, true); }
nb_tensor *nb_mul_scalar(nb_tensor *a, double s) { OP("mul"); return with_scalar(op, a, s, false); }
nb_tensor *nb_div_scalar(nb_tensor *a, double s) { OP("div"); return with_scalar(op, a, s, false); }
nb_tensor *nb_rdiv_scalar(double s, nb_tensor *a) { OP("div"); return with_scalar(op, a, s, true); }
nb_tensor *nb_pow_scalar(nb_tensor *a, double s) { OP("pow"); return with_scalar(op, a, s, false); }
nb_tensor *nb_rpow_scalar(double s, nb_tensor *a) { OP("pow"); return with_scalar(op, a, s, true); }

nb_tensor *nb_neg(nb_tensor *a) { OP("neg"); return unary(op, a); }
nb_tensor *nb_exp(nb_tensor *a) { OP("exp"); return unary(op, a); }
nb_tensor *nb_log(nb_tensor *a) { OP("log"); return unary(op, a); }
nb_tensor *nb_sqrt(nb_tensor *a) { OP("sqrt"); return unary(op, a); }
nb_tensor *nb_abs(nb_tensor *a) { OP("abs"); return unary(op, a); }
nb_tensor *nb_relu(nb_tensor *a) { OP("relu"); return unary(op, a); }
nb_tensor *nb_sigmoid(nb_tensor *a) { OP("sigmoid"); return unary(op, a); }
nb_tensor *nb_tanh(nb_tensor *a) { OP("tanh"); return unary(op, a); }
nb_tensor *nb_erf(nb_tensor *a) { OP("erf"); return unary(op, a); }

nb_tensor *nb_clamp(nb_tensor *a, double min, double max) {
  OP("clamp");
  nb_attr at[2];
  int n = 0;
  if (!isnan(min)) at[n++] = NB_A_FLOAT("min", min);
  if (!isnan(max)) at[n++] = NB_A_FLOAT("max", max);
  return call(op, 1, &a, n, at);
}

/* ---- in place ----------------------------------------------------------------------- */
nb_tensor *nb_add_(nb_tensor *a, nb_tensor *b) { OP("add_"); return binary(op, a, b); }
nb_tensor *nb_sub_(nb_tensor *a, nb_tensor *b) { OP("sub_"); return binary(op, a, b); }
nb_tensor *nb_mul_(nb_tensor *a, nb_tensor *b) { OP("mul_"); return binary(op, a, b); }
nb_tensor *nb_div_(nb_tensor *a, nb_tensor *b) { OP("div_"); return binary(op, a, b); }
nb_tensor *nb_add_scalar_(nb_tensor *a, double s) { OP("add_"); return with_scalar(op, a, s, false); }
nb_tensor *nb_mul_scalar_(nb_tensor *a, double s) { OP("mul_"); return with_scalar(op, a, s, false); }
nb_tensor *nb_exp_(nb_tensor *a) { OP("exp_"); return unary(op, a); }
nb_tensor *nb_relu_(nb_tensor *a) { OP("relu_"); return unary(op, a); }
nb_tensor *nb_zero_(nb_tensor *a) { OP("zero_"); return unary(op, a); }
nb_tensor *nb_fill_(nb_tensor *a, double value) {
  OP("fill_");
  nb_attr at = NB_A_FLOAT("value", value);
  return call(op, 1, &a, 1, &at);
}

/* ---- reductions ----------------------------------------------------------------------- */

static int dims_attr(const char *fn, const char *name, int n, const int64_t *v, nb_attr *at) {
  if (n < 0 || n > NB_MAX_DIMS || (n > 0 && !v))
    return nb_set_error(NB_EINVAL, "%s: %d values for '%s' (at most %d, non-NULL)", fn, n, name,
                        NB_MAX_DIMS);
  memset(at, 0, sizeof *at);
  at->name = name;
  at->type = NB_ATTR_INTS;
  at->v.ints.n = n;
  if (n) memcpy(at->v.ints.v, v, (size_t)n * sizeof *v);
  return NB_OK;
}

nb_tensor *nb_sum(nb_tensor *a) { OP("sum"); return unary(op, a); }
nb_tensor *nb_mean(nb_tensor *a) { OP("mean"); return unary(op, a); }
nb_tensor *nb_max(nb_tensor *a) { OP("max"); return unary(op, a); }
nb_tensor *nb_min(nb_tensor *a) { OP("min"); return unary(op, a); }

static nb_tensor *reduce_dims(const nb_op *op, nb_tensor *a, int n, const int64_t *dims, bool keep) {
  nb_attr at[2];
  if (dims_attr(nb_op_descriptor(op)->name, "dim", n, dims, &at[0]) < 0) return NULL;
  at[1] = NB_A_BOOL("keepdim", keep);
  return call(op, 1, &a, 2, at);
}
nb_tensor *nb_sum_dims(nb_tensor *a, int n, const int64_t *dims, bool keepdim) {
  OP("sum");
  return reduce_dims(op, a, n, dims, keepdim);
}
nb_tensor *nb_mean_dims(nb_tensor *a, int n, const int64_t *dims, bool keepdim) {
  OP("mean");
  return reduce_dims(op, a, n, dims, keepdim);
}

static nb_tensor *arg_reduce(const nb_op *op, nb_tensor *a, int64_t dim, bool keep, nb_tensor **idx) {
  nb_attr at[2] = {NB_A_INT("dim", dim), NB_A_BOOL("keepdim", keep)};
  nb_tensor *out[2] = {NULL, NULL};
  if (idx) *idx = NULL;
  if (nb_op_call(op, 1, &a, 2, at, 2, out) < 0) return NULL;
  if (idx) *idx = out[1];
  return out[0];
}
nb_tensor *nb_max_dim(nb_tensor *a, int64_t dim, bool keepdim, nb_tensor **indices) {
  OP("max_dim");
  return arg_reduce(op, a, dim, keepdim, indices);
}
nb_tensor *nb_min_dim(nb_tensor *a, int64_t dim, bool keepdim, nb_tensor **indices) {
  OP("min_dim");
  return arg_reduce(op, a, dim, keepdim, indices);
}

/* ---- shape ---------------------------------------------------------------------------- */

/* op(a) with one INT attribute. */
static nb_tensor *with_int(const nb_op *op, nb_tensor *a, const char *name, int64_t v) {
  nb_attr at = NB_A_INT(name, v);
  return call(op, 1, &a, 1, &at);
}
static nb_tensor *with_ints(const nb_op *op, nb_tensor *a, const char *name, int n, const int64_t *v) {
  nb_attr at;
  if (dims_attr(nb_op_descriptor(op)->name, name, n, v, &at) < 0) return NULL;
  return call(op, 1, &a, 1, &at);
}
nb_tensor *nb_reshape(nb_tensor *a, int ndim, const int64_t *shape) {
  OP("reshape");
  return with_ints(op, a, "shape", ndim, shape);
}
nb_tensor *nb_view(nb_tensor *a, int ndim, const int64_t *shape) {
  OP("view");
  return with_ints(op, a, "shape", ndim, shape);
}
nb_tensor *nb_permute(nb_tensor *a, int ndim, const int64_t *dims) {
  OP("permute");
  return with_ints(op, a, "dims", ndim, dims);
}
nb_tensor *nb_flatten(nb_tensor *a, int64_t start_dim, int64_t end_dim) {
  OP("flatten");
  nb_attr at[2] = {NB_A_INT("start_dim", start_dim), NB_A_INT("end_dim", end_dim)};
  return call(op, 1, &a, 2, at);
}
nb_tensor *nb_transpose(nb_tensor *a, int64_t dim0, int64_t dim1) {
  OP("transpose");
  nb_attr at[2] = {NB_A_INT("dim0", dim0), NB_A_INT("dim1", dim1)};
  return call(op, 1, &a, 2, at);
}
nb_tensor *nb_squeeze(nb_tensor *a, int64_t dim) {
  OP("squeeze");
  return with_int(op, a, "dim", dim);
}
nb_tensor *nb_unsqueeze(nb_tensor *a, int64_t dim) {
  OP("unsqueeze");
  return with_int(op, a, "dim", dim);
}
nb_tensor *nb_clone(nb_tensor *a) { OP("clone"); return unary(op, a); }
nb_tensor *nb_contiguous(nb_tensor *a) { OP("contiguous"); return unary(op, a); }
nb_tensor *nb_to_dtype(nb_tensor *a, nb_dtype dt) {
  OP("to_dtype");
  return with_int(op, a, "dtype", (int64_t)dt);
}

/* ---- neural-network ops ------------------------------------------------------------------ */

nb_tensor *nb_matmul(nb_tensor *a, nb_tensor *b) { OP("matmul"); return binary(op, a, b); }

nb_tensor *nb_linear(nb_tensor *x, nb_tensor *weight, nb_tensor *bias) {
  OP("linear");
  nb_tensor *in[3] = {x, weight, bias};
  return call(op, 3, in, 0, NULL);
}

/* Append an INTS attribute of 2 values when v is given. */
static int pair(nb_attr *at, int *n, const char *name, const int64_t *v) {
  if (!v) return NB_OK;
  int rc = dims_attr("nn", name, 2, v, &at[*n]);
  if (rc >= 0) (*n)++;
  return rc;
}

nb_tensor *nb_conv2d(nb_tensor *x, nb_tensor *weight, nb_tensor *bias, const int64_t *stride,
                     const int64_t *padding, const int64_t *dilation, int64_t groups) {
  OP("conv2d");
  nb_attr at[4];
  int n = 0;
  pair(at, &n, "stride", stride);
  pair(at, &n, "padding", padding);
  pair(at, &n, "dilation", dilation);
  at[n++] = NB_A_INT("groups", groups);
  nb_tensor *in[3] = {x, weight, bias};
  return call(op, 3, in, n, at);
}

nb_tensor *nb_batch_norm(nb_tensor *x, nb_tensor *running_mean, nb_tensor *running_var,
                         nb_tensor *weight, nb_tensor *bias, bool training, double momentum,
                         double eps) {
  OP("batch_norm");
  nb_attr at[3] = {NB_A_BOOL("training", training), NB_A_FLOAT("momentum", momentum),
                   NB_A_FLOAT("eps", eps)};
  nb_tensor *in[5] = {x, running_mean, running_var, weight, bias};
  return call(op, 5, in, 3, at);
}

nb_tensor *nb_max_pool2d(nb_tensor *x, const int64_t *kernel_size, const int64_t *stride,
                         const int64_t *padding, const int64_t *dilation, bool ceil_mode) {
  OP("max_pool2d");
  nb_attr at[5];
  int n = 0;
  if (!kernel_size) {
    nb_set_error(NB_EINVAL, "max_pool2d: kernel_size is NULL");
    return NULL;
  }
  pair(at, &n, "kernel_size", kernel_size);
  pair(at, &n, "stride", stride);
  pair(at, &n, "padding", padding);
  pair(at, &n, "dilation", dilation);
  at[n++] = NB_A_BOOL("ceil_mode", ceil_mode);
  return call(op, 1, &x, n, at);
}

nb_tensor *nb_avg_pool2d(nb_tensor *x, const int64_t *kernel_size, const int64_t *stride,
                         const int64_t *padding, bool ceil_mode, bool count_include_pad) {
  OP("avg_pool2d");
  nb_attr at[5];
  int n = 0;
  if (!kernel_size) {
    nb_set_error(NB_EINVAL, "avg_pool2d: kernel_size is NULL");
    return NULL;
  }
  pair(at, &n, "kernel_size", kernel_size);
  pair(at, &n, "stride", stride);
  pair(at, &n, "padding", padding);
  at[n++] = NB_A_BOOL("ceil_mode", ceil_mode);
  at[n++] = NB_A_BOOL("count_include_pad", count_include_pad);
  return call(op, 1, &x, n, at);
}

nb_tensor *nb_adaptive_avg_pool2d(nb_tensor *x, const int64_t *output_size) {
  OP("adaptive_avg_pool2d");
  if (!output_size) {
    nb_set_error(NB_EINVAL, "adaptive_avg_pool2d: output_size is NULL");
    return NULL;
  }
  return with_ints(op, x, "output_size", 2, output_size);
}

nb_tensor *nb_dropout(nb_tensor *x, double p, bool training) {
  OP("dropout");
  nb_attr at[2] = {NB_A_FLOAT("p", p), NB_A_BOOL("training", training)};
  return call(op, 1, &x, 2, at);
}

nb_tensor *nb_softmax(nb_tensor *x, int64_t dim) {
  OP("softmax");
  return with_int(op, x, "dim", dim);
}

nb_tensor *nb_log_softmax(nb_tensor *x, int64_t dim) {
  OP("log_softmax");
  return with_int(op, x, "dim", dim);
}

/* ---- losses ------------------------------------------------------------------------------ */

/* attrs: reduction (when given) plus extras. */
static int reduction_attr(nb_attr *at, const char *reduction) {
  if (!reduction) return 0;
  at[0] = NB_A_STR("reduction", reduction);
  return 1;
}

nb_tensor *nb_mse_loss(nb_tensor *input, nb_tensor *target, const char *reduction) {
  OP("mse_loss");
  nb_attr at[1];
  nb_tensor *in[2] = {input, target};
  return call(op, 2, in, reduction_attr(at, reduction), at);
}

nb_tensor *nb_l1_loss(nb_tensor *input, nb_tensor *target, const char *reduction) {
  OP("l1_loss");
  nb_attr at[1];
  nb_tensor *in[2] = {input, target};
  return call(op, 2, in, reduction_attr(at, reduction), at);
}

nb_tensor *nb_cross_entropy(nb_tensor *input, nb_tensor *target, nb_tensor *weight,
                            const char *reduction, int64_t ignore_index, double label_smoothing) {
  OP("cross_entropy");
  nb_attr at[3];
  int n = reduction_attr(at, reduction);
  at[n++] = NB_A_INT("ignore_index", ignore_index);
  at[n++] = NB_A_FLOAT("label_smoothing", label_smoothing);
  nb_tensor *in[3] = {input, target, weight};
  return call(op, 3, in, n, at);
}

nb_tensor *nb_nll_loss(nb_tensor *input, nb_tensor *target, nb_tensor *weight,
                       const char *reduction, int64_t ignore_index) {
  OP("nll_loss");
  nb_attr at[2];
  int n = reduction_attr(at, reduction);
  at[n++] = NB_A_INT("ignore_index", ignore_index);
  nb_tensor *in[3] = {input, target, weight};
  return call(op, 3, in, n, at);
}

nb_tensor *nb_binary_cross_entropy(nb_tensor *input, nb_tensor *target, nb_tensor *weight,
                                   const char *reduction) {
  OP("binary_cross_entropy");
  nb_attr at[1];
  nb_tensor *in[3] = {input, target, weight};
  return call(op, 3, in, reduction_attr(at, reduction), at);
}

nb_tensor *nb_binary_cross_entropy_with_logits(nb_tensor *input, nb_tensor *target,
                                               nb_tensor *weight, nb_tensor *pos_weight,
                                               const char *reduction) {
  OP("binary_cross_entropy_with_logits");
  nb_attr at[1];
  nb_tensor *in[4] = {input, target, weight, pos_weight};
  return call(op, 4, in, reduction_attr(at, reduction), at);
}
