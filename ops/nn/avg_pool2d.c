/* ops/nn/avg_pool2d.c — "avg_pool2d": PyTorch's F.avg_pool2d over (N, C, H, W) or
 * (C, H, W) input with kernel_size, stride (default kernel_size), zero padding,
 * ceil_mode and count_include_pad (the divisor counts padded cells, but never cells a
 * ceil_mode window hangs past the padding). Backward spreads g/divisor over each window.
 */
#include "nn_util.h"

typedef struct ap_job {
  const nn_pool *p;
  bool include_pad;
  const void *x; /* forward input, or the output gradient in backward */
  void *y;       /* forward output, or the input gradient in backward */
} ap_job;

/* Clipped window [h0,h1)×[w0,w1) of output (oh, ow) and its divisor (PyTorch's rules). */
static double window(const nn_pool *p, bool include_pad, int64_t oh, int64_t ow, int64_t *h0,
                     int64_t *h1, int64_t *w0, int64_t *w1) {
  int64_t hs = oh * p->sh - p->ph, ws = ow * p->sw - p->pw;
  int64_t he = hs + p->kh < p->H + p->ph ? hs + p->kh : p->H + p->ph;
  int64_t we = ws + p->kw < p->W + p->pw ? ws + p->kw : p->W + p->pw;
  int64_t pool = (he - hs) * (we - ws);
  *h0 = hs < 0 ? 0 : hs;
  *w0 = ws < 0 ? 0 : ws;
  *h1 = he < p->H ? he : p->H;
  *w1 = we < p->W ? we : p->W;
  if (*h0 >= *h1 || *w0 >= *w1) return 0;
  return (double)(include_pad ? pool : (*h1 - *h0) * (*w1 - *w0));
}

#define AP_KERNELS(T, SUF)                                                                   \
  static void fwd_##SUF(int64_t q0, int64_t q1, void *u) {                                   \
    const ap_job *j = u;                                                                     \
    const nn_pool *p = j->p;                                                                 \
    for (int64_t q = q0; q < q1; q++) {                                                      \
      const T *x = (const T *)j->x + q * p->H * p->W;                                        \
      T *y = (T *)j->y + q * p->OH * p->OW;                                                  \
      for (int64_t oh = 0; oh < p->OH; oh++)                                                 \
        for (int64_t ow = 0; ow < p->OW; ow++) {                                             \
          int64_t h0, h1, w0, w1;                                                            \
          double div = window(p, j->include_pad, oh, ow, &h0, &h1, &w0, &w1), s = 0;         \
          for (int64_t ih = h0; ih < h1; ih++)                                               \
            for (int64_t iw = w0; iw < w1; iw++) s += x[ih * p->W + iw];                     \
          y[oh * p->OW + ow] = div > 0 ? (T)(s / div) : 0;                                   \
        }                                                                                    \
    }                                                                                        \
  }                                                                                          \
  static void bwd_##SUF(int64_t q0, int64_t q1, void *u) {                                   \
    const ap_job *j = u;                                                                     \
    const nn_pool *p = j->p;                                                                 \
    for (int64_t q = q0; q < q1; q++) {                                                      \
      const T *g = (const T *)j->x + q * p->OH * p->OW;                                      \
      T *dx = (T *)j->y + q * p->H * p->W;                                                   \
      for (int64_t i = 0; i < p->H * p->W; i++) dx[i] = 0;                                   \
      for (int64_t oh = 0; oh < p->OH; oh++)                                                 \
        for (int64_t ow = 0; ow < p->OW; ow++) {                                             \
          int64_t h0, h1, w0, w1;                                                            \
          double div = window(p, j->include_pad, oh, ow, &h0, &h1, &w0, &w1);                \
          if (div == 0) continue;                                                            \
          T v = (T)(g[oh * p->OW + ow] / div);                                               \
          for (int64_t ih = h0; ih < h1; ih++)                                               \
            for (int64_t iw = w0; iw < w1; iw++) dx[ih * p->W + iw] += v;                    \
        }                                                                                    \
    }                                                                                        \
  }

AP_KERNELS(float, f32)
AP_KERNELS(double, f64)

static int setup(const nb_tensor *x, const nb_attr_value *a, nn_pool *p) {
  return nn_pool_setup("avg_pool2d", x, &a[0].ints, &a[1].ints, &a[2].ints, NULL, a[3].i != 0, p);
}

static int avg_pool2d_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                              nb_tensor **out) {
  (void)ctx;
  nn_pool p;
  if (setup(in[0], attrs, &p) < 0) return nb_last_status();
  nb_dtype dt = nb_dtype_of(in[0]);
  nb_tensor *x = nn_contig(in[0]);
  int64_t shape[4];
  nn_pool_out_shape(in[0], p.OH, p.OW, shape);
  nb_tensor *y = nb_empty(nb_ndim(in[0]), shape, dt);
  if (x == NULL || y == NULL) return nb_last_status();
  ap_job j = {&p, attrs[4].i != 0, nb_data(x), nb_data(y)};
  nb_parallel_for(p.planes, 1 + NN_GRAIN / (p.OH * p.OW * p.kh * p.kw + 1),
                  dt == NB_F32 ? fwd_f32 : fwd_f64, &j);
  out[0] = y;
  return 0;
}

static int avg_pool2d_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int nd;
  const int64_t *xs = nb_ctx_input_shape(ctx, 0, &nd);
  nb_dtype dt = nb_ctx_input_dtype(ctx, 0);
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  nb_tensor *dx = nb_empty(nd, xs, dt), *g = nn_contig(grad_out[0]);
  nn_pool p;
  if (dx == NULL || g == NULL || setup(dx, attrs, &p) < 0) return nb_last_status();
  ap_job j = {&p, attrs[4].i != 0, nb_data(g), nb_data(dx)};
  nb_parallel_for(p.planes, 1 + NN_GRAIN / (p.OH * p.OW * p.kh * p.kw + 1),
                  dt == NB_F32 ? bwd_f32 : bwd_f64, &j);
  grad_in[0] = dx;
  return 0;
}

static int ap_sample(nb_sample_sink *s, const char *desc, const int64_t *xs, int n_at,
                     const nb_attr *at) {
  nb_tensor *x = nb_rand_range(4, xs, -1, 1, NB_F64, nb_sample_generator(s));
  return nb_sample_add(s, desc, 1, &x, n_at, at, 0);
}

static int avg_pool2d_samples(nb_sample_sink *s) {
  int rc = 0;
#define S(...) (int64_t[]){__VA_ARGS__}
#define A(...) (nb_attr[]){__VA_ARGS__}
  rc |= ap_sample(s, "2x2", S(2, 2, 4, 4), 1, A(NB_A_INTS("kernel_size", 2, 2)));
  rc |= ap_sample(s, "3x3 stride 2 padding 1, count_include_pad", S(1, 2, 5, 5), 3,
                  A(NB_A_INTS("kernel_size", 3, 3), NB_A_INTS("stride", 2, 2), NB_A_INTS("padding", 1, 1)));
  rc |= ap_sample(s, "padding 1, not counting padding", S(1, 1, 4, 5), 4,
                  A(NB_A_INTS("kernel_size", 3, 2), NB_A_INTS("stride", 1, 2), NB_A_INTS("padding", 1, 1),
                    NB_A_BOOL("count_include_pad", 0)));
  rc |= ap_sample(s, "ceil_mode", S(1, 2, 5, 5), 3,
                  A(NB_A_INTS("kernel_size", 2, 2), NB_A_INTS("stride", 2, 2), NB_A_BOOL("ceil_mode", 1)));
#undef S
#undef A
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_input_spec inputs[] = {{"input", NB_DT_FLOAT, 0, "(N, C, H, W) or (C, H, W)"}};
static const nb_output_spec outputs[] = {{"out", 0, "window averages, (N, C, OH, OW)"}};
static const nb_attr_spec attrs[] = {
    {"kernel_size", NB_ATTR_INTS, NB_ATTR_REQUIRED | NB_ATTR_HAS_MIN, {.ints = {0, {0}}}, 1, 0, NULL,
     "window size (1 or 2 values)"},
    {"stride", NB_ATTR_INTS, NB_ATTR_OPTIONAL | NB_ATTR_HAS_MIN, {.ints = {0, {0}}}, 1, 0, NULL,
     "window step (1 or 2 values); absent: kernel_size"},
    {"padding", NB_ATTR_INTS, NB_ATTR_HAS_MIN, {.ints = {2, {0, 0}}}, 0, 0, NULL,
     "implicit zeros on both sides, at most half the kernel"},
    {"ceil_mode", NB_ATTR_BOOL, 0, {.i = 0}, 0, 0, NULL, "round the output size up"},
    {"count_include_pad", NB_ATTR_BOOL, 0, {.i = 1}, 0, 0, NULL,
     "divide by the window size including padded cells (else by the cells inside the input)"},
};

const nb_op_desc nn_avg_pool2d_desc = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "avg_pool2d",
    .doc = "2-D average pooling as PyTorch's F.avg_pool2d (no divisor_override). Output size "
           "per dim: floor((H + 2p - k)/s) + 1 (ceil with ceil_mode). Backward spreads each "
           "output gradient evenly over its window.",
    .n_inputs = 1,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .n_attrs = 5,
    .attrs = attrs,
    .forward = avg_pool2d_forward,
    .backward = avg_pool2d_backward,
    .samples = avg_pool2d_samples,
    .saves = "nothing (shapes and attributes only)",
};
