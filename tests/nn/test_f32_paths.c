/* tests/nn/test_f32_paths.c — the float32 fast paths of the nn and loss plugins (row
 * kernels of softmax, log_softmax, cross_entropy and BCE-with-logits, batch_norm's
 * vector sums, global average pooling, dropout's hash, conv2d's Winograd convolution;
 * conv2d's direct one-channel path and small-plane im2col path against a plain loop,
 * conv2d's lanes path)
 * against the float64 paths, which are separate code (libm exp/log, scalar loops, im2col). Shapes have lengths that are not
 * multiples of the 16-element vector blocks, so the tails run too; some rows hold
 * extreme values. Forward values and input gradients must agree to float32 precision. */
#include <math.h>
#include <string.h>

#include "testutil.h"

#define SHAPE(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

typedef nb_tensor *(*unary_fn)(nb_tensor *x, void *arg);

/* |a - b| <= atol + rtol * |b| for every element (NaN only where b is NaN). Asserts once,
 * at the first mismatch: Check records every assertion, passing ones too, and a few
 * million of them cost seconds. */
static void expect_close(nb_tensor *a32, nb_tensor *b64, double rtol, double atol, const char *what) {
  ck_assert_msg(a32 && b64, "%s: %s", what, nb_last_error());
  int64_t n = nb_numel(b64);
  ck_assert_int_eq(nb_numel(a32), n);
  double *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
  ck_assert_int_eq(nb_to_doubles(a32, a, n), 0);
  ck_assert_int_eq(nb_to_doubles(b64, b, n), 0);
  for (int64_t i = 0; i < n; i++) {
    bool ok = isnan(b[i]) ? isnan(a[i]) : (isinf(b[i]) ? a[i] == b[i] : fabs(a[i] - b[i]) <= atol + rtol * fabs(b[i]));
    if (!ok) ck_assert_msg(ok, "%s[%lld]: float32 %.9g, float64 %.17g", what, (long long)i, a[i], b[i]);
  }
  free(a);
  free(b);
}

/* Run f on x in float64 and float32; compare outputs and the gradients of sum(f(x) * w)
 * with a fixed random w. */
static void compare(unary_fn f, void *arg, nb_tensor *x64, double rtol, double atol, const char *what) {
  nb_generator *g = nb_generator_new(7);
  nb_tensor *x32 = nb_requires_grad_(nb_detach(nb_to_dtype(x64, NB_F32)));
  nb_tensor *xd = nb_requires_grad_(nb_detach(nb_to_dtype(x32, NB_F64))); /* same values */
  nb_tensor *y64 = f(xd, arg), *y32 = f(x32, arg);
  ck_assert_msg(y64 && y32, "%s: %s", what, nb_last_error());
  nb_tensor *w = nb_rand_range(nb_ndim(y64), nb_shape(y64), -1, 1, NB_F64, g);
  char buf[96];
  snprintf(buf, sizeof buf, "%s forward", what);
  expect_close(y32, y64, rtol, atol, buf);
  ck_assert_int_eq(nb_backward(nb_sum(nb_mul(y64, w)), NULL, 0), 0);
  ck_assert_int_eq(nb_backward(nb_sum(nb_mul(y32, nb_to_dtype(w, NB_F32))), NULL, 0), 0);
  snprintf(buf, sizeof buf, "%s input gradient", what);
  expect_close(nb_grad(x32), nb_grad(xd), rtol, atol, buf);
  nb_generator_free(g);
}

static nb_tensor *softmax_last(nb_tensor *x, void *a) { (void)a; return nb_softmax(x, -1); }
static nb_tensor *log_softmax_last(nb_tensor *x, void *a) { (void)a; return nb_log_softmax(x, -1); }

/* Rows of random logits, one row of extremes (huge spread, -inf entries), one all -inf
 * row where NaN is expected in both dtypes. */
static nb_tensor *logits(int64_t rows, int64_t cols, bool with_extremes) {
  nb_generator *g = nb_generator_new(3);
  nb_tensor *x = nb_rand_range(SHAPE(rows, cols), -8, 8, NB_F64, g);
  nb_generator_free(g);
  if (with_extremes) {
    double *p = nb_data(x);
    for (int64_t j = 0; j < cols; j++) p[j] = j % 3 == 0 ? -INFINITY : (j % 3 == 1 ? 80.0 : -80.0);
  }
  return x;
}

START_TEST(test_softmax_rows) {
  const int64_t cols[] = {1, 15, 16, 37, 1000};
  for (int i = 0; i < 5; i++) {
    nb_tensor *x = logits(5, cols[i], cols[i] >= 3);
    compare(softmax_last, NULL, x, 2e-5, 1e-7, "softmax");
    compare(log_softmax_last, NULL, x, 2e-5, 2e-5, "log_softmax");
  }
}
END_TEST

typedef struct {
  nb_tensor *target;
  double smoothing;
} ce_arg;

static nb_tensor *ce(nb_tensor *x, void *a) {
  const ce_arg *c = a;
  return nb_cross_entropy(x, c->target, NULL, "none", -100, c->smoothing);
}

START_TEST(test_cross_entropy_rows) {
  nb_generator *g = nb_generator_new(5);
  const int64_t cols[] = {2, 17, 37, 1000};
  for (int i = 0; i < 4; i++) {
    nb_tensor *x = logits(7, cols[i], false);
    ce_arg a = {nb_randint(SHAPE(7), 0, cols[i], g), 0.0};
    compare(ce, &a, x, 2e-5, 2e-5, "cross_entropy");
    a.smoothing = 0.1;
    compare(ce, &a, x, 2e-5, 2e-5, "cross_entropy, label smoothing 0.1");
  }
  nb_generator_free(g);
}
END_TEST

static nb_tensor *bce_logits(nb_tensor *x, void *a) {
  nb_tensor *t = nb_to_dtype(a, nb_dtype_of(x));
  return nb_binary_cross_entropy_with_logits(x, t, NULL, NULL, "none");
}

START_TEST(test_bce_with_logits) {
  nb_generator *g = nb_generator_new(11);
  nb_tensor *x = nb_rand_range(SHAPE(5, 37), -30, 30, NB_F64, g);
  nb_tensor *t = nb_rand_range(SHAPE(5, 37), 0, 1, NB_F64, g);
  compare(bce_logits, t, x, 2e-5, 2e-6, "binary_cross_entropy_with_logits");
  nb_generator_free(g);
}
END_TEST

typedef struct {
  bool training;
  int64_t c;
} bn_arg;

static nb_tensor *bn(nb_tensor *x, void *a) {
  const bn_arg *b = a;
  nb_dtype dt = nb_dtype_of(x);
  nb_tensor *w = nb_to_dtype(nb_arange(1, (double)b->c + 1, 1, NB_F64), dt);
  nb_tensor *bias = nb_to_dtype(nb_arange(0, (double)b->c, 1, NB_F64), dt);
  nb_tensor *rm = nb_zeros(SHAPE(b->c), dt), *rv = nb_full(SHAPE(b->c), 2.0, dt);
  return nb_batch_norm(x, rm, rv, w, bias, b->training, 0.1, 1e-5);
}

START_TEST(test_batch_norm_sums) {
  nb_generator *g = nb_generator_new(13);
  const struct {
    int nd;
    int64_t shape[4];
  } cases[] = {{2, {9, 37}}, {2, {70, 5}}, {4, {3, 5, 7, 9}}, {4, {6, 16, 2, 2}}, {4, {2, 3, 17, 17}}};
  for (int i = 0; i < 5; i++) {
    nb_tensor *x = nb_rand_range(cases[i].nd, cases[i].shape, -3, 5, NB_F64, g);
    for (int tr = 0; tr < 2; tr++) {
      bn_arg a = {tr == 1, cases[i].shape[1]};
      compare(bn, &a, x, 1e-4, 1e-4, tr ? "batch_norm training" : "batch_norm eval");
    }
  }
  nb_generator_free(g);
}
END_TEST

static nb_tensor *gap(nb_tensor *x, void *a) {
  (void)a;
  return nb_adaptive_avg_pool2d(x, (int64_t[]){1, 1});
}

START_TEST(test_global_average_pool) {
  nb_generator *g = nb_generator_new(17);
  compare(gap, NULL, nb_rand_range(SHAPE(3, 33, 5, 5), -2, 2, NB_F64, g), 1e-5, 1e-6,
          "adaptive_avg_pool2d to 1x1");
  compare(gap, NULL, nb_rand_range(SHAPE(2, 7, 1, 3), -2, 2, NB_F64, g), 1e-5, 1e-6,
          "adaptive_avg_pool2d to 1x1, 1x3 planes");
  nb_generator_free(g);
}
END_TEST

/* max_pool2d's float32 vector lanes (interior windows of stride 1 or 2) pick the same
 * tap as the float64 window-by-window code: values on 4 levels, so windows hold ties
 * (the first maximum wins), and some NaNs (the last NaN wins); the input gradient shows
 * the picks. Rows of 37 columns leave a partial block of lanes (and, for 3x3 stride 2
 * without padding, a last window on the odd last column). */
static nb_tensor *maxpool(nb_tensor *x, void *a) {
  const int64_t *c = a; /* kernel, stride, padding, dilation */
  return nb_max_pool2d(x, (int64_t[]){c[0], c[0]}, (int64_t[]){c[1], c[1]}, (int64_t[]){c[2], c[2]},
                       (int64_t[]){c[3], c[3]}, false);
}

START_TEST(test_max_pool_lanes) {
  nb_generator *g = nb_generator_new(23);
  nb_tensor *x = nb_rand_range(SHAPE(2, 3, 21, 37), 0, 4, NB_F64, g);
  double *xd = nb_data(x);
  for (int64_t i = 0; i < nb_numel(x); i++) xd[i] = i % 97 == 5 ? NAN : floor(xd[i]);
  static const int64_t cfg[][4] = {{3, 2, 1, 1}, {3, 1, 1, 1}, {2, 2, 0, 1}, {3, 2, 1, 2}, {3, 1, 0, 1}, {3, 2, 0, 1}};
  for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
    char what[64];
    snprintf(what, sizeof what, "max_pool2d k%lld s%lld p%lld d%lld", (long long)cfg[i][0], (long long)cfg[i][1],
             (long long)cfg[i][2], (long long)cfg[i][3]);
    compare(maxpool, (void *)cfg[i], x, 1e-6, 1e-6, what); /* (w is rounded to float32) */
  }
  /* 2x2 stride 2 on planes of 11x13 (odd sizes, rows of 6 outputs: fewer than the lanes,
   * window by window), 10x10 (LeNet's second pool, 5 outputs a row) and 16x20 (windows
   * that tile the plane, rows of 10 outputs: backward's lanes and their overlapping
   * last block) */
  static const int64_t k2[4] = {2, 2, 0, 1};
  static const char *names[3] = {"max_pool2d 2x2 on 11x13", "max_pool2d 2x2 on 10x10", "max_pool2d 2x2 on 16x20"};
  nb_tensor *xs[3] = {nb_rand_range(SHAPE(2, 3, 11, 13), 0, 4, NB_F64, g), nb_rand_range(SHAPE(3, 2, 10, 10), 0, 4, NB_F64, g),
                      nb_rand_range(SHAPE(2, 3, 16, 20), 0, 4, NB_F64, g)};
  for (int k = 0; k < 3; k++) {
    xd = nb_data(xs[k]);
    for (int64_t i = 0; i < nb_numel(xs[k]); i++) xd[i] = i % 41 == 7 ? NAN : floor(xd[i]);
    compare(maxpool, (void *)k2, xs[k], 1e-6, 1e-6, names[k]);
  }
  nb_generator_free(g);
}
END_TEST

/* Dropout in float32: kept elements are x / (1 - p), the rest 0; the kept fraction is
 * within 5 standard deviations of 1 - p; and the gradient uses the same mask. */
START_TEST(test_dropout_f32) {
  const int64_t n = 100003;
  nb_tensor *x = nb_requires_grad_(nb_full(SHAPE(n), 3.0, NB_F32));
  const double p = 0.3;
  nb_manual_seed(NULL, 99);
  nb_tensor *y = nb_dropout(x, p, true);
  ck_assert_ptr_nonnull(y);
  ck_assert_int_eq(nb_backward(nb_sum(y), NULL, 0), 0);
  const float *py = nb_data(y), *pg = nb_data(nb_grad(x));
  int64_t kept = 0;
  for (int64_t i = 0; i < n; i++) {
    ck_assert(py[i] == 0.0f || py[i] == (float)(3.0 / (1 - p)));
    ck_assert(pg[i] == (py[i] == 0.0f ? 0.0f : (float)(1 / (1 - p))));
    kept += py[i] != 0.0f;
  }
  double sd = sqrt(n * p * (1 - p));
  ck_assert_msg(fabs((double)kept - n * (1 - p)) < 5 * sd, "kept %lld of %lld", (long long)kept,
                (long long)n);
}
END_TEST

/* conv2d's output and its input, weight and bias gradients (got: float32) against
 * float64 (want), within float32 rounding of each one's largest value. */
static void expect_conv(nb_tensor *const got[4], nb_tensor *const want[4]) {
  static const char *what[4] = {"conv2d output", "conv2d input gradient", "conv2d weight gradient",
                                "conv2d bias gradient"};
  for (int i = 0; i < 4; i++) {
    double scale = nb_item(nb_max(nb_abs(want[i])));
    expect_close(got[i], want[i], 0, 2e-6 * scale, what[i]);
  }
}

/* conv2d's Winograd path (float32 3x3 stride-1 convolutions with enough tiles and
 * channels: ops/nn/conv2d_wino.c, keep these shapes inside nn_wino_applies) against the
 * float64 im2col path: output, and the gradients of input, weight and bias, within
 * float32 rounding of the largest value (an error in one tile's transform is of the
 * order of the values themselves). Shapes: odd output sizes (partial tiles) in several
 * blocks of tiles, padding 0, padding 2 by 0, ResNet's 4x4 planes, 1x1 outputs (one
 * valid pixel per tile), and 120x120 planes (chunks of one and two samples). */
/* conv2d of an (N, C, H, W) input with M (kh × kw) filters, stride, padding and
 * dilation (pairs), in float32 and in float64 (the im2col path) on the same values:
 * output and the gradients of input, weight and bias agree as expect_conv asks. */
static void conv_vs_f64(uint64_t seed, const int64_t *xs, int64_t M, int64_t kh, int64_t kw, int64_t *stride,
                        int64_t *pad, int64_t *dil) {
  nb_generator *g = nb_generator_new(seed);
  nb_tensor *in64[3] = {nb_randn(4, xs, NB_F64, g), nb_randn(SHAPE(M, xs[1], kh, kw), NB_F64, g),
                        nb_randn(SHAPE(M), NB_F64, g)};
  nb_tensor *in32[3], *ind[3];
  for (int i = 0; i < 3; i++) {
    in32[i] = nb_requires_grad_(nb_detach(nb_to_dtype(in64[i], NB_F32)));
    ind[i] = nb_requires_grad_(nb_detach(nb_to_dtype(in32[i], NB_F64))); /* same values */
  }
  nb_tensor *y32 = nb_conv2d(in32[0], in32[1], in32[2], stride, pad, dil, 1);
  nb_tensor *yd = nb_conv2d(ind[0], ind[1], ind[2], stride, pad, dil, 1);
  ck_assert_msg(y32 && yd, "%s", nb_last_error());
  nb_tensor *gy32 = nb_to_dtype(nb_randn(nb_ndim(yd), nb_shape(yd), NB_F64, g), NB_F32);
  ck_assert_int_eq(nb_backward(y32, gy32, 0), 0);
  ck_assert_int_eq(nb_backward(yd, nb_to_dtype(gy32, NB_F64), 0), 0);
  nb_tensor *got[4] = {y32, nb_grad(in32[0]), nb_grad(in32[1]), nb_grad(in32[2])};
  nb_tensor *want[4] = {yd, nb_grad(ind[0]), nb_grad(ind[1]), nb_grad(ind[2])};
  expect_conv(got, want);
  nb_generator_free(g);
}

#define WINO_CFGS 6
START_TEST(test_conv2d_winograd) {
  static const int64_t cfg[WINO_CFGS][7] = {
      /* N  C    H   W   M   ph pw */
      {4, 48, 31, 33, 48, 1, 1},  {8, 64, 21, 20, 48, 0, 0}, {16, 40, 14, 17, 64, 2, 0},
      {32, 128, 4, 4, 128, 1, 1}, {128, 128, 3, 3, 128, 0, 0}, {3, 32, 120, 120, 32, 1, 1},
  };
  const int64_t *c = cfg[_i];
  conv_vs_f64(21, c, c[4], 3, 3, NULL, (int64_t[]){c[5], c[6]}, NULL);
}
END_TEST

/* conv2d's lanes path (float32, at most two vectors of output channels, several input
 * channels: ops/nn/conv2d_lanes.c, keep these shapes inside nn_lanes_applies) against
 * float64, with its input gradient through per-sample column matrices. The shapes give
 * it partial vectors of channels (5, 12, 20), one and two vectors per row on AVX-512
 * and on AVX2 (12: two 8-lane vectors), rows of several forward tiles whose last one
 * is shifted back (31 and 14 outputs), kernels 1 to 7 wide, padding, stride and
 * dilation along the height, a row of two outputs and one output channel. (With NB_GEMM_KERNEL=blis the
 * same shapes take the im2col path, and with avx2 those of more than 16 channels.) */
#define LANES_CFGS 6
START_TEST(test_conv2d_lanes) {
  static const int64_t cfg[LANES_CFGS][11] = {
      /* N  C  H   W   M  kh kw sh ph pw dh  (sw = dw = 1) */
      {8, 3, 17, 31, 5, 3, 3, 1, 1, 1, 1},  {4, 4, 12, 40, 32, 7, 7, 1, 3, 3, 1},
      {5, 2, 9, 11, 20, 3, 5, 2, 2, 1, 2},  {3, 3, 10, 13, 12, 2, 4, 1, 0, 2, 1},
      {2, 2, 6, 3, 16, 1, 2, 1, 0, 0, 1},   {6, 8, 8, 8, 1, 3, 3, 1, 1, 1, 1},
  };
  const int64_t *c = cfg[_i];
  conv_vs_f64(23 + (uint64_t)_i, c, c[4], c[5], c[6], (int64_t[]){c[7], 1}, (int64_t[]){c[8], c[9]},
              (int64_t[]){c[10], 1});
}
END_TEST

/* The Winograd backward with only the input, or only the weight, needing a gradient
 * (frozen layers; the first layer): the one gradient it computes matches float64.
 * (32 x 128 x 4x4 with 128 outputs: inside nn_wino_applies.) */
START_TEST(test_conv2d_winograd_one_gradient) {
  nb_generator *g = nb_generator_new(9);
  nb_tensor *x64 = nb_randn(SHAPE(32, 128, 4, 4), NB_F64, g), *w64 = nb_randn(SHAPE(128, 128, 3, 3), NB_F64, g);
  nb_tensor *gy32 = nb_to_dtype(nb_randn(SHAPE(32, 128, 4, 4), NB_F64, g), NB_F32);
  for (int which = 0; which < 2; which++) { /* 0: input gradient only, 1: weight only */
    nb_tensor *x32 = nb_detach(nb_to_dtype(x64, NB_F32)), *w32 = nb_detach(nb_to_dtype(w64, NB_F32));
    nb_tensor *xd = nb_detach(nb_to_dtype(x32, NB_F64)), *wd = nb_detach(nb_to_dtype(w32, NB_F64));
    nb_tensor *t32 = which ? w32 : x32, *td = which ? wd : xd;
    nb_set_requires_grad(t32, true);
    nb_set_requires_grad(td, true);
    nb_tensor *y32 = nb_conv2d(x32, w32, NULL, NULL, (int64_t[]){1, 1}, NULL, 1);
    nb_tensor *yd = nb_conv2d(xd, wd, NULL, NULL, (int64_t[]){1, 1}, NULL, 1);
    ck_assert_msg(y32 && yd, "%s", nb_last_error());
    ck_assert_int_eq(nb_backward(y32, gy32, 0), 0);
    ck_assert_int_eq(nb_backward(yd, nb_to_dtype(gy32, NB_F64), 0), 0);
    ck_assert_ptr_null(nb_grad(which ? x32 : w32));
    double scale = nb_item(nb_max(nb_abs(nb_grad(td))));
    expect_close(nb_grad(t32), nb_grad(td), 0, 2e-6 * scale, which ? "weight gradient only" : "input gradient only");
  }
  nb_generator_free(g);
}
END_TEST

/* conv2d in float32 against a plain float64 loop over the definition (output and the
 * gradients of input, weight and bias): LeNet's two shapes at batch 64 (5x5 on 28x28
 * with padding 2 and one input channel: the direct path; on 14x14 with 6 channels: the
 * small-plane im2col/col2im path, the whole batch in one kept column matrix), rows of 7
 * outputs (every vector width of the small-plane moves), and more of the direct path:
 * 3x3 with rows of 13 outputs (a partial vector), 7x7 with rows of 60 (eight vectors),
 * 3x3 with rows of 32 (whole 16-float vectors) and 11 channels (two blocks of 6 and 5
 * in the AVX-512 forward). */
static void naive_conv(const double *x, const double *w, const double *b, const double *gy, int64_t N, int64_t C,
                       int64_t H, int64_t M, int64_t k, int64_t pad, double *y, double *dx, double *dw, double *db) {
  int64_t O = H + 2 * pad - k + 1;
  memset(dx, 0, sizeof(double) * (size_t)(N * C * H * H));
  memset(dw, 0, sizeof(double) * (size_t)(M * C * k * k));
  memset(db, 0, sizeof(double) * (size_t)M);
  for (int64_t n = 0; n < N; n++)
    for (int64_t m = 0; m < M; m++)
      for (int64_t oh = 0; oh < O; oh++)
        for (int64_t ow = 0; ow < O; ow++) {
          int64_t o = ((n * M + m) * O + oh) * O + ow;
          double acc = b[m], g = gy[o];
          db[m] += g;
          for (int64_t c = 0; c < C; c++)
            for (int64_t ki = 0; ki < k; ki++)
              for (int64_t kj = 0; kj < k; kj++) {
                int64_t ih = oh - pad + ki, iw = ow - pad + kj;
                if (ih < 0 || ih >= H || iw < 0 || iw >= H) continue;
                int64_t xi = ((n * C + c) * H + ih) * H + iw, wi = ((m * C + c) * k + ki) * k + kj;
                acc += x[xi] * w[wi];
                dx[xi] += g * w[wi];
                dw[wi] += g * x[xi];
              }
          y[o] = acc;
        }
}

START_TEST(test_conv2d_lenet_shapes) {
  static const int64_t cfg[6][6] = {/* N C H M padding kernel */
                                     {64, 1, 28, 6, 2, 5}, {64, 6, 14, 16, 0, 5}, {8, 3, 9, 4, 1, 5},
                                     {5, 1, 13, 3, 1, 3},  {2, 1, 60, 2, 3, 7},   {3, 1, 32, 11, 1, 3}};
  const int64_t *c = cfg[_i], N = c[0], C = c[1], H = c[2], M = c[3], pad = c[4], k = c[5];
  const int64_t O = H + 2 * pad - k + 1;
  nb_generator *g = nb_generator_new(31);
  nb_tensor *in32[3] = {nb_randn(SHAPE(N, C, H, H), NB_F32, g), nb_randn(SHAPE(M, C, k, k), NB_F32, g),
                        nb_randn(SHAPE(M), NB_F32, g)};
  for (int i = 0; i < 3; i++) nb_set_requires_grad(in32[i], true);
  nb_tensor *gy = nb_randn(SHAPE(N, M, O, O), NB_F32, g);
  nb_tensor *y = nb_conv2d(in32[0], in32[1], in32[2], NULL, (int64_t[]){pad, pad}, NULL, 1);
  ck_assert_msg(y != NULL, "%s", nb_last_error());
  ck_assert_int_eq(nb_backward(y, gy, 0), 0);
  nb_tensor *xd = nb_to_dtype(in32[0], NB_F64), *wd = nb_to_dtype(in32[1], NB_F64), *bd = nb_to_dtype(in32[2], NB_F64);
  nb_tensor *gd = nb_to_dtype(gy, NB_F64), *want[4] = {nb_zeros(SHAPE(N, M, O, O), NB_F64),
                                                      nb_zeros(SHAPE(N, C, H, H), NB_F64),
                                                      nb_zeros(SHAPE(M, C, k, k), NB_F64), nb_zeros(SHAPE(M), NB_F64)};
  naive_conv(nb_data(xd), nb_data(wd), nb_data(bd), nb_data(gd), N, C, H, M, k, pad, nb_data(want[0]),
             nb_data(want[1]), nb_data(want[2]), nb_data(want[3]));
  nb_tensor *got[4] = {y, nb_grad(in32[0]), nb_grad(in32[1]), nb_grad(in32[2])};
  expect_conv(got, want);
  nb_generator_free(g);
}
END_TEST

/* The Winograd path with one thread gives the same bits run to run (its transforms sum
 * overlapping tiles in a fixed order). */
START_TEST(test_conv2d_winograd_deterministic) {
  int prev = nb_get_num_threads();
  nb_set_num_threads(1);
  nb_generator *g = nb_generator_new(5);
  nb_tensor *x = nb_requires_grad_(nb_randn(SHAPE(32, 128, 4, 4), NB_F32, g));
  nb_tensor *w = nb_requires_grad_(nb_randn(SHAPE(128, 128, 3, 3), NB_F32, g));
  nb_tensor *gy = nb_randn(SHAPE(32, 128, 4, 4), NB_F32, g);
  nb_tensor *r[2][3];
  for (int k = 0; k < 2; k++) {
    nb_tensor *y = nb_conv2d(x, w, NULL, NULL, (int64_t[]){1, 1}, NULL, 1);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    ck_assert_int_eq(nb_backward(y, gy, 0), 0);
    r[k][0] = y, r[k][1] = nb_copy_data(nb_grad(x)), r[k][2] = nb_copy_data(nb_grad(w));
    nb_set_grad(x, NULL);
    nb_set_grad(w, NULL);
  }
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(memcmp(nb_data(r[0][i]), nb_data(r[1][i]), sizeof(float) * (size_t)nb_numel(r[0][i])), 0);
  nb_generator_free(g);
  nb_set_num_threads(prev);
}
END_TEST

/* conv2d(x, w, b, padding pad) and its backward from gy give the same bits with one
 * and with two threads: the output and the gradient of each input that requires one. */
static void conv_same_bits_on_threads(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_tensor *gy, int64_t pad) {
  int prev = nb_get_num_threads();
  nb_tensor *in[3] = {x, w, b}, *r[2][4];
  for (int k = 0; k < 2; k++) {
    ck_assert_int_eq(nb_set_num_threads(k + 1), 0);
    nb_tensor *y = nb_conv2d(x, w, b, NULL, (int64_t[]){pad, pad}, NULL, 1);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    ck_assert_int_eq(nb_backward(y, gy, 0), 0);
    r[k][0] = y;
    for (int i = 0; i < 3; i++) {
      r[k][i + 1] = nb_requires_grad(in[i]) ? nb_copy_data(nb_grad(in[i])) : NULL;
      if (r[k][i + 1]) nb_set_grad(in[i], NULL);
    }
  }
  for (int i = 0; i < 4; i++)
    if (r[0][i])
      ck_assert_int_eq(memcmp(nb_data(r[0][i]), nb_data(r[1][i]), sizeof(float) * (size_t)nb_numel(r[0][i])), 0);
  nb_set_num_threads(prev);
}

/* conv2d's direct path (one input channel): forward splits the samples, the weight
 * gradient the output channels, and every sum runs in a fixed order. LeNet's first
 * layer at batch 16 (no input gradient, as for a first layer). */
START_TEST(test_conv2d_direct_threads) {
  nb_generator *g = nb_generator_new(13);
  nb_tensor *x = nb_randn(SHAPE(16, 1, 28, 28), NB_F32, g), *gy = nb_randn(SHAPE(16, 6, 28, 28), NB_F32, g);
  nb_tensor *w = nb_requires_grad_(nb_randn(SHAPE(6, 1, 5, 5), NB_F32, g));
  nb_tensor *b = nb_requires_grad_(nb_randn(SHAPE(6), NB_F32, g));
  conv_same_bits_on_threads(x, w, b, gy, 2);
  nb_generator_free(g);
}
END_TEST

/* The lanes path: forward splits the samples, the weight gradient (input channel,
 * kernel row) units that each sum all samples in order, the input gradient the
 * samples. LeNet's second layer at batch 16. */
START_TEST(test_conv2d_lanes_threads) {
  nb_generator *g = nb_generator_new(17);
  nb_tensor *x = nb_requires_grad_(nb_randn(SHAPE(16, 6, 14, 14), NB_F32, g));
  nb_tensor *w = nb_requires_grad_(nb_randn(SHAPE(16, 6, 5, 5), NB_F32, g));
  nb_tensor *b = nb_requires_grad_(nb_randn(SHAPE(16), NB_F32, g));
  conv_same_bits_on_threads(x, w, b, nb_randn(SHAPE(16, 16, 10, 10), NB_F32, g), 0);
  nb_generator_free(g);
}
END_TEST

int main(void) {
  Suite *s = suite_create("nn_f32_paths");
  TCase *tc = tcase_create("f32 against f64");
  tcase_add_checked_fixture(tc, nb_test_scope_setup, nb_test_scope_teardown);
  tcase_add_test(tc, test_softmax_rows);
  tcase_add_test(tc, test_cross_entropy_rows);
  tcase_add_test(tc, test_bce_with_logits);
  tcase_add_test(tc, test_batch_norm_sums);
  tcase_add_test(tc, test_global_average_pool);
  tcase_add_test(tc, test_max_pool_lanes);
  tcase_add_test(tc, test_dropout_f32);
  tcase_add_loop_test(tc, test_conv2d_winograd, 0, WINO_CFGS);
  tcase_add_test(tc, test_conv2d_winograd_one_gradient);
  tcase_add_test(tc, test_conv2d_winograd_deterministic);
  tcase_add_loop_test(tc, test_conv2d_lenet_shapes, 0, 6);
  tcase_add_test(tc, test_conv2d_direct_threads);
  tcase_add_loop_test(tc, test_conv2d_lanes, 0, LANES_CFGS);
  tcase_add_test(tc, test_conv2d_lanes_threads);
  suite_add_tcase(s, tc);
  return nb_test_run(s);
}
