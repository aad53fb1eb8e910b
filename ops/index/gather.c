/* ops/index/gather.c — "gather": out[i][j][k] = input[i][index[i][j][k]][k] for dim 1
 * (torch.gather); out has the index's shape. */
#include "index.h"

/* Wrapped dim after the shape and range checks, or a negative status. */
static int check(const nb_tensor *x, const nb_tensor *index, int64_t dim_attr) {
  if (nb_ndim(x) == 0)
    return nb_set_error(NB_EINVAL, "gather: input must have at least 1 dim, got a 0-d tensor");
  int dim = ops_wrap_dim("gather", dim_attr, nb_ndim(x), nb_shape(x), false);
  if (dim < 0) return dim;
  int rc = idx_check_gather_shapes("gather", x, index, NULL, dim);
  if (rc >= 0) rc = idx_check_range("gather", index, dim, nb_shape(x)[dim]);
  return rc < 0 ? rc : dim;
}

static int gather_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                          nb_tensor **out) {
  int dim = check(in[0], in[1], attrs[0].i);
  if (dim < 0) return dim;
  nb_tensor *o = nb_empty(nb_ndim(in[1]), nb_shape(in[1]), nb_dtype_of(in[0]));
  if (!o) return nb_last_status();
  idx_gather_into(o, dim, in[1], in[0]);
  if (nb_ctx_needs_input_grad(ctx, 0) && nb_ctx_save(ctx, in[1]) < 0) return nb_last_status();
  out[0] = o;
  return 0;
}

/* Zeros of the input's shape with the output gradient scatter-added at the indices. */
static int gather_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *idx = nb_ctx_saved(ctx, 0);
  if (!idx) return nb_last_status();
  int nd;
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &nd);
  int dim = ops_wrap_dim("gather", nb_ctx_attrs(ctx)[0].i, nd, shape, false);
  if (dim < 0) return dim;
  nb_tensor *z = nb_zeros(nd, shape, nb_dtype_of(grad_out[0]));
  if (!z) return nb_last_status();
  idx_scatter_add_into(z, dim, idx, grad_out[0]);
  grad_in[0] = z;
  return 0;
}

static int gather_samples(nb_sample_sink *sink) {
  int rc;
  if ((rc = idx_add_sample(
           sink, "[3,4] dim 1 index [3,2]", 2,
           (nb_tensor *[]){idx_rand(sink, 2, (int64_t[]){3, 4}),
                           idx_long(2, (int64_t[]){3, 2}, (int64_t[]){3, 0, 1, 1, 2, 0})},
           1, (nb_attr[]){NB_A_INT("dim", 1)}, 0)) < 0)
    return rc;
  if ((rc = idx_add_sample(
           sink, "[3,2] dim 0 index [2,2] (repeats)", 2,
           (nb_tensor *[]){idx_rand(sink, 2, (int64_t[]){3, 2}),
                           idx_long(2, (int64_t[]){2, 2}, (int64_t[]){2, 2, 2, 0})},
           1, (nb_attr[]){NB_A_INT("dim", 0)}, 0)) < 0)
    return rc;
  return idx_add_sample(
      sink, "[2,3,2] dim -1 index [2,2,3]", 2,
      (nb_tensor *[]){idx_rand(sink, 3, (int64_t[]){2, 3, 2}),
                      idx_long(3, (int64_t[]){2, 2, 3},
                               (int64_t[]){0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1})},
      1, (nb_attr[]){NB_A_INT("dim", -1)}, 0);
}

/* Recorded: scatter_add of the gradient into zeros of the input's shape. */
static int gather_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *idx = nb_ctx_saved(ctx, 0);
  if (!idx) return nb_last_status();
  int nd;
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &nd);
  int dim = ops_wrap_dim("gather", nb_ctx_attrs(ctx)[0].i, nd, shape, false);
  if (dim < 0) return dim;
  grad_in[0] = idx_scatter_graph(grad_out[0], nd, shape, dim, idx);
  return grad_in[0] ? 0 : nb_last_status();
}

static const nb_input_spec gather_inputs[] = {
    {"input", NB_DT_ANY, 0, "tensor to pick from"},
    {"index", NB_DT_I64, NB_IN_NONDIFF,
     "int64, same number of dims as input, no larger in dims other than dim; values in "
     "[0, input.size(dim))"},
};
static const nb_output_spec gather_outputs[] = {{"out", 0, "the picked values, index's shape"}};
static const nb_attr_spec gather_attrs[] = {
    {.name = "dim", .type = NB_ATTR_INT, .flags = NB_ATTR_REQUIRED, .doc = "dim the index picks along"}};

const nb_op_desc op_gather = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "gather",
    .doc = "Pick values along a dim, like torch.gather: out has the index's shape, and "
           "out[p] = input[p with coordinate dim replaced by index[p]]. Indices outside "
           "[0, size) are errors naming the index. Gradient: the output gradient "
           "scatter-added into zeros of the input's shape (repeats accumulate).",
    .n_inputs = 2,
    .inputs = gather_inputs,
    .n_outputs = 1,
    .outputs = gather_outputs,
    .n_attrs = 1,
    .attrs = gather_attrs,
    .forward = gather_forward,
    .backward = gather_backward,
    .backward_graph = gather_backward_graph,
    .samples = gather_samples,
    .saves = "the index when input needs a gradient",
};
