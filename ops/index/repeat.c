/* ops/index/repeat.c — "repeat": tile a tensor along each dim (torch.Tensor.repeat); a
 * copy. Extra leading repeats add dims. */
#include <string.h>

#include "index.h"
#include "../common/graph_util.h"

/* The input seen with len(repeats) dims (leading size-1 dims added): shape and strides. */
static int padded(const char *op, int nd, const int64_t *shape, const int64_t *strides,
                  const nb_ints *rep, int64_t *pshape, int64_t *pstrides) {
  int n = rep->n;
  if (n < nd) {
    char buf[192];
    return nb_set_error(NB_EINVAL,
                        "%s: %d repeats %s for a tensor with %d dims (need at least one per dim)",
                        op, n, ops_ints_str(rep, buf, sizeof buf), nd);
  }
  for (int d = 0; d < n; d++) {
    int s = d - (n - nd);
    pshape[d] = s < 0 ? 1 : shape[s];
    pstrides[d] = s < 0 ? 0 : strides ? strides[s] : 0;
  }
  return n;
}

/* Call fn for every tile (row-major over the repeats): the view of `big` the tile covers. */
typedef int (*tile_fn)(nb_tensor *tile_view, nb_tensor *small);
static int each_tile(nb_tensor *big, nb_tensor *small, int n, const int64_t *pshape,
                     const nb_ints *rep, tile_fn fn) {
  int64_t pos[NB_MAX_DIMS] = {0}, ntiles = 1;
  for (int d = 0; d < n; d++) ntiles *= rep->v[d];
  if (nb_numel(big) == 0) return 0;
  for (int64_t t = 0; t < ntiles; t++) {
    int64_t skip = 0;
    for (int d = 0; d < n; d++) skip += pos[d] * pshape[d] * nb_strides(big)[d];
    if (nb_scope_begin() < 0) return nb_last_status();
    nb_tensor *v = ops_view(big, n, pshape, nb_strides(big), skip);
    int rc = v ? fn(v, small) : nb_last_status();
    nb_scope_end();
    if (rc < 0) return rc;
    for (int d = n - 1; d >= 0 && ++pos[d] == rep->v[d]; d--) pos[d] = 0;
  }
  return 0;
}

static int copy_tile(nb_tensor *tile, nb_tensor *small) { return nb_copy_into(tile, small); }
static int add_tile(nb_tensor *tile, nb_tensor *acc) { return nb_axpy_into(acc, 1.0, tile); }

static int repeat_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                          nb_tensor **out) {
  int64_t pshape[NB_MAX_DIMS], pstrides[NB_MAX_DIMS], oshape[NB_MAX_DIMS];
  int n = padded("repeat", nb_ndim(in[0]), nb_shape(in[0]), nb_strides(in[0]), &attrs[0].ints,
                 pshape, pstrides);
  if (n < 0) return n;
  for (int d = 0; d < n; d++) oshape[d] = pshape[d] * attrs[0].ints.v[d];
  nb_tensor *o = nb_empty(n, oshape, nb_dtype_of(in[0]));
  nb_tensor *x = o ? ops_view(in[0], n, pshape, pstrides, 0) : NULL;
  if (!x || each_tile(o, x, n, pshape, &attrs[0].ints, copy_tile) < 0) return nb_last_status();
  out[0] = o;
  return 0;
}

/* The sum of the output gradient's tiles, in the input's shape. */
static int repeat_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int nd;
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &nd);
  const nb_ints *rep = &nb_ctx_attrs(ctx)[0].ints;
  int64_t pshape[NB_MAX_DIMS], pstrides[NB_MAX_DIMS];
  nb_tensor *z = nb_zeros(nd, shape, nb_dtype_of(grad_out[0]));
  if (!z) return nb_last_status();
  int n = padded("repeat", nd, shape, nb_strides(z), rep, pshape, pstrides);
  if (n < 0) return n;
  nb_tensor *acc = ops_view(z, n, pshape, pstrides, 0);
  if (!acc || each_tile(grad_out[0], acc, n, pshape, rep, add_tile) < 0) return nb_last_status();
  grad_in[0] = z;
  return 0;
}

static int repeat_samples(nb_sample_sink *sink) {
  int rc;
  if ((rc = idx_add_sample(sink, "[2,3] repeats [2,1]", 1,
                           (nb_tensor *[]){idx_rand(sink, 2, (int64_t[]){2, 3})}, 1,
                           (nb_attr[]){NB_A_INTS("repeats", 2, 1)}, 0)) < 0)
    return rc;
  if ((rc = idx_add_sample(sink, "[3] repeats [2,2] (new leading dim)", 1,
                           (nb_tensor *[]){idx_rand(sink, 1, (int64_t[]){3})}, 1,
                           (nb_attr[]){NB_A_INTS("repeats", 2, 2)}, 0)) < 0)
    return rc;
  return idx_add_sample(sink, "[2,1,2] repeats [1,3,2]", 1,
                        (nb_tensor *[]){idx_rand(sink, 3, (int64_t[]){2, 1, 2})}, 1,
                        (nb_attr[]){NB_A_INTS("repeats", 1, 3, 2)}, 0);
}

/* Recorded: for each dim d in turn, the gradient seen as (before, r_d, p_d·after) and
 * summed over its tiles r_d; then given the input's shape. */
static int repeat_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int nd;
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &nd);
  const nb_ints *rep = &nb_ctx_attrs(ctx)[0].ints;
  int64_t pshape[NB_MAX_DIMS], pstrides[NB_MAX_DIMS], cur[NB_MAX_DIMS];
  int n = padded("repeat", nd, shape, NULL, rep, pshape, pstrides);
  if (n < 0) return n;
  for (int d = 0; d < n; d++) cur[d] = pshape[d] * rep->v[d];
  nb_tensor *g = grad_out[0];
  for (int d = 0; d < n && g; d++) {
    if (rep->v[d] == 1) continue;
    int64_t before = 1, after = 1;
    for (int e = 0; e < d; e++) before *= cur[e];
    for (int e = d + 1; e < n; e++) after *= cur[e];
    nb_tensor *r = gu_reshape(g, 3, (int64_t[]){before, rep->v[d], pshape[d] * after});
    g = r ? gu_reduce("sum", r, 1, (int64_t[]){1}, false) : NULL;
    cur[d] = pshape[d];
    if (g) g = gu_reshape(g, n, cur);
  }
  grad_in[0] = g ? gu_reshape(g, nd, shape) : NULL;
  return grad_in[0] ? 0 : nb_last_status();
}

static const nb_input_spec repeat_inputs[] = {{"input", NB_DT_ANY, 0, "tensor"}};
static const nb_output_spec repeat_outputs[] = {
    {"out", 0, "the input tiled: size repeats[d] * input.size(d) in dim d"}};
static const nb_attr_spec repeat_attrs[] = {
    {.name = "repeats", .type = NB_ATTR_INTS, .flags = NB_ATTR_REQUIRED | NB_ATTR_HAS_MIN,
     .min = 0, .doc = "copies along each dim, at least one entry per input dim (extra "
     "entries add leading dims)"}};

const nb_op_desc op_repeat = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "repeat",
    .doc = "Tile a tensor, like torch.Tensor.repeat: dim d of the result holds repeats[d] "
           "copies of the input along it; extra leading repeats add dims. A copy (expand is "
           "the no-copy broadcast). Gradient: the output gradient's tiles summed.",
    .n_inputs = 1,
    .inputs = repeat_inputs,
    .n_outputs = 1,
    .outputs = repeat_outputs,
    .n_attrs = 1,
    .attrs = repeat_attrs,
    .forward = repeat_forward,
    .backward = repeat_backward,
    .backward_graph = repeat_backward_graph,
    .samples = repeat_samples,
    .saves = "nothing (input shape and repeats only)",
};
