/* ops/nn/adaptive_avg_pool2d.c — "adaptive_avg_pool2d": PyTorch's
 * F.adaptive_avg_pool2d. Output cell o of a dim of input size I and output size O
 * averages [floor(o·I/O), ceil((o+1)·I/O)); backward spreads g/count over that window.
 */
#include "nn_util.h"

typedef struct aap_job {
  int64_t H, W, OH, OW;
  const void *x; /* input (forward) or output gradient (backward) */
  void *y;       /* output (forward) or input gradient (backward) */
} aap_job;

static int64_t start_of(int64_t o, int64_t I, int64_t O) { return (o * I) / O; }
static int64_t end_of(int64_t o, int64_t I, int64_t O) { return ((o + 1) * I + O - 1) / O; }

#define AAP_KERNELS(T, SUF)                                                                  \
  static void fwd_##SUF(int64_t q0, int64_t q1, void *u) {                                   \
    const aap_job *j = u;                                                                    \
    for (int64_t q = q0; q < q1; q++) {                                                      \
      const T *x = (const T *)j->x + q * j->H * j->W;                                        \
      T *y = (T *)j->y + q * j->OH * j->OW;                                                  \
      for (int64_t oh = 0; oh < j->OH; oh++) {                                               \
        int64_t h0 = start_of(oh, j->H, j->OH), h1 = end_of(oh, j->H, j->OH);                \
        for (int64_t ow = 0; ow < j->OW; ow++) {                                             \
          int64_t w0 = start_of(ow, j->W, j->OW), w1 = end_of(ow, j->W, j->OW);              \
          double s = 0;                                                                      \
          for (int64_t ih = h0; ih < h1; ih++)                                               \
            for (int64_t iw = w0; iw < w1; iw++) s += x[ih * j->W + iw];                     \
          y[oh * j->OW + ow] = (T)(s / (double)((h1 - h0) * (w1 - w0)));                     \
        }                                                                                    \
      }                                                                                      \
    }                                                                                        \
  }                                                                                          \
  static void bwd_##SUF(int64_t q0, int64_t q1, void *u) {                                   \
    const aap_job *j = u;                                                                    \
    for (int64_t q = q0; q < q1; q++) {                                                      \
      const T *g = (const T *)j->x + q * j->OH * j->OW;                                      \
      T *dx = (T *)j->y + q * j->H * j->W;                                                   \
      for (int64_t i = 0; i < j->H * j->W; i++) dx[i] = 0;                                   \
      for (int64_t oh = 0; oh < j->OH; oh++) {                                               \
        int64_t h0 = start_of(oh, j->H, j->OH), h1 = end_of(oh, j->H, j->OH);                \
        for (int64_t ow = 0; ow < j->OW; ow++) {                                             \
          int64_t w0 = start_of(ow, j->W, j->OW), w1 = end_of(ow, j->W, j->OW);              \
          T v = (T)(g[oh * j->OW + ow] / (double)((h1 - h0) * (w1 - w0)));                   \
          for (int64_t ih = h0; ih < h1; ih++)                                               \
            for (int64_t iw = w0; iw < w1; iw++) dx[ih * j->W + iw] += v;                    \
        }                                                                                    \
      }                                                                                      \
    }                                                                                        \
  }

AAP_KERNELS(float, f32)
AAP_KERNELS(double, f64)

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
  nb_dtype dt = nb_dtype_of(in[0]);
  nb_tensor *x = nn_contig(in[0]);
  int64_t shape[4];
  nn_pool_out_shape(in[0], os[0], os[1], shape);
  nb_tensor *y = nb_empty(nb_ndim(in[0]), shape, dt);
  if (x == NULL || y == NULL) return nb_last_status();
  aap_job j = {H, W, os[0], os[1], nb_data(x), nb_data(y)};
  nb_parallel_for(planes, 1 + NN_GRAIN / (H * W + os[0] * os[1]), dt == NB_F32 ? fwd_f32 : fwd_f64, &j);
  out[0] = y;
  return 0;
}

static int adaptive_avg_pool2d_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int nd, ond;
  const int64_t *xs = nb_ctx_input_shape(ctx, 0, &nd), *ys = nb_ctx_output_shape(ctx, 0, &ond);
  nb_dtype dt = nb_ctx_input_dtype(ctx, 0);
  nb_tensor *dx = nb_empty(nd, xs, dt), *g = nn_contig(grad_out[0]);
  if (dx == NULL || g == NULL) return nb_last_status();
  int64_t planes = nd == 4 ? xs[0] * xs[1] : xs[0];
  aap_job j = {xs[nd - 2], xs[nd - 1], ys[ond - 2], ys[ond - 1], nb_data(g), nb_data(dx)};
  nb_parallel_for(planes, 1 + NN_GRAIN / (j.H * j.W + j.OH * j.OW), dt == NB_F32 ? bwd_f32 : bwd_f64, &j);
  grad_in[0] = dx;
  return 0;
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

static const nb_input_spec inputs[] = {{"input", NB_DT_FLOAT, 0, "(N, C, H, W) or (C, H, W)"}};
static const nb_output_spec outputs[] = {{"out", 0, "(N, C, OH, OW) with (OH, OW) = output_size"}};
static const nb_attr_spec attrs[] = {
    {"output_size", NB_ATTR_INTS, NB_ATTR_REQUIRED | NB_ATTR_HAS_MIN, {.ints = {0, {0}}}, 1, 0, NULL,
     "output height and width (1 value: square)"},
};

const nb_op_desc nn_adaptive_avg_pool2d_desc = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "adaptive_avg_pool2d",
    .doc = "Adaptive 2-D average pooling as PyTorch's F.adaptive_avg_pool2d: output cell o "
           "of a dim averages input cells [floor(o*I/O), ceil((o+1)*I/O)).",
    .n_inputs = 1,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .n_attrs = 1,
    .attrs = attrs,
    .forward = adaptive_avg_pool2d_forward,
    .backward = adaptive_avg_pool2d_backward,
    .samples = adaptive_avg_pool2d_samples,
    .saves = "nothing (shapes only)",
};
