/* ops/index/scatter_add.c — "scatter_add": a copy of input with src's values added at
 * the positions the index gives along one dim (torch.scatter_add). */
#include "index.h"

static int check(const nb_tensor *x, const nb_tensor *index, const nb_tensor *src,
                 int64_t dim_attr) {
  if (nb_ndim(x) == 0)
    return nb_set_error(NB_EINVAL, "scatter_add: input must have at least 1 dim, got a 0-d tensor");
  int rc = ops_same_dtype("scatter_add", x, "input", src, "src");
  if (rc < 0) return rc;
  int dim = ops_wrap_dim("scatter_add", dim_attr, nb_ndim(x), nb_shape(x), false);
  if (dim < 0) return dim;
  rc = idx_check_gather_shapes("scatter_add", x, index, src, dim);
  if (rc >= 0) rc = idx_check_range("scatter_add", index, dim, nb_shape(x)[dim]);
  return rc < 0 ? rc : dim;
}

static int scatter_add_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                               nb_tensor **out) {
  int dim = check(in[0], in[1], in[2], attrs[0].i);
  if (dim < 0) return dim;
  nb_tensor *o = nb_copy_data(in[0]);
  if (!o) return nb_last_status();
  idx_scatter_add_into(o, dim, in[1], in[2]);
  if (nb_ctx_needs_input_grad(ctx, 2) && nb_ctx_save(ctx, in[1]) < 0) return nb_last_status();
  out[0] = o;
  return 0;
}

/* d/d input: the output gradient unchanged. d/d src: the output gradient gathered at
 * the index (zeros where src reaches beyond the index's shape). */
static int scatter_add_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  if (nb_ctx_needs_input_grad(ctx, 0)) grad_in[0] = grad_out[0];
  if (!nb_ctx_needs_input_grad(ctx, 2)) return 0;
  nb_tensor *idx = nb_ctx_saved(ctx, 0);
  if (!idx) return nb_last_status();
  int nd, snd;
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &nd);
  const int64_t *sshape = nb_ctx_input_shape(ctx, 2, &snd);
  int dim = ops_wrap_dim("scatter_add", nb_ctx_attrs(ctx)[0].i, nd, shape, false);
  if (dim < 0) return dim;
  nb_tensor *z = nb_zeros(snd, sshape, nb_dtype_of(grad_out[0]));
  if (!z) return nb_last_status();
  idx_gather_into(z, dim, idx, grad_out[0]);
  grad_in[2] = z;
  return 0;
}

static int scatter_add_samples(nb_sample_sink *sink) {
  int rc;
  if ((rc = idx_add_sample(
           sink, "[3,4] dim 1 index [3,2] src [3,2]", 3,
           (nb_tensor *[]){idx_rand(sink, 2, (int64_t[]){3, 4}),
                           idx_long(2, (int64_t[]){3, 2}, (int64_t[]){3, 0, 1, 1, 2, 0}),
                           idx_rand(sink, 2, (int64_t[]){3, 2})},
           1, (nb_attr[]){NB_A_INT("dim", 1)}, 0)) < 0)
    return rc;
  if ((rc = idx_add_sample(
           sink, "[4,2] dim 0 index [2,2] src [2,2] (repeats)", 3,
           (nb_tensor *[]){idx_rand(sink, 2, (int64_t[]){4, 2}),
                           idx_long(2, (int64_t[]){2, 2}, (int64_t[]){3, 1, 3, 3}),
                           idx_rand(sink, 2, (int64_t[]){2, 2})},
           1, (nb_attr[]){NB_A_INT("dim", 0)}, 0)) < 0)
    return rc;
  /* PyTorch (1.13 and 2.x) refuses src's gradient here (it gathers to the index's shape);
   * nabla pads it with zeros, checked numerically by the harness. */
  return idx_add_sample(
      sink, "[4,2] dim 0 index [2,1] src [3,2] (src larger than index)", 3,
      (nb_tensor *[]){idx_rand(sink, 2, (int64_t[]){4, 2}),
                      idx_long(2, (int64_t[]){2, 1}, (int64_t[]){0, 2}),
                      idx_rand(sink, 2, (int64_t[]){3, 2})},
      1, (nb_attr[]){NB_A_INT("dim", 0)}, 0);
}

/* Recorded: input gets the gradient, src its gather at the index. */
static int scatter_add_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  if (nb_ctx_needs_input_grad(ctx, 0)) grad_in[0] = grad_out[0];
  if (!nb_ctx_needs_input_grad(ctx, 2)) return 0;
  nb_tensor *idx = nb_ctx_saved(ctx, 0);
  if (!idx) return nb_last_status();
  nb_tensor *in[2] = {grad_out[0], idx};
  nb_tensor *r = nb_call1("gather", 2, in, 1, &NB_A_INT("dim", nb_ctx_attrs(ctx)[0].i));
  /* an index smaller than src: pad with zeros (cat) up to src's shape, dim by dim */
  int snd;
  const int64_t *sshape = nb_ctx_input_shape(ctx, 2, &snd);
  for (int d = 0; d < snd && r; d++) {
    if (nb_shape(r)[d] == sshape[d]) continue;
    int64_t zs[NB_MAX_DIMS];
    for (int e = 0; e < snd; e++) zs[e] = nb_shape(r)[e];
    zs[d] = sshape[d] - zs[d];
    nb_tensor *z = nb_zeros(snd, zs, nb_dtype_of(r));
    nb_tensor *parts[IDX_MAX_JOIN] = {r, z}; /* cat's fixed slots, the rest NULL */
    r = z ? nb_call1("cat", IDX_MAX_JOIN, parts, 1, &NB_A_INT("dim", d)) : NULL;
  }
  grad_in[2] = r;
  return grad_in[2] ? 0 : nb_last_status();
}

static const nb_input_spec scatter_add_inputs[] = {
    {"input", NB_DT_FLOAT, 0, "tensor added into (not modified: the result is a copy)"},
    {"index", NB_DT_I64, NB_IN_NONDIFF,
     "int64, same number of dims as input, no larger than src in any dim nor than input "
     "in dims other than dim; values in [0, input.size(dim))"},
    {"src", NB_DT_FLOAT, 0, "values to add, same dtype as input"},
};
static const nb_output_spec scatter_add_outputs[] = {
    {"out", 0, "input with src[p] added at p with coordinate dim replaced by index[p]"}};
static const nb_attr_spec scatter_add_attrs[] = {
    {.name = "dim", .type = NB_ATTR_INT, .flags = NB_ATTR_REQUIRED, .doc = "dim the index addresses"}};

const nb_op_desc op_scatter_add = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "scatter_add",
    .doc = "Out-of-place torch.scatter_add: a copy of input where, for every position p of "
           "the index, src[p] is added at p with coordinate dim replaced by index[p] "
           "(repeats accumulate). Gradient: input gets the output gradient, src gets it "
           "gathered at the index.",
    .n_inputs = 3,
    .inputs = scatter_add_inputs,
    .n_outputs = 1,
    .outputs = scatter_add_outputs,
    .n_attrs = 1,
    .attrs = scatter_add_attrs,
    .forward = scatter_add_forward,
    .backward = scatter_add_backward,
    .backward_graph = scatter_add_backward_graph,
    .samples = scatter_add_samples,
    .saves = "the index when src needs a gradient",
};
