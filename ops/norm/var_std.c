/* ops/norm/var_std.c — "var" and "std" over dims, as torch.var / torch.std with the
 * unbiased flag (divide by R − 1, else R) and keepdim. Rows (norm.h) are reduced in
 * parallel, in double: mean first, then Σ(x − mean)² (two passes, no cancellation).
 * Backward: var dx = g·2(x − mean)/(R − c); std dx = g·(x − mean)/((R − c)·std), 0 where
 * std is 0 (PyTorch masks it the same way). R − c = 0 gives nan (0/0) as PyTorch.
 */
#include "norm.h"
#include "../common/graph_util.h"

#include <math.h>

typedef struct vs_job {
  int64_t R;
  double denom; /* R − correction */
  bool is_std;
  const void *x, *g, *y; /* rows, output gradient (one per row), saved output */
  void *out;             /* forward: one value per row; backward: dx rows */
} vs_job;

#define VS_KERNELS(T, SUF)                                                                  \
  static double mean_##SUF(const T *x, int64_t R) {                                         \
    double s = 0;                                                                           \
    for (int64_t i = 0; i < R; i++) s += x[i];                                              \
    return R > 0 ? s / (double)R : NAN;                                                     \
  }                                                                                         \
  static void fwd_##SUF(int64_t r0, int64_t r1, void *user) {                               \
    const vs_job *j = user;                                                                 \
    for (int64_t r = r0; r < r1; r++) {                                                     \
      const T *x = (const T *)j->x + r * j->R;                                              \
      double m = mean_##SUF(x, j->R), ss = 0;                                               \
      for (int64_t i = 0; i < j->R; i++) ss += ((double)x[i] - m) * ((double)x[i] - m);     \
      double v = ss / j->denom;                                                             \
      ((T *)j->out)[r] = (T)(j->is_std ? sqrt(v) : v);                                      \
    }                                                                                       \
  }                                                                                         \
  static void bwd_##SUF(int64_t r0, int64_t r1, void *user) {                               \
    const vs_job *j = user;                                                                 \
    for (int64_t r = r0; r < r1; r++) {                                                     \
      const T *x = (const T *)j->x + r * j->R;                                              \
      T *dx = (T *)j->out + r * j->R;                                                       \
      double m = mean_##SUF(x, j->R), g = ((const T *)j->g)[r], c;                          \
      if (j->is_std) {                                                                      \
        double sd = ((const T *)j->y)[r];                                                   \
        c = sd == 0 ? 0 : g / (j->denom * sd);                                              \
      } else {                                                                              \
        c = 2 * g / j->denom;                                                               \
      }                                                                                     \
      for (int64_t i = 0; i < j->R; i++) dx[i] = (T)(c * ((double)x[i] - m));               \
    }                                                                                       \
  }
VS_KERNELS(float, f32)
VS_KERNELS(double, f64)

static int vs_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                      nb_tensor **out, bool is_std) {
  const char *op = is_std ? "std" : "var";
  rows_plan p;
  if (rows_plan_init(op, in[0], &attrs[0].ints, attrs[2].i != 0, &p) < 0) return nb_last_status();
  nb_tensor *x = rows_gather(in[0], &p);
  nb_tensor *y = x ? nb_empty(p.out_ndim, p.out_shape, nb_dtype_of(x)) : NULL;
  if (!y) return nb_last_status();
  vs_job j = {.R = p.R, .denom = (double)p.R - (attrs[1].i ? 1.0 : 0.0), .is_std = is_std,
              .x = nb_data(x), .out = nb_data(y)};
  nb_parallel_for(p.outer, rows_grain(p.R), nb_dtype_of(x) == NB_F32 ? fwd_f32 : fwd_f64, &j);
  if (nb_ctx_save(ctx, in[0]) < 0 || (is_std && nb_ctx_save(ctx, y) < 0)) return nb_last_status();
  out[0] = y;
  return 0;
}

static int vs_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in, bool is_std) {
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  nb_tensor *x0 = nb_ctx_saved(ctx, 0), *y = is_std ? nb_ctx_saved(ctx, 1) : NULL;
  if (!x0 || (is_std && !y)) return nb_last_status();
  rows_plan p;
  if (rows_plan_init(is_std ? "std" : "var", x0, &attrs[0].ints, attrs[2].i != 0, &p) < 0)
    return nb_last_status();
  nb_tensor *x = rows_gather(x0, &p), *g = ops_contig(grad_out[0]);
  if (is_std) y = ops_contig(y);
  nb_tensor *dx = x && g && (y || !is_std) ? nb_empty(2, (int64_t[]){p.outer, p.R}, nb_dtype_of(x)) : NULL;
  if (!dx) return nb_last_status();
  vs_job j = {.R = p.R, .denom = (double)p.R - (attrs[1].i ? 1.0 : 0.0), .is_std = is_std,
              .x = nb_data(x), .g = nb_data(g), .y = y ? nb_data(y) : NULL, .out = nb_data(dx)};
  nb_parallel_for(p.outer, rows_grain(p.R), nb_dtype_of(x) == NB_F32 ? bwd_f32 : bwd_f64, &j);
  grad_in[0] = rows_scatter(dx, &p);
  return grad_in[0] ? 0 : nb_last_status();
}

static int var_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, nb_tensor **out) {
  return vs_forward(ctx, in, attrs, out, false);
}
static int var_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return vs_backward(ctx, grad_out, grad_in, false);
}
static int std_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, nb_tensor **out) {
  return vs_forward(ctx, in, attrs, out, true);
}
static int std_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return vs_backward(ctx, grad_out, grad_in, true);
}

/* Recorded, the same formulas from the saved input (and output for std), with the
 * gradient and output given their kept dims so they broadcast over the rows:
 * var dx = g·2(x − mean)/(R − c); std dx = g·(x − mean)/((R − c)·std), 0 where std is 0
 * (a where(); the divisor there is 1, so no inf reaches the branch it drops). */
static int vs_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in, bool is_std) {
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  nb_tensor *x = nb_ctx_saved(ctx, 0), *y = is_std ? nb_ctx_saved(ctx, 1) : NULL, *g = NULL;
  if (!x || (is_std && !y)) return nb_last_status();
  rows_plan p;
  int64_t red[NB_MAX_DIMS];
  int n = rows_graph_plan(is_std ? "std" : "var", x, &attrs[0].ints, &p, red, grad_out[0], &g);
  if (n < 0) return n;
  double denom = (double)p.R - (attrs[1].i ? 1.0 : 0.0);
  nb_tensor *m = gu_reduce("mean", x, n, red, true);
  nb_tensor *xc = m ? NB_CALL("sub", x, m) : NULL;
  nb_tensor *gx = xc ? NB_CALL("mul", g, xc) : NULL;
  if (!gx) return nb_last_status();
  if (!is_std) {
    grad_in[0] = gu_scalar("mul", gx, 2.0 / denom);
    return grad_in[0] ? 0 : nb_last_status();
  }
  nb_tensor *yk = gu_reshape(y, p.out_ndim, p.out_shape);
  nb_tensor *zero = yk ? gu_scalar("eq", yk, 0.0) : NULL;
  nb_tensor *one = zero ? nb_op_scalar_operand(1, nb_dtype_of(x)) : NULL;
  nb_tensor *ys = one ? NB_CALL("where", zero, one, yk) : NULL;
  nb_release(one);
  nb_tensor *q = ys ? NB_CALL("div", gx, ys) : NULL;
  nb_tensor *qs = q ? gu_scalar("mul", q, 1.0 / denom) : NULL;
  nb_tensor *z = qs ? nb_op_scalar_operand(0, nb_dtype_of(x)) : NULL;
  grad_in[0] = z ? NB_CALL("where", zero, z, qs) : NULL;
  nb_release(z);
  return grad_in[0] ? 0 : nb_last_status();
}
static int var_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return vs_backward_graph(ctx, grad_out, grad_in, false);
}
static int std_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return vs_backward_graph(ctx, grad_out, grad_in, true);
}

static int vs_samples(nb_sample_sink *s) {
  nb_generator *g = nb_sample_generator(s);
  int rc = 0;
#define ADD(desc, x, ...) \
  rc |= nb_sample_add(s, desc, 1, (nb_tensor *[]){x}, \
                      sizeof((nb_attr[]){__VA_ARGS__}) / sizeof(nb_attr), (nb_attr[]){__VA_ARGS__}, 0)
  ADD("all dims", nb_rand_range(2, (int64_t[]){3, 4}, -2, 2, NB_F64, g), NB_A_BOOL("unbiased", true));
  ADD("dim [1], biased", nb_rand_range(3, (int64_t[]){2, 3, 4}, -2, 2, NB_F64, g), NB_A_INTS("dim", 1),
      NB_A_BOOL("unbiased", false));
  ADD("dims [-1, 0], keepdim", nb_rand_range(3, (int64_t[]){2, 3, 4}, -2, 2, NB_F64, g),
      NB_A_INTS("dim", -1, 0), NB_A_BOOL("keepdim", true));
  ADD("last dim", nb_rand_range(2, (int64_t[]){4, 5}, -2, 2, NB_F64, g), NB_A_INTS("dim", -1));
  nb_tensor *base = nb_rand_range(2, (int64_t[]){4, 3}, -2, 2, NB_F64, g);
  ADD("transposed view, dim [0]", nb_as_strided(base, 2, (int64_t[]){3, 4}, (int64_t[]){1, 3}, 0),
      NB_A_INTS("dim", 0));
#undef ADD
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_input_spec vs_inputs[] = {{"input", NB_DT_FLOAT, 0, "any floating tensor"}};
static const nb_output_spec vs_outputs[] = {{"out", 0, "input's shape without (or with size 1 for) the reduced dims"}};
static const nb_attr_spec vs_attrs[] = {
    NORM_DIM_ATTR,
    {.name = "unbiased", .type = NB_ATTR_BOOL, .def = {.i = 1},
     .doc = "divide by N − 1 (Bessel's correction) instead of N"},
    NORM_KEEPDIM_ATTR,
};

const nb_op_desc op_var = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "var",
    .doc = "Variance over dims (all when absent), as torch.var(input, dim, unbiased, keepdim): "
           "Σ(x − mean)²/(N − 1), or /N when unbiased is false. Gradient 2(x − mean)/(N − 1)·g.",
    .n_inputs = 1,
    .inputs = vs_inputs,
    .n_outputs = 1,
    .outputs = vs_outputs,
    .n_attrs = 3,
    .attrs = vs_attrs,
    .forward = var_forward,
    .backward = var_backward,
    .backward_graph = var_backward_graph,
    .samples = vs_samples,
    .saves = "the input",
};

const nb_op_desc op_std = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "std",
    .doc = "Standard deviation over dims (all when absent), as torch.std(input, dim, unbiased, "
           "keepdim): the square root of var. Gradient (x − mean)/((N − 1)·std)·g, 0 where std "
           "is 0.",
    .n_inputs = 1,
    .inputs = vs_inputs,
    .n_outputs = 1,
    .outputs = vs_outputs,
    .n_attrs = 3,
    .attrs = vs_attrs,
    .forward = std_forward,
    .backward = std_backward,
    .backward_graph = std_backward_graph,
    .samples = vs_samples,
    .saves = "the input and the output",
};
