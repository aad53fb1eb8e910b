/* ops/index/topk.c — "topk": the k largest (or smallest) values along a dim and their
 * int64 positions (torch.topk). Two outputs; the indices are not differentiable. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"

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
  entry *e = idx ? nb_scratch(0, (size_t)(n > 0 ? n : 1) * sizeof *e) : NULL;
  if (!e) return idx ? nb_set_error(NB_ENOMEM, "topk: out of memory") : nb_last_status();
  size_t es = nb_dtype_size(dt);
  const char *src = nb_data(c);
  char *vp = nb_data(vals);
  int64_t *ip = nb_data(idx);
  for (int64_t a = 0; a < outer; a++)
    for (int64_t b = 0; b < inner; b++) {
      for (int64_t j = 0; j < n; j++) {
        e[j].v = load(src + (size_t)((a * n + j) * inner + b) * es, dt);
        e[j].i = j;
      }
      qsort(e, (size_t)n, sizeof *e, attrs[2].i ? by_largest : by_smallest);
      for (int64_t j = 0; j < k; j++) {
        int64_t o = (a * k + j) * inner + b;
        memcpy(vp + (size_t)o * es, src + (size_t)((a * n + e[j].i) * inner + b) * es, es);
        ip[o] = e[j].i;
      }
    }
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
  return idx_add_sample(sink, "[2,6,2] k 1 dim 1", 1,
                        (nb_tensor *[]){distinct(sink, 3, (int64_t[]){2, 6, 2})}, 2,
                        (nb_attr[]){NB_A_INT("k", 1), NB_A_INT("dim", 1)}, 0);
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
    .samples = topk_samples,
    .saves = "the indices when input needs a gradient",
};
