/* ops/elementwise/ew_exp.h — e^x written so the compiler can vectorise loops calling it
 * (glibc's exp/expf are opaque calls that keep a loop scalar). Within about 1 ulp of
 * the correctly rounded result over the whole range, including overflow to inf,
 * subnormal results, +-inf and nan.
 *
 * Method (Cephes style): n = round(x / ln 2) by the 1.5 * 2^m "magic" addition (its low
 * mantissa bits then hold n, so no float->int conversion is needed), r = x - n ln 2 in
 * two parts, e^r by a polynomial on |r| <= ln2/2, and 2^n applied as two factors 2^n1 *
 * 2^n2 built from exponent bits, so results near overflow and in the subnormal range
 * need no special case.
 */
#ifndef NB_OPS_EW_EXP_H
#define NB_OPS_EW_EXP_H

#include <stdint.h>

typedef union {
  float f;
  uint32_t u;
} ew_f32bits;
typedef union {
  double f;
  uint64_t u;
} ew_f64bits;

static inline float ew_expf(float x) {
  const float magic = 12582912.0f; /* 1.5 * 2^23 */
  /* two unconditional compares (a nested ?: would keep GCC from if-converting) */
  float lo = x < -104.0f ? -104.0f : x;
  float xc = lo > 89.0f ? 89.0f : lo;
  ew_f32bits t = {xc * 1.44269504088896341f + magic};
  float nf = t.f - magic;
  ew_f32bits h = {nf * 0.5f + magic}; /* n1 ~ n/2, so 2^n1 and 2^(n-n1) stay normal */
  float r = xc - nf * 0.693359375f;
  r = r - nf * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  ew_f32bits m = {magic};
  uint32_t n = t.u - m.u, n1 = h.u - m.u, n2 = n - n1;
  ew_f32bits s1, s2;
  s1.u = (n1 + 127u) << 23;
  s2.u = (n2 + 127u) << 23;
  float y = p * s1.f * s2.f;
  return x != x ? x : y;
}

static inline double ew_exp(double x) {
  const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
  double lo = x < -746.0 ? -746.0 : x;
  double xc = lo > 710.0 ? 710.0 : lo;
  ew_f64bits t = {xc * 1.4426950408889634074 + magic};
  double nf = t.f - magic;
  ew_f64bits h = {nf * 0.5 + magic};
  double r = xc - nf * 6.93147180369123816490e-01; /* ln2 high part: n * hi is exact */
  r = r - nf * 1.90821492927058770002e-10;
  /* Taylor series to r^13: truncation < 1e-17 relative for |r| <= ln2/2 */
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * (r * r) + r + 1.0;
  ew_f64bits m = {magic};
  uint64_t n = t.u - m.u, n1 = h.u - m.u, n2 = n - n1;
  ew_f64bits s1, s2;
  s1.u = (n1 + 1023u) << 52;
  s2.u = (n2 + 1023u) << 52;
  double y = p * s1.f * s2.f;
  return x != x ? x : y;
}

/* e^x for a float or double expression. */
#define EW_EXP(x) _Generic((x), float : ew_expf, default : ew_exp)(x)

#endif
