/* ops/index/topk.c — "topk": the k largest (or smallest) values along a dim and their
 * int64 positions (torch.topk). Two outputs; the indices are not differentiable. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "../common/graph_util.h"

typedef struct entry {
  double v;
  int64_t i;
} entry;

/* Order for "largest": NaN first (PyTorch treats NaN as the largest), then descending
 * values, ties by position. */
static int by_largest(const void *pa, const void *pb) {
  const entry *a = pa, *b = pb;
  bool na = isnan(a->v), nb = isnan(b->v);
  if (na != nb) return na ? -1 : 1;
  if (!na && a->v != b->v) return a->v > b->v ? -1 : 1;
  return (a->i > b->i) - (a->i < b->i);
}
/* Order for "smallest": ascending values, NaN last, ties by position. */
static int by_smallest(const void *pa, const void *pb) {
  const entry *a = pa, *b = pb;
  bool na = isnan(a->v), nb = isnan(b->v);
  if (na != nb) return na ? 1 : -1;
  if (!na && a->v != b->v) return a->v < b->v ? -1 : 1;
  return (a->i > b->i) - (a->i < b->i);
}

static double load(const char *p, nb_dtype dt) {
  switch (dt) {
  case NB_F32: return *(const float *)p;
  case NB_F64: return *(const double *)p;
  default: return (double)*(const int64_t *)p;
  }
}

typedef struct topk_job {
  const char *src;
  char *vals;
  int64_t *idx;
  int64_t n, k, inner;
  size_t es;
  nb_dtype dt;
  int (*cmp)(const void *, const void *);
  int failed; /* set when a thread could not get its scratch */
} topk_job;

/* The k best of e[0..n) into e[0..k), best first: insertion into a sorted prefix when k
 * is small next to n (one pass, O(n k)), else a full sort. */
static void best_k(entry *e, int64_t n, int64_t k, int (*cmp)(const void *, const void *)) {
  if (k * 8 > n) {
    qsort(e, (size_t)n, sizeof *e, cmp);
    return;
  }
  int64_t have = 0;
  for (int64_t j = 0; j < n; j++) {
    if (have == k && cmp(&e[j], &e[k - 1]) >= 0) continue;
    entry v = e[j];
    int64_t p = have < k ? have++ : k - 1;
    while (p > 0 && cmp(&v, &e[p - 1]) < 0) {
      e[p] = e[p - 1];
      p--;
    }
    e[p] = v;
  }
}

/* Slices [begin, end) of the (outer, inner) positions around dim. */
static void topk_slices(int64_t begin, int64_t end, void *user) {
  topk_job *J = user;
  entry *e = nb_scratch(0, (size_t)(J->n > 0 ? J->n : 1) * sizeof *e); /* per thread */
  if (!e) {
    __atomic_store_n(&J->failed, 1, __ATOMIC_RELAXED);
    return;
  }
  for (int64_t s = begin; s < end; s++) {
    int64_t a = s / J->inner, b = s % J->inner;
    for (int64_t j = 0; j < J->n; j++) {
      e[j].v = load(J->src + (size_t)((a * J->n + j) * J->inner + b) * J->es, J->dt);
      e[j].i = j;
    }
    best_k(e, J->n, J->k, J->cmp);
    for (int64_t j = 0; j < J->k; j++) {
      int64_t o = (a * J->k + j) * J->inner + b;
      memcpy(J->vals + (size_t)o * J->es,
             J->src + (size_t)((a * J->n + e[j].i) * J->inner + b) * J->es, J->es);
      J->idx[o] = e[j].i;
    }
  }
}

static int topk_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  nb_tensor *x = in[0];
  int nd = nb_ndim(x);
  int64_t one = 1;
  const int64_t *xshape = nd ? nb_shape(x) : &one;
  int dim = ops_wrap_dim("topk", attrs[1].i, nd, nb_shape(x), false);
  if (dim < 0) return dim;
  int64_t k = attrs[0].i, n = nd ? xshape[dim] : 1;
  if (k > n)
    return nb_set_error(NB_EINVAL, "topk: k %lld is out of range for dim %d of size %lld",
                        (long long)k, dim, (long long)n);
  int64_t shape[NB_MAX_DIMS], outer = 1, inner = 1;
  for (int d = 0; d < nd; d++) {
    shape[d] = d == dim ? k : xshape[d];
    if (d < dim) outer *= xshape[d];
    if (d > dim) inner *= xshape[d];
  }
  nb_dtype dt = nb_dtype_of(x);
  nb_tensor *c = ops_contig(x);
  nb_tensor *vals = c ? nb_empty(nd, shape, dt) : NULL;
  nb_tensor *idx = vals ? nb_empty(nd, shape, NB_I64) : NULL;
  if (!idx) return nb_last_status();
  topk_job J = {nb_data(c), nb_data(vals), nb_data(idx), n, k, inner, nb_dtype_size(dt), dt,
                attrs[2].i ? by_largest : by_smallest, 0};
  nb_parallel_for(outer * inner, 1 + NB_PARALLEL_GRAIN / (n > 0 ? n : 1), topk_slices, &J);
  if (J.failed)
    return nb_set_error(NB_ENOMEM, "topk: out of memory for a slice of %lld", (long long)n);
  if (nb_ctx_needs_input_grad(ctx, 0) && nb_ctx_save(ctx, idx) < 0) return nb_last_status();
  out[0] = vals;
  out[1] = idx;
  return 0;
}

/* Zeros of the input's shape with the values' gradient added at the indices. */
static int topk_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *idx = nb_ctx_saved(ctx, 0);
  if (!idx) return nb_last_status();
  int nd;
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &nd);
  int dim = ops_wrap_dim("topk", nb_ctx_attrs(ctx)[1].i, nd, shape, false);
  if (dim < 0) return dim;
  nb_tensor *z = nb_zeros(nd, shape, nb_dtype_of(grad_out[0]));
  if (!z) return nb_last_status();
  if (nd == 0) { /* a 0-d input: k is 0 or 1 */
    if (nb_numel(idx) && nb_copy_into(z, grad_out[0]) < 0) return nb_last_status();
  } else {
    idx_scatter_add_into(z, dim, idx, grad_out[0]);
  }
  grad_in[0] = z;
  return 0;
}

/* float64 sample with distinct values (a shuffled ramp), so the selection is stable
 * under finite differences and in float32. */
static nb_tensor *distinct(nb_sample_sink *sink, int nd, const int64_t *shape) {
  nb_tensor *t = idx_rand(sink, nd, shape);
  if (!t) return NULL;
  double *v = nb_data(t);
  int64_t n = nb_numel(t);
  for (int64_t i = 0; i < n; i++) v[i] = -2 + 4.0 * (double)((i * 7 + 3) % n) / (double)n;
  return t;
}

static int topk_samples(nb_sample_sink *sink) {
  int rc;
  if ((rc = idx_add_sample(sink, "[3,5] k 2 largest", 1,
                           (nb_tensor *[]){distinct(sink, 2, (int64_t[]){3, 5})}, 1,
                           (nb_attr[]){NB_A_INT("k", 2)}, 0)) < 0)
    return rc;
  if ((rc = idx_add_sample(sink, "[4,3] k 3 dim 0 smallest", 1,
                           (nb_tensor *[]){distinct(sink, 2, (int64_t[]){4, 3})}, 3,
                           (nb_attr[]){NB_A_INT("k", 3), NB_A_INT("dim", 0),
                                       NB_A_BOOL("largest", false)},
                           0)) < 0)
    return rc;
  if ((rc = idx_add_sample(sink, "[2,6,2] k 1 dim 1", 1,
                           (nb_tensor *[]){distinct(sink, 3, (int64_t[]){2, 6, 2})}, 2,
                           (nb_attr[]){NB_A_INT("k", 1), NB_A_INT("dim", 1)}, 0)) < 0)
    return rc;
  /* k small next to the dim: the one-pass insertion path */
  return idx_add_sample(sink, "[2,20] k 2 smallest", 1,
                        (nb_tensor *[]){distinct(sink, 2, (int64_t[]){2, 20})}, 2,
                        (nb_attr[]){NB_A_INT("k", 2), NB_A_BOOL("largest", false)}, 0);
}

/* Recorded: the values' gradient scattered to the saved positions of zeros. */
static int topk_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *idx = nb_ctx_saved(ctx, 0), *g = grad_out[0];
  if (!idx) return nb_last_status();
  int nd;
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &nd);
  int dim = ops_wrap_dim("topk", nb_ctx_attrs(ctx)[1].i, nd, shape, false);
  if (dim < 0) return dim;
  if (nd == 0) /* a 0-d input: k is 0 or 1 */
    grad_in[0] = nb_numel(idx) ? gu_reshape(g, 0, NULL) : nb_zeros(0, NULL, nb_dtype_of(g));
  else
    grad_in[0] = idx_scatter_graph(g, nd, shape, dim, idx);
  return grad_in[0] ? 0 : nb_last_status();
}

static const nb_input_spec topk_inputs[] = {
    {"input", NB_DT_FLOAT | NB_DT_I64, 0, "tensor"}};
static const nb_output_spec topk_outputs[] = {
    {"values", 0, "the k selected values along dim, best first"},
    {"indices", NB_OUT_NONDIFF, "int64 positions of those values along dim"},
};
static const nb_attr_spec topk_attrs[] = {
    {.name = "k", .type = NB_ATTR_INT, .flags = NB_ATTR_REQUIRED | NB_ATTR_HAS_MIN, .min = 0,
     .doc = "how many values, at most dim's size"},
    {.name = "dim", .type = NB_ATTR_INT, .def = {.i = -1}, .doc = "dim to select along"},
    {.name = "largest", .type = NB_ATTR_BOOL, .def = {.i = 1},
     .doc = "the largest values (else the smallest)"},
};

const nb_op_desc op_topk = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "topk",
    .doc = "The k largest (or smallest) values along a dim and their int64 positions, like "
           "torch.topk with sorted=True: best first, equal values by position, NaN counted "
           "as the largest. Two outputs; the indices are not differentiable. Gradient: the "
           "values' gradient added at the selected positions of zeros.",
    .n_inputs = 1,
    .inputs = topk_inputs,
    .n_outputs = 2,
    .outputs = topk_outputs,
    .n_attrs = 3,
    .attrs = topk_attrs,
    .forward = topk_forward,
    .backward = topk_backward,
    .backward_graph = topk_backward_graph,
    .samples = topk_samples,
    .saves = "the indices when input needs a gradient",
};
