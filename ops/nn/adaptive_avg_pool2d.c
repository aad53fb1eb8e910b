/* ops/nn/adaptive_avg_pool2d.c — "adaptive_avg_pool2d": PyTorch's
 * F.adaptive_avg_pool2d. Output cell o of a dim of input size I and output size O
 * averages [floor(o·I/O), ceil((o+1)·I/O)); backward spreads g/count over that window.
 * A 1×1 output in float32 (global average pooling, the ResNet head) takes a direct
 * plane loop computing the same values as the window tables (sum in double in order).
 */
#include "nn_util.h"
#include "../common/graph_util.h"

typedef struct gap_job {
  int64_t hw;
  const float *src;
  float *dst;
} gap_job;

/* Planes [q0, q1): forward y[q] = Σ x / hw. */
static void gap_fwd(int64_t q0, int64_t q1, void *u) {
  const gap_job *j = u;
  for (int64_t q = q0; q < q1; q++) {
    const float *x = j->src + q * j->hw;
    double s = 0;
    for (int64_t i = 0; i < j->hw; i++) s += x[i];
    j->dst[q] = (float)(s / (double)j->hw);
  }
}

/* Planes [q0, q1): backward dx = g[q] / hw over the plane. */
static void gap_bwd(int64_t q0, int64_t q1, void *u) {
  const gap_job *j = u;
  for (int64_t q = q0; q < q1; q++) {
    float v = 0.0f + (float)(j->src[q] / (double)j->hw); /* 0 + v as the window kernel */
    float *dx = j->dst + q * j->hw;
    for (int64_t i = 0; i < j->hw; i++) dx[i] = v;
  }
}

/* The windows of an adaptive pooling from H×W to OH×OW (a->planes, H, W, OH, OW set). */
static int windows(nn_avg_windows *a) {
  if (nn_avg_windows_alloc(a) < 0) return nb_last_status();
  for (int dim = 0; dim < 2; dim++) {
    int64_t O = dim ? a->OW : a->OH, I = dim ? a->W : a->H;
    int64_t *lo = dim ? a->w0 : a->h0, *hi = dim ? a->w1 : a->h1, *dv = dim ? a->wdiv : a->hdiv;
    for (int64_t o = 0; o < O; o++) {
      lo[o] = (o * I) / O;
      hi[o] = ((o + 1) * I + O - 1) / O;
      dv[o] = hi[o] - lo[o];
    }
  }
  return 0;
}

static int adaptive_avg_pool2d_forward(nb_ctx *ctx, nb_tensor *const *in,
                                       const nb_attr_value *attrs, nb_tensor **out) {
  (void)ctx;
  int64_t planes, H, W, os[2];
  if (nn_pool_input("adaptive_avg_pool2d", in[0], &planes, &H, &W) < 0 ||
      nn_pair("adaptive_avg_pool2d", "output_size", &attrs[0].ints, 1, os) < 0)
    return nb_last_status();
  if (os[0] < 1 || os[1] < 1)
    return nb_set_error(NB_EINVAL, "adaptive_avg_pool2d: output_size must be positive, got [%lld,%lld]",
                        (long long)os[0], (long long)os[1]);
  int64_t t, u; /* the window bounds compute (o + 1)·I; the grain H·W + OH·OW */
  if (__builtin_mul_overflow(os[0] + 1, H, &t) || __builtin_mul_overflow(os[1] + 1, W, &t) ||
      __builtin_mul_overflow(os[0], os[1], &t) || __builtin_mul_overflow(H, W, &u) ||
      __builtin_add_overflow(t, u, &t))
    return nb_set_error(NB_EINVAL, "adaptive_avg_pool2d: output_size [%lld,%lld] overflows for input %s",
                        (long long)os[0], (long long)os[1], nb_shape_of(in[0]));
  nb_dtype dt = nb_dtype_of(in[0]);
  nb_tensor *x, *y;
  nn_avg_windows a = {.planes = planes, .H = H, .W = W, .OH = os[0], .OW = os[1]};
  if (nn_pool_alloc(in[0], os[0], os[1], &x, &y) < 0 || windows(&a) < 0) return nb_last_status();
  if (dt == NB_F32 && os[0] == 1 && os[1] == 1) {
    gap_job g = {H * W, nb_data(x), nb_data(y)};
    nb_parallel_for(planes, 1 + NB_PARALLEL_GRAIN / (H * W + 1), gap_fwd, &g);
  } else {
    nn_avg_windows_run(&a, dt, false, nb_data(x), nb_data(y), 1 + NB_PARALLEL_GRAIN / (H * W + os[0] * os[1]));
  }
  out[0] = y;
  return 0;
}

static int adaptive_avg_pool2d_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int ond;
  const int64_t *ys = nb_ctx_output_shape(ctx, 0, &ond);
  nb_tensor *g, *dx;
  nn_avg_windows a = {.OH = ys[ond - 2], .OW = ys[ond - 1]};
  if (nn_pool_grad_alloc(ctx, grad_out[0], &g, &dx) < 0 ||
      nn_pool_input("adaptive_avg_pool2d", dx, &a.planes, &a.H, &a.W) < 0 || windows(&a) < 0)
    return nb_last_status();
  nb_dtype dt = nb_dtype_of(dx);
  if (dt == NB_F32 && a.OH == 1 && a.OW == 1) {
    gap_job gj = {a.H * a.W, nb_data(g), nb_data(dx)};
    nb_parallel_for(a.planes, 1 + NB_PARALLEL_GRAIN / (a.H * a.W + 1), gap_bwd, &gj);
  } else {
    nn_avg_windows_run(&a, dt, true, nb_data(g), nb_data(dx), 1 + NB_PARALLEL_GRAIN / (a.H * a.W + a.OH * a.OW));
  }
  grad_in[0] = dx;
  return 0;
}

/* Recorded: g/divisor spread over each window (nn_avg_windows_graph). */
static int adaptive_avg_pool2d_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int ond, nd;
  const int64_t *ys = nb_ctx_output_shape(ctx, 0, &ond), *xs = nb_ctx_input_shape(ctx, 0, &nd);
  nn_avg_windows a = {.OH = ys[ond - 2], .OW = ys[ond - 1], .H = xs[nd - 2], .W = xs[nd - 1]};
  a.planes = a.H * a.W > 0 ? nb_numel(grad_out[0]) / (a.OH * a.OW > 0 ? a.OH * a.OW : 1) : 0;
  if (windows(&a) < 0) return nb_last_status();
  grad_in[0] = nn_avg_windows_graph(&a, grad_out[0], nd, xs);
  return grad_in[0] ? 0 : nb_last_status();
}

static int adaptive_avg_pool2d_samples(nb_sample_sink *s) {
  nb_generator *gen = nb_sample_generator(s);
  int rc = 0;
  nb_tensor *a = nb_rand_range(4, (int64_t[]){2, 2, 4, 4}, -1, 1, NB_F64, gen);
  rc |= nb_sample_add(s, "global average (1x1)", 1, &a, 1, (nb_attr[]){NB_A_INTS("output_size", 1, 1)}, 0);
  nb_tensor *b = nb_rand_range(4, (int64_t[]){1, 2, 5, 7}, -1, 1, NB_F64, gen);
  rc |= nb_sample_add(s, "overlapping windows 5x7 -> 3x4", 1, &b, 1,
                      (nb_attr[]){NB_A_INTS("output_size", 3, 4)}, 0);
  nb_tensor *c = nb_rand_range(3, (int64_t[]){2, 3, 3}, -1, 1, NB_F64, gen);
  rc |= nb_sample_add(s, "unbatched, upsampling 3x3 -> 4x5", 1, &c, 1,
                      (nb_attr[]){NB_A_INTS("output_size", 4, 5)}, 0);
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_output_spec outputs[] = {{"out", 0, "(N, C, OH, OW) with (OH, OW) = output_size"}};
static const nb_attr_spec attrs[] = {
    {"output_size", NB_ATTR_INTS, NB_ATTR_REQUIRED | NB_ATTR_HAS_MIN, {.ints = {0, {0}}}, 1, 0, NULL,
     "output height and width (1 value: square)"},
};

const nb_op_desc op_adaptive_avg_pool2d = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "adaptive_avg_pool2d",
    .doc = "Adaptive 2-D average pooling as PyTorch's F.adaptive_avg_pool2d: output cell o "
           "of a dim averages input cells [floor(o*I/O), ceil((o+1)*I/O)).",
    .n_inputs = 1,
    .inputs = nn_pool_inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .n_attrs = 1,
    .attrs = attrs,
    .forward = adaptive_avg_pool2d_forward,
    .backward = adaptive_avg_pool2d_backward,
    .backward_graph = adaptive_avg_pool2d_backward_graph,
    .samples = adaptive_avg_pool2d_samples,
    .saves = "nothing (shapes only)",
};
