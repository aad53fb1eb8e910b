/* ops/reduction/red_extreme_ops.c — forward, backward, schema pieces and samples shared
 * by max/min (over all elements) and max_dim/min_dim, plus sample builders for the
 * harness. */
#include <stdlib.h>
#include <string.h>

#include "reduce.h"
#include "../common/graph_util.h"

/* What max/min keep for backward besides the input. */
typedef struct ext_blob {
  double value;
  int64_t ties;
} ext_blob;

int red_extreme_all_forward(nb_ctx *ctx, nb_tensor *const *in, bool is_max, nb_tensor **out) {
  const char *op = nb_ctx_op_name(ctx);
  nb_tensor *x = in[0];
  if (nb_numel(x) == 0)
    return nb_set_error(NB_EINVAL,
                        "%s: cannot reduce an empty tensor of shape %s (%s) over all elements; "
                        "use %s_dim with a dim of non-zero size",
                        op, nb_shape_of(x), nb_dtype_name(nb_dtype_of(x)), op);
  ext_blob b = {0, 0};
  bool grad = nb_ctx_needs_input_grad(ctx, 0); /* ties are only needed for backward */
  int rc = red_extreme_all(x, is_max, &b.value, grad ? &b.ties : NULL);
  if (rc < 0) return rc;
  out[0] = nb_scalar(b.value, nb_dtype_of(x));
  if (!out[0]) return nb_last_status();
  if (grad) {
    if ((rc = nb_ctx_save(ctx, x)) < 0) return rc;
    if ((rc = nb_ctx_save_blob(ctx, &b, sizeof b)) < 0) return rc;
  }
  return 0;
}

/* grad_in = g / ties where x equals the extreme value (NaN matches NaN), else 0: the
 * gradient is split evenly among tied elements (PyTorch 2.x). */
int red_extreme_all_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  if (!nb_ctx_needs_input_grad(ctx, 0)) return 0;
  nb_tensor *x = nb_ctx_saved(ctx, 0);
  if (!x) return nb_last_status();
  size_t size = 0;
  const ext_blob *b = nb_ctx_blob(ctx, &size);
  if (!b || size != sizeof *b)
    return nb_set_error(NB_ESTATE, "%s backward: saved extreme value is missing",
                        nb_ctx_op_name(ctx));
  double g = nb_item(grad_out[0]);
  double share = g / (double)b->ties, m = b->value;
  bool m_nan = m != m;
  nb_tensor *gi = nb_empty_like(x);
  if (!gi) return nb_last_status();
  nb_iter it;
  if (nb_iter_init(&it, 2, (nb_tensor *[]){gi, x}) < 0) return nb_last_status();
  bool f32 = nb_dtype_of(x) == NB_F32;
  do {
    char *po = it.ptr[0], *px = it.ptr[1];
    for (int64_t k = 0; k < it.n; k++) {
      if (f32) {
        double v = *(const float *)(px + k * it.step[1]);
        *(float *)(po + k * it.step[0]) = (float)((v == m || (m_nan && v != v)) ? share : 0.0);
      } else {
        double v = *(const double *)(px + k * it.step[1]);
        *(double *)(po + k * it.step[0]) = (v == m || (m_nan && v != v)) ? share : 0.0;
      }
    }
  } while (nb_iter_next(&it));
  grad_in[0] = gi;
  return 0;
}

int red_extreme_dim_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                            bool is_max, nb_tensor **out) {
  const char *op = nb_ctx_op_name(ctx);
  nb_tensor *x = in[0];
  int ndim = nb_ndim(x);
  const int64_t *shape = nb_shape(x);
  int d = ops_wrap_dim(op, attrs[0].i, ndim, shape, false);
  if (d < 0) return d;
  if (ndim > 0 && shape[d] == 0)
    return nb_set_error(NB_EINVAL,
                        "%s: cannot reduce over dim %d of size 0 (input shape %s, %s)", op, d,
                        nb_shape_of(x), nb_dtype_name(nb_dtype_of(x)));
  uint32_t mask = ndim > 0 ? 1u << d : 0u;
  int64_t oshape[NB_MAX_DIMS];
  int ond = red_out_shape(ndim, shape, mask, attrs[1].i != 0, oshape);
  out[0] = nb_empty(ond, oshape, nb_dtype_of(x));
  out[1] = nb_empty(ond, oshape, NB_I64);
  if (!out[0] || !out[1]) return nb_last_status();
  int rc = red_extreme_dim(x, d, is_max, out[0], out[1]);
  if (rc < 0) return rc;
  if (nb_ctx_needs_input_grad(ctx, 0) && (rc = nb_ctx_save(ctx, out[1])) < 0) return rc;
  return 0;
}

/* The whole gradient goes to the selected index of every slice along dim. */
int red_extreme_dim_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  if (!nb_ctx_needs_input_grad(ctx, 0)) return 0;
  const char *op = nb_ctx_op_name(ctx);
  nb_tensor *idx = nb_ctx_saved(ctx, 0);
  if (!idx) return nb_last_status();
  int ndim;
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &ndim);
  nb_dtype dt = nb_ctx_input_dtype(ctx, 0);
  int d = ops_wrap_dim(op, nb_ctx_attrs(ctx)[0].i, ndim, shape, false);
  if (d < 0) return d;
  nb_tensor *g = grad_out[0];
  if (nb_dtype_of(g) != dt) g = nb_convert(g, dt);
  else if (!nb_is_contiguous(g)) g = nb_copy_data(g);
  if (g && !nb_is_contiguous(idx)) idx = nb_copy_data(idx);
  nb_tensor *gi = g && idx ? nb_zeros(ndim, shape, dt) : NULL;
  if (!gi) return nb_last_status();
  if (nb_numel(g) != nb_numel(idx))
    return nb_set_error(NB_ESHAPE, "%s backward: gradient %s does not match indices %s", op,
                        nb_shape_of(g), nb_shape_of(idx));
  /* input as [A, n, B] around dim d; output index o = a * B + b */
  int64_t A = 1, n = ndim > 0 ? shape[d] : 1, B = 1;
  for (int i = 0; i < d; i++) A *= shape[i];
  for (int i = d + 1; i < ndim; i++) B *= shape[i];
  const int64_t *ix = nb_data(idx);
  for (int64_t a = 0; a < A; a++) {
    for (int64_t b = 0; b < B; b++) {
      int64_t o = a * B + b, pos = (a * n + ix[o]) * B + b;
      if (dt == NB_F32)
        ((float *)nb_data(gi))[pos] = ((const float *)nb_data(g))[o];
      else
        ((double *)nb_data(gi))[pos] = ((const double *)nb_data(g))[o];
    }
  }
  grad_in[0] = gi;
  return 0;
}

/* ---- schema pieces shared by max/min and by max_dim/min_dim ------------------------------ */

const nb_input_spec red_extreme_all_inputs[1] = {
    {"input", NB_DT_FLOAT, 0, "non-empty tensor (float32 or float64)"}};

const nb_input_spec red_extreme_dim_inputs[1] = {
    {"input", NB_DT_FLOAT, 0, "tensor (float32 or float64); the dim must not be empty"}};
const nb_attr_spec red_extreme_dim_attrs[2] = {
    {.name = "dim",
     .type = NB_ATTR_INT,
     .flags = NB_ATTR_REQUIRED,
     .doc = "dim to reduce (negative counts from the end)"},
    {.name = "keepdim",
     .type = NB_ATTR_BOOL,
     .def = {.i = 0},
     .doc = "keep the reduced dim as size 1 in both outputs"},
};

/* ---- samples --------------------------------------------------------------------------- */

/* Samples draw from one generator, so they are made one statement at a time: the order
 * of calls inside an initializer list is unspecified in C, and the reference data
 * depends on it. */
int red_extreme_all_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  static const struct {
    const char *desc;
    int ndim;
    int64_t shape[2];
    bool transposed;
  } s[] = {{"[3,4]", 2, {3, 4}, false},
           {"[7]", 1, {7}, false},
           {"transposed [5,3]", 2, {3, 5}, true},
           {"0-d", 0, {0}, false}};
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
    nb_tensor *x = red_distinct_sample(g, s[i].ndim, s[i].shape);
    if (x && s[i].transposed) x = red_transposed_sample(x);
    if (!x) return nb_last_status();
    int rc = nb_sample_add(sink, s[i].desc, 1, &x, 0, NULL, 0);
    if (rc < 0) return rc;
  }
  return 0;
}

int red_extreme_dim_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  static const struct {
    const char *desc;
    int ndim;
    int64_t shape[3];
    bool transposed;
    int64_t dim;
    bool keepdim;
  } s[] = {
      {"[3,4] dim 1", 2, {3, 4}, false, 1, false},
      {"[3,4] dim 0, keepdim", 2, {3, 4}, false, 0, true},
      {"[2,3,4] dim -2", 3, {2, 3, 4}, false, -2, false},
      {"[2,3,4] dim -1, keepdim", 3, {2, 3, 4}, false, -1, true},
      {"transposed [5,3] dim 0", 2, {3, 5}, true, 0, false},
      {"transposed [5,3] dim 1, keepdim", 2, {3, 5}, true, 1, true},
      {"0-d, dim 0", 0, {0}, false, 0, false},
  };
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
    nb_tensor *x = red_distinct_sample(g, s[i].ndim, s[i].shape);
    if (x && s[i].transposed) x = red_transposed_sample(x);
    if (!x) return nb_last_status();
    nb_attr a[] = {NB_A_INT("dim", s[i].dim), NB_A_BOOL("keepdim", s[i].keepdim)};
    int rc = nb_sample_add(sink, s[i].desc, 1, &x, 2, a, 0);
    if (rc < 0) return rc;
  }
  return 0;
}

nb_tensor *red_distinct_sample(nb_generator *g, int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
  if (!v) {
    nb_set_error(NB_ENOMEM, "samples: out of memory");
    return NULL;
  }
  for (int64_t i = 0; i < n; i++)
    v[i] = ((double)i - (double)n / 2.0) * 0.1 + 0.05 * nb_generator_uniform(g);
  for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates shuffle */
    int64_t k = (int64_t)(nb_generator_u64(g) % (uint64_t)(i + 1));
    double t = v[i];
    v[i] = v[k];
    v[k] = t;
  }
  nb_tensor *t = nb_from_data(v, ndim, shape, NB_F64);
  free(v);
  return t;
}

nb_tensor *red_transposed_sample(nb_tensor *fresh2d) {
  if (!fresh2d) return NULL;
  const int64_t *s = nb_shape(fresh2d);
  /* a fresh tensor starts at storage offset 0, so the offset argument is 0 either way */
  return nb_as_strided(fresh2d, 2, (int64_t[]){s[1], s[0]}, (int64_t[]){1, s[1]}, 0);
}

/* g broadcast over the input (reshaped to keep the reduced dim first, for max_dim) times
 * the selection mask, which is the plain backward at g = ones: recorded through g. */
int red_extreme_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  if (!nb_ctx_needs_input_grad(ctx, 0)) return 0;
  bool along_dim = nb_ctx_saved(ctx, 0) && nb_dtype_of(nb_ctx_saved(ctx, 0)) == NB_I64;
  nb_tensor *m = gu_mask(ctx, along_dim ? red_extreme_dim_backward : red_extreme_all_backward,
                         grad_out[0], 0);
  if (!m) return nb_last_status();
  nb_tensor *g = grad_out[0];
  if (along_dim) {
    int ndim;
    const int64_t *shape = nb_ctx_input_shape(ctx, 0, &ndim);
    int d = ops_wrap_dim(nb_ctx_op_name(ctx), nb_ctx_attrs(ctx)[0].i, ndim, shape, false);
    if (d < 0) return d;
    int64_t kept[NB_MAX_DIMS];
    for (int k = 0; k < ndim; k++) kept[k] = k == d ? 1 : shape[k];
    g = gu_reshape(g, ndim, kept);
  }
  grad_in[0] = g ? NB_CALL("mul", g, m) : NULL;
  return grad_in[0] ? 0 : nb_last_status();
}
