/* tests/nn/test_nn.c — the nn plugin's ops: closed-form cases worked by hand, PyTorch
 * reference values (tests/nn/reference.txt from gen_reference.py), error messages,
 * determinism under a fixed thread count, and leak checks. */
#include <stdint.h>
#include <string.h>

#include "refcase.h"
#include "testutil.h"

#define T1(...) nb_from_doubles((double[]){__VA_ARGS__}, sizeof((double[]){__VA_ARGS__}) / sizeof(double), NB_F64)
#define SHAPE(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

/* backward of Σ t (seed gradient of ones), without depending on the reduction plugin */
static int backward_ones(nb_tensor *t) { return nb_backward(t, nb_ones_like(t), 0); }

static double total(const nb_tensor *t) {
  int64_t n = nb_numel(t);
  double *v = malloc(sizeof(double) * (size_t)n), s = 0;
  nb_to_doubles(t, v, n);
  for (int64_t i = 0; i < n; i++) s += v[i];
  free(v);
  return s;
}

static nb_tensor *reshape_data(nb_tensor *t, int nd, const int64_t *shape) {
  return nb_from_data(nb_data(t), nd, shape, nb_dtype_of(t));
}

/* ---- closed form ----------------------------------------------------------------------- */

START_TEST(test_conv2d_hand) {
  nb_scope_begin();
  /* 1×1×3×3 input 1..9, kernel [[1,0],[0,-1]]: each output is x[i][j] − x[i+1][j+1] = −4 */
  nb_tensor *x = nb_requires_grad_(reshape_data(T1(1, 2, 3, 4, 5, 6, 7, 8, 9), SHAPE(1, 1, 3, 3)));
  nb_tensor *w = nb_requires_grad_(reshape_data(T1(1, 0, 0, -1), SHAPE(1, 1, 2, 2)));
  nb_tensor *b = nb_requires_grad_(T1(0.5));
  nb_tensor *y = nb_conv2d(x, w, b, NULL, NULL, NULL, 1);
  ck_assert_msg(y != NULL, "%s", nb_last_error());
  ck_assert_int_eq(nb_ndim(y), 4);
  ck_assert_int_eq(nb_shape(y)[2], 2);
  ck_assert_tensor_values(y, ((double[]){-3.5, -3.5, -3.5, -3.5}), 4, 1e-12);
  ck_assert_int_eq(backward_ones(y), 0);
  /* dx[a][b] = Σ w[a−i][b−j]; dW[p][q] = Σ x[i+p][j+q]; db = 4 */
  ck_assert_tensor_values(nb_grad(x), ((double[]){1, 1, 0, 1, 0, -1, 0, -1, -1}), 9, 1e-12);
  ck_assert_tensor_values(nb_grad(w), ((double[]){12, 16, 24, 28}), 4, 1e-12);
  ck_assert_tensor_values(nb_grad(b), ((double[]){4}), 1, 1e-12);
  nb_scope_end();
}
END_TEST

START_TEST(test_conv2d_output_size) {
  nb_scope_begin();
  /* out = floor((H + 2p − d(k−1) − 1)/s) + 1 = floor((7 + 2 − 4 − 1)/2) + 1 = 3, W: (9+0-2-1)/1+1 = 7 */
  nb_tensor *x = nb_zeros(SHAPE(2, 4, 7, 9), NB_F32), *w = nb_zeros(SHAPE(6, 2, 3, 3), NB_F32);
  nb_tensor *y = nb_conv2d(x, w, NULL, (int64_t[]){2, 1}, (int64_t[]){1, 0}, (int64_t[]){2, 1}, 2);
  ck_assert_msg(y != NULL, "%s", nb_last_error());
  ck_assert_int_eq(nb_shape(y)[0], 2);
  ck_assert_int_eq(nb_shape(y)[1], 6);
  ck_assert_int_eq(nb_shape(y)[2], 3);
  ck_assert_int_eq(nb_shape(y)[3], 7);
  nb_scope_end();
}
END_TEST

/* A batch of 70 with a 4×4 output shares column matrices across samples (16 per GEMM,
 * the last chunk partial); it must agree with the samples convolved one by one. Loop 0:
 * 2×2 kernel without padding; loop 1: 3×3 with padding 1 (the shifted-plane path of
 * im2col/col2im, output width = input width). */
START_TEST(test_conv2d_batch_chunks_match_single) {
  nb_scope_begin();
  int64_t k = _i == 0 ? 2 : 3, pad = _i == 0 ? 0 : 1, hw = _i == 0 ? 5 : 4;
  int64_t xs = 2 * hw * hw, ys = 3 * 16;
  nb_generator *g = nb_generator_new(7);
  nb_tensor *x = nb_requires_grad_(nb_randn(SHAPE(70, 2, hw, hw), NB_F64, g));
  nb_tensor *w = nb_requires_grad_(nb_randn(4, (int64_t[]){3, 2, k, k}, NB_F64, g));
  nb_tensor *b = nb_randn(SHAPE(3), NB_F64, g);
  int64_t *pp = (int64_t[]){pad, pad};
  nb_tensor *y = nb_conv2d(x, w, b, NULL, pp, NULL, 1);
  ck_assert_msg(y != NULL, "%s", nb_last_error());
  ck_assert_int_eq(nb_shape(y)[2], 4);
  nb_tensor *gy = nb_randn(4, nb_shape(y), NB_F64, g);
  ck_assert_int_eq(nb_backward(y, gy, 0), 0);
  int64_t nw = nb_numel(w);
  double *dw_sum = calloc((size_t)nw, sizeof(double));
  for (int64_t n = 0; n < 70; n++) {
    nb_tensor *xn = nb_requires_grad_(nb_from_data((double *)nb_data(x) + n * xs, SHAPE(1, 2, hw, hw), NB_F64));
    nb_tensor *wn = nb_requires_grad_(nb_copy_data(w));
    nb_tensor *yn = nb_conv2d(xn, wn, b, NULL, pp, NULL, 1);
    nb_tensor *gn = nb_from_data((double *)nb_data(gy) + n * ys, SHAPE(1, 3, 4, 4), NB_F64);
    ck_assert_int_eq(nb_backward(yn, gn, 0), 0);
    for (int i = 0; i < ys; i++)
      ck_assert_double_eq_tol(((double *)nb_data(yn))[i], ((double *)nb_data(y))[n * ys + i], 1e-12);
    for (int i = 0; i < xs; i++)
      ck_assert_double_eq_tol(((double *)nb_data(nb_grad(xn)))[i],
                              ((double *)nb_data(nb_grad(x)))[n * xs + i], 1e-12);
    for (int i = 0; i < nw; i++) dw_sum[i] += ((double *)nb_data(nb_grad(wn)))[i];
  }
  for (int i = 0; i < nw; i++)
    ck_assert_double_eq_tol(dw_sum[i], ((double *)nb_data(nb_grad(w)))[i], 1e-10);
  free(dw_sum);
  nb_generator_free(g);
  nb_scope_end();
}
END_TEST

/* Element i of a float32 or float64 buffer, as double. */
static double elem(const void *p, int64_t i, nb_dtype dt) {
  return dt == NB_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

/* conv2d against a direct 7-loop convolution (forward, grad input, grad weight) on
 * shapes that take both im2col paths: general (wide outputs; with stride 2 the
 * even/odd-column kernel, here also with dilation 3, whose kernel columns alternate
 * halves) and padded-plane (small), a batch of 2 with 2x2 outputs (8 columns: the
 * weight gradient's G·colᵀ form) and odd channel counts (edges of the transposes of the
 * weight gradient). Loops 0-8 in float64, 9-17 the same shapes in float32. */
#define CONV_DIRECT_CFGS 9
START_TEST(test_conv2d_matches_direct) {
  static const int64_t cfg[CONV_DIRECT_CFGS][9] = {
      /* N  C  H   W  M  k  s  p  d */
      {2, 2, 13, 12, 3, 3, 1, 1, 1}, {1, 3, 34, 30, 2, 7, 2, 3, 1}, {2, 2, 9, 9, 3, 3, 1, 1, 1},
      {1, 2, 15, 14, 2, 3, 1, 2, 2}, {1, 2, 8, 7, 2, 3, 2, 1, 2},   {1, 2, 20, 21, 2, 3, 1, 0, 1},
      {2, 2, 3, 3, 3, 2, 1, 0, 1},   {3, 5, 5, 5, 7, 3, 1, 1, 1},   {1, 2, 30, 31, 3, 3, 2, 3, 3},
  };
  nb_dtype dt = _i < CONV_DIRECT_CFGS ? NB_F64 : NB_F32;
  double tol = dt == NB_F64 ? 1e-10 : 1e-4;
  const int64_t *c = cfg[_i % CONV_DIRECT_CFGS];
  int64_t N = c[0], C = c[1], H = c[2], W = c[3], M = c[4], K = c[5], S = c[6], P = c[7], D = c[8];
  int64_t OH = (H + 2 * P - D * (K - 1) - 1) / S + 1, OW = (W + 2 * P - D * (K - 1) - 1) / S + 1;
  nb_scope_begin();
  nb_generator *g = nb_generator_new(11);
  nb_tensor *x = nb_requires_grad_(nb_randn(SHAPE(N, C, H, W), dt, g));
  nb_tensor *w = nb_requires_grad_(nb_randn(SHAPE(M, C, K, K), dt, g));
  nb_tensor *y = nb_conv2d(x, w, NULL, (int64_t[]){S, S}, (int64_t[]){P, P}, (int64_t[]){D, D}, 1);
  ck_assert_msg(y != NULL, "%s", nb_last_error());
  nb_tensor *gy = nb_randn(4, nb_shape(y), dt, g);
  ck_assert_int_eq(nb_backward(y, gy, 0), 0);
  const void *xp = nb_data(x), *wp = nb_data(w), *yp = nb_data(y), *gp = nb_data(gy);
  const void *dxp = nb_data(nb_grad(x)), *dwp = nb_data(nb_grad(w));
  double *dx = calloc((size_t)(N * C * H * W), sizeof(double)), *dw = calloc((size_t)(M * C * K * K), sizeof(double));
  for (int64_t n = 0; n < N; n++)
    for (int64_t m = 0; m < M; m++)
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
          double acc = 0, go = elem(gp, ((n * M + m) * OH + oh) * OW + ow, dt);
          for (int64_t ci = 0; ci < C; ci++)
            for (int64_t ki = 0; ki < K; ki++)
              for (int64_t kj = 0; kj < K; kj++) {
                int64_t ih = oh * S - P + ki * D, iw = ow * S - P + kj * D;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                int64_t xi = ((n * C + ci) * H + ih) * W + iw, wi = ((m * C + ci) * K + ki) * K + kj;
                acc += elem(xp, xi, dt) * elem(wp, wi, dt);
                dx[xi] += go * elem(wp, wi, dt);
                dw[wi] += go * elem(xp, xi, dt);
              }
          ck_assert_double_eq_tol(elem(yp, ((n * M + m) * OH + oh) * OW + ow, dt), acc, tol);
        }
  for (int64_t i = 0; i < N * C * H * W; i++) ck_assert_double_eq_tol(elem(dxp, i, dt), dx[i], tol);
  for (int64_t i = 0; i < M * C * K * K; i++) ck_assert_double_eq_tol(elem(dwp, i, dt), dw[i], tol);
  free(dx);
  free(dw);
  nb_generator_free(g);
  nb_scope_end();
}
END_TEST

/* nb_gemm with a tiny k and B stored column-major (conv2d's weight gradient on 2x2
 * outputs) takes the core's small-k loop: compare it with a direct sum, all transposes,
 * beta 0 and 0.5, float32 and float64. */
START_TEST(test_gemm_small_k) {
  int64_t m = 37, n = 300, k = 1 + _i % 8;
  bool ta = _i & 8, tb = _i & 16;
  nb_dtype dt = _i & 32 ? NB_F32 : NB_F64;
  nb_scope_begin();
  nb_generator *g = nb_generator_new(5);
  nb_tensor *a = nb_randn(SHAPE(m * k), NB_F64, g), *b = nb_randn(SHAPE(k * n), NB_F64, g);
  nb_tensor *c0 = nb_randn(SHAPE(m * n), NB_F64, g);
  const double *ap = nb_data(a), *bp = nb_data(b), *cp0 = nb_data(c0);
  /* A(i,p) at i*k + p (p*m + i when stored transposed); B(p,j) at j*k + p either way
   * (column-major k x n, or a row-major n x k stored transposed). */
  int64_t rsa = ta ? m : k, csa = 1, rsb = tb ? k : 1, csb = tb ? 1 : k;
  for (int beta_i = 0; beta_i < 2; beta_i++) {
    double beta = beta_i ? 0.5 : 0.0;
    size_t es = nb_dtype_size(dt);
    char *A = malloc(es * (size_t)(m * k)), *B = malloc(es * (size_t)(k * n)), *Cm = malloc(es * (size_t)(m * n));
    for (int64_t i = 0; i < m * k; i++)
      dt == NB_F32 ? (void)(((float *)A)[i] = (float)ap[i]) : (void)(((double *)A)[i] = ap[i]);
    for (int64_t i = 0; i < k * n; i++)
      dt == NB_F32 ? (void)(((float *)B)[i] = (float)bp[i]) : (void)(((double *)B)[i] = bp[i]);
    for (int64_t i = 0; i < m * n; i++)
      dt == NB_F32 ? (void)(((float *)Cm)[i] = (float)cp0[i]) : (void)(((double *)Cm)[i] = cp0[i]);
    ck_assert_int_eq(nb_gemm(dt, ta, tb, m, n, k, 1.5, A, rsa, csa, B, rsb, csb, beta, Cm, n, 1), 0);
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double acc = 0;
        for (int64_t p = 0; p < k; p++) {
          int64_t ai = ta ? p * m + i : i * k + p, bi = j * k + p;
          acc += (dt == NB_F32 ? (double)((float *)A)[ai] : ((double *)A)[ai]) *
                 (dt == NB_F32 ? (double)((float *)B)[bi] : ((double *)B)[bi]);
        }
        double c0v = dt == NB_F32 ? (double)(float)cp0[i * n + j] : cp0[i * n + j];
        double e = 1.5 * acc + beta * c0v;
        double got = dt == NB_F32 ? ((float *)Cm)[i * n + j] : ((double *)Cm)[i * n + j];
        ck_assert_double_eq_tol(got, e, dt == NB_F32 ? 1e-4 : 1e-12);
      }
    free(A);
    free(B);
    free(Cm);
  }
  nb_generator_free(g);
  nb_scope_end();
}
END_TEST

START_TEST(test_linear_hand) {
  nb_scope_begin();
  nb_tensor *x = nb_requires_grad_(reshape_data(T1(1, 2, 3, 4), SHAPE(2, 2)));
  nb_tensor *w = nb_requires_grad_(reshape_data(T1(1, 0, 0, 1, 1, 1), SHAPE(3, 2)));
  nb_tensor *b = nb_requires_grad_(T1(0.5, -1, 0));
  nb_tensor *y = nb_linear(x, w, b);
  ck_assert_tensor_values(y, ((double[]){1.5, 1, 3, 3.5, 3, 7}), 6, 1e-12);
  ck_assert_int_eq(backward_ones(y), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){2, 2, 2, 2}), 4, 1e-12);
  ck_assert_tensor_values(nb_grad(w), ((double[]){4, 6, 4, 6, 4, 6}), 6, 1e-12);
  ck_assert_tensor_values(nb_grad(b), ((double[]){2, 2, 2}), 3, 1e-12);
  nb_scope_end();
}
END_TEST

START_TEST(test_matmul_hand) {
  nb_scope_begin();
  nb_tensor *a = nb_requires_grad_(T1(1, 2, 3)), *b = nb_requires_grad_(T1(4, 5, 6));
  nb_tensor *y = nb_matmul(a, b);
  ck_assert_msg(y != NULL, "%s", nb_last_error());
  ck_assert_int_eq(nb_ndim(y), 0);
  ck_assert_double_eq_tol(nb_item(y), 32, 1e-12);
  ck_assert_int_eq(nb_backward(y, NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(a), ((double[]){4, 5, 6}), 3, 1e-12);
  ck_assert_tensor_values(nb_grad(b), ((double[]){1, 2, 3}), 3, 1e-12);
  /* [[1,2],[3,4]] · [[5,6],[7,8]] = [[19,22],[43,50]] */
  nb_tensor *m = nb_matmul(reshape_data(T1(1, 2, 3, 4), SHAPE(2, 2)), reshape_data(T1(5, 6, 7, 8), SHAPE(2, 2)));
  ck_assert_tensor_values(m, ((double[]){19, 22, 43, 50}), 4, 1e-12);
  nb_scope_end();
}
END_TEST

START_TEST(test_batch_norm_stats) {
  nb_scope_begin();
  /* one channel [1,2,3,4]: mean 2.5, biased var 1.25, unbiased 5/3 */
  nb_tensor *x = nb_requires_grad_(reshape_data(T1(1, 2, 3, 4), SHAPE(4, 1)));
  nb_tensor *rm = nb_zeros(SHAPE(1), NB_F64), *rv = nb_ones(SHAPE(1), NB_F64);
  uint32_t v0 = nb_version(rm);
  nb_tensor *y = nb_batch_norm(x, rm, rv, NULL, NULL, true, 0.1, 1e-5);
  ck_assert_msg(y != NULL, "%s", nb_last_error());
  double s = 1 / sqrt(1.25 + 1e-5);
  ck_assert_tensor_values(y, ((double[]){-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s}), 4, 1e-12);
  ck_assert_tensor_values(rm, ((double[]){0.25}), 1, 1e-15);
  ck_assert_tensor_values(rv, ((double[]){0.9 + 0.1 * 5.0 / 3.0}), 1, 1e-15);
  ck_assert_uint_gt(nb_version(rm), v0);
  /* Σ y has zero gradient through the batch statistics */
  ck_assert_int_eq(backward_ones(y), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){0, 0, 0, 0}), 4, 1e-12);
  /* eval: running stats normalise and stay as they are */
  uint32_t v1 = nb_version(rm);
  nb_tensor *ye = nb_batch_norm(x, rm, rv, NULL, NULL, false, 0.1, 1e-5);
  double se = 1 / sqrt(0.9 + 0.5 / 3.0 + 1e-5);
  ck_assert_tensor_values(ye, ((double[]){0.75 * se, 1.75 * se, 2.75 * se, 3.75 * se}), 4, 1e-12);
  ck_assert_tensor_values(rm, ((double[]){0.25}), 1, 0);
  ck_assert_uint_eq(nb_version(rm), v1);
  nb_scope_end();
}
END_TEST

/* eps = 0 and a zero-variance channel (issue 15): PyTorch defines the inverse std as 0,
 * so the output is the bias and every gradient is 0, never NaN. Channel 0 is constant,
 * channel 1 is [1,2,3,4]; float32 (fast channel-last path) and float64, 2-D and 4-D. */
START_TEST(test_batch_norm_zero_variance_eps0) {
  nb_scope_begin();
  for (int dt = NB_F32; dt <= NB_F64; dt++)
    for (int four_d = 0; four_d <= 1; four_d++) {
      nb_tensor *x2 = nb_to_dtype(reshape_data(T1(2, 1, 2, 2, 2, 3, 2, 4), SHAPE(4, 2)), (nb_dtype)dt);
      nb_tensor *x = nb_requires_grad_(four_d ? nb_contiguous(nb_reshape(
          nb_transpose(x2, 0, 1), 4, (int64_t[]){1, 2, 2, 2})) : x2);
      nb_tensor *w = nb_requires_grad_(nb_to_dtype(T1(3, 5), (nb_dtype)dt));
      nb_tensor *b = nb_requires_grad_(nb_to_dtype(T1(0.5, -1), (nb_dtype)dt));
      nb_tensor *y = nb_batch_norm(x, NULL, NULL, w, b, true, 0.1, 0.0);
      ck_assert_msg(y != NULL, "%s", nb_last_error());
      double s = 1 / sqrt(1.25); /* channel 1: mean 2.5, biased var 1.25 */
      double c1[4] = {-1.5 * s * 5 - 1, -0.5 * s * 5 - 1, 0.5 * s * 5 - 1, 1.5 * s * 5 - 1};
      double want[8], tol = dt == NB_F32 ? 1e-6 : 1e-12;
      for (int i = 0; i < 4; i++) /* channel 0 is the bias everywhere */
        if (four_d) want[i] = 0.5, want[4 + i] = c1[i];
        else want[2 * i] = 0.5, want[2 * i + 1] = c1[i];
      ck_assert_tensor_values(y, want, 8, tol);
      /* weigh the outputs so channel 1's gradient is not zero by symmetry alone */
      nb_tensor *g = nb_mul(y, nb_reshape(nb_to_dtype(T1(1, 2, 3, 4, 5, 6, 7, 8),
                                                      (nb_dtype)dt), nb_ndim(y), nb_shape(y)));
      ck_assert_int_eq(backward_ones(g), 0);
      double gx[8], gw[2];
      ck_assert_int_eq(nb_to_doubles(nb_grad(x), gx, 8), 0);
      ck_assert_int_eq(nb_to_doubles(nb_grad(w), gw, 2), 0);
      for (int i = 0; i < 4; i++) {
        int k = four_d ? i : 2 * i; /* channel 0's elements */
        ck_assert_msg(gx[k] == 0, "dx[%d] = %g, expected 0 (dtype %d, 4-D %d)", k, gx[k], dt, four_d);
      }
      ck_assert_msg(gw[0] == 0 && isfinite(gw[1]), "dw = [%g, %g]", gw[0], gw[1]);
    }
  nb_scope_end();
}
END_TEST

/* Which tap max_pool2d picks (PyTorch: take v when v > max or v is NaN): the first of
 * equal maxima, the last NaN, the first tap of an all -inf window; in float32 and
 * float64, for a window inside the plane (the masked fast path) and for border windows
 * (padding 1: the checked path). The gradient lands on the picked tap. */
START_TEST(test_max_pool_pick) {
  nb_scope_begin();
  const double inf = INFINITY, nan = NAN;
  for (int d = 0; d < 2; d++) {
    nb_dtype dt = d ? NB_F64 : NB_F32;
    struct {
      double x[9];
      double y;
      int at;
    } c[] = {{{1, 5, 5, 0, 5, 2, 3, 4, 1}, 5, 1},
             {{nan, 1, nan, 2, 3, 4, 5, 6, 7}, nan, 2},
             {{-inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf}, -inf, 0}};
    for (int k = 0; k < 3; k++) {
      for (int pad = 0; pad < 2; pad++) {
        nb_tensor *x = nb_requires_grad_(nb_to_dtype(
            reshape_data(nb_from_doubles(c[k].x, 9, NB_F64), SHAPE(1, 1, 3, 3)), dt));
        /* pad 0: one 3x3 window inside the plane; pad 1: a 3x3 window of stride 3 whose
         * taps are the plane's top-left 2x2, so use a case with the pick there */
        nb_tensor *y = pad ? nb_max_pool2d(x, (int64_t[]){3, 3}, (int64_t[]){3, 3},
                                           (int64_t[]){1, 1}, NULL, false)
                           : nb_max_pool2d(x, (int64_t[]){3, 3}, NULL, NULL, NULL, false);
        ck_assert_ptr_nonnull(y);
        ck_assert_int_eq(backward_ones(y), 0);
        double g[9], out[4];
        ck_assert_int_eq(nb_to_doubles(nb_grad(x), g, 9), 0);
        ck_assert_int_eq(nb_to_doubles(y, out, nb_numel(y)), 0);
        if (!pad) {
          ck_assert(isnan(c[k].y) ? isnan(out[0]) : out[0] == c[k].y);
          for (int i = 0; i < 9; i++) ck_assert_msg(g[i] == (i == c[k].at), "case %d dtype %d tap %d", k, d, i);
        } else {
          /* window 0 covers x[0], x[1], x[3], x[4]: the picks there are 1 (5), 0 (nan), 0 */
          int at = k == 0 ? 1 : 0;
          ck_assert_msg(g[at] >= 1, "border case %d dtype %d", k, d);
        }
      }
    }
  }
  nb_scope_end();
}
END_TEST

START_TEST(test_pools_hand) {
  nb_scope_begin();
  nb_tensor *x = nb_requires_grad_(reshape_data(T1(1, 5, 3, 2), SHAPE(1, 1, 2, 2)));
  nb_tensor *m = nb_max_pool2d(x, (int64_t[]){2, 2}, NULL, NULL, NULL, false);
  ck_assert_tensor_values(m, ((double[]){5}), 1, 0);
  ck_assert_int_eq(backward_ones(m), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){0, 1, 0, 0}), 4, 0);
  nb_tensor *x2 = nb_requires_grad_(reshape_data(T1(1, 2, 3, 4), SHAPE(1, 1, 2, 2)));
  nb_tensor *a = nb_avg_pool2d(x2, (int64_t[]){2, 2}, NULL, NULL, false, true);
  ck_assert_tensor_values(a, ((double[]){2.5}), 1, 1e-15);
  ck_assert_int_eq(backward_ones(a), 0);
  ck_assert_tensor_values(nb_grad(x2), ((double[]){0.25, 0.25, 0.25, 0.25}), 4, 1e-15);
  nb_tensor *g = nb_adaptive_avg_pool2d(reshape_data(T1(1, 2, 3, 4, 5, 6), SHAPE(1, 2, 3)), (int64_t[]){1, 1});
  ck_assert_tensor_values(g, ((double[]){3.5}), 1, 1e-15);
  nb_scope_end();
}
END_TEST

START_TEST(test_softmax_hand) {
  nb_scope_begin();
  nb_tensor *x = nb_requires_grad_(T1(0, log(2.0), log(5.0)));
  nb_tensor *y = nb_softmax(x, 0);
  ck_assert_tensor_values(y, ((double[]){0.125, 0.25, 0.625}), 3, 1e-15);
  nb_tensor *l = nb_log_softmax(x, -1);
  ck_assert_tensor_values(l, ((double[]){log(0.125), log(0.25), log(0.625)}), 3, 1e-14);
  /* d/dx of y[2]: y2·(δ − y) */
  nb_tensor *sel = T1(0, 0, 1);
  ck_assert_int_eq(nb_backward(y, sel, 0), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){-0.625 * 0.125, -0.625 * 0.25, 0.625 * 0.375}), 3, 1e-15);
  nb_scope_end();
}
END_TEST

START_TEST(test_dropout) {
  nb_scope_begin();
  int64_t n = 10000;
  nb_tensor *x = nb_requires_grad_(nb_full(SHAPE(n), 3.0, NB_F32));
  nb_manual_seed(NULL, 42);
  nb_tensor *y = nb_dropout(x, 0.25, true);
  ck_assert_msg(y != NULL, "%s", nb_last_error());
  const float *yv = nb_data(y);
  int64_t kept = 0;
  for (int64_t i = 0; i < n; i++) {
    ck_assert(yv[i] == 0.0f || yv[i] == 4.0f);
    kept += yv[i] != 0;
  }
  ck_assert_int_gt(kept, 7200);
  ck_assert_int_lt(kept, 7800);
  ck_assert_int_eq(backward_ones(y), 0);
  const float *gv = nb_data(nb_grad(x));
  for (int64_t i = 0; i < n; i++) ck_assert_float_eq(gv[i], yv[i] / 3.0f);
  /* the same seed gives the same mask; eval and p = 0 are the identity; p = 1 zeroes */
  nb_manual_seed(NULL, 42);
  nb_tensor *y2 = nb_dropout(x, 0.25, true);
  ck_assert_int_eq(memcmp(nb_data(y2), yv, sizeof(float) * (size_t)n), 0);
  nb_tensor *e = nb_dropout(x, 0.25, false), *z = nb_dropout(x, 0.0, true), *o = nb_dropout(x, 1.0, true);
  ck_assert_double_eq(total(e), 3.0 * n);
  ck_assert_double_eq(total(z), 3.0 * n);
  ck_assert_double_eq(total(o), 0.0);
  nb_scope_end();
}
END_TEST

/* ---- errors ------------------------------------------------------------------------------ */

START_TEST(test_errors) {
  nb_scope_begin();
  nb_tensor *x = nb_zeros(SHAPE(1, 4, 5, 5), NB_F32), *w = nb_zeros(SHAPE(8, 3, 3, 3), NB_F32);
  ck_assert_ptr_null(nb_conv2d(x, w, NULL, NULL, NULL, NULL, 1));
  ck_assert_error_contains("conv2d");
  ck_assert_error_contains("[8,3,3,3]");
  ck_assert_error_contains("expected input [1,4,5,5] to have 3 channels, but got 4");
  ck_assert_ptr_null(nb_conv2d(nb_zeros(SHAPE(1, 3, 2, 2), NB_F32), w, NULL, NULL, NULL, NULL, 1));
  ck_assert_error_contains("conv2d");
  ck_assert_ptr_null(nb_conv2d(x, nb_zeros(SHAPE(8, 4, 3, 3), NB_F64), NULL, NULL, NULL, NULL, 1));
  ck_assert_error_contains("float64");
  ck_assert_ptr_null(nb_matmul(nb_zeros(SHAPE(2, 3), NB_F32), nb_zeros(SHAPE(4, 5), NB_F32)));
  ck_assert_error_contains("matmul: shapes [2,3] and [4,5] cannot be multiplied");
  ck_assert_ptr_null(nb_linear(nb_zeros(SHAPE(2, 3), NB_F32), nb_zeros(SHAPE(4, 5), NB_F32), NULL));
  ck_assert_error_contains("linear");
  ck_assert_ptr_null(nb_batch_norm(nb_zeros(SHAPE(1, 3), NB_F32), NULL, NULL, NULL, NULL, true, 0.1, 1e-5));
  ck_assert_error_contains("batch_norm");
  ck_assert_error_contains("Expected more than 1 value per channel when training, got input size [1,3]");
  ck_assert_ptr_null(nb_max_pool2d(nb_zeros(SHAPE(1, 1, 2, 2), NB_F32), (int64_t[]){3, 3}, NULL, NULL, NULL, false));
  ck_assert_error_contains("max_pool2d");
  ck_assert_ptr_null(nb_softmax(nb_zeros(SHAPE(2, 2), NB_F32), 2));
  ck_assert_error_contains("softmax: dim 2 is out of range");
  nb_scope_end();
}
END_TEST

/* ---- determinism and leaks --------------------------------------------------------------- */

typedef struct outs {
  double v[4][4096];
  int64_t n[4];
} outs;

static void conv_bn_step(outs *o) {
  nb_scope_begin();
  nb_generator *g = nb_generator_new(3);
  nb_tensor *x = nb_requires_grad_(nb_randn(SHAPE(4, 3, 9, 9), NB_F32, g));
  nb_tensor *w = nb_requires_grad_(nb_randn(SHAPE(5, 3, 3, 3), NB_F32, g));
  nb_tensor *y = nb_conv2d(x, w, NULL, (int64_t[]){1, 1}, (int64_t[]){1, 1}, NULL, 1);
  nb_tensor *z = nb_softmax(nb_batch_norm(y, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), 1);
  ck_assert_msg(z != NULL, "%s", nb_last_error());
  ck_assert_int_eq(nb_backward(z, nb_randn(nb_ndim(z), nb_shape(z), NB_F32, g), 0), 0);
  nb_tensor *r[4] = {y, z, nb_grad(x), nb_grad(w)};
  for (int i = 0; i < 4; i++) {
    o->n[i] = nb_numel(r[i]);
    ck_assert_int_le(o->n[i], 4096);
    nb_to_doubles(r[i], o->v[i], o->n[i]);
  }
  nb_generator_free(g);
  nb_scope_end();
}

START_TEST(test_deterministic_one_thread) {
  int prev = nb_get_num_threads();
  nb_set_num_threads(1);
  static outs a, b;
  conv_bn_step(&a);
  conv_bn_step(&b);
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(memcmp(a.v[i], b.v[i], sizeof(double) * (size_t)a.n[i]), 0);
  nb_set_num_threads(prev);
}
END_TEST

START_TEST(test_no_leaks) {
  static outs a;
  conv_bn_step(&a); /* warm up lazily created state */
  int64_t live = nb_live_tensors();
  conv_bn_step(&a);
  ck_assert_int_eq(nb_live_tensors(), live);
}
END_TEST

/* Review regressions: a dilated max-pool window lying entirely in padding gets no
 * gradient (it used to write outside the plane); a conv2d with an empty kernel or no
 * input channels must not divide by zero; an empty training batch leaves the running
 * statistics alone, as PyTorch does. */
START_TEST(test_review_edge_cases) {
  nb_scope_begin();
  nb_tensor *x = nb_requires_grad_(nb_ones(4, (int64_t[]){1, 1, 2, 64}, NB_F64));
  nb_tensor *y = nb_max_pool2d(x, (int64_t[]){2, 1}, (int64_t[]){1, 1}, (int64_t[]){1, 0},
                               (int64_t[]){3, 1}, false);
  ck_assert_ptr_nonnull(y);
  ck_assert_int_eq(nb_backward(nb_sum(y), NULL, 0), 0);
  double gsum = 0, g[128];
  nb_to_doubles(nb_grad(x), g, 128);
  for (int k = 0; k < 128; k++) gsum += g[k];
  double ys[256];
  int64_t ny = nb_numel(y), finite = 0;
  nb_to_doubles(y, ys, ny);
  for (int64_t k = 0; k < ny; k++) finite += isfinite(ys[k]);
  ck_assert_double_eq_tol(gsum, (double)finite, 1e-12); /* one unit per window with a tap */

  ck_assert_ptr_null(nb_conv2d(nb_ones(4, (int64_t[]){2, 3, 5, 5}, NB_F32),
                               nb_ones(4, (int64_t[]){4, 3, 0, 3}, NB_F32), NULL, NULL, NULL, NULL, 1));
  ck_assert_ptr_nonnull(strstr(nb_last_error(), "empty kernel"));
  nb_tensor *c0 = nb_conv2d(nb_ones(4, (int64_t[]){2, 0, 5, 5}, NB_F32),
                            nb_ones(4, (int64_t[]){4, 0, 3, 3}, NB_F32), NULL, NULL, NULL, NULL, 1);
  if (c0) ck_assert_int_eq(nb_numel(c0), 2 * 4 * 3 * 3);

  nb_tensor *rm = nb_full(1, (int64_t[]){2}, 0.5, NB_F64), *rv = nb_full(1, (int64_t[]){2}, 2.0, NB_F64);
  ck_assert_ptr_nonnull(nb_batch_norm(nb_zeros(3, (int64_t[]){0, 2, 3}, NB_F64), rm, rv, NULL, NULL,
                                      true, 0.1, 1e-5));
  ck_assert_tensor_values(rm, ((double[]){0.5, 0.5}), 2, 0);
  ck_assert_tensor_values(rv, ((double[]){2.0, 2.0}), 2, 0);
  nb_scope_end();
}
END_TEST

/* Absurd size attributes (up to 2^63 - 1) are rejected with NB_EINVAL naming the op and
 * the attribute before any output-size arithmetic could overflow (the suite runs under
 * UBSan, which reports such an overflow); so is a weight whose (empty) kernel is huge. */
#define CK_ATTR_ERR(call, op, attr)                                                          \
  do {                                                                                       \
    ck_assert_ptr_null(call);                                                                \
    ck_assert_int_eq(nb_last_status(), NB_EINVAL);                                           \
    ck_assert_error_contains(op);                                                            \
    ck_assert_error_contains(attr);                                                          \
  } while (0)
START_TEST(test_attr_overflow) {
  nb_scope_begin();
  const int64_t huge = INT64_MAX, near = ((int64_t)1 << 62) + 1, over = (int64_t)INT32_MAX + 1;
  nb_tensor *x = nb_ones(SHAPE(1, 2, 5, 5), NB_F32), *w = nb_ones(SHAPE(3, 2, 3, 3), NB_F32);
  for (int i = 0; i < 3; i++) {
    int64_t v = i == 0 ? huge : i == 1 ? near : over, a[2] = {1, v}, z[2] = {0, v};
    CK_ATTR_ERR(nb_conv2d(x, w, NULL, a, NULL, NULL, 1), "conv2d", "stride");
    CK_ATTR_ERR(nb_conv2d(x, w, NULL, NULL, z, NULL, 1), "conv2d", "padding");
    CK_ATTR_ERR(nb_conv2d(x, w, NULL, NULL, NULL, a, 1), "conv2d", "dilation");
    CK_ATTR_ERR(nb_conv2d(x, w, NULL, NULL, NULL, NULL, v), "conv2d", "groups");
    CK_ATTR_ERR(nb_max_pool2d(x, a, NULL, NULL, NULL, false), "max_pool2d", "kernel_size");
    CK_ATTR_ERR(nb_max_pool2d(x, (int64_t[]){2, 2}, a, NULL, NULL, true), "max_pool2d", "stride");
    CK_ATTR_ERR(nb_max_pool2d(x, (int64_t[]){2, 2}, NULL, z, NULL, false), "max_pool2d", "padding");
    CK_ATTR_ERR(nb_max_pool2d(x, (int64_t[]){2, 2}, NULL, NULL, a, false), "max_pool2d", "dilation");
    CK_ATTR_ERR(nb_avg_pool2d(x, a, NULL, NULL, false, true), "avg_pool2d", "kernel_size");
    CK_ATTR_ERR(nb_avg_pool2d(x, (int64_t[]){2, 2}, a, NULL, true, true), "avg_pool2d", "stride");
    CK_ATTR_ERR(nb_avg_pool2d(x, (int64_t[]){2, 2}, NULL, z, false, true), "avg_pool2d", "padding");
    CK_ATTR_ERR(nb_adaptive_avg_pool2d(x, a), "adaptive_avg_pool2d", "output_size");
  }
  /* no output channels: any kernel size is a valid (empty) weight, but kh·kw overflows */
  nb_tensor *wbig = nb_empty(SHAPE(0, 2, (int64_t)1 << 40, (int64_t)1 << 40), NB_F32);
  ck_assert_msg(wbig != NULL, "%s", nb_last_error());
  CK_ATTR_ERR(nb_conv2d(x, wbig, NULL, NULL, NULL, NULL, 1), "conv2d", "overflow");
  /* in range: still an ordinary result */
  ck_assert_ptr_nonnull(nb_conv2d(x, w, NULL, (int64_t[]){INT32_MAX, INT32_MAX}, NULL, NULL, 1));
  nb_scope_end();
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("nn");
  TCase *tc = tcase_create("closed form");
  tcase_add_test(tc, test_conv2d_hand);
  tcase_add_test(tc, test_conv2d_output_size);
  tcase_add_loop_test(tc, test_conv2d_batch_chunks_match_single, 0, 2);
  tcase_add_loop_test(tc, test_conv2d_matches_direct, 0, 2 * CONV_DIRECT_CFGS);
  tcase_add_loop_test(tc, test_gemm_small_k, 0, 64);
  tcase_add_test(tc, test_linear_hand);
  tcase_add_test(tc, test_matmul_hand);
  tcase_add_test(tc, test_batch_norm_stats);
  tcase_add_test(tc, test_batch_norm_zero_variance_eps0);
  tcase_add_test(tc, test_pools_hand);
  tcase_add_test(tc, test_max_pool_pick);
  tcase_add_test(tc, test_softmax_hand);
  tcase_add_test(tc, test_dropout);
  tcase_add_test(tc, test_errors);
  tcase_add_test(tc, test_attr_overflow);
  tcase_add_test(tc, test_deterministic_one_thread);
  tcase_add_test(tc, test_no_leaks);
  tcase_add_test(tc, test_review_edge_cases);
  suite_add_tcase(s, tc);
  suite_add_tcase(s, ref_tcase());
  return s;
}

int main(void) {
  if (ref_suite_load("tests/nn/reference.txt") <= 0) return EXIT_FAILURE;
  int rc = nb_test_run(make_suite());
  ref_suite_free();
  return rc;
}
