/* ops/loss/mse_loss.c — "mse_loss": PyTorch's F.mse_loss, (input − target)² reduced by
 * "none", "mean" or "sum". input and target broadcast (PyTorch warns; nabla allows it).
 * Backward: d input = 2(input − target)·g', d target = −d input, with g' = g/n for mean.
 */
#include "loss_util.h"

typedef struct ml_job {
  nb_dtype dt;
  const void *x, *t, *g;
  void *out, *gx, *gt;
  double gs;
} ml_job;

#define ML_KERNELS(T, SUF)                                                                   \
  static void fwd_##SUF(int64_t i0, int64_t i1, void *u, double *acc) {                     \
    const ml_job *j = u;                                                                     \
    const T *x = j->x, *t = j->t;                                                            \
    T *o = j->out;                                                                           \
    double s = 0;                                                                            \
    for (int64_t i = i0; i < i1; i++) {                                                      \
      T d = x[i] - t[i], l = d * d;                                                          \
      if (o) o[i] = l;                                                                       \
      s += l;                                                                                \
    }                                                                                        \
    *acc = s;                                                                                \
  }                                                                                          \
  static void bwd_##SUF(int64_t i0, int64_t i1, void *u, double *acc) {                     \
    const ml_job *j = u;                                                                     \
    const T *x = j->x, *t = j->t, *g = j->g;                                                 \
    T *gx = j->gx, *gt = j->gt, gs = (T)j->gs;                                               \
    (void)acc;                                                                               \
    for (int64_t i = i0; i < i1; i++) {                                                      \
      T v = 2 * (x[i] - t[i]) * (g ? g[i] : gs);                                             \
      if (gx) gx[i] = v;                                                                     \
      if (gt) gt[i] = -v;                                                                    \
    }                                                                                        \
  }

ML_KERNELS(float, f32)
ML_KERNELS(double, f64)

static int mse_loss_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                            nb_tensor **out) {
  int red = (int)attrs[0].i, nd;
  int64_t shape[NB_MAX_DIMS];
  if (loss_same_dtype("mse_loss", in[0], "input", in[1], "target") < 0 ||
      nb_broadcast_shapes("mse_loss", 2, (const nb_tensor *const[]){in[0], in[1]}, &nd, shape) < 0)
    return nb_last_status();
  nb_dtype dt = nb_dtype_of(in[0]);
  nb_tensor *x = loss_expand("mse_loss", in[0], nd, shape), *t = loss_expand("mse_loss", in[1], nd, shape);
  if (x == NULL || t == NULL) return nb_last_status();
  int64_t n = nb_numel(x);
  ml_job j = {.dt = dt, .x = nb_data(x), .t = nb_data(t)};
  nb_tensor *y = NULL;
  if (red == LOSS_NONE) {
    if ((y = nb_empty(nd, shape, dt)) == NULL) return nb_last_status();
    j.out = nb_data(y);
  }
  double total = loss_blocks(n, dt == NB_F32 ? fwd_f32 : fwd_f64, &j);
  if (red != LOSS_NONE) y = loss_scalar(total, (double)n, red, dt);
  if (y == NULL) return nb_last_status();
  if (nb_ctx_save(ctx, in[0]) < 0 || nb_ctx_save(ctx, in[1]) < 0) return nb_last_status();
  out[0] = y;
  return 0;
}

static int mse_loss_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *x0 = nb_ctx_saved(ctx, 0), *t0 = nb_ctx_saved(ctx, 1);
  if (x0 == NULL || t0 == NULL) return nb_last_status();
  int nd, red = (int)nb_ctx_attrs(ctx)[0].i;
  int64_t shape[NB_MAX_DIMS];
  if (nb_broadcast_shapes("mse_loss", 2, (const nb_tensor *const[]){x0, t0}, &nd, shape) < 0)
    return nb_last_status();
  nb_dtype dt = nb_dtype_of(x0);
  nb_tensor *x = loss_expand("mse_loss", x0, nd, shape), *t = loss_expand("mse_loss", t0, nd, shape);
  if (x == NULL || t == NULL) return nb_last_status();
  int64_t n = nb_numel(x);
  nb_tensor *g;
  double gs = loss_grad_scale(grad_out[0], red, (double)n, &g);
  if (red == LOSS_NONE && g == NULL) return nb_last_status();
  nb_tensor *gx = nb_ctx_needs_input_grad(ctx, 0) ? nb_empty(nd, shape, dt) : NULL;
  nb_tensor *gt = nb_ctx_needs_input_grad(ctx, 1) ? nb_empty(nd, shape, dt) : NULL;
  if ((nb_ctx_needs_input_grad(ctx, 0) && !gx) || (nb_ctx_needs_input_grad(ctx, 1) && !gt))
    return nb_last_status();
  ml_job j = {.dt = dt, .x = nb_data(x), .t = nb_data(t), .g = g ? nb_data(g) : NULL,
              .gx = gx ? nb_data(gx) : NULL, .gt = gt ? nb_data(gt) : NULL, .gs = gs};
  loss_blocks(n, dt == NB_F32 ? bwd_f32 : bwd_f64, &j);
  grad_in[0] = gx; /* broadcast shape: the core sums it back to each input's shape */
  grad_in[1] = gt;
  return 0;
}

static int mse_loss_samples(nb_sample_sink *s) {
  nb_generator *gen = nb_sample_generator(s);
  int rc = 0;
  static const char *reds[] = {"none", "mean", "sum"};
  for (int r = 0; r < 3; r++) {
    nb_tensor *in[2] = {nb_rand_range(2, (int64_t[]){3, 4}, -1, 1, NB_F64, gen),
                        nb_rand_range(2, (int64_t[]){3, 4}, -1, 1, NB_F64, gen)};
    char desc[64];
    snprintf(desc, sizeof desc, "reduction %s", reds[r]);
    rc |= nb_sample_add(s, desc, 2, in, 1, (nb_attr[]){NB_A_STR("reduction", reds[r])}, 0);
  }
  nb_tensor *b[2] = {nb_rand_range(2, (int64_t[]){3, 4}, -1, 1, NB_F64, gen),
                     nb_rand_range(2, (int64_t[]){3, 1}, -1, 1, NB_F64, gen)};
  rc |= nb_sample_add(s, "broadcast target, mean", 2, b, 0, NULL, NB_SAMPLE_BROADCAST);
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_input_spec inputs[] = {
    {"input", NB_DT_FLOAT, 0, "any shape"},
    {"target", NB_DT_FLOAT, 0, "broadcastable with input; same dtype (differentiable)"},
};
static const nb_output_spec outputs[] = {{"out", 0, "0-d for mean/sum, the broadcast shape for none"}};
static const nb_attr_spec attrs[] = {
    {"reduction", NB_ATTR_STRING, 0, {.s = "mean", .i = LOSS_MEAN}, 0, 0, LOSS_REDUCTION_CHOICES,
     LOSS_REDUCTION_DOC},
};

const nb_op_desc loss_mse_loss_desc = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "mse_loss",
    .doc = "Mean squared error (input - target)^2 with reduction none/mean/sum, as PyTorch's "
           "F.mse_loss. Gradients flow to both input and target.",
    .n_inputs = 2,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .n_attrs = 1,
    .attrs = attrs,
    .forward = mse_loss_forward,
    .backward = mse_loss_backward,
    .samples = mse_loss_samples,
    .saves = "input and target",
};
