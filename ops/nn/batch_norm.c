/* ops/nn/batch_norm.c — "batch_norm": PyTorch's F.batch_norm over (N, C, ...) input.
 *
 * Training: each channel is normalised with its batch mean and *biased* variance; the
 * running stats (when given) are updated in place with the *unbiased* variance:
 *   running = (1 − momentum)·running + momentum·stat, and their versions bumped.
 * Eval: the running stats normalise and are left alone. y = (x − μ)/√(σ² + eps)·w + b.
 * Backward in training goes through the batch statistics:
 *   dx = w·invstd·(g − mean(g) − x̂·mean(g·x̂)),  dw = Σ g·x̂,  db = Σ g.
 * Channels are independent, so loops run in parallel over channels and every sum is
 * taken in a fixed order (bit-identical for any thread count).
 * Float32 has its own kernels (bn_f32_*) whose sums vectorise: planes of >= 64 values
 * are summed in 16 fixed double lanes, smaller planes (2-D input, 4x4 maps) column by
 * column across a block of channels (one accumulator per (channel, position), summed
 * over the batch, then over the channel's positions), so the loads stay contiguous.
 * Both are compiled also for AVX2 (ifunc, no FMA: same bits either way).
 */
#include "nn_util.h"
#include "seg_sum.h"
#include "../common/graph_util.h"

#include <math.h>
#include <string.h>

typedef struct bn_job {
  nb_dtype dt;
  int64_t N, C, S;
  const void *x, *w, *b;
  int64_t wst, bst;
  void *y;
  double *mean, *invstd; /* per channel (outputs in training, inputs in eval) */
  /* running stats update (training) */
  void *rm, *rv;
  int64_t rmst, rvst;
  double momentum, eps;
  bool training;
  /* backward */
  const void *g;
  void *dx, *dw, *db;
} bn_job;

static double ld(nb_dtype dt, const void *p, int64_t i) {
  return dt == NB_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}
static void st(nb_dtype dt, void *p, int64_t i, double v) {
  if (dt == NB_F32)
    ((float *)p)[i] = (float)v;
  else
    ((double *)p)[i] = v;
}

/* 1/sqrt(var + eps) of a batch; PyTorch defines it as 0 for a zero-variance channel when
 * eps is 0 (output b and gradient 0 instead of NaN). */
static double bn_invstd(double var, double eps) {
  return var == 0 && eps == 0 ? 0.0 : 1.0 / sqrt(var + eps);
}

#define BN_KERNELS(T, SUF)                                                                   \
  static void fwd_##SUF(int64_t c0, int64_t c1, void *u) {                                   \
    bn_job *j = u;                                                                           \
    const T *x = j->x;                                                                       \
    T *y = j->y;                                                                             \
    int64_t M = j->N * j->S;                                                                 \
    for (int64_t c = c0; c < c1; c++) {                                                      \
      double mean, invstd;                                                                   \
      if (j->training) {                                                                     \
        double s = 0, ss = 0;                                                                \
        for (int64_t n = 0; n < j->N; n++) {                                                 \
          const T *p = x + (n * j->C + c) * j->S;                                            \
          for (int64_t i = 0; i < j->S; i++) s += p[i];                                      \
        }                                                                                    \
        mean = M > 0 ? s / (double)M : 0.0;                                                  \
        for (int64_t n = 0; n < j->N; n++) {                                                 \
          const T *p = x + (n * j->C + c) * j->S;                                            \
          for (int64_t i = 0; i < j->S; i++) ss += ((double)p[i] - mean) * ((double)p[i] - mean); \
        }                                                                                    \
        double var = M > 0 ? ss / (double)M : 0.0;                                           \
        invstd = bn_invstd(var, j->eps);                                                     \
        j->mean[c] = mean;                                                                   \
        j->invstd[c] = invstd;                                                               \
        if (j->rm && M > 0) { /* an empty batch leaves the running stats alone (PyTorch) */ \
          double r = ld(j->dt, j->rm, c * j->rmst);                                          \
          st(j->dt, j->rm, c * j->rmst, (1 - j->momentum) * r + j->momentum * mean);         \
        }                                                                                    \
        if (j->rv && M > 0) {                                                                \
          double r = ld(j->dt, j->rv, c * j->rvst), unb = M > 1 ? ss / (double)(M - 1) : var; \
          st(j->dt, j->rv, c * j->rvst, (1 - j->momentum) * r + j->momentum * unb);          \
        }                                                                                    \
      } else {                                                                               \
        mean = j->mean[c];                                                                   \
        invstd = j->invstd[c];                                                               \
      }                                                                                      \
      double a = invstd * (j->w ? ld(j->dt, j->w, c * j->wst) : 1.0);                        \
      double b = (j->b ? ld(j->dt, j->b, c * j->bst) : 0.0) - mean * a;                      \
      T af = (T)a, bf = (T)b;                                                                \
      for (int64_t n = 0; n < j->N; n++) {                                                   \
        const T *p = x + (n * j->C + c) * j->S;                                              \
        T *q = y + (n * j->C + c) * j->S;                                                    \
        for (int64_t i = 0; i < j->S; i++) q[i] = p[i] * af + bf;                            \
      }                                                                                      \
    }                                                                                        \
  }                                                                                          \
  static void bwd_##SUF(int64_t c0, int64_t c1, void *u) {                                   \
    bn_job *j = u;                                                                           \
    const T *x = j->x, *g = j->g;                                                            \
    int64_t M = j->N * j->S;                                                                 \
    for (int64_t c = c0; c < c1; c++) {                                                      \
      double mean = j->mean[c], invstd = j->invstd[c], sg = 0, sgx = 0;                      \
      for (int64_t n = 0; n < j->N; n++) {                                                   \
        const T *p = x + (n * j->C + c) * j->S, *q = g + (n * j->C + c) * j->S;              \
        for (int64_t i = 0; i < j->S; i++) {                                                 \
          sg += q[i];                                                                        \
          sgx += (double)q[i] * ((double)p[i] - mean);                                       \
        }                                                                                    \
      }                                                                                      \
      if (j->dw) st(j->dt, j->dw, c, sgx * invstd);                                          \
      if (j->db) st(j->dt, j->db, c, sg);                                                    \
      if (!j->dx) continue;                                                                  \
      double w = j->w ? ld(j->dt, j->w, c * j->wst) : 1.0, k = w * invstd;                   \
      /* dx = k·g + kx·(x − mean) + k0 */                                                    \
      double kx = 0, k0 = 0;                                                                 \
      if (j->training && M > 0) {                                                            \
        kx = -k * invstd * invstd * sgx / (double)M;                                         \
        k0 = -k * sg / (double)M;                                                            \
      }                                                                                      \
      T *d = j->dx;                                                                          \
      for (int64_t n = 0; n < j->N; n++) {                                                   \
        const T *p = x + (n * j->C + c) * j->S, *q = g + (n * j->C + c) * j->S;              \
        T *o = d + (n * j->C + c) * j->S;                                                    \
        for (int64_t i = 0; i < j->S; i++)                                                   \
          o[i] = (T)(k * q[i] + kx * ((double)p[i] - mean) + k0);                            \
      }                                                                                      \
    }                                                                                        \
  }

BN_KERNELS(double, f64)

/* ---- float32 ------------------------------------------------------------------------ */

#define SMALL_S 64   /* planes below this many values take the column kernels */
#define COLS 512     /* accumulator columns per channel block of the column kernels */

/* sg += Σ g[i], sgx += Σ g[i]·(p[i] − m) over n floats, in LANES double lanes; with dx
 * (eval backward) also dx[i] = k·g[i] in the same pass. */
NB_SIMD_CLONES static void seg_dot(const float *restrict g, const float *restrict p, int64_t n, double m,
                           float k, float *restrict dx, double *sg, double *sgx) {
  bn_v4d a[4] = {{0}}, b[4] = {{0}};
  double ra = 0, rb = 0;
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES) {
    for (int q = 0; q < 4; q++) {
      bn_v4d gd = ld4(g + i + 4 * q);
      a[q] += gd;
      b[q] += gd * (ld4(p + i + 4 * q) - m);
    }
    if (dx)
      for (int l = 0; l < LANES; l++) dx[i + l] = k * g[i + l];
  }
  for (; i < n; i++) {
    ra += g[i];
    rb += (double)g[i] * ((double)p[i] - m);
    if (dx) dx[i] = k * g[i];
  }
  *sg += lanes_sum(ra, a);
  *sgx += lanes_sum(rb, b);
}

/* y = x·a + b over n floats (one plane). */
NB_SIMD_CLONES static void seg_affine(float *y, const float *x, float a, float b, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * a + b;
}

/* Column accumulators: acc[i] += p[i] (m NULL) or (p[i] − m[i])². */
NB_SIMD_CLONES static void col_sum(double *acc, const float *p, const double *m, int64_t n) {
  if (m == NULL)
    for (int64_t i = 0; i < n; i++) acc[i] += p[i];
  else
    for (int64_t i = 0; i < n; i++) acc[i] += ((double)p[i] - m[i]) * ((double)p[i] - m[i]);
}

/* sg[i] += g[i], sgx[i] += g[i]·(p[i] − m[i]). */
NB_SIMD_CLONES static void col_dot(double *sg, double *sgx, const float *g, const float *p, const double *m,
                           int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    sg[i] += g[i];
    sgx[i] += (double)g[i] * ((double)p[i] - m[i]);
  }
}

/* y = x·a + b elementwise with per-column a, b (n values). */
NB_SIMD_CLONES static void col_affine(float *y, const float *x, const float *a, const float *b, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * a[i] + b[i];
}

/* dx = k·g + kx·(x − m) + k0 with per-column k, kx, m, k0 (n values). */
NB_SIMD_CLONES static void col_dx(float *dx, const float *g, const float *x, const float *k, const float *kx,
                          const float *m, const float *k0, int64_t n) {
  for (int64_t i = 0; i < n; i++) dx[i] = k[i] * g[i] + kx[i] * (x[i] - m[i]) + k0[i];
}

/* Channel c's statistics from j->mean[c] and its sum of squared deviations ss (training),
 * or the running ones (eval); running stats update; the affine map y = a·x + b. */
static void bn_channel(bn_job *j, int64_t c, double ss, float *a, float *b) {
  int64_t M = j->N * j->S;
  double mean, invstd;
  if (j->training) {
    mean = j->mean[c];
    double var = M > 0 ? ss / (double)M : 0.0;
    invstd = bn_invstd(var, j->eps);
    j->invstd[c] = invstd;
    if (j->rm && M > 0) { /* an empty batch leaves the running stats alone (PyTorch) */
      double r = ld(j->dt, j->rm, c * j->rmst);
      st(j->dt, j->rm, c * j->rmst, (1 - j->momentum) * r + j->momentum * mean);
    }
    if (j->rv && M > 0) {
      double r = ld(j->dt, j->rv, c * j->rvst), unb = M > 1 ? ss / (double)(M - 1) : var;
      st(j->dt, j->rv, c * j->rvst, (1 - j->momentum) * r + j->momentum * unb);
    }
  } else {
    mean = j->mean[c];
    invstd = j->invstd[c];
  }
  double av = invstd * (j->w ? ld(j->dt, j->w, c * j->wst) : 1.0);
  *a = (float)av;
  *b = (float)((j->b ? ld(j->dt, j->b, c * j->bst) : 0.0) - mean * av);
}

static void fwd_f32(int64_t c0, int64_t c1, void *u) {
  bn_job *j = u;
  const float *x = j->x;
  float *y = j->y;
  int64_t N = j->N, C = j->C, S = j->S, M = N * S;
  if (S >= SMALL_S) {
    for (int64_t c = c0; c < c1; c++) {
      double ss = 0;
      if (j->training) {
        double s = 0;
        for (int64_t n = 0; n < N; n++) s += seg_sum(x + (n * C + c) * S, S, false, 0);
        j->mean[c] = M > 0 ? s / (double)M : 0.0;
        for (int64_t n = 0; n < N; n++) ss += seg_sum(x + (n * C + c) * S, S, true, j->mean[c]);
      }
      float a, b;
      bn_channel(j, c, ss, &a, &b);
      for (int64_t n = 0; n < N; n++) seg_affine(y + (n * C + c) * S, x + (n * C + c) * S, a, b, S);
    }
    return;
  }
  double acc[COLS], mcol[COLS];
  float acol[COLS], bcol[COLS];
  int64_t cb = COLS / S;
  for (int64_t b0 = c0; b0 < c1; b0 += cb) {
    int64_t b1 = b0 + cb < c1 ? b0 + cb : c1, ncol = (b1 - b0) * S;
    if (j->training) {
      memset(acc, 0, sizeof(double) * (size_t)ncol);
      for (int64_t n = 0; n < N; n++) col_sum(acc, x + (n * C + b0) * S, NULL, ncol);
      for (int64_t c = b0; c < b1; c++) {
        double s = 0;
        for (int64_t i = 0; i < S; i++) s += acc[(c - b0) * S + i];
        j->mean[c] = M > 0 ? s / (double)M : 0.0;
        for (int64_t i = 0; i < S; i++) mcol[(c - b0) * S + i] = j->mean[c];
      }
      memset(acc, 0, sizeof(double) * (size_t)ncol);
      for (int64_t n = 0; n < N; n++) col_sum(acc, x + (n * C + b0) * S, mcol, ncol);
    }
    for (int64_t c = b0; c < b1; c++) {
      double ss = 0;
      if (j->training)
        for (int64_t i = 0; i < S; i++) ss += acc[(c - b0) * S + i];
      float a, b;
      bn_channel(j, c, ss, &a, &b);
      for (int64_t i = 0; i < S; i++) acol[(c - b0) * S + i] = a, bcol[(c - b0) * S + i] = b;
    }
    for (int64_t n = 0; n < N; n++)
      col_affine(y + (n * C + b0) * S, x + (n * C + b0) * S, acol, bcol, ncol);
  }
}

/* Channel c's gradient coefficients from sg = Σ g and sgx = Σ g·(x − mean): writes
 * dw, db and returns dx = k·g + kx·(x − mean) + k0 through k, kx, k0. */
static void bn_grad_channel(const bn_job *j, int64_t c, double sg, double sgx, float *k, float *kx,
                            float *k0) {
  int64_t M = j->N * j->S;
  double invstd = j->invstd[c];
  if (j->dw) st(j->dt, j->dw, c, sgx * invstd);
  if (j->db) st(j->dt, j->db, c, sg);
  double w = j->w ? ld(j->dt, j->w, c * j->wst) : 1.0, kk = w * invstd, kxx = 0, kk0 = 0;
  if (j->training && M > 0) {
    kxx = -kk * invstd * invstd * sgx / (double)M;
    kk0 = -kk * sg / (double)M;
  }
  *k = (float)kk, *kx = (float)kxx, *k0 = (float)kk0;
}

static void bwd_f32(int64_t c0, int64_t c1, void *u) {
  bn_job *j = u;
  const float *x = j->x, *g = j->g;
  float *d = j->dx;
  int64_t N = j->N, C = j->C, S = j->S;
  if (S >= SMALL_S) {
    for (int64_t c = c0; c < c1; c++) {
      double sg = 0, sgx = 0;
      float k, kx, k0, m = (float)j->mean[c];
      if (!j->training && d) { /* dx = k·g needs no sums: one pass */
        float ke = (float)(j->invstd[c] * (j->w ? ld(j->dt, j->w, c * j->wst) : 1.0));
        for (int64_t n = 0; n < N; n++)
          seg_dot(g + (n * C + c) * S, x + (n * C + c) * S, S, j->mean[c], ke, d + (n * C + c) * S, &sg,
                  &sgx);
        bn_grad_channel(j, c, sg, sgx, &k, &kx, &k0);
        continue;
      }
      for (int64_t n = 0; n < N; n++)
        seg_dot(g + (n * C + c) * S, x + (n * C + c) * S, S, j->mean[c], 0, NULL, &sg, &sgx);
      bn_grad_channel(j, c, sg, sgx, &k, &kx, &k0);
      if (!d) continue;
      for (int64_t n = 0; n < N; n++) {
        const float *p = x + (n * C + c) * S, *q = g + (n * C + c) * S;
        float *o = d + (n * C + c) * S;
        for (int64_t i = 0; i < S; i++) o[i] = k * q[i] + kx * (p[i] - m) + k0;
      }
    }
    return;
  }
  double asg[COLS], asgx[COLS], mcol[COLS];
  float kc[COLS], kxc[COLS], mc[COLS], k0c[COLS];
  int64_t cb = COLS / S;
  for (int64_t b0 = c0; b0 < c1; b0 += cb) {
    int64_t b1 = b0 + cb < c1 ? b0 + cb : c1, ncol = (b1 - b0) * S;
    memset(asg, 0, sizeof(double) * (size_t)ncol);
    memset(asgx, 0, sizeof(double) * (size_t)ncol);
    for (int64_t c = b0; c < b1; c++)
      for (int64_t i = 0; i < S; i++) mcol[(c - b0) * S + i] = j->mean[c];
    for (int64_t n = 0; n < N; n++)
      col_dot(asg, asgx, g + (n * C + b0) * S, x + (n * C + b0) * S, mcol, ncol);
    for (int64_t c = b0; c < b1; c++) {
      double sg = 0, sgx = 0;
      for (int64_t i = 0; i < S; i++) sg += asg[(c - b0) * S + i], sgx += asgx[(c - b0) * S + i];
      float k, kx, k0;
      bn_grad_channel(j, c, sg, sgx, &k, &kx, &k0);
      for (int64_t i = 0; i < S; i++) {
        int64_t q = (c - b0) * S + i;
        kc[q] = k, kxc[q] = kx, k0c[q] = k0, mc[q] = (float)j->mean[c];
      }
    }
    if (d)
      for (int64_t n = 0; n < N; n++)
        col_dx(d + (n * C + b0) * S, g + (n * C + b0) * S, x + (n * C + b0) * S, kc, kxc, mc, k0c, ncol);
  }
}

static int check_vec(nb_tensor *x, nb_tensor *v, const char *name, int64_t C) {
  if (v == NULL) return 0;
  if (ops_same_dtype("batch_norm", x, "input", v, name) < 0) return NB_EDTYPE;
  if (nb_ndim(v) != 1 || nb_shape(v)[0] != C)
    return nb_set_error(NB_ESHAPE, "batch_norm: %s must have shape [%lld] for input %s, got %s", name,
                        (long long)C, nb_shape_of(x), nb_shape_of(v));
  return 0;
}

static int batch_norm_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                              nb_tensor **out) {
  nb_tensor *x0 = in[0], *rm = in[1], *rv = in[2], *w = in[3], *b = in[4];
  bool training = attrs[0].i != 0;
  int nd = nb_ndim(x0);
  const int64_t *sh = nb_shape(x0);
  if (nd < 2)
    return nb_set_error(NB_ESHAPE, "batch_norm: input must have at least 2 dims (N, C, ...), got %s",
                        nb_shape_of(x0));
  int64_t N = sh[0], C = sh[1], S = 1;
  for (int d = 2; d < nd; d++) S *= sh[d];
  if (check_vec(x0, rm, "running_mean", C) < 0 || check_vec(x0, rv, "running_var", C) < 0 ||
      check_vec(x0, w, "weight", C) < 0 || check_vec(x0, b, "bias", C) < 0)
    return nb_last_status();
  if (training && N * S == 1)
    return nb_set_error(NB_ESHAPE,
                        "batch_norm: Expected more than 1 value per channel when training, got input size %s",
                        nb_shape_of(x0));
  if (!training && (rm == NULL || rv == NULL))
    return nb_set_error(NB_EINVAL, "batch_norm: running_mean and running_var must be given in evaluation mode");
  nb_dtype dt = nb_dtype_of(x0);
  nb_tensor *x = ops_contig(x0);
  nb_tensor *y = nb_empty(nd, sh, dt);
  nb_tensor *mean = nb_empty(1, &C, NB_F64), *invstd = nb_empty(1, &C, NB_F64);
  if (x == NULL || y == NULL || mean == NULL || invstd == NULL) return nb_last_status();
  bn_job j = {.dt = dt, .N = N, .C = C, .S = S, .x = nb_data(x), .y = nb_data(y),
              .w = w ? nb_data(w) : NULL, .wst = w ? nb_strides(w)[0] : 0,
              .b = b ? nb_data(b) : NULL, .bst = b ? nb_strides(b)[0] : 0,
              .mean = nb_data(mean), .invstd = nb_data(invstd), .momentum = attrs[1].f,
              .eps = attrs[2].f, .training = training};
  if (training) {
    j.rm = rm ? nb_data(rm) : NULL;
    j.rv = rv ? nb_data(rv) : NULL;
    j.rmst = rm ? nb_strides(rm)[0] : 0;
    j.rvst = rv ? nb_strides(rv)[0] : 0;
  } else {
    for (int64_t c = 0; c < C; c++) {
      j.mean[c] = ld(dt, nb_data(rm), c * nb_strides(rm)[0]);
      j.invstd[c] = 1.0 / sqrt(ld(dt, nb_data(rv), c * nb_strides(rv)[0]) + j.eps);
    }
  }
  nb_parallel_for(C, 1 + NB_PARALLEL_GRAIN / (N * S + 1), dt == NB_F32 ? fwd_f32 : fwd_f64, &j);
  if (training) {
    if (rm) nb_bump_version(rm);
    if (rv) nb_bump_version(rv);
  }
  if (nb_ctx_recording(ctx)) {
    if (nb_ctx_save(ctx, x0) < 0 || nb_ctx_save(ctx, mean) < 0 || nb_ctx_save(ctx, invstd) < 0)
      return nb_last_status();
    if (w && nb_ctx_save(ctx, w) < 0) return nb_last_status();
    unsigned char has_w = w != NULL;
    if (nb_ctx_save_blob(ctx, &has_w, 1) < 0) return nb_last_status();
  }
  out[0] = y;
  return 0;
}

static int batch_norm_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *x = nb_ctx_saved(ctx, 0), *mean = nb_ctx_saved(ctx, 1), *invstd = nb_ctx_saved(ctx, 2);
  if (x == NULL || mean == NULL || invstd == NULL) return nb_last_status();
  size_t bsz = 0;
  const unsigned char *has_w = nb_ctx_blob(ctx, &bsz);
  nb_tensor *w = NULL;
  if (has_w != NULL && bsz == 1 && *has_w && (w = nb_ctx_saved(ctx, 3)) == NULL)
    return nb_last_status();
  nb_dtype dt = nb_dtype_of(x);
  x = ops_contig(x);
  nb_tensor *g = ops_contig(grad_out[0]);
  if (x == NULL || g == NULL) return nb_last_status();
  int nd = nb_ndim(x);
  const int64_t *sh = nb_shape(x);
  int64_t N = sh[0], C = sh[1], S = 1;
  for (int d = 2; d < nd; d++) S *= sh[d];
  nb_tensor *dx = nb_ctx_needs_input_grad(ctx, 0) ? nb_empty(nd, sh, dt) : NULL;
  nb_tensor *dw = nb_ctx_needs_input_grad(ctx, 3) ? nb_empty(1, &C, dt) : NULL;
  nb_tensor *db = nb_ctx_needs_input_grad(ctx, 4) ? nb_empty(1, &C, dt) : NULL;
  if ((nb_ctx_needs_input_grad(ctx, 0) && !dx) || (nb_ctx_needs_input_grad(ctx, 3) && !dw) ||
      (nb_ctx_needs_input_grad(ctx, 4) && !db))
    return nb_last_status();
  bn_job j = {.dt = dt, .N = N, .C = C, .S = S, .x = nb_data(x), .g = nb_data(g),
              .w = w ? nb_data(w) : NULL, .wst = w ? nb_strides(w)[0] : 0,
              .mean = nb_data(mean), .invstd = nb_data(invstd),
              .training = nb_ctx_attrs(ctx)[0].i != 0, .dx = dx ? nb_data(dx) : NULL,
              .dw = dw ? nb_data(dw) : NULL, .db = db ? nb_data(db) : NULL};
  nb_parallel_for(C, 1 + NB_PARALLEL_GRAIN / (N * S + 1), dt == NB_F32 ? bwd_f32 : bwd_f64, &j);
  grad_in[0] = dx;
  grad_in[3] = dw;
  grad_in[4] = db;
  return 0;
}

/* Recorded. Training recomputes the batch statistics from x with dispatched ops, so the
 * second derivative goes through them; eval uses the saved (constant) running stats:
 *   x̂ = (x − μ)·invstd, dx = w·invstd·(g − mean(g) − x̂·mean(g·x̂)) (training) or
 *   w·invstd·g (eval), dw = Σ g·x̂, db = Σ g (sums and means over every dim but 1). */
static int batch_norm_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *x = nb_ctx_saved(ctx, 0), *mean = nb_ctx_saved(ctx, 1), *invstd = nb_ctx_saved(ctx, 2);
  if (x == NULL || mean == NULL || invstd == NULL) return nb_last_status();
  size_t bsz = 0;
  const unsigned char *has_w = nb_ctx_blob(ctx, &bsz);
  nb_tensor *w = NULL, *g = grad_out[0];
  if (has_w != NULL && bsz == 1 && *has_w && (w = nb_ctx_saved(ctx, 3)) == NULL)
    return nb_last_status();
  const nb_attr_value *a = nb_ctx_attrs(ctx);
  int nd = nb_ndim(x);
  int64_t cshape[NB_MAX_DIMS], C = nb_shape(x)[1];
  nb_attr red = {.name = "dim", .type = NB_ATTR_INTS};
  for (int d = 0; d < nd; d++) {
    cshape[d] = d == 1 ? C : 1;
    if (d != 1) red.v.ints.v[red.v.ints.n++] = d;
  }
  nb_attr keep[2] = {red, NB_A_BOOL("keepdim", true)};
#define BN_MEAN(t) ((t) ? nb_call1("mean", 1, (nb_tensor *const[]){t}, 2, keep) : NULL)
#define BN_SUM(t) ((t) ? nb_call1("sum", 1, (nb_tensor *const[]){t}, 1, &red) : NULL)
  bool training = a[0].i != 0;
  nb_tensor *istd, *xc;
  if (training) {
    nb_tensor *m = BN_MEAN(x);
    xc = m ? NB_CALL("sub", x, m) : NULL;
    nb_tensor *xc2 = xc ? NB_CALL("mul", xc, xc) : NULL, *var = BN_MEAN(xc2);
    nb_tensor *ve = var ? gu_scalar("add", var, a[2].f) : NULL;
    istd = ve ? gu_scalar("pow", ve, -0.5) : NULL;
  } else {
    nb_tensor *m = gu_reshape(mean, nd, cshape);
    istd = gu_reshape(invstd, nd, cshape);
    xc = m && istd ? NB_CALL("sub", x, m) : NULL;
  }
  nb_tensor *xhat = xc && istd ? NB_CALL("mul", xc, istd) : NULL;
  if (!xhat) return nb_last_status();
  if (nb_ctx_needs_input_grad(ctx, 0)) {
    nb_tensor *inner = g;
    if (training) {
      nb_tensor *gx = NB_CALL("mul", g, xhat), *mg = BN_MEAN(g), *mgx = BN_MEAN(gx);
      nb_tensor *t = mgx ? NB_CALL("mul", xhat, mgx) : NULL;
      nb_tensor *d = t && mg ? NB_CALL("sub", g, mg) : NULL;
      inner = d ? NB_CALL("sub", d, t) : NULL;
    }
    nb_tensor *dx = inner ? NB_CALL("mul", inner, istd) : NULL;
    if (dx && w) {
      nb_tensor *wb = gu_reshape(w, nd, cshape);
      dx = wb ? NB_CALL("mul", dx, wb) : NULL;
    }
    if (!(grad_in[0] = dx)) return nb_last_status();
  }
  if (nb_ctx_needs_input_grad(ctx, 3)) {
    nb_tensor *gx = NB_CALL("mul", g, xhat);
    if (!(grad_in[3] = BN_SUM(gx))) return nb_last_status();
  }
  if (nb_ctx_needs_input_grad(ctx, 4) && !(grad_in[4] = BN_SUM(g))) return nb_last_status();
#undef BN_MEAN
#undef BN_SUM
  return 0;
}

static int bn_sample(nb_sample_sink *s, const char *desc, int nd, const int64_t *xs, bool stats,
                     bool affine, bool training) {
  nb_generator *gen = nb_sample_generator(s);
  int64_t C = xs[1];
  nb_tensor *in[5] = {nb_rand_range(nd, xs, -2, 2, NB_F64, gen),
                      stats ? nb_rand_range(1, &C, -0.5, 0.5, NB_F64, gen) : NULL,
                      stats ? nb_rand_range(1, &C, 0.5, 1.5, NB_F64, gen) : NULL,
                      affine ? nb_rand_range(1, &C, 0.5, 1.5, NB_F64, gen) : NULL,
                      affine ? nb_rand_range(1, &C, -1, 1, NB_F64, gen) : NULL};
  nb_attr at[1] = {NB_A_BOOL("training", training)};
  return nb_sample_add(s, desc, 5, in, 1, at, 0);
}

static int batch_norm_samples(nb_sample_sink *s) {
  int rc = 0;
  rc |= bn_sample(s, "4-D training, affine, running stats", 4, (int64_t[]){3, 2, 2, 3}, true, true, true);
  rc |= bn_sample(s, "2-D training, affine", 2, (int64_t[]){4, 3}, true, true, true);
  rc |= bn_sample(s, "4-D training, no affine, no running stats", 4, (int64_t[]){2, 3, 2, 2}, false, false, true);
  rc |= bn_sample(s, "3-D training", 3, (int64_t[]){2, 2, 3}, true, true, true);
  rc |= bn_sample(s, "4-D eval (running stats)", 4, (int64_t[]){2, 3, 2, 2}, true, true, false);
  rc |= bn_sample(s, "2-D eval, no affine", 2, (int64_t[]){3, 4}, true, false, false);
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_input_spec inputs[] = {
    {"input", NB_DT_FLOAT, 0, "(N, C, ...): 2-D, 3-D or 4-D"},
    {"running_mean", NB_DT_FLOAT, NB_IN_OPTIONAL | NB_IN_NONDIFF,
     "(C); updated in place in training (version bumped); required in eval"},
    {"running_var", NB_DT_FLOAT, NB_IN_OPTIONAL | NB_IN_NONDIFF,
     "(C); updated in place with the unbiased batch variance in training; required in eval"},
    {"weight", NB_DT_FLOAT, NB_IN_OPTIONAL, "(C) scale gamma, optional"},
    {"bias", NB_DT_FLOAT, NB_IN_OPTIONAL, "(C) shift beta, optional"},
};
static const nb_output_spec outputs[] = {{"out", 0, "normalised input, same shape"}};
static const nb_attr_spec attrs[] = {
    {"training", NB_ATTR_BOOL, 0, {.i = 0}, 0, 0, NULL,
     "true: batch statistics (and update the running stats); false: use the running stats"},
    {"momentum", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN | NB_ATTR_HAS_MAX, {.f = 0.1}, 0, 1, NULL,
     "running = (1 - momentum) * running + momentum * batch statistic"},
    {"eps", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN, {.f = 1e-5}, 0, 0, NULL,
     "added to the variance before the square root"},
};

const nb_op_desc op_batch_norm = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "batch_norm",
    .doc = "Batch normalisation over the channel dim of (N, C, ...) input, as PyTorch's "
           "F.batch_norm. Training normalises with the biased batch variance and updates "
           "running_mean/running_var in place (unbiased variance, momentum) and bumps their "
           "versions; one value per channel is an error. Eval uses the running stats and "
           "leaves them alone. num_batches_tracked is a module's business, not this op's.",
    .n_inputs = 5,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .n_attrs = 3,
    .attrs = attrs,
    .forward = batch_norm_forward,
    .backward = batch_norm_backward,
    .backward_graph = batch_norm_backward_graph,
    .samples = batch_norm_samples,
    .saves = "input, the per-channel mean and 1/sqrt(var + eps) used (float64), and weight",
};
