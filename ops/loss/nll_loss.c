/* ops/loss/nll_loss.c — "nll_loss": PyTorch's F.nll_loss over log-probabilities
 * (N, C), (N, C, d...) or (C) and int64 class targets: loss = −w_t·x[t] per position,
 * ignore_index contributes nothing, mean divides by the sum of the targets' weights.
 * Gradient: −w_t·g' at the target class, zero elsewhere.
 */
#include "loss_util.h"

typedef struct nll_job {
  const loss_cls *g;
  const void *x, *w, *gv;
  const int64_t *t;
  int64_t ignore;
  double gs;
  void *out, *dx;
} nll_job;

#define NLL_KERNELS(T, SUF)                                                                  \
  static void fwd_##SUF(int64_t p0, int64_t p1, void *u, double *acc) {                     \
    const nll_job *j = u;                                                                    \
    const loss_cls *g = j->g;                                                                \
    const T *w = j->w;                                                                       \
    double s = 0;                                                                            \
    for (int64_t p = p0; p < p1; p++) {                                                      \
      int64_t t = j->t[p];                                                                   \
      double l = 0;                                                                          \
      if (t != j->ignore) {                                                                  \
        const T *x = (const T *)j->x + loss_cls_off(g, p);                  \
        l = -(w ? (double)w[t] : 1.0) * (double)x[t * g->S];                                 \
      }                                                                                      \
      if (j->out) ((T *)j->out)[p] = (T)l;                                                   \
      s += l;                                                                                \
    }                                                                                        \
    *acc = s;                                                                                \
  }                                                                                          \
  static void bwd_##SUF(int64_t p0, int64_t p1, void *u, double *acc) {                     \
    const nll_job *j = u;                                                                    \
    const loss_cls *g = j->g;                                                                \
    const T *w = j->w;                                                                       \
    (void)acc;                                                                               \
    for (int64_t p = p0; p < p1; p++) {                                                      \
      int64_t t = j->t[p];                                                                   \
      T *dx = (T *)j->dx + loss_cls_off(g, p);                              \
      for (int64_t c = 0; c < g->C; c++) dx[c * g->S] = 0;                                   \
      if (t == j->ignore) continue;                                                          \
      double gp = j->gv ? (double)((const T *)j->gv)[p] : j->gs;                             \
      dx[t * g->S] = (T)(-(w ? (double)w[t] : 1.0) * gp);                                    \
    }                                                                                        \
  }

NLL_KERNELS(float, f32)
NLL_KERNELS(double, f64)

static int nll_loss_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                            nb_tensor **out) {
  int red = (int)attrs[0].i;
  int64_t ignore = attrs[1].i;
  nb_tensor *x, *t, *w;
  loss_cls g;
  if (loss_cls_prepare("nll_loss", in, ignore, &x, &t, &w, &g) < 0) return nb_last_status();
  nb_dtype dt = nb_dtype_of(x);
  nb_tensor *y = red == LOSS_NONE ? nb_empty(nb_ndim(t), nb_shape(t), dt) : NULL;
  if (red == LOSS_NONE && y == NULL) return nb_last_status();
  nll_job j = {.g = &g, .x = nb_data(x), .w = w ? nb_data(w) : NULL, .t = nb_data(t),
               .ignore = ignore, .out = y ? nb_data(y) : NULL};
  double total = loss_blocks(g.npos, dt == NB_F32 ? fwd_f32 : fwd_f64, &j);
  if (red != LOSS_NONE) y = loss_scalar(total, g.wsum, red, dt);
  if (y == NULL) return nb_last_status();
  if (nb_ctx_recording(ctx)) {
    loss_cls_blob b = {g.wsum, w != NULL};
    if (nb_ctx_save(ctx, in[1]) < 0 || (w && nb_ctx_save(ctx, in[2]) < 0) ||
        nb_ctx_save_blob(ctx, &b, sizeof b) < 0)
      return nb_last_status();
  }
  out[0] = y;
  return 0;
}

static int nll_loss_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  const loss_cls_blob *b = loss_cls_blob_get("nll_loss", ctx);
  if (b == NULL) return nb_last_status();
  nb_tensor *t = nb_ctx_saved(ctx, 0), *w = b->has_weight ? nb_ctx_saved(ctx, 1) : NULL;
  if (t == NULL || (b->has_weight && w == NULL)) return nb_last_status();
  t = ops_contig(t);
  w = ops_contig(w);
  if (t == NULL || (b->has_weight && w == NULL)) return nb_last_status();
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  int nd;
  const int64_t *xs = nb_ctx_input_shape(ctx, 0, &nd);
  nb_dtype dt = nb_ctx_input_dtype(ctx, 0);
  loss_cls g = {0};
  loss_cls_dims(nd, xs, &g);
  nb_tensor *gv;
  double gs = loss_grad_scale(grad_out[0], (int)attrs[0].i, b->wsum, &gv);
  nb_tensor *dx = nb_empty(nd, xs, dt);
  if (dx == NULL || ((int)attrs[0].i == LOSS_NONE && gv == NULL)) return nb_last_status();
  nll_job j = {.g = &g, .w = w ? nb_data(w) : NULL, .t = nb_data(t), .ignore = attrs[1].i,
               .gv = gv ? nb_data(gv) : NULL, .gs = gs, .dx = nb_data(dx)};
  loss_blocks(g.npos, dt == NB_F32 ? bwd_f32 : bwd_f64, &j);
  grad_in[0] = dx;
  return 0;
}

static int nll_loss_samples(nb_sample_sink *s) {
  nb_generator *gen = nb_sample_generator(s);
  int rc = 0;
  nb_tensor *a[3] = {nb_rand_range(2, (int64_t[]){4, 3}, -3, -0.1, NB_F64, gen),
                     nb_from_data((int64_t[]){0, 2, 1, 2}, 1, (int64_t[]){4}, NB_I64), NULL};
  rc |= nb_sample_add(s, "(N, C), mean", 3, a, 0, NULL, 0);
  rc |= nb_sample_add(s, "(N, C), none", 3, a, 1, (nb_attr[]){NB_A_STR("reduction", "none")}, 0);
  nb_tensor *b[3] = {nb_rand_range(2, (int64_t[]){4, 3}, -3, -0.1, NB_F64, gen),
                     nb_from_data((int64_t[]){1, 7, 0, 2}, 1, (int64_t[]){4}, NB_I64),
                     nb_rand_range(1, (int64_t[]){3}, 0.5, 2, NB_F64, gen)};
  rc |= nb_sample_add(s, "weights, ignore_index 7, sum", 3, b, 2,
                      (nb_attr[]){NB_A_STR("reduction", "sum"), NB_A_INT("ignore_index", 7)}, 0);
  nb_tensor *c[3] = {nb_rand_range(3, (int64_t[]){2, 3, 2}, -3, -0.1, NB_F64, gen),
                     nb_from_data((int64_t[]){0, 2, 1, 1}, 2, (int64_t[]){2, 2}, NB_I64), NULL};
  rc |= nb_sample_add(s, "(N, C, d1), mean", 3, c, 0, NULL, 0);
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_input_spec inputs[] = {
    {"input", NB_DT_FLOAT, 0, "log-probabilities (N, C), (N, C, d1, ...) or (C)"},
    {"target", NB_DT_I64, NB_IN_NONDIFF, "class indices (N), (N, d1, ...) or 0-d, in [0, C) or ignore_index"},
    {"weight", NB_DT_FLOAT, NB_IN_OPTIONAL | NB_IN_NONDIFF, "(C) per-class weight, optional"},
};
static const nb_output_spec outputs[] = {{"out", 0, "0-d for mean/sum, the target's shape for none"}};
static const nb_attr_spec attrs[] = {
    {"reduction", NB_ATTR_STRING, 0, {.s = "mean", .i = LOSS_MEAN}, 0, 0, LOSS_REDUCTION_CHOICES,
     "none: per position; mean: sum divided by the sum of the targets' weights; sum"},
    {"ignore_index", NB_ATTR_INT, 0, {.i = -100}, 0, 0, NULL, "target value that contributes nothing"},
};

const nb_op_desc loss_nll_loss_desc = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "nll_loss",
    .doc = "Negative log-likelihood of log-probabilities at int64 class targets, as "
           "PyTorch's F.nll_loss: -weight[t] * input[t] per position, ignore_index skipped, "
           "mean divides by the sum of the weights of the non-ignored targets.",
    .n_inputs = 3,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .n_attrs = 2,
    .attrs = attrs,
    .forward = nll_loss_forward,
    .backward = nll_loss_backward,
    .samples = nll_loss_samples,
    .saves = "target and weight; blob with the weight sum",
};
