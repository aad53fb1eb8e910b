/* ops/attention/embedding.c — "embedding": rows of a weight table picked by int64
 * indices, as F.embedding(input, weight, padding_idx). Output shape input.shape + [D].
 * Backward: the weight gradient sums each output row's gradient into the row its index
 * picked, except the padding row (which gets none, as PyTorch). Column blocks run in
 * parallel, each walking the indices in order, so sums are reproducible.
 */
#include "attention.h"
#include "../common/graph_util.h"

#include <stdint.h>
#include <string.h>

#define NO_PADDING INT64_MIN

typedef struct emb_job {
  int64_t n, D, esz, pad;
  const int64_t *idx;
  const char *src; /* forward: weight; backward: output gradient */
  char *dst;       /* forward: output; backward: weight gradient (zeroed) */
} emb_job;

static void emb_fwd(int64_t i0, int64_t i1, void *user) {
  const emb_job *j = user;
  for (int64_t i = i0; i < i1; i++)
    memcpy(j->dst + i * j->D * j->esz, j->src + j->idx[i] * j->D * j->esz, (size_t)(j->D * j->esz));
}

#define EMB_BWD(T, SUF)                                                                     \
  static void emb_bwd_##SUF(int64_t c0, int64_t c1, void *user) {                           \
    const emb_job *j = user;                                                                \
    for (int64_t i = 0; i < j->n; i++) {                                                    \
      if (j->idx[i] == j->pad) continue;                                                    \
      const T *g = (const T *)j->src + i * j->D;                                            \
      T *w = (T *)j->dst + j->idx[i] * j->D;                                                \
      for (int64_t c = c0; c < c1; c++) w[c] += g[c];                                       \
    }                                                                                       \
  }
EMB_BWD(float, f32)
EMB_BWD(double, f64)

static int emb_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  nb_tensor *idx = ops_contig(in[0]), *w = ops_contig(in[1]);
  if (!idx || !w) return nb_last_status();
  if (nb_ndim(w) != 2)
    return nb_set_error(NB_ESHAPE, "embedding: weight must be 2-D (num_embeddings, embedding_dim), got %s",
                        nb_shape_of(w));
  int64_t num = nb_shape(w)[0], D = nb_shape(w)[1], n = nb_numel(idx);
  if (nb_ndim(idx) + 1 > NB_MAX_DIMS)
    return nb_set_error(NB_ESHAPE, "embedding: input %s has too many dims", nb_shape_of(idx));
  const int64_t *ix = nb_data(idx);
  for (int64_t i = 0; i < n; i++)
    if (ix[i] < 0 || ix[i] >= num)
      return nb_set_error(NB_EINVAL, "embedding: index %lld out of range for %lld embeddings (input %s)",
                          (long long)ix[i], (long long)num, nb_shape_of(idx));
  int64_t pad = attrs[0].i;
  if (pad != NO_PADDING) {
    if (pad < -num || pad >= num)
      return nb_set_error(NB_EINVAL, "embedding: padding_idx %lld out of range for %lld embeddings",
                          (long long)pad, (long long)num);
    if (pad < 0) pad += num;
  }
  int64_t shape[NB_MAX_DIMS];
  int nd = nb_ndim(idx);
  memcpy(shape, nb_shape(idx), (size_t)nd * sizeof shape[0]);
  shape[nd] = D;
  nb_tensor *y = nb_empty(nd + 1, shape, nb_dtype_of(w));
  if (!y) return nb_last_status();
  emb_job j = {.n = n, .D = D, .esz = nb_dtype_of(w) == NB_F32 ? 4 : 8, .idx = ix, .src = nb_data(w),
               .dst = nb_data(y)};
  nb_parallel_for(n, 1 + NB_PARALLEL_GRAIN / (D > 0 ? D : 1), emb_fwd, &j);
  if (nb_ctx_save(ctx, idx) < 0) return nb_last_status();
  out[0] = y;
  return 0;
}

static int emb_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *idx = nb_ctx_saved(ctx, 0), *g = ops_contig(grad_out[0]);
  if (!idx || !g) return nb_last_status();
  int nd;
  const int64_t *ws = nb_ctx_input_shape(ctx, 1, &nd);
  nb_dtype dt = nb_ctx_input_dtype(ctx, 1);
  nb_tensor *dw = nb_zeros(nd, ws, dt);
  if (!dw) return nb_last_status();
  int64_t pad = nb_ctx_attrs(ctx)[0].i;
  if (pad != NO_PADDING && pad < 0) pad += ws[0];
  emb_job j = {.n = nb_numel(idx), .D = ws[1], .pad = pad, .idx = nb_data(idx), .src = nb_data(g),
               .dst = nb_data(dw)};
  nb_parallel_for(ws[1], 1 + NB_PARALLEL_GRAIN / (j.n > 0 ? j.n : 1), dt == NB_F32 ? emb_bwd_f32 : emb_bwd_f64, &j);
  grad_in[1] = dw;
  return 0;
}

/* Recorded: the gradient's rows (the padding index's rows zeroed by a constant mask)
 * summed into zeros of the weight's shape by scatter_add at the picked rows. */
static int emb_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *idx = nb_ctx_saved(ctx, 0);
  if (!idx) return nb_last_status();
  int nd;
  const int64_t *ws = nb_ctx_input_shape(ctx, 1, &nd);
  int64_t n = nb_numel(idx), D = ws[1], pad = nb_ctx_attrs(ctx)[0].i;
  if (pad != NO_PADDING && pad < 0) pad += ws[0];
  const int64_t *ix = nb_data(idx);
  nb_tensor *g = gu_reshape(grad_out[0], 2, (int64_t[]){n, D});
  nb_tensor *pos = nb_empty(2, (int64_t[]){n, D}, NB_I64);
  if (!g || !pos) return nb_last_status();
  for (int64_t i = 0; i < n; i++)
    for (int64_t c = 0; c < D; c++) ((int64_t *)nb_data(pos))[i * D + c] = ix[i];
  if (pad != NO_PADDING) {
    nb_tensor *keep = nb_empty(2, (int64_t[]){n, 1}, nb_dtype_of(g));
    if (!keep) return nb_last_status();
    for (int64_t i = 0; i < n; i++) {
      if (nb_dtype_of(g) == NB_F32) ((float *)nb_data(keep))[i] = ix[i] != pad;
      else ((double *)nb_data(keep))[i] = ix[i] != pad;
    }
    if (!(g = NB_CALL("mul", g, keep))) return nb_last_status();
  }
  nb_tensor *z = nb_zeros(nd, ws, nb_dtype_of(g));
  grad_in[1] = z ? nb_call1("scatter_add", 3, (nb_tensor *const[]){z, pos, g}, 1, &NB_A_INT("dim", 0))
                 : NULL;
  return grad_in[1] ? 0 : nb_last_status();
}

static int emb_samples(nb_sample_sink *s) {
  nb_generator *g = nb_sample_generator(s);
  int rc = 0;
  nb_tensor *w = nb_rand_range(2, (int64_t[]){5, 3}, -1, 1, NB_F64, g);
  nb_tensor *a[2] = {nb_from_data((int64_t[]){0, 2, 4, 2, 1, 2}, 2, (int64_t[]){2, 3}, NB_I64), w};
  rc |= nb_sample_add(s, "[2,3] indices, repeats", 2, a, 0, NULL, 0);
  nb_tensor *b[2] = {nb_from_data((int64_t[]){3, 0, 3, 1}, 1, (int64_t[]){4}, NB_I64), w};
  /* the padding row's gradient is 0 on purpose (finite differences see 1): forward and
   * the PyTorch reference check these, not the Jacobian */
  rc |= nb_sample_add(s, "padding_idx 3", 2, b, 1, &NB_A_INT("padding_idx", 3), NB_SAMPLE_NO_GRAD_CHECK);
  rc |= nb_sample_add(s, "padding_idx -2", 2, b, 1, &NB_A_INT("padding_idx", -2), NB_SAMPLE_NO_GRAD_CHECK);
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_input_spec emb_inputs[] = {
    {"input", NB_DT_I64, NB_IN_NONDIFF, "indices in [0, num_embeddings), any shape"},
    {"weight", NB_DT_FLOAT, 0, "(num_embeddings, embedding_dim)"},
};
static const nb_output_spec emb_outputs[] = {{"out", 0, "input.shape + [embedding_dim]"}};
static const nb_attr_spec emb_attrs[] = {
    {.name = "padding_idx", .type = NB_ATTR_INT, .def = {.i = NO_PADDING},
     .doc = "row whose entries get no gradient (negative counts from the end); default: none"},
};

const nb_op_desc op_embedding = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "embedding",
    .doc = "Embedding lookup, as F.embedding(input, weight, padding_idx): out[..., :] = "
           "weight[input[...], :]. The weight gradient sums the rows' gradients per index; the "
           "padding_idx row gets none. Indices out of range are an error.",
    .n_inputs = 2,
    .inputs = emb_inputs,
    .n_outputs = 1,
    .outputs = emb_outputs,
    .n_attrs = 1,
    .attrs = emb_attrs,
    .forward = emb_forward,
    .backward = emb_backward,
    .backward_graph = emb_backward_graph,
    .samples = emb_samples,
    .saves = "the indices",
};
