/* ops/index/index.h — helpers shared by the "index" plugin's operators (plugin-private,
 * hidden visibility): views along one dim, checked index tensors, the walk behind
 * gather/scatter_add/topk's backward, and sample helpers.
 */
#ifndef NABLA_OPS_INDEX_H
#define NABLA_OPS_INDEX_H

#include <nabla/sdk.h>

#include "../common/ops_util.h" /* ops_wrap_dim, ops_view */

extern const nb_op_desc op_select, op_slice, op_index_select, op_gather, op_scatter_add,
    op_masked_fill, op_where, op_expand, op_repeat, op_cat, op_stack, op_tril, op_triu,
    op_topk;

/* Inputs of cat and stack: up to IDX_MAX_JOIN tensors; unused trailing slots are NULL
 * (the schema has a fixed input count; the typed wrappers pad and chain longer lists). */
#define IDX_MAX_JOIN 16

/* cat and stack (cat.c): their input slots; the number of given tensors (leading
 * non-NULL slots; a tensor after a NULL slot is an error); the check that the tensors
 * share tensor 0's dtype and shape (except in `except_dim` when >= 0); and the count
 * forward saved (as a blob) for backward. */
extern const nb_input_spec idx_join_inputs[IDX_MAX_JOIN];
int idx_count_joined(const char *op, nb_tensor *const *in);
int idx_check_joined(const char *op, nb_tensor *const *in, int n, int except_dim);
int idx_joined_count(nb_ctx *ctx);

/* View of t along `dim` (already wrapped): elements start, start+step, ... (len of
 * them). Shares t's storage and version counter. */
nb_tensor *idx_slice_view(nb_tensor *t, int dim, int64_t start, int64_t len, int64_t step);
/* View of t with `dim` removed at position i (torch.select). */
nb_tensor *idx_select_view(nb_tensor *t, int dim, int64_t i);

/* Check that every value of the int64 tensor `index` lies in [0, size): else NB_EINVAL
 * "op: index 7 is out of bounds for dim 1 with size 3". Negative values are errors too
 * (as torch.gather / index_select). Returns 0 or the status. */
int idx_check_range(const char *op, const nb_tensor *index, int dim, int64_t size);

/* Walk every position p of `index` (any strides) and call fn with the element offsets
 * (in elements) of p in `aligned` (same coordinates as p) and of p with coordinate `dim`
 * replaced by index[p] in `indexed`. Strides are those of the two tensors. */
typedef void (*idx_pair_fn)(int64_t aligned_off, int64_t indexed_off, void *user);
void idx_walk_pairs(const nb_tensor *index, int dim, const int64_t *aligned_strides,
                    const int64_t *indexed_strides, idx_pair_fn fn, void *user);

/* dst[indexed] += src[aligned] over index's positions (scatter_add; gather's backward):
 * dst, src floating of one dtype; dst is written in place (not recorded). */
void idx_scatter_add_into(nb_tensor *dst, int dim, const nb_tensor *index, const nb_tensor *src);
/* dst[aligned] = src[indexed] over index's positions (gather); any dtype. */
void idx_gather_into(nb_tensor *dst, int dim, const nb_tensor *index, const nb_tensor *src);

/* Check index's shape against the `aligned` tensor for gather/scatter_add (same ndim as
 * `indexed`, index.size(d) <= aligned.size(d) and <= indexed.size(d) for d != dim). */
int idx_check_gather_shapes(const char *op, const nb_tensor *indexed, const nb_tensor *index,
                            const nb_tensor *aligned, int dim);

/* out[p] = cond[p] ? a[p] : b[p] with cond (bool), a and b broadcast to out's shape;
 * a or b NULL stands for zeros. Same dtype for out, a and b. Returns 0 or a status. */
int idx_where_into(nb_tensor *out, nb_tensor *cond, nb_tensor *a, nb_tensor *b);

/* tril (upper false) / triu (upper true) of x's last two dims with diagonal offset k:
 * a new contiguous tensor, zero where column - row > k (tril) or < k (triu). NULL with
 * "op: ..." when x has fewer than 2 dims. */
nb_tensor *idx_triangle(const char *op, nb_tensor *x, int64_t k, bool upper);
/* tril/triu's forward and backward (the same triangle of the output gradient), input,
 * attribute ("diagonal") and samples (triangle.c). */
int idx_triangle_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                         bool upper, nb_tensor **out);
int idx_triangle_backward(nb_ctx *ctx, nb_tensor *const *grad_out, bool upper,
                          nb_tensor **grad_in);
/* tril/triu's backward_graph: the node's own op on the gradient, recorded. */
int idx_triangle_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in);
int idx_triangle_samples(nb_sample_sink *sink);
extern const nb_input_spec idx_triangle_inputs[1];
extern const nb_attr_spec idx_triangle_attrs[1];

/* backward_graph helpers (graph.c), each recorded, a scoped result or NULL: */
/* scatter_add(zeros(shape), dim, index, g): g's elements added at index along dim. */
nb_tensor *idx_scatter_graph(nb_tensor *g, int ndim, const int64_t *shape, int dim,
                             nb_tensor *index);
/* An int64 tensor of like's shape whose value at coordinate c of dim is pos[c]. */
nb_tensor *idx_positions(const nb_tensor *like, int dim, const int64_t *pos);
/* idx_scatter_graph with the index idx_positions(g, dim, pos): slice c of g along dim
 * lands at position pos[c] of an input of (ndim, shape). */
nb_tensor *idx_scatter_at(nb_tensor *g, int ndim, const int64_t *shape, int dim,
                          const int64_t *pos);

/* Add a sample with n_in inputs (a NULL among them: the pending error). */
int idx_add_sample(nb_sample_sink *sink, const char *desc, int n_in, nb_tensor *const *in,
                   int n_attrs, const nb_attr *attrs, unsigned flags);
/* int64 tensor of this shape from values (C array). */
nb_tensor *idx_long(int ndim, const int64_t *shape, const int64_t *values);
/* Sample float64 tensor uniform in [-2, 2) from the sink's generator. */
nb_tensor *idx_rand(nb_sample_sink *sink, int ndim, const int64_t *shape);

/* Sample bool mask of this shape, about half true, from the sink's generator. */
nb_tensor *idx_mask(nb_sample_sink *sink, int ndim, const int64_t *shape);

#endif
