/* ops/norm/layer_norm.c — "layer_norm", as F.layer_norm(input, normalized_shape, weight,
 * bias, eps): each row of the trailing normalized_shape elements is normalised to
 * (x − mean)·rstd with rstd = 1/√(var + eps) (biased variance), then scaled by weight and
 * shifted by bias (each optional, shaped normalized_shape).
 *
 * Rows run in parallel; row sums in fixed lanes of the element type added in double
 * (vectorisable, the same bits on every CPU); mean and 1/std kept as float64 tensors.
 * Backward with x̂ = (x − mean)·rstd and h = g·weight:
 *   dx = rstd·(h − mean(h) − x̂·mean(h·x̂)) per row,
 *   dweight = Σ_rows g·x̂, dbias = Σ_rows g (column blocks in parallel, fixed order).
 */
#include "norm.h"
#include "../common/graph_util.h"

#include <math.h>

typedef struct ln_job {
  int64_t M, N;
  double eps;
  const void *x, *w, *b, *g;
  double *mean, *rstd;
  void *y;      /* forward output or dx */
  void *dw, *db; /* backward: NULL when not wanted */
} ln_job;

#define LN_BLK 64
#define LN_LANES 16

/* Row kernels written for the vectoriser: sums in LN_LANES fixed lanes of the element
 * type, added in double at the end (a fixed order, so results do not depend on the CPU);
 * compiled also for AVX2 (no FMA: both variants give the same bits). */
NB_FAST_FP_BEGIN
#define LN_KERNELS(T, SUF)                                                                   \
  /* Σ x and Σ (x − m)² of a row, the second for the mean m of the first */                 \
  NB_SIMD_CLONES static void moments_##SUF(const T *x, int64_t n, double *mean, double *var) { \
    T s[LN_LANES] = {0}, q[LN_LANES] = {0};                                                  \
    double r = 0, rq = 0;                                                                    \
    int64_t i = 0, n0 = n - n % LN_LANES;                                                    \
    for (; i < n0; i += LN_LANES)                                                            \
      for (int l = 0; l < LN_LANES; l++) s[l] += x[i + l];                                   \
    for (; i < n; i++) r += x[i];                                                            \
    for (int l = 0; l < LN_LANES; l++) r += s[l];                                            \
    T m = (T)(r / (double)n);                                                                \
    for (i = 0; i < n0; i += LN_LANES)                                                       \
      for (int l = 0; l < LN_LANES; l++) q[l] += (x[i + l] - m) * (x[i + l] - m);            \
    for (; i < n; i++) rq += (double)(x[i] - m) * (x[i] - m);                                \
    for (int l = 0; l < LN_LANES; l++) rq += q[l];                                           \
    *mean = m;                                                                               \
    *var = rq / (double)n;                                                                   \
  }                                                                                          \
  NB_SIMD_CLONES static void fwd_row_##SUF(const T *x, const T *w, const T *b, T *y, int64_t n, \
                                           T m, T rs) {                                      \
    if (w && b)                                                                              \
      for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) * rs * w[i] + b[i];                  \
    else                                                                                     \
      for (int64_t i = 0; i < n; i++) {                                                      \
        T v = (x[i] - m) * rs;                                                               \
        if (w) v *= w[i];                                                                    \
        if (b) v += b[i];                                                                    \
        y[i] = v;                                                                            \
      }                                                                                      \
  }                                                                                          \
  /* dx of one row: h = g·w, dx = rs·(h − mean(h) − x̂·mean(h·x̂)) */                         \
  NB_SIMD_CLONES static void bwd_row_##SUF(const T *x, const T *g, const T *w, T *dx, int64_t n, \
                                           T m, T rs) {                                      \
    T sh[LN_LANES] = {0}, shx[LN_LANES] = {0};                                               \
    double a = 0, c = 0;                                                                     \
    int64_t i = 0, n0 = n - n % LN_LANES;                                                    \
    for (; i < n0; i += LN_LANES)                                                            \
      for (int l = 0; l < LN_LANES; l++) {                                                   \
        T h = w ? g[i + l] * w[i + l] : g[i + l];                                            \
        sh[l] += h;                                                                          \
        shx[l] += h * ((x[i + l] - m) * rs);                                                 \
      }                                                                                      \
    for (; i < n; i++) {                                                                     \
      T h = w ? g[i] * w[i] : g[i];                                                          \
      a += h;                                                                                \
      c += (double)h * ((x[i] - m) * rs);                                                    \
    }                                                                                        \
    for (int l = 0; l < LN_LANES; l++) a += sh[l], c += shx[l];                              \
    T af = (T)(a / (double)n), cf = (T)(c / (double)n);                                      \
    if (w)                                                                                   \
      for (i = 0; i < n; i++) dx[i] = rs * (g[i] * w[i] - af - (x[i] - m) * rs * cf);        \
    else                                                                                     \
      for (i = 0; i < n; i++) dx[i] = rs * (g[i] - af - (x[i] - m) * rs * cf);               \
  }                                                                                          \
  static void fwd_##SUF(int64_t r0, int64_t r1, void *user) {                                \
    const ln_job *j = user;                                                                  \
    for (int64_t r = r0; r < r1; r++) {                                                      \
      double m, v;                                                                           \
      moments_##SUF((const T *)j->x + r * j->N, j->N, &m, &v);                               \
      double rs = 1.0 / sqrt(v + j->eps);                                                    \
      j->mean[r] = m, j->rstd[r] = rs;                                                       \
      fwd_row_##SUF((const T *)j->x + r * j->N, j->w, j->b, (T *)j->y + r * j->N, j->N, (T)m, (T)rs); \
    }                                                                                        \
  }                                                                                          \
  static void bwd_dx_##SUF(int64_t r0, int64_t r1, void *user) {                             \
    const ln_job *j = user;                                                                  \
    for (int64_t r = r0; r < r1; r++)                                                        \
      bwd_row_##SUF((const T *)j->x + r * j->N, (const T *)j->g + r * j->N, j->w,            \
                    (T *)j->y + r * j->N, j->N, (T)j->mean[r], (T)j->rstd[r]);               \
  }                                                                                          \
  /* dweight, dbias for columns blocks [c0, c1): rows in order, sums in double */            \
  NB_SIMD_CLONES static void bwd_dwb_##SUF(int64_t c0, int64_t c1, void *user) {             \
    const ln_job *j = user;                                                                  \
    for (int64_t blk = c0; blk < c1; blk++) {                                                \
      int64_t i0 = blk * LN_BLK, i1 = i0 + LN_BLK < j->N ? i0 + LN_BLK : j->N;               \
      double sw[LN_BLK] = {0}, sb[LN_BLK] = {0};                                             \
      for (int64_t r = 0; r < j->M; r++) {                                                   \
        const T *x = (const T *)j->x + r * j->N, *g = (const T *)j->g + r * j->N;            \
        T m = (T)j->mean[r], rs = (T)j->rstd[r];                                             \
        for (int64_t i = i0; i < i1; i++) {                                                  \
          sw[i - i0] += g[i] * ((x[i] - m) * rs);                                            \
          sb[i - i0] += g[i];                                                                \
        }                                                                                    \
      }                                                                                      \
      for (int64_t i = i0; i < i1; i++) {                                                    \
        if (j->dw) ((T *)j->dw)[i] = (T)sw[i - i0];                                          \
        if (j->db) ((T *)j->db)[i] = (T)sb[i - i0];                                          \
      }                                                                                      \
    }                                                                                        \
  }
LN_KERNELS(float, f32)
LN_KERNELS(double, f64)
NB_FAST_FP_END

/* Check shapes; sets *N (row length) and *M (rows). */
static int ln_check(const nb_tensor *x, const nb_tensor *w, const nb_tensor *b, const nb_ints *ns,
                    int64_t *M, int64_t *N) {
  char buf[192];
  int nd = nb_ndim(x);
  const int64_t *sh = nb_shape(x);
  if (ns->n == 0)
    return nb_set_error(NB_EINVAL, "layer_norm: normalized_shape is empty (input %s)", nb_shape_of(x));
  bool ok = ns->n <= nd;
  for (int i = 0; ok && i < ns->n; i++) ok = sh[nd - ns->n + i] == ns->v[i];
  if (!ok)
    return nb_set_error(NB_ESHAPE,
                        "layer_norm: input of shape %s does not end in normalized_shape %s", nb_shape_of(x),
                        ops_ints_str(ns, buf, sizeof buf));
  *N = 1;
  for (int i = 0; i < ns->n; i++) *N *= ns->v[i];
  *M = *N > 0 ? nb_numel(x) / *N : 0;
  const nb_tensor *p[2] = {w, b};
  const char *nm[2] = {"weight", "bias"};
  for (int k = 0; k < 2; k++) {
    if (!p[k]) continue;
    if (ops_same_dtype("layer_norm", x, "input", p[k], nm[k]) < 0) return NB_EDTYPE;
    bool same = nb_ndim(p[k]) == ns->n;
    for (int i = 0; same && i < ns->n; i++) same = nb_shape(p[k])[i] == ns->v[i];
    if (!same)
      return nb_set_error(NB_ESHAPE, "layer_norm: %s of shape %s should have normalized_shape %s", nm[k],
                          nb_shape_of(p[k]), ops_ints_str(ns, buf, sizeof buf));
  }
  return 0;
}

static int ln_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                      nb_tensor **out) {
  int64_t M = 0, N = 0;
  if (ln_check(in[0], in[1], in[2], &attrs[0].ints, &M, &N) < 0) return nb_last_status();
  nb_tensor *x = ops_contig(in[0]), *w = ops_contig(in[1]), *b = ops_contig(in[2]);
  if (!x || (in[1] && !w) || (in[2] && !b)) return nb_last_status();
  nb_tensor *y = nb_empty(nb_ndim(x), nb_shape(x), nb_dtype_of(x));
  nb_tensor *mean = nb_empty(1, &M, NB_F64), *rstd = nb_empty(1, &M, NB_F64);
  if (!y || !mean || !rstd) return nb_last_status();
  ln_job j = {.M = M, .N = N, .eps = attrs[1].f, .x = nb_data(x), .w = w ? nb_data(w) : NULL,
              .b = b ? nb_data(b) : NULL, .mean = nb_data(mean), .rstd = nb_data(rstd), .y = nb_data(y)};
  nb_parallel_for(M, rows_grain(N), nb_dtype_of(x) == NB_F32 ? fwd_f32 : fwd_f64, &j);
  if (nb_ctx_save(ctx, in[0]) < 0 || nb_ctx_save(ctx, in[1]) < 0 || nb_ctx_save(ctx, mean) < 0 ||
      nb_ctx_save(ctx, rstd) < 0)
    return nb_last_status();
  bool has_w = in[1] != NULL;
  if (nb_ctx_recording(ctx) && nb_ctx_save_blob(ctx, &has_w, sizeof has_w) < 0) return nb_last_status();
  out[0] = y;
  return 0;
}

static int ln_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  size_t bsz = 0;
  const bool *flag = nb_ctx_blob(ctx, &bsz);
  bool has_w = flag && bsz == sizeof *flag && *flag;
  nb_tensor *x = nb_ctx_saved(ctx, 0), *w = has_w ? nb_ctx_saved(ctx, 1) : NULL;
  nb_tensor *mean = nb_ctx_saved(ctx, 2), *rstd = nb_ctx_saved(ctx, 3);
  if (!x || !mean || !rstd || (has_w && !w)) return nb_last_status();
  x = ops_contig(x);
  w = w ? ops_contig(w) : NULL;
  nb_tensor *g = ops_contig(grad_out[0]);
  if (!x || !g || (has_w && !w)) return nb_last_status();
  int64_t M = nb_numel(mean), N = M > 0 ? nb_numel(x) / M : 1;
  nb_dtype dt = nb_dtype_of(x);
  ln_job j = {.M = M, .N = N, .x = nb_data(x), .w = w ? nb_data(w) : NULL, .g = nb_data(g),
              .mean = nb_data(mean), .rstd = nb_data(rstd)};
  if (nb_ctx_needs_input_grad(ctx, 0)) {
    nb_tensor *dx = nb_empty(nb_ndim(x), nb_shape(x), dt);
    if (!dx) return nb_last_status();
    j.y = nb_data(dx);
    nb_parallel_for(M, rows_grain(N), dt == NB_F32 ? bwd_dx_f32 : bwd_dx_f64, &j);
    grad_in[0] = dx;
  }
  bool need_w = nb_ctx_needs_input_grad(ctx, 1), need_b = nb_ctx_needs_input_grad(ctx, 2);
  if (need_w || need_b) {
    int nd;
    const int64_t *ws = nb_ctx_input_shape(ctx, need_w ? 1 : 2, &nd);
    nb_tensor *dw = need_w ? nb_empty(nd, ws, dt) : NULL, *db = need_b ? nb_empty(nd, ws, dt) : NULL;
    if ((need_w && !dw) || (need_b && !db)) return nb_last_status();
    j.dw = dw ? nb_data(dw) : NULL;
    j.db = db ? nb_data(db) : NULL;
    nb_parallel_for((N + LN_BLK - 1) / LN_BLK, 1 + NB_PARALLEL_GRAIN / (LN_BLK * (M > 0 ? M : 1)),
                    dt == NB_F32 ? bwd_dwb_f32 : bwd_dwb_f64, &j);
    grad_in[1] = dw;
    grad_in[2] = db;
  }
  return 0;
}

/* Recorded: the statistics recomputed from the saved input with dispatched ops (the saved
 * float64 mean and 1/std are not connected to the graph), then the same formulas as
 * ln_backward. Rows are the last k dims; weight and bias sum over the leading ones. */
static int ln_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  size_t bsz = 0;
  const bool *flag = nb_ctx_blob(ctx, &bsz);
  bool has_w = flag && bsz == sizeof *flag && *flag;
  nb_tensor *x = nb_ctx_saved(ctx, 0), *w = has_w ? nb_ctx_saved(ctx, 1) : NULL, *g = grad_out[0];
  if (!x || (has_w && !w)) return nb_last_status();
  int nd = nb_ndim(x), k = (int)nb_ctx_attrs(ctx)[0].ints.n;
  int64_t rd[NB_MAX_DIMS], ld[NB_MAX_DIMS];
  for (int d = 0; d < k; d++) rd[d] = d - k;
  for (int d = 0; d < nd - k; d++) ld[d] = d;
  nb_tensor *sd, *xh = norm_graph_xhat(x, k, rd, nb_ctx_attrs(ctx)[1].f, &sd); /* x̂ */
  if (!xh) return nb_last_status();
  if (nb_ctx_needs_input_grad(ctx, 0)) {
    nb_tensor *h = w ? NB_CALL("mul", g, w) : g;
    if (!h || !(grad_in[0] = norm_graph_dx(h, xh, sd, k, rd))) return nb_last_status();
  }
  if (nb_ctx_needs_input_grad(ctx, 1)) {
    nb_tensor *gx = NB_CALL("mul", g, xh);
    if (!gx || !(grad_in[1] = gu_reduce("sum", gx, nd - k, ld, false))) return nb_last_status();
  }
  if (nb_ctx_needs_input_grad(ctx, 2) && !(grad_in[2] = gu_reduce("sum", g, nd - k, ld, false)))
    return nb_last_status();
  return 0;
}

static int ln_samples(nb_sample_sink *s) {
  nb_generator *g = nb_sample_generator(s);
  int rc = 0;
  nb_tensor *a[3] = {nb_rand_range(2, (int64_t[]){3, 5}, -2, 2, NB_F64, g),
                     nb_rand_range(1, (int64_t[]){5}, 0.5, 1.5, NB_F64, g),
                     nb_rand_range(1, (int64_t[]){5}, -1, 1, NB_F64, g)};
  rc |= nb_sample_add(s, "[3,5], affine", 3, a, 1, &NB_A_INTS("normalized_shape", 5), 0);
  nb_tensor *b[3] = {nb_rand_range(3, (int64_t[]){2, 3, 4}, -2, 2, NB_F64, g),
                     nb_rand_range(2, (int64_t[]){3, 4}, 0.5, 1.5, NB_F64, g),
                     nb_rand_range(2, (int64_t[]){3, 4}, -1, 1, NB_F64, g)};
  rc |= nb_sample_add(s, "[2,3,4] over [3,4], eps 1e-3", 3, b, 2,
                      (nb_attr[]){NB_A_INTS("normalized_shape", 3, 4), NB_A_FLOAT("eps", 1e-3)}, 0);
  nb_tensor *c[3] = {nb_rand_range(3, (int64_t[]){2, 2, 6}, -2, 2, NB_F64, g), NULL, NULL};
  rc |= nb_sample_add(s, "no weight, no bias", 3, c, 1, &NB_A_INTS("normalized_shape", 6), 0);
  nb_tensor *base = nb_rand_range(2, (int64_t[]){4, 3}, -2, 2, NB_F64, g);
  nb_tensor *d[3] = {nb_as_strided(base, 2, (int64_t[]){3, 4}, (int64_t[]){1, 3}, 0),
                     nb_rand_range(1, (int64_t[]){4}, 0.5, 1.5, NB_F64, g), NULL};
  rc |= nb_sample_add(s, "transposed input, weight only", 3, d, 1, &NB_A_INTS("normalized_shape", 4), 0);
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_input_spec ln_inputs[] = {
    {"input", NB_DT_FLOAT, 0, "(..., *normalized_shape)"},
    {"weight", NB_DT_FLOAT, NB_IN_OPTIONAL, "normalized_shape; same dtype (absent: 1)"},
    {"bias", NB_DT_FLOAT, NB_IN_OPTIONAL, "normalized_shape; same dtype (absent: 0)"},
};
static const nb_output_spec ln_outputs[] = {{"out", 0, "input's shape and dtype"}};
static const nb_attr_spec ln_attrs[] = {
    {.name = "normalized_shape", .type = NB_ATTR_INTS, .flags = NB_ATTR_REQUIRED | NB_ATTR_HAS_MIN,
     .min = 0, .doc = "trailing dims each row normalises over"},
    NORM_EPS_ATTR,
};

const nb_op_desc op_layer_norm = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "layer_norm",
    .doc = "Layer normalisation over the trailing normalized_shape dims, as F.layer_norm: "
           "(x − mean)/√(var + eps)·weight + bias with the biased variance; weight and bias "
           "optional. Statistics in double; gradients for input, weight and bias.",
    .n_inputs = 3,
    .inputs = ln_inputs,
    .n_outputs = 1,
    .outputs = ln_outputs,
    .n_attrs = 2,
    .attrs = ln_attrs,
    .forward = ln_forward,
    .backward = ln_backward,
    .backward_graph = ln_backward_graph,
    .samples = ln_samples,
    .saves = "the input, the weight, and per-row mean and 1/std (float64)",
};
