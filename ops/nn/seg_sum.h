/* ops/nn/seg_sum.h — float32 sums in 16 fixed double lanes, shared by batch_norm.c
 * (its plane statistics) and conv2d.c (the bias gradient): the same order for any
 * thread count, compiled also for AVX2 (no FMA: same bits either way). Static
 * functions: include this header only in a .c file that calls seg_sum. Internal to the
 * nn plugin.
 */
#ifndef NABLA_OPS_NN_SEG_SUM_H
#define NABLA_OPS_NN_SEG_SUM_H

#include <nabla/sdk.h>
#include <stdbool.h>
#include <stdint.h>

#define LANES 16
/* The plane sums run in LANES = 16 double lanes held in four 4-double GCC vectors
 * (GCC left the equivalent array loops scalar); lane l takes elements i ≡ l (mod 16),
 * the tail goes to r, and the lanes are added to r in order. */
typedef float bn_v4f __attribute__((vector_size(16), aligned(4), may_alias)); /* unaligned loads */
typedef double bn_v4d __attribute__((vector_size(32)));
/* 4 floats at p as 4 doubles (a macro: a function returning bn_v4d trips -Wpsabi in
 * the non-AVX clone) */
#define ld4(p) __builtin_convertvector(*(const bn_v4f *)(p), bn_v4d)

static inline double lanes_sum(double r, const bn_v4d *v) {
  for (int q = 0; q < 4; q++)
    for (int l = 0; l < 4; l++) r += v[q][l];
  return r;
}

/* Σ p[i] (!dev) or Σ (p[i] − m)² (dev) over n floats, in LANES double lanes. */
NB_SIMD_CLONES static double seg_sum(const float *p, int64_t n, bool dev, double m) {
  bn_v4d s[4] = {{0}};
  double r = 0;
  int64_t i = 0;
  if (!dev) {
    for (; i + LANES <= n; i += LANES)
      for (int q = 0; q < 4; q++) s[q] += ld4(p + i + 4 * q);
    for (; i < n; i++) r += p[i];
  } else {
    for (; i + LANES <= n; i += LANES)
      for (int q = 0; q < 4; q++) {
        bn_v4d d = ld4(p + i + 4 * q) - m;
        s[q] += d * d;
      }
    for (; i < n; i++) r += ((double)p[i] - m) * ((double)p[i] - m);
  }
  return lanes_sum(r, s);
}

#endif
