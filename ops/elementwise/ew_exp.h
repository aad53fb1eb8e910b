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

#define EW_MAGIC_F 12582912.0f /* 1.5 * 2^23 */

/* The steps ew_expf and ew_expf_neg share, for a clamped argument xc: *t gets
 * n = round(xc / ln 2) in magic form, *nf the same n as a float; returns e^r for
 * r = xc - n ln 2 (|r| <= ln2/2). */
static inline float ew_expf_reduced(float xc, ew_f32bits *t, float *nf) {
  t->f = xc * 1.44269504088896341f + EW_MAGIC_F;
  *nf = t->f - EW_MAGIC_F;
  float r = xc - *nf * 0.693359375f;
  r = r - *nf * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * (r * r) + r + 1.0f;
}

static inline float ew_expf(float x) {
  /* two unconditional compares (a nested ?: would keep GCC from if-converting) */
  float lo = x < -104.0f ? -104.0f : x;
  float xc = lo > 89.0f ? 89.0f : lo;
  ew_f32bits t;
  float nf;
  float p = ew_expf_reduced(xc, &t, &nf);
  ew_f32bits h = {nf * 0.5f + EW_MAGIC_F}; /* n1 ~ n/2, so 2^n1 and 2^(n-n1) stay normal */
  ew_f32bits m = {EW_MAGIC_F};
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

/* e^x for arguments shifted by a maximum (softmax, logsumexp: x <= 0 up to rounding;
 * valid to x = 88): one 2^n factor instead of two, so the same bits as ew_expf down to
 * x = -87, below which the result (< 1.7e-38) is flushed to 0; nan stays nan. */
static inline float ew_expf_neg(float x) {
  float xc = x < -87.0f ? -87.0f : x;
  ew_f32bits t, m = {EW_MAGIC_F}, sc;
  float nf;
  float p = ew_expf_reduced(xc, &t, &nf);
  sc.u = (t.u - m.u + 127u) << 23;
  float y = p * sc.f;
  return x < -87.0f ? 0.0f : y;
}

/* e^x for a float or double expression. */
#define EW_EXP(x) _Generic((x), float : ew_expf, default : ew_exp)(x)

#endif
