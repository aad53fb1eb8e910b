/* ops/index/select.c — "select": the slice at one position of one dim, that dim removed
 * (torch.select, x[:, i]); a view. */
#include "index.h"

/* Wrapped (dim, index) of a select on a tensor of (ndim, shape), or a negative status. */
static int resolve(const char *op, const nb_attr_value *attrs, int ndim, const int64_t *shape,
                   int *dim, int64_t *index) {
  if (ndim == 0) return nb_set_error(NB_EINVAL, "%s: cannot select from a 0-d tensor", op);
  int d = ops_wrap_dim(op, attrs[0].i, ndim, shape, false);
  if (d < 0) return d;
  int64_t i = attrs[1].i, n = shape[d];
  if (i < -n || i >= n)
    return nb_set_error(NB_EINVAL, "%s: index %lld is out of range for dim %d of size %lld", op,
                        (long long)i, d, (long long)n);
  *dim = d;
  *index = i < 0 ? i + n : i;
  return 0;
}

static int select_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                          nb_tensor **out) {
  int dim;
  int64_t i;
  int rc = resolve("select", attrs, nb_ndim(in[0]), nb_shape(in[0]), &dim, &i);
  if (rc < 0) return rc;
  out[0] = idx_select_view(in[0], dim, i);
  return out[0] ? 0 : nb_last_status();
}

/* Zeros of the input's shape with the output gradient copied into the selected slice. */
static int select_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int nd, dim;
  int64_t i;
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &nd);
  int rc = resolve("select", nb_ctx_attrs(ctx), nd, shape, &dim, &i);
  if (rc < 0) return rc;
  nb_tensor *z = nb_zeros(nd, shape, nb_dtype_of(grad_out[0]));
  nb_tensor *slot = z ? idx_select_view(z, dim, i) : NULL;
  if (!slot || nb_copy_into(slot, grad_out[0]) < 0) return nb_last_status();
  grad_in[0] = z;
  return 0;
}

static int select_samples(nb_sample_sink *sink) {
  int rc;
  if ((rc = idx_add_sample(sink, "[3,4] dim 0 index 1", 1,
                           (nb_tensor *[]){idx_rand(sink, 2, (int64_t[]){3, 4})}, 2,
                           (nb_attr[]){NB_A_INT("dim", 0), NB_A_INT("index", 1)}, 0)) < 0)
    return rc;
  if ((rc = idx_add_sample(sink, "[2,3,4] dim -1 index -1", 1,
                           (nb_tensor *[]){idx_rand(sink, 3, (int64_t[]){2, 3, 4})}, 2,
                           (nb_attr[]){NB_A_INT("dim", -1), NB_A_INT("index", -1)}, 0)) < 0)
    return rc;
  return idx_add_sample(sink, "[5] dim 0 index 2 (0-d result)", 1,
                        (nb_tensor *[]){idx_rand(sink, 1, (int64_t[]){5})}, 2,
                        (nb_attr[]){NB_A_INT("dim", 0), NB_A_INT("index", 2)}, 0);
}

/* Recorded: the gradient, given back its dim, scattered to position i of zeros. */
static int select_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int nd, dim;
  int64_t i;
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &nd);
  int rc = resolve("select", nb_ctx_attrs(ctx), nd, shape, &dim, &i);
  if (rc < 0) return rc;
  nb_tensor *g = grad_out[0];
  nb_tensor *u = nb_call1("unsqueeze", 1, &g, 1, &NB_A_INT("dim", dim));
  grad_in[0] = u ? idx_scatter_at(u, nd, shape, dim, &i) : NULL;
  return grad_in[0] ? 0 : nb_last_status();
}

static const nb_input_spec select_inputs[] = {{"input", NB_DT_ANY, 0, "tensor (at least 1-d)"}};
static const nb_output_spec select_outputs[] = {
    {"out", 0, "view of the slice at `index` along `dim`, that dim removed"}};
static const nb_attr_spec select_attrs[] = {
    {.name = "dim", .type = NB_ATTR_INT, .flags = NB_ATTR_REQUIRED, .doc = "dim to select along"},
    {.name = "index",
     .type = NB_ATTR_INT,
     .flags = NB_ATTR_REQUIRED,
     .doc = "position along dim (negative counts from the end)"},
};

const nb_op_desc op_select = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "select",
    .doc = "The slice at position `index` of dim `dim`, with that dim removed, like "
           "torch.select (x[:, i]): a view sharing the input's storage and version counter. "
           "Negative dim and index count from the end. Gradient: zeros of the input's shape "
           "with the output gradient in the selected slice.",
    .flags = NB_OP_VIEW,
    .n_inputs = 1,
    .inputs = select_inputs,
    .n_outputs = 1,
    .outputs = select_outputs,
    .n_attrs = 2,
    .attrs = select_attrs,
    .forward = select_forward,
    .backward = select_backward,
    .backward_graph = select_backward_graph,
    .samples = select_samples,
    .saves = "nothing (input shape and attributes only)",
};
