/* gemm_native.c — the packed GEMM around nabla's own micro-kernels (gemm_kernels.c).
 *
 * The Goto/BLIS loop nest on one thread: for each NC-wide slice of B's columns and each
 * KC-deep slice of k, B's slice is packed into NR-wide panels; for each MC-tall block of
 * A's rows, A's block is packed into MR-tall panels and every MR x NR tile of C is one
 * micro-kernel call. Packing reads any strides, so transposes cost nothing extra. The
 * kernel stores along its MR side, so a product whose C has unit column stride (a
 * row-major C) is usually computed as its transpose, Cᵀ = Bᵀ·Aᵀ (swap_pays: whichever
 * orientation does less work). The kernel stores tiles cut by
 * C's edges through masks; a C without a unit stride goes through a local tile. k is
 * never split across threads (nb_gemm splits C), so the sums' order does not depend on
 * the thread count.
 */
#include <limits.h>

#include "internal.h"

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Element (i, p) of a len x kc block at x[i·si + p·sp] into panels of r along i, each
 * stored p by p (r values per p), i past len zero: A's blocks (i a row, si = ra, sp = ca)
 * and B's slices (i a column, si = cb, sp = rb) alike. */
#define PACK(T)                                                                             \
  static void pack_##T(const nb__ukernel *uk, int64_t len, int64_t kc, int r, const T *x, int64_t si,   \
                       int64_t sp, T *dst) {                                                 \
    for (int64_t i0 = 0; i0 < len; i0 += r, dst += (int64_t)r * kc) {                        \
      int64_t ni = min64(r, len - i0);                                                       \
      const T *src = x + i0 * si;                                                            \
      if (sp == 1 && si > 1) {                                                               \
        uk->pack_t(kc, r, ni, src, si, dst);                                                 \
      } else if (si == 1 && ni == r) {                                                       \
        for (int64_t p = 0; p < kc; p++)                                                     \
          for (int i = 0; i < r; i++) dst[p * r + i] = src[p * sp + i];                      \
      } else {                                                                               \
        for (int64_t i = 0; i < ni; i++)                                                     \
          for (int64_t p = 0; p < kc; p++) dst[p * r + i] = src[i * si + p * sp];            \
        for (int64_t p = 0; p < kc && ni < r; p++)                                           \
          for (int64_t i = ni; i < r; i++) dst[p * r + i] = 0;                               \
      }                                                                                      \
    }                                                                                        \
  }

/* The loop nest; C(i,j) at c[i·rc + j·cc]. */
#define GEMM_PACKED(T)                                                                      \
  PACK(T)                                                                                   \
  static bool packed_##T(const nb__ukernel *uk, int64_t m, int64_t n, int64_t k, T alpha, const T *a, \
                         int64_t ra, int64_t ca, const T *b, int64_t rb, int64_t cb, T beta, T *c,  \
                         int64_t rc, int64_t cc) {                                           \
    const int mr = uk->mr, nr = uk->nr;                                                      \
    int64_t kcmax = min64(uk->kc, k), ncmax = min64(uk->nc, n), mcmax = min64(uk->mc, m);     \
    T *ap = nb__scratch(NB_SCRATCH_GEMM_A, sizeof(T) * (size_t)(kcmax * ((mcmax + mr - 1) / mr * mr))); \
    T *bp = nb__scratch(NB_SCRATCH_GEMM_B, sizeof(T) * (size_t)(kcmax * ((ncmax + nr - 1) / nr * nr))); \
    if (!ap || !bp)                                                                          \
      return false;                                                                          \
    _Alignas(64) T tile[32 * 8];                                                            \
    for (int64_t jc = 0; jc < n; jc += uk->nc) {                                             \
      int64_t nc = min64(uk->nc, n - jc);                                                    \
      for (int64_t pc = 0; pc < k; pc += uk->kc) {                                           \
        int64_t kc = min64(uk->kc, k - pc);                                                  \
        T be = pc == 0 ? beta : (T)1;                                                        \
        pack_##T(uk, nc, kc, nr, b + pc * rb + jc * cb, cb, rb, bp);                           \
        for (int64_t ic = 0; ic < m; ic += uk->mc) {                                         \
          int64_t mc = min64(uk->mc, m - ic);                                                \
          pack_##T(uk, mc, kc, mr, a + ic * ra + pc * ca, ra, ca, ap);                         \
          for (int64_t jr = 0; jr < nc; jr += nr) {                                          \
            int64_t nj = min64(nr, nc - jr);                                                 \
            for (int64_t ir = 0; ir < mc; ir += mr) {                                        \
              int64_t mi = min64(mr, mc - ir);                                               \
              T *ct = c + (ic + ir) * rc + (jc + jr) * cc;                                   \
              const T *at = ap + ir * kc, *bt = bp + jr * kc;                                \
              if (rc == 1) {                                                                 \
                uk->fn(kc, at, bt, ct, cc, alpha, be, (int)mi, (int)nj);                     \
                continue;                                                                    \
              }                                                                              \
              uk->fn(kc, at, bt, tile, mr, 1, 0, mr, nr);                                    \
              for (int64_t j = 0; j < nj; j++)                                               \
                for (int64_t i = 0; i < mi; i++) {                                           \
                  T *cp = ct + i * rc + j * cc;                                              \
                  T v = alpha * tile[j * mr + i];                                            \
                  *cp = be == 0 ? v : v + be * *cp;                                          \
                }                                                                            \
            }                                                                                \
          }                                                                                  \
        }                                                                                    \
      }                                                                                      \
    }                                                                                        \
    return true;                                                                             \
  }
GEMM_PACKED(float)
GEMM_PACKED(double)

/* The skinny path: n <= uk->dot_max columns (or as few rows, computed as Cᵀ) against
 * rows of A (columns of B) that run along k, and k long enough for vector dot products.
 * Packing A, a layer's weights at batch 1, would cost about as much as the product. */
#define SKINNY_MIN_K 64

/* Skinny as it stands: few columns against rows of A that run along k. (Few rows against
 * columns of B that do is the same product transposed.) */
static bool few_columns(const nb__ukernel *uk, int64_t m, int64_t n, int64_t ca) {
  return n <= uk->dot_max && ca == 1 && m > uk->dot_max;
}

bool nb__gemm_skinny(const nb__ukernel *uk, int64_t m, int64_t n, int64_t k, int64_t ca, int64_t rb) {
  if (!uk->dot || k < SKINNY_MIN_K)
    return false;
  return few_columns(uk, m, n, ca) || few_columns(uk, n, m, rb);
}

/* B's n columns copied to bt (n rows of k) for the dot kernel; false without memory. */
static bool skinny(const nb__ukernel *uk, nb_dtype dt, int64_t m, int64_t n, int64_t k, double alpha,
                   const void *a, int64_t ra, const void *b, int64_t rb, int64_t cb, double beta, void *c,
                   int64_t rc, int64_t cc) {
  size_t es = nb__dtype_size(dt);
  char *bt = nb__scratch(NB_SCRATCH_GEMM_B, es * (size_t)(n * k));
  if (!bt)
    return false;
  if (cb == 1 && k <= INT_MAX) { /* B row-major (im2col's columns): register transposes */
    uk->pack_t(n, (int)k, k, b, rb, bt);
  } else {
    for (int64_t j = 0; j < n; j++)
      for (int64_t p = 0; p < k; p++) {
        if (dt == NB_F32)
          ((float *)bt)[j * k + p] = ((const float *)b)[p * rb + j * cb];
        else
          ((double *)bt)[j * k + p] = ((const double *)b)[p * rb + j * cb];
      }
  }
  uk->dot(m, (int)n, k, a, ra, bt, c, rc, cc, alpha, beta);
  return true;
}

/* Work of the loop nest for C (m x n, strides rc, cc), in lane multiply-adds: the tiles
 * it computes, cut ones in full, plus, without a unit row stride, the local-tile stores
 * (a scalar store costs about two vector instructions, 2·mr lanes). */
static double nest_cost(const nb__ukernel *uk, int64_t m, int64_t n, int64_t k, int64_t rc) {
  double tiles = (double)((m + uk->mr - 1) / uk->mr * uk->mr) * (double)((n + uk->nr - 1) / uk->nr * uk->nr);
  double cost = tiles * (double)k;
  if (rc != 1)
    cost += 2.0 * uk->mr * (double)m * (double)n * (double)((k + uk->kc - 1) / uk->kc);
  return cost;
}

/* Whether computing Cᵀ = Bᵀ·Aᵀ costs less: a row-major C stored directly, or a short m
 * on the kernel's short side (a 4 x 512 product with MR = 32 would waste 7/8). */
static bool swap_pays(const nb__ukernel *uk, int64_t m, int64_t n, int64_t k, int64_t rc, int64_t cc) {
  return nest_cost(uk, n, m, k, cc) < nest_cost(uk, m, n, k, rc);
}

bool nb__gemm_packed(const nb__ukernel *uk, nb_dtype dt, int64_t m, int64_t n, int64_t k, double alpha,
                     const void *a, int64_t ra, int64_t ca, const void *b, int64_t rb, int64_t cb, double beta,
                     void *c, int64_t rc, int64_t cc) {
  bool thin = nb__gemm_skinny(uk, m, n, k, ca, rb);
  if (thin ? !few_columns(uk, m, n, ca) : swap_pays(uk, m, n, k, rc, cc)) {
    /* Cᵀ(j,i) = Σ Bᵀ(j,p)·Aᵀ(p,i) */
    int64_t t = m;
    m = n, n = t;
    const void *x = a;
    a = b, b = x;
    t = ra, ra = cb, cb = t; /* Bᵀ(j,p) = B(p,j) at b[j·cb + p·rb]; Aᵀ(p,i) at a[p·ca + i·ra] */
    t = ca, ca = rb, rb = t;
    t = rc, rc = cc, cc = t;
  }
  if (thin)
    return skinny(uk, dt, m, n, k, alpha, a, ra, b, rb, cb, beta, c, rc, cc);
  if (dt == NB_F32)
    return packed_float(uk, m, n, k, (float)alpha, a, ra, ca, b, rb, cb, (float)beta, c, rc, cc);
  return packed_double(uk, m, n, k, alpha, a, ra, ca, b, rb, cb, beta, c, rc, cc);
}
