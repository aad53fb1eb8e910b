/* ops/norm/logsumexp.c — "logsumexp" over dims, as torch.logsumexp: m + log Σ e^(x − m)
 * with m the row's max (stable; sums in double). A row of -inf gives -inf, a row holding
 * +inf gives +inf. Backward: dx = g·e^(x − y) from the saved input and output.
 */
#include "norm.h"
#include "../common/graph_util.h"

#include <math.h>

typedef struct lse_job {
  int64_t R;
  const void *x, *g, *y;
  void *out;
} lse_job;

#define LSE_KERNELS(T, SUF)                                                                 \
  static void fwd_##SUF(int64_t r0, int64_t r1, void *user) {                               \
    const lse_job *j = user;                                                                \
    for (int64_t r = r0; r < r1; r++) {                                                     \
      const T *x = (const T *)j->x + r * j->R;                                              \
      double m = -INFINITY, s = 0;                                                          \
      for (int64_t i = 0; i < j->R; i++)                                                    \
        if (x[i] > m || isnan(x[i])) m = x[i];                                              \
      if (isinf(m)) {                                                                       \
        ((T *)j->out)[r] = (T)m;                                                            \
        continue;                                                                           \
      }                                                                                     \
      for (int64_t i = 0; i < j->R; i++) s += exp((double)x[i] - m);                        \
      ((T *)j->out)[r] = (T)(m + log(s));                                                   \
    }                                                                                       \
  }                                                                                         \
  static void bwd_##SUF(int64_t r0, int64_t r1, void *user) {                               \
    const lse_job *j = user;                                                                \
    for (int64_t r = r0; r < r1; r++) {                                                     \
      const T *x = (const T *)j->x + r * j->R;                                              \
      T *dx = (T *)j->out + r * j->R;                                                       \
      double y = ((const T *)j->y)[r], g = ((const T *)j->g)[r];                            \
      for (int64_t i = 0; i < j->R; i++) dx[i] = (T)(g * exp((double)x[i] - y));             \
    }                                                                                       \
  }
LSE_KERNELS(float, f32)
LSE_KERNELS(double, f64)

static int lse_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  rows_plan p;
  if (rows_plan_init("logsumexp", in[0], &attrs[0].ints, attrs[1].i != 0, &p) < 0)
    return nb_last_status();
  nb_tensor *x = rows_gather(in[0], &p);
  nb_tensor *y = x ? nb_empty(p.out_ndim, p.out_shape, nb_dtype_of(x)) : NULL;
  if (!y) return nb_last_status();
  lse_job j = {.R = p.R, .x = nb_data(x), .out = nb_data(y)};
  nb_parallel_for(p.outer, rows_grain(p.R), nb_dtype_of(x) == NB_F32 ? fwd_f32 : fwd_f64, &j);
  if (nb_ctx_save(ctx, in[0]) < 0 || nb_ctx_save(ctx, y) < 0) return nb_last_status();
  out[0] = y;
  return 0;
}

static int lse_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  nb_tensor *x0 = nb_ctx_saved(ctx, 0), *y = nb_ctx_saved(ctx, 1);
  if (!x0 || !y) return nb_last_status();
  rows_plan p;
  if (rows_plan_init("logsumexp", x0, &attrs[0].ints, attrs[1].i != 0, &p) < 0) return nb_last_status();
  nb_tensor *x = rows_gather(x0, &p), *g = ops_contig(grad_out[0]);
  y = ops_contig(y);
  nb_tensor *dx = x && g && y ? nb_empty(2, (int64_t[]){p.outer, p.R}, nb_dtype_of(x)) : NULL;
  if (!dx) return nb_last_status();
  lse_job j = {.R = p.R, .x = nb_data(x), .g = nb_data(g), .y = nb_data(y), .out = nb_data(dx)};
  nb_parallel_for(p.outer, rows_grain(p.R), nb_dtype_of(x) == NB_F32 ? bwd_f32 : bwd_f64, &j);
  grad_in[0] = rows_scatter(dx, &p);
  return grad_in[0] ? 0 : nb_last_status();
}

/* Recorded: dx = g·e^(x − y), g and y given their kept dims. */
static int lse_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  nb_tensor *x = nb_ctx_saved(ctx, 0), *y = nb_ctx_saved(ctx, 1), *g = NULL;
  if (!x || !y) return nb_last_status();
  rows_plan p;
  int64_t red[NB_MAX_DIMS];
  if (rows_graph_plan("logsumexp", x, &attrs[0].ints, &p, red, grad_out[0], &g) < 0) return nb_last_status();
  nb_tensor *yk = gu_reshape(y, p.out_ndim, p.out_shape);
  nb_tensor *d = yk ? NB_CALL("sub", x, yk) : NULL;
  nb_tensor *e = d ? NB_CALL("exp", d) : NULL;
  grad_in[0] = e ? NB_CALL("mul", g, e) : NULL;
  return grad_in[0] ? 0 : nb_last_status();
}

static int lse_samples(nb_sample_sink *s) {
  nb_generator *g = nb_sample_generator(s);
  int rc = 0;
  nb_tensor *a = nb_rand_range(2, (int64_t[]){3, 5}, -3, 3, NB_F64, g);
  rc |= nb_sample_add(s, "last dim", 1, &a, 1, &NB_A_INTS("dim", -1), 0);
  nb_tensor *b = nb_rand_range(3, (int64_t[]){2, 3, 4}, -3, 3, NB_F64, g);
  rc |= nb_sample_add(s, "dims [0, 2], keepdim", 1, &b, 2,
                      (nb_attr[]){NB_A_INTS("dim", 0, 2), NB_A_BOOL("keepdim", true)}, 0);
  nb_tensor *c = nb_rand_range(1, (int64_t[]){6}, -20, 20, NB_F64, g);
  rc |= nb_sample_add(s, "1-D, wide range", 1, &c, 1, &NB_A_INTS("dim", 0), 0);
  nb_tensor *d = nb_rand_range(2, (int64_t[]){4, 3}, -3, 3, NB_F64, g);
  rc |= nb_sample_add(s, "dim [0]", 1, &d, 1, &NB_A_INTS("dim", 0), 0);
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_input_spec lse_inputs[] = {{"input", NB_DT_FLOAT, 0, "any floating tensor"}};
static const nb_output_spec lse_outputs[] = {{"out", 0, "input's shape without (or with size 1 for) the reduced dims"}};
static const nb_attr_spec lse_attrs[] = {NORM_DIM_ATTR, NORM_KEEPDIM_ATTR};

const nb_op_desc op_logsumexp = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "logsumexp",
    .doc = "log Σ exp(x) over dims (all when absent), as torch.logsumexp, computed stably as "
           "max + log Σ exp(x − max). Gradient g·exp(x − out), i.e. g·softmax(x).",
    .n_inputs = 1,
    .inputs = lse_inputs,
    .n_outputs = 1,
    .outputs = lse_outputs,
    .n_attrs = 2,
    .attrs = lse_attrs,
    .forward = lse_forward,
    .backward = lse_backward,
    .backward_graph = lse_backward_graph,
    .samples = lse_samples,
    .saves = "the input and the output",
};
