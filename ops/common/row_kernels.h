/* ops/common/row_kernels.h — float32 row kernels shared by softmax/log_softmax (nn) and
 * cross_entropy (loss): the maximum, Σ e^(x − m) and Σ a·b of a contiguous row.
 *
 * Written for the vectoriser: sums in 16 fixed float lanes added in double at the end,
 * the maximum as a compare-and-select in GCC vectors, e^x as ew_expf_neg (ew_exp.h), all
 * inside a no-trapping-math region and compiled also for AVX2 (no FMA, so the same bits
 * either way). Static functions (clang will not combine target_clones with `unused`):
 * include this header only in a .c file that calls all three. Not installed.
 */
#ifndef NABLA_OPS_COMMON_ROW_KERNELS_H
#define NABLA_OPS_COMMON_ROW_KERNELS_H

#include <nabla/sdk.h>
#include <math.h>
#include <string.h>

#define ROW_LANES 16

NB_FAST_FP_BEGIN
#include "../elementwise/ew_exp.h" /* inside the region, so its helpers inline into the kernels */

/* 8 floats in a GCC vector (two SSE registers in the default clone, one in AVX2): a
 * compare-and-select max, which GCC keeps scalar when written over an array. */
typedef float row_v8 __attribute__((vector_size(32)));
typedef int32_t row_v8i __attribute__((vector_size(32)));

/* max of a row (-inf when empty). A nan is skipped here, but it makes the row's
 * exponential sum, so the whole result, nan. */
NB_SIMD_CLONES static float row_max(const float *x, int64_t n) {
  row_v8 m0, m1, v;
  float r = -INFINITY;
  for (int l = 0; l < 8; l++) m0[l] = m1[l] = -INFINITY;
  int64_t i = 0;
  for (; i + ROW_LANES <= n; i += ROW_LANES) {
    memcpy(&v, x + i, sizeof v);
    row_v8i k = v > m0;
    m0 = (row_v8)(((row_v8i)v & k) | ((row_v8i)m0 & ~k));
    memcpy(&v, x + i + 8, sizeof v);
    k = v > m1;
    m1 = (row_v8)(((row_v8i)v & k) | ((row_v8i)m1 & ~k));
  }
  for (; i < n; i++) r = x[i] > r ? x[i] : r;
  for (int l = 0; l < 8; l++) {
    r = m0[l] > r ? m0[l] : r;
    r = m1[l] > r ? m1[l] : r;
  }
  return r;
}

/* Σ e^(x − m) for a shift m >= the row's values, storing each term in y when y is not
 * NULL (softmax). */
NB_SIMD_CLONES static double row_exp_sum(const float *x, float m, float *y, int64_t n) {
  float s[ROW_LANES] = {0};
  double r = 0;
  int64_t i = 0;
  if (y) {
    for (; i + ROW_LANES <= n; i += ROW_LANES)
      for (int l = 0; l < ROW_LANES; l++) {
        float e = ew_expf_neg(x[i + l] - m);
        y[i + l] = e;
        s[l] += e;
      }
    for (; i < n; i++) r += y[i] = ew_expf_neg(x[i] - m);
  } else {
    for (; i + ROW_LANES <= n; i += ROW_LANES)
      for (int l = 0; l < ROW_LANES; l++) s[l] += ew_expf_neg(x[i + l] - m);
    for (; i < n; i++) r += ew_expf_neg(x[i] - m);
  }
  for (int l = 0; l < ROW_LANES; l++) r += s[l];
  return r;
}

/* Σ a·b (b NULL: Σ a). */
NB_SIMD_CLONES static double row_dot(const float *a, const float *b, int64_t n) {
  float s[ROW_LANES] = {0};
  double r = 0;
  int64_t i = 0;
  if (b) {
    for (; i + ROW_LANES <= n; i += ROW_LANES)
      for (int l = 0; l < ROW_LANES; l++) s[l] += a[i + l] * b[i + l];
    for (; i < n; i++) r += a[i] * b[i];
  } else {
    for (; i + ROW_LANES <= n; i += ROW_LANES)
      for (int l = 0; l < ROW_LANES; l++) s[l] += a[i + l];
    for (; i < n; i++) r += a[i];
  }
  for (int l = 0; l < ROW_LANES; l++) r += s[l];
  return r;
}
NB_FAST_FP_END

#endif
