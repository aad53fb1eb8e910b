/* ops/norm/cumsum.c — "cumsum" along a dim, as torch.cumsum (floating dtypes): each
 * row along dim (norm.h's row layout) becomes its running sum, accumulated in double.
 * Backward: the reversed running sum of the gradient, dx_i = Σ_{j >= i} g_j.
 */
#include "norm.h"
#include "../common/graph_util.h"

typedef struct cs_job {
  int64_t R;
  bool reverse;
  const void *x;
  void *y;
} cs_job;

#define CS_KERNEL(T, SUF)                                                                   \
  static void run_##SUF(int64_t r0, int64_t r1, void *user) {                               \
    const cs_job *j = user;                                                                 \
    for (int64_t r = r0; r < r1; r++) {                                                     \
      const T *x = (const T *)j->x + r * j->R;                                              \
      T *y = (T *)j->y + r * j->R;                                                          \
      double s = 0;                                                                         \
      if (j->reverse)                                                                       \
        for (int64_t i = j->R - 1; i >= 0; i--) y[i] = (T)(s += x[i]);                      \
      else                                                                                  \
        for (int64_t i = 0; i < j->R; i++) y[i] = (T)(s += x[i]);                           \
    }                                                                                       \
  }
CS_KERNEL(float, f32)
CS_KERNEL(double, f64)

/* Running sums of t's rows along dim (reverse: from the end), in t's shape. */
static nb_tensor *running(nb_tensor *t, int64_t dim, bool reverse) {
  nb_ints dims = {1, {dim}};
  rows_plan p;
  if (rows_plan_init("cumsum", t, &dims, true, &p) < 0) return NULL;
  nb_tensor *x = rows_gather(t, &p);
  nb_tensor *y = x ? nb_empty(2, (int64_t[]){p.outer, p.R}, nb_dtype_of(t)) : NULL;
  if (!y) return NULL;
  cs_job j = {.R = p.R, .reverse = reverse, .x = nb_data(x), .y = nb_data(y)};
  nb_parallel_for(p.outer, rows_grain(p.R), nb_dtype_of(t) == NB_F32 ? run_f32 : run_f64, &j);
  return rows_scatter(y, &p);
}

static int cs_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, nb_tensor **out) {
  (void)ctx;
  out[0] = running(in[0], attrs[0].i, false);
  return out[0] ? 0 : nb_last_status();
}

static int cs_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  grad_in[0] = running(grad_out[0], nb_ctx_attrs(ctx)[0].i, true);
  return grad_in[0] ? 0 : nb_last_status();
}

/* Recorded: the reversed running sum, Σ_{j≥i} g_j = Σ g − cumsum(g)_i + g_i (cumsum
 * itself, so each further order is the same formula). */
static int cs_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *g = grad_out[0];
  int64_t dim = nb_ctx_attrs(ctx)[0].i;
  nb_tensor *tot = nb_ndim(g) == 0 ? g : gu_reduce("sum", g, 1, &dim, true);
  nb_tensor *cs = tot ? nb_call1("cumsum", 1, &g, 1, &NB_A_INT("dim", dim)) : NULL;
  nb_tensor *d = cs ? NB_CALL("sub", tot, cs) : NULL;
  grad_in[0] = d ? NB_CALL("add", d, g) : NULL;
  return grad_in[0] ? 0 : nb_last_status();
}

static int cs_samples(nb_sample_sink *s) {
  nb_generator *g = nb_sample_generator(s);
  int rc = 0;
  nb_tensor *a = nb_rand_range(2, (int64_t[]){3, 5}, -2, 2, NB_F64, g);
  rc |= nb_sample_add(s, "[3,5], dim -1", 1, &a, 1, &NB_A_INT("dim", -1), 0);
  nb_tensor *b = nb_rand_range(3, (int64_t[]){2, 4, 3}, -2, 2, NB_F64, g);
  rc |= nb_sample_add(s, "[2,4,3], dim 1", 1, &b, 1, &NB_A_INT("dim", 1), 0);
  nb_tensor *c = nb_rand_range(1, (int64_t[]){6}, -2, 2, NB_F64, g);
  rc |= nb_sample_add(s, "1-D", 1, &c, 1, &NB_A_INT("dim", 0), 0);
  nb_tensor *base = nb_rand_range(2, (int64_t[]){4, 3}, -2, 2, NB_F64, g);
  nb_tensor *d = nb_as_strided(base, 2, (int64_t[]){3, 4}, (int64_t[]){1, 3}, 0);
  rc |= nb_sample_add(s, "transposed view, dim 0", 1, &d, 1, &NB_A_INT("dim", 0), 0);
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_input_spec cs_inputs[] = {{"input", NB_DT_FLOAT, 0, "any floating tensor"}};
static const nb_output_spec cs_outputs[] = {{"out", 0, "input's shape and dtype"}};
static const nb_attr_spec cs_attrs[] = {
    {.name = "dim", .type = NB_ATTR_INT, .flags = NB_ATTR_REQUIRED, .doc = "dim to accumulate along"},
};

const nb_op_desc op_cumsum = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "cumsum",
    .doc = "Running sum along dim, as torch.cumsum (floating dtypes; sums in double). Gradient: "
           "the running sum of the output gradient taken from the end.",
    .n_inputs = 1,
    .inputs = cs_inputs,
    .n_outputs = 1,
    .outputs = cs_outputs,
    .n_attrs = 1,
    .attrs = cs_attrs,
    .forward = cs_forward,
    .backward = cs_backward,
    .backward_graph = cs_backward_graph,
    .samples = cs_samples,
    .saves = "nothing",
};
