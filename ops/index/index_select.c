/* ops/index/index_select.c — "index_select": the slices of one dim at the positions an
 * int64 vector lists, in its order (torch.index_select, x[:, idx]). */
#include <string.h>

#include "index.h"

/* Sizes of the dims before `dim` and after it (products). */
static void outer_inner(int nd, const int64_t *shape, int dim, int64_t *outer, int64_t *inner) {
  *outer = *inner = 1;
  for (int d = 0; d < dim; d++) *outer *= shape[d];
  for (int d = dim + 1; d < nd; d++) *inner *= shape[d];
}

/* The wrapped dim, after checking the index vector; or a negative status. */
static int check(const nb_tensor *x, const nb_tensor *index, int64_t dim_attr) {
  if (nb_ndim(index) > 1)
    return nb_set_error(NB_ESHAPE, "index_select: index must be 1-d (or 0-d), got shape %s",
                        nb_shape_of(index));
  if (nb_ndim(x) == 0)
    return nb_set_error(NB_EINVAL, "index_select: input must have at least 1 dim, got a 0-d tensor");
  const int64_t *shape = nb_shape(x);
  int dim = ops_wrap_dim("index_select", dim_attr, nb_ndim(x), shape, false);
  if (dim < 0) return dim;
  int rc = idx_check_range("index_select", index, dim, shape[dim]);
  return rc < 0 ? rc : dim;
}

static int index_select_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                                nb_tensor **out) {
  int dim = check(in[0], in[1], attrs[0].i);
  if (dim < 0) return dim;
  nb_tensor *x = ops_contig(in[0]), *idx = ops_contig(in[1]);
  if (!x || !idx) return nb_last_status();
  int nd = nb_ndim(x);
  int64_t shape[NB_MAX_DIMS], outer, inner, k = nb_numel(idx);
  memcpy(shape, nb_shape(x), (size_t)nd * sizeof shape[0]);
  int64_t n = shape[dim];
  shape[dim] = k;
  nb_tensor *o = nb_empty(nd, shape, nb_dtype_of(x));
  if (!o) return nb_last_status();
  outer_inner(nd, nb_shape(x), dim, &outer, &inner);
  size_t row = (size_t)inner * nb_dtype_size(nb_dtype_of(x));
  const char *src = nb_data(x);
  char *dst = nb_data(o);
  const int64_t *iv = nb_data(idx);
  for (int64_t a = 0; a < outer; a++)
    for (int64_t j = 0; j < k; j++)
      memcpy(dst + (size_t)(a * k + j) * row, src + (size_t)(a * n + iv[j]) * row, row);
  if (nb_ctx_needs_input_grad(ctx, 0) && nb_ctx_save(ctx, idx) < 0) return nb_last_status();
  out[0] = o;
  return 0;
}

#define ADD_ROWS(T)                                                                          \
  for (int64_t a = 0; a < outer; a++)                                                      \
    for (int64_t j = 0; j < k; j++) {                                                      \
      const T *s = (const T *)gp + (a * k + j) * inner;                                    \
      T *d = (T *)zp + (a * n + iv[j]) * inner;                                            \
      for (int64_t i = 0; i < inner; i++) d[i] += s[i];                                    \
    }

/* Zeros of the input's shape; each output gradient row added into the row it came from
 * (repeated indices accumulate). */
static int index_select_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *idx = nb_ctx_saved(ctx, 0);
  if (!idx) return nb_last_status();
  int nd;
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &nd);
  int dim = ops_wrap_dim("index_select", nb_ctx_attrs(ctx)[0].i, nd, shape, false);
  if (dim < 0) return dim;
  nb_tensor *g = ops_contig(grad_out[0]);
  nb_tensor *z = g ? nb_zeros(nd, shape, nb_dtype_of(g)) : NULL;
  if (!z) return nb_last_status();
  int64_t outer, inner, k = nb_numel(idx), n = shape[dim];
  outer_inner(nd, shape, dim, &outer, &inner);
  const char *gp = nb_data(g);
  char *zp = nb_data(z);
  const int64_t *iv = nb_data(idx);
  if (nb_dtype_of(g) == NB_F32) {
    ADD_ROWS(float)
  } else {
    ADD_ROWS(double)
  }
  grad_in[0] = z;
  return 0;
}

static int index_select_samples(nb_sample_sink *sink) {
  int rc;
  if ((rc = idx_add_sample(sink, "[4,3] dim 0 index [2,0,2]", 2,
                           (nb_tensor *[]){idx_rand(sink, 2, (int64_t[]){4, 3}),
                                           idx_long(1, (int64_t[]){3}, (int64_t[]){2, 0, 2})},
                           1, (nb_attr[]){NB_A_INT("dim", 0)}, 0)) < 0)
    return rc;
  if ((rc = idx_add_sample(sink, "[2,5,2] dim -2 index [4,1]", 2,
                           (nb_tensor *[]){idx_rand(sink, 3, (int64_t[]){2, 5, 2}),
                                           idx_long(1, (int64_t[]){2}, (int64_t[]){4, 1})},
                           1, (nb_attr[]){NB_A_INT("dim", -2)}, 0)) < 0)
    return rc;
  nb_tensor *base = idx_rand(sink, 2, (int64_t[]){3, 4});
  return idx_add_sample(sink, "transposed [4,3] dim 1 index [1]", 2,
                        (nb_tensor *[]){base ? nb_as_strided(base, 2, (int64_t[]){4, 3},
                                                             (int64_t[]){1, 4}, 0)
                                             : NULL,
                                        idx_long(1, (int64_t[]){1}, (int64_t[]){1})},
                        1, (nb_attr[]){NB_A_INT("dim", 1)}, 0);
}

/* Recorded: slice c of the gradient scattered to position index[c] of zeros. */
static int index_select_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *idx = nb_ctx_saved(ctx, 0);
  idx = idx ? ops_contig(idx) : NULL;
  if (!idx) return nb_last_status();
  int nd;
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &nd);
  int dim = ops_wrap_dim("index_select", nb_ctx_attrs(ctx)[0].i, nd, shape, false);
  if (dim < 0) return dim;
  grad_in[0] = idx_scatter_at(grad_out[0], nd, shape, dim, nb_data(idx));
  return grad_in[0] ? 0 : nb_last_status();
}

static const nb_input_spec index_select_inputs[] = {
    {"input", NB_DT_ANY, 0, "tensor to pick from"},
    {"index", NB_DT_I64, NB_IN_NONDIFF, "1-d int64 positions along dim, each in [0, size)"},
};
static const nb_output_spec index_select_outputs[] = {
    {"out", 0, "input's shape with dim's size replaced by the number of indices"}};
static const nb_attr_spec index_select_attrs[] = {
    {.name = "dim", .type = NB_ATTR_INT, .flags = NB_ATTR_REQUIRED, .doc = "dim to index"}};

const nb_op_desc op_index_select = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "index_select",
    .doc = "The slices of dim `dim` at the positions listed by a 1-d int64 index, in its "
           "order and with repeats, like torch.index_select (a copy). Indices outside "
           "[0, size) are errors naming the index. Gradient: each output gradient slice added "
           "into the input slice it came from (repeats accumulate).",
    .n_inputs = 2,
    .inputs = index_select_inputs,
    .n_outputs = 1,
    .outputs = index_select_outputs,
    .n_attrs = 1,
    .attrs = index_select_attrs,
    .forward = index_select_forward,
    .backward = index_select_backward,
    .backward_graph = index_select_backward_graph,
    .samples = index_select_samples,
    .saves = "the index (contiguous) when input needs a gradient",
};
