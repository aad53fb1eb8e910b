/* ops/norm/group_norm.c — "group_norm", as F.group_norm(input, num_groups, weight, bias,
 * eps): input (N, C, *) splits its channels into num_groups groups; each (sample, group)
 * block of C/G·spatial elements is normalised to (x − mean)·rstd (biased variance), then
 * channel c is scaled by weight[c] and shifted by bias[c] (each optional, shaped (C)).
 *
 * Groups run in parallel, statistics in double (kept as float64 for backward). Backward
 * with x̂ = (x − mean)·rstd and h = g·weight[c], per group:
 *   dx = rstd·(h − mean(h) − x̂·mean(h·x̂)); dweight[c] = Σ g·x̂, dbias[c] = Σ g over n, *.
 */
#include "norm.h"
#include "../common/graph_util.h"

#include <math.h>

typedef struct gn_job {
  int64_t N, C, G, S, cpg; /* cpg: channels per group; S: spatial size */
  double eps;
  const void *x, *w, *b, *g;
  double *mean, *rstd; /* [N·G] */
  void *y, *dw, *db;
} gn_job;

#define GN_KERNELS(T, SUF)                                                                   \
  static void fwd_##SUF(int64_t u0, int64_t u1, void *user) {                                \
    const gn_job *j = user;                                                                  \
    const T *w = j->w, *b = j->b;                                                            \
    int64_t len = j->cpg * j->S;                                                             \
    for (int64_t u = u0; u < u1; u++) {                                                      \
      const T *x = (const T *)j->x + u * len;                                                \
      T *y = (T *)j->y + u * len;                                                            \
      double s = 0, ss = 0;                                                                  \
      for (int64_t i = 0; i < len; i++) s += x[i];                                           \
      double m = s / (double)len;                                                            \
      for (int64_t i = 0; i < len; i++) ss += ((double)x[i] - m) * ((double)x[i] - m);       \
      double rs = 1.0 / sqrt(ss / (double)len + j->eps);                                     \
      j->mean[u] = m, j->rstd[u] = rs;                                                       \
      int64_t c0 = (u % j->G) * j->cpg;                                                      \
      for (int64_t c = 0; c < j->cpg; c++) {                                                 \
        T sc = w ? w[c0 + c] : 1, sh = b ? b[c0 + c] : 0;                                    \
        for (int64_t i = c * j->S; i < (c + 1) * j->S; i++)                                  \
          y[i] = (T)(((double)x[i] - m) * rs) * sc + sh;                                     \
      }                                                                                      \
    }                                                                                        \
  }                                                                                          \
  static void bwd_dx_##SUF(int64_t u0, int64_t u1, void *user) {                             \
    const gn_job *j = user;                                                                  \
    const T *w = j->w;                                                                       \
    int64_t len = j->cpg * j->S;                                                             \
    for (int64_t u = u0; u < u1; u++) {                                                      \
      const T *x = (const T *)j->x + u * len, *g = (const T *)j->g + u * len;                \
      T *dx = (T *)j->y + u * len;                                                           \
      double m = j->mean[u], rs = j->rstd[u], sh = 0, shx = 0;                               \
      int64_t c0 = (u % j->G) * j->cpg;                                                      \
      for (int64_t i = 0; i < len; i++) {                                                    \
        double h = (double)g[i] * (w ? (double)w[c0 + i / j->S] : 1.0);                      \
        sh += h;                                                                             \
        shx += h * ((double)x[i] - m) * rs;                                                  \
      }                                                                                      \
      double a = sh / (double)len, c = shx / (double)len;                                    \
      for (int64_t i = 0; i < len; i++) {                                                    \
        double h = (double)g[i] * (w ? (double)w[c0 + i / j->S] : 1.0);                      \
        dx[i] = (T)(rs * (h - a - ((double)x[i] - m) * rs * c));                             \
      }                                                                                      \
    }                                                                                        \
  }                                                                                          \
  static void bwd_dwb_##SUF(int64_t c0, int64_t c1, void *user) {                            \
    const gn_job *j = user;                                                                  \
    for (int64_t c = c0; c < c1; c++) {                                                      \
      double sw = 0, sb = 0;                                                                 \
      for (int64_t n = 0; n < j->N; n++) {                                                   \
        int64_t u = n * j->G + c / j->cpg, off = (n * j->C + c) * j->S;                      \
        const T *x = (const T *)j->x + off, *g = (const T *)j->g + off;                      \
        for (int64_t i = 0; i < j->S; i++) {                                                 \
          sw += (double)g[i] * (((double)x[i] - j->mean[u]) * j->rstd[u]);                   \
          sb += g[i];                                                                        \
        }                                                                                    \
      }                                                                                      \
      if (j->dw) ((T *)j->dw)[c] = (T)sw;                                                    \
      if (j->db) ((T *)j->db)[c] = (T)sb;                                                    \
    }                                                                                        \
  }
GN_KERNELS(float, f32)
GN_KERNELS(double, f64)

static int gn_setup(nb_tensor *x, nb_tensor *w, nb_tensor *b, int64_t G, gn_job *j) {
  if (nb_ndim(x) < 2)
    return nb_set_error(NB_ESHAPE, "group_norm: input must be (N, C, *), got %s", nb_shape_of(x));
  j->N = nb_shape(x)[0], j->C = nb_shape(x)[1], j->G = G;
  if (j->C % G)
    return nb_set_error(NB_EINVAL, "group_norm: %lld channels of input %s do not split into %lld groups",
                        (long long)j->C, nb_shape_of(x), (long long)G);
  j->cpg = j->C / G;
  j->S = 1;
  for (int d = 2; d < nb_ndim(x); d++) j->S *= nb_shape(x)[d];
  nb_tensor *p[2] = {w, b};
  const char *nm[2] = {"weight", "bias"};
  for (int k = 0; k < 2; k++) {
    if (!p[k]) continue;
    if (ops_same_dtype("group_norm", x, "input", p[k], nm[k]) < 0) return NB_EDTYPE;
    if (nb_ndim(p[k]) != 1 || nb_shape(p[k])[0] != j->C)
      return nb_set_error(NB_ESHAPE, "group_norm: %s of shape %s should have shape [%lld]", nm[k],
                          nb_shape_of(p[k]), (long long)j->C);
  }
  return 0;
}

static int gn_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, nb_tensor **out) {
  gn_job j = {0};
  if (gn_setup(in[0], in[1], in[2], attrs[0].i, &j) < 0) return nb_last_status();
  nb_tensor *x = ops_contig(in[0]), *w = ops_contig(in[1]), *b = ops_contig(in[2]);
  if (!x || (in[1] && !w) || (in[2] && !b)) return nb_last_status();
  int64_t NG = j.N * j.G;
  nb_tensor *y = nb_empty(nb_ndim(x), nb_shape(x), nb_dtype_of(x));
  nb_tensor *mean = nb_empty(1, &NG, NB_F64), *rstd = nb_empty(1, &NG, NB_F64);
  if (!y || !mean || !rstd) return nb_last_status();
  j.eps = attrs[1].f, j.x = nb_data(x), j.w = w ? nb_data(w) : NULL, j.b = b ? nb_data(b) : NULL;
  j.mean = nb_data(mean), j.rstd = nb_data(rstd), j.y = nb_data(y);
  nb_parallel_for(NG, rows_grain(j.cpg * j.S), nb_dtype_of(x) == NB_F32 ? fwd_f32 : fwd_f64, &j);
  bool has_w = in[1] != NULL;
  if (nb_ctx_save(ctx, in[0]) < 0 || nb_ctx_save(ctx, in[1]) < 0 || nb_ctx_save(ctx, mean) < 0 ||
      nb_ctx_save(ctx, rstd) < 0 || (nb_ctx_recording(ctx) && nb_ctx_save_blob(ctx, &has_w, sizeof has_w) < 0))
    return nb_last_status();
  out[0] = y;
  return 0;
}

static int gn_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  size_t bsz = 0;
  const bool *flag = nb_ctx_blob(ctx, &bsz);
  bool has_w = flag && bsz == sizeof *flag && *flag;
  nb_tensor *x = nb_ctx_saved(ctx, 0), *w = has_w ? nb_ctx_saved(ctx, 1) : NULL;
  nb_tensor *mean = nb_ctx_saved(ctx, 2), *rstd = nb_ctx_saved(ctx, 3);
  if (!x || !mean || !rstd || (has_w && !w)) return nb_last_status();
  gn_job j = {0};
  if (gn_setup(x, w, NULL, nb_ctx_attrs(ctx)[0].i, &j) < 0) return nb_last_status();
  x = ops_contig(x);
  w = w ? ops_contig(w) : NULL;
  nb_tensor *g = ops_contig(grad_out[0]);
  if (!x || !g || (has_w && !w)) return nb_last_status();
  nb_dtype dt = nb_dtype_of(x);
  j.x = nb_data(x), j.w = w ? nb_data(w) : NULL, j.g = nb_data(g);
  j.mean = nb_data(mean), j.rstd = nb_data(rstd);
  if (nb_ctx_needs_input_grad(ctx, 0)) {
    nb_tensor *dx = nb_empty(nb_ndim(x), nb_shape(x), dt);
    if (!dx) return nb_last_status();
    j.y = nb_data(dx);
    nb_parallel_for(j.N * j.G, rows_grain(j.cpg * j.S), dt == NB_F32 ? bwd_dx_f32 : bwd_dx_f64, &j);
    grad_in[0] = dx;
  }
  bool need_w = nb_ctx_needs_input_grad(ctx, 1), need_b = nb_ctx_needs_input_grad(ctx, 2);
  if (need_w || need_b) {
    nb_tensor *dw = need_w ? nb_empty(1, &j.C, dt) : NULL, *db = need_b ? nb_empty(1, &j.C, dt) : NULL;
    if ((need_w && !dw) || (need_b && !db)) return nb_last_status();
    j.dw = dw ? nb_data(dw) : NULL, j.db = db ? nb_data(db) : NULL;
    nb_parallel_for(j.C, rows_grain(j.N * j.S), dt == NB_F32 ? bwd_dwb_f32 : bwd_dwb_f64, &j);
    grad_in[1] = dw;
    grad_in[2] = db;
  }
  return 0;
}

/* Recorded: the statistics recomputed from the saved input with dispatched ops, in the
 * grouped view (N, G, C/G·spatial), and the formulas of gn_backward; weight is viewed as
 * (C, 1, ...) to broadcast over the spatial dims. */
static int gn_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  size_t bsz = 0;
  const bool *flag = nb_ctx_blob(ctx, &bsz);
  bool has_w = flag && bsz == sizeof *flag && *flag;
  nb_tensor *x = nb_ctx_saved(ctx, 0), *w = has_w ? nb_ctx_saved(ctx, 1) : NULL, *g = grad_out[0];
  if (!x || (has_w && !w)) return nb_last_status();
  int nd = nb_ndim(x);
  const int64_t *xs = nb_shape(x);
  int64_t N = xs[0], C = xs[1], G = nb_ctx_attrs(ctx)[0].i, M = N * G > 0 ? nb_numel(x) / (N * G) : 0;
  int64_t gs[3] = {N, G, M}, last = -1, ws[NB_MAX_DIMS], other[NB_MAX_DIMS];
  ws[0] = C;
  for (int d = 1; d < nd - 1; d++) ws[d] = 1;
  other[0] = 0;
  for (int d = 2; d < nd; d++) other[d - 1] = d;
  nb_tensor *xg = gu_reshape(x, 3, gs);
  nb_tensor *sd = NULL, *xh = xg ? norm_graph_xhat(xg, 1, &last, nb_ctx_attrs(ctx)[1].f, &sd) : NULL;
  if (!xh) return nb_last_status(); /* x̂, grouped */
  if (nb_ctx_needs_input_grad(ctx, 0)) {
    nb_tensor *wv = w ? gu_reshape(w, nd - 1, ws) : NULL;
    nb_tensor *h = w ? (wv ? NB_CALL("mul", g, wv) : NULL) : g;
    nb_tensor *hg = h ? gu_reshape(h, 3, gs) : NULL;
    nb_tensor *dx = hg ? norm_graph_dx(hg, xh, sd, 1, &last) : NULL;
    if (!dx || !(grad_in[0] = gu_reshape(dx, nd, xs))) return nb_last_status();
  }
  if (nb_ctx_needs_input_grad(ctx, 1)) {
    nb_tensor *xf = gu_reshape(xh, nd, xs), *gx = xf ? NB_CALL("mul", g, xf) : NULL;
    if (!gx || !(grad_in[1] = gu_reduce("sum", gx, nd - 1, other, false))) return nb_last_status();
  }
  if (nb_ctx_needs_input_grad(ctx, 2) && !(grad_in[2] = gu_reduce("sum", g, nd - 1, other, false)))
    return nb_last_status();
  return 0;
}

static int gn_samples(nb_sample_sink *s) {
  nb_generator *g = nb_sample_generator(s);
  int rc = 0;
  nb_tensor *a[3] = {nb_rand_range(4, (int64_t[]){2, 4, 3, 2}, -2, 2, NB_F64, g),
                     nb_rand_range(1, (int64_t[]){4}, 0.5, 1.5, NB_F64, g),
                     nb_rand_range(1, (int64_t[]){4}, -1, 1, NB_F64, g)};
  rc |= nb_sample_add(s, "[2,4,3,2], 2 groups, affine", 3, a, 1, &NB_A_INT("num_groups", 2), 0);
  nb_tensor *b[3] = {nb_rand_range(3, (int64_t[]){3, 6, 2}, -2, 2, NB_F64, g), NULL, NULL};
  rc |= nb_sample_add(s, "[3,6,2], 3 groups, no affine, eps 1e-3", 3, b, 2,
                      (nb_attr[]){NB_A_INT("num_groups", 3), NB_A_FLOAT("eps", 1e-3)}, 0);
  nb_tensor *c[3] = {nb_rand_range(2, (int64_t[]){3, 4}, -2, 2, NB_F64, g),
                     nb_rand_range(1, (int64_t[]){4}, 0.5, 1.5, NB_F64, g), NULL};
  rc |= nb_sample_add(s, "[3,4] (no spatial dims), 1 group, weight only", 3, c, 1, &NB_A_INT("num_groups", 1), 0);
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_input_spec gn_inputs[] = {
    {"input", NB_DT_FLOAT, 0, "(N, C, *)"},
    {"weight", NB_DT_FLOAT, NB_IN_OPTIONAL, "(C); same dtype (absent: 1)"},
    {"bias", NB_DT_FLOAT, NB_IN_OPTIONAL, "(C); same dtype (absent: 0)"},
};
static const nb_output_spec gn_outputs[] = {{"out", 0, "input's shape and dtype"}};
static const nb_attr_spec gn_attrs[] = {
    {.name = "num_groups", .type = NB_ATTR_INT, .flags = NB_ATTR_REQUIRED | NB_ATTR_HAS_MIN, .min = 1,
     .doc = "groups the channels split into (must divide C)"},
    NORM_EPS_ATTR,
};

const nb_op_desc op_group_norm = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "group_norm",
    .doc = "Group normalisation, as F.group_norm: channels of (N, C, *) split into num_groups "
           "groups, each (sample, group) normalised with its mean and biased variance, then a "
           "per-channel weight and bias (optional). Gradients for input, weight and bias.",
    .n_inputs = 3,
    .inputs = gn_inputs,
    .n_outputs = 1,
    .outputs = gn_outputs,
    .n_attrs = 2,
    .attrs = gn_attrs,
    .forward = gn_forward,
    .backward = gn_backward,
    .backward_graph = gn_backward_graph,
    .samples = gn_samples,
    .saves = "the input, the weight, and per-group mean and 1/std (float64)",
};
