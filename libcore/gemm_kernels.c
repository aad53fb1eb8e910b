/* gemm_kernels.c — the GEMM micro-kernels for x86-64 and the choice between them.
 *
 * A micro-kernel computes one MR x NR tile of C from a packed panel of A (MR rows, k
 * columns, column by column) and a packed panel of B (k rows of NR): C = alpha·A·B +
 * beta·C, C's rows at unit stride and its columns ldc apart; beta == 0 does not read C;
 * a tile cut by C's edges is stored through masks.
 * Each is compiled for its instruction set with a target attribute and chosen at run time
 * from what the CPU reports, never from the build machine's flags: AVX-512 (32x8 float,
 * 16x8 double: channel counts are multiples of 8, so few tiles are cut), AVX2 + FMA
 * (16x6 float, 8x6 double), or none (BLIS's GEMM; on x86-64
 * Debian's BLIS carries only its generic kernel). NB_GEMM_KERNEL=avx512|avx2|blis
 * chooses one by hand (tests run every one the CPU has); an unknown name or one the CPU
 * lacks falls back to the automatic choice.
 */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* Two vectors of A per k step (2·W rows) against NR broadcast values of B: 2·NR
 * accumulators. Only the first mi rows and nj columns of the tile are C's (edges of C):
 * the rest is computed but neither read nor written (masked loads and stores). ZERO ...
 * MUL are the instruction set's intrinsics; MK(n) is the mask of a vector's first n
 * lanes, MLOAD/MSTORE the masked load and store. */
#define UKERNEL(NAME, T, V, W, NR, ISA, M_T, MK, ZERO, LOAD, STORE, SET1, FMA, MUL, MLOAD, MSTORE)      \
  __attribute__((target(ISA))) static void NAME(int64_t k, const void *pa, const void *pb, void *pc, \
                                                int64_t ldc, double alpha_d, double beta_d, int mi, int nj) { \
    const T *a = pa, *b = pb;                                                                  \
    T *c = pc;                                                                                 \
    V c0[NR], c1[NR];                                                                          \
    _Pragma("GCC unroll 16") for (int j = 0; j < NR; j++) c0[j] = c1[j] = ZERO();              \
    for (int64_t p = 0; p < k; p++) {                                                          \
      V a0 = LOAD(a), a1 = LOAD(a + W);                                                        \
      _Pragma("GCC unroll 16") for (int j = 0; j < NR; j++) {                                  \
        V bj = SET1(b[j]);                                                                     \
        c0[j] = FMA(a0, bj, c0[j]);                                                            \
        c1[j] = FMA(a1, bj, c1[j]);                                                            \
      }                                                                                        \
      a += 2 * W;                                                                              \
      b += NR;                                                                                 \
    }                                                                                          \
    V va = SET1((T)alpha_d), vb = SET1((T)beta_d);                                             \
    if (mi == 2 * W) {                                                                         \
      _Pragma("GCC unroll 16") for (int j = 0; j < NR; j++) {                                  \
        if (j >= nj) break;                                                                    \
        T *cj = c + j * ldc;                                                                   \
        if (beta_d == 0) {                                                                     \
          STORE(cj, MUL(va, c0[j]));                                                           \
          STORE(cj + W, MUL(va, c1[j]));                                                       \
        } else {                                                                               \
          STORE(cj, FMA(vb, LOAD(cj), MUL(va, c0[j])));                                        \
          STORE(cj + W, FMA(vb, LOAD(cj + W), MUL(va, c1[j])));                                \
        }                                                                                      \
      }                                                                                        \
    } else {                                                                                   \
      M_T m0 = MK(mi), m1 = MK(mi - W);                                                        \
      for (int j = 0; j < nj; j++) {                                                           \
        T *cj = c + j * ldc;                                                                   \
        if (beta_d == 0) {                                                                     \
          MSTORE(cj, m0, MUL(va, c0[j]));                                                      \
          MSTORE(cj + W, m1, MUL(va, c1[j]));                                                  \
        } else {                                                                               \
          MSTORE(cj, m0, FMA(vb, MLOAD(m0, cj), MUL(va, c0[j])));                              \
          MSTORE(cj + W, m1, FMA(vb, MLOAD(m1, cj + W), MUL(va, c1[j])));                      \
        }                                                                                      \
      }                                                                                        \
    }                                                                                          \
  }

#define MK16(n) ((__mmask16)((n) >= 16 ? 0xFFFFu : (n) <= 0 ? 0u : (1u << (n)) - 1u))
#define MK8(n) ((__mmask8)((n) >= 8 ? 0xFFu : (n) <= 0 ? 0u : (1u << (n)) - 1u))
#define MK256S(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define MK256D(n) _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3))
#define ML512S(m, p) _mm512_maskz_loadu_ps(m, p)
#define MS512S(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define ML512D(m, p) _mm512_maskz_loadu_pd(m, p)
#define MS512D(p, m, v) _mm512_mask_storeu_pd(p, m, v)
#define ML256S(m, p) _mm256_maskload_ps(p, m)
#define MS256S(p, m, v) _mm256_maskstore_ps(p, m, v)
#define ML256D(m, p) _mm256_maskload_pd(p, m)
#define MS256D(p, m, v) _mm256_maskstore_pd(p, m, v)

UKERNEL(s_avx512, float, __m512, 16, 8, "avx512f", __mmask16, MK16, _mm512_setzero_ps, _mm512_loadu_ps,
        _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_mul_ps, ML512S, MS512S)
UKERNEL(d_avx512, double, __m512d, 8, 8, "avx512f", __mmask8, MK8, _mm512_setzero_pd, _mm512_loadu_pd,
        _mm512_storeu_pd, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_mul_pd, ML512D, MS512D)
UKERNEL(s_avx2, float, __m256, 8, 6, "avx2,fma", __m256i, MK256S, _mm256_setzero_ps, _mm256_loadu_ps,
        _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_mul_ps, ML256S, MS256S)
UKERNEL(d_avx2, double, __m256d, 4, 6, "avx2,fma", __m256i, MK256D, _mm256_setzero_pd, _mm256_loadu_pd,
        _mm256_storeu_pd, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_mul_pd, ML256D, MS256D)

/* 8x8 floats at s (rows ld apart) into d (rows r apart), transposed. */
__attribute__((target("avx2"))) static inline void s_block_t(const float *s0, int64_t ld, float *d, int r) {
  __m256 r0 = _mm256_loadu_ps(s0), r1 = _mm256_loadu_ps(s0 + ld), r2 = _mm256_loadu_ps(s0 + 2 * ld),
         r3 = _mm256_loadu_ps(s0 + 3 * ld), r4 = _mm256_loadu_ps(s0 + 4 * ld), r5 = _mm256_loadu_ps(s0 + 5 * ld),
         r6 = _mm256_loadu_ps(s0 + 6 * ld), r7 = _mm256_loadu_ps(s0 + 7 * ld);
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
         t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
         t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
         u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
         u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
         u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(d + r, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(d + 2 * r, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(d + 3 * r, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(d + 4 * r, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(d + 5 * r, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(d + 6 * r, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(d + 7 * r, _mm256_permute2f128_ps(u3, u7, 0x31));
}

/* 4x4 doubles, the same. */
__attribute__((target("avx2"))) static inline void d_block_t(const double *s0, int64_t ld, double *d, int r) {
  __m256d r0 = _mm256_loadu_pd(s0), r1 = _mm256_loadu_pd(s0 + ld), r2 = _mm256_loadu_pd(s0 + 2 * ld),
          r3 = _mm256_loadu_pd(s0 + 3 * ld);
  __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1), t2 = _mm256_unpacklo_pd(r2, r3),
          t3 = _mm256_unpackhi_pd(r2, r3);
  _mm256_storeu_pd(d, _mm256_permute2f128_pd(t0, t2, 0x20));
  _mm256_storeu_pd(d + r, _mm256_permute2f128_pd(t1, t3, 0x20));
  _mm256_storeu_pd(d + 2 * r, _mm256_permute2f128_pd(t0, t2, 0x31));
  _mm256_storeu_pd(d + 3 * r, _mm256_permute2f128_pd(t1, t3, 0x31));
}

/* Transposing pack: dst[p·r + i] = src[i·ld + p] for rows i < valid (zero up to r),
 * p < kc: a panel of rows that each run along k (a row-major A, a B stored by columns:
 * the layouts of x·Wᵀ and of the Winograd products). B x B blocks (8 floats, 4 doubles)
 * are transposed in AVX registers, the rest copied one by one. */
#define PACK_T(NAME, T, B, BLOCK)                                                             \
  __attribute__((target("avx2"))) static void NAME(int64_t kc, int r, int64_t valid, const void *psrc, \
                                                   int64_t ld, void *pdst) {                 \
    const T *src = psrc;                                                                       \
    T *dst = pdst;                                                                             \
    int64_t full = valid / B * B, p = 0;                                                       \
    for (; p + B <= kc; p += B) {                                                              \
      for (int64_t i0 = 0; i0 < full; i0 += B) BLOCK(src + i0 * ld + p, ld, dst + p * r + i0, r); \
      for (int64_t i = full; i < r; i++)                                                       \
        for (int q = 0; q < B; q++) dst[(p + q) * r + i] = i < valid ? src[i * ld + p + q] : 0; \
    }                                                                                          \
    for (; p < kc; p++)                                                                        \
      for (int64_t i = 0; i < r; i++) dst[p * r + i] = i < valid ? src[i * ld + p] : 0;        \
  }
PACK_T(s_pack_t, float, 8, s_block_t)
PACK_T(d_pack_t, double, 4, d_block_t)

/* Skinny products, C (m x n, n <= dot_max) = alpha·A·B + beta·C with A's rows running
 * along k (A(i,p) at a[i·ra + p]) and B given by columns (bt[j·k + p]): dot products of
 * R rows of A with groups of G of the n columns, W lanes of k at a time (the tail of k
 * through masked loads), so A (a layer's weights, the big operand at batch 1) is read
 * once from memory, with no packing, and stays in L1 across the groups. R·G
 * accumulators: 4 x 4 with AVX-512's 32 registers, 4 x 2 with AVX2's 16 (4 rows in
 * flight stream the weights faster than 2: bench_nn 512x4x4608 at 58 -> 67 GFLOP/s,
 * 512x1x4608 at 22 -> 36). (R and G at most 4: the unrolled loops keep acc in
 * registers.) */
#define DOTKERNEL(NAME, ISA, T, V, W, R, G, M_T, MK, ZERO, LOAD, MLOAD, FMA, REDUCE)             \
  __attribute__((target(ISA))) static void NAME(int64_t m, int n, int64_t k, const void *pa, int64_t ra, \
                                                const void *pbt, void *pc, int64_t rc, int64_t cc, \
                                                double alpha, double beta) {                   \
    const T *a = pa;                                                                           \
    T *c = pc;                                                                                 \
    int64_t kv = k / W * W;                                                                    \
    for (int64_t i0 = 0; i0 < m; i0 += R) {                                                    \
      int rows = m - i0 < R ? (int)(m - i0) : R;                                               \
      const T *ar[R];                                                                          \
      for (int r = 0; r < R; r++) ar[r] = a + (i0 + (r < rows ? r : 0)) * ra; /* spare rows: row 0 */ \
      for (int j0 = 0; j0 < n; j0 += G) {                                                     \
        int nn = n - j0 < G ? n - j0 : G;                                                      \
        const T *bt = (const T *)pbt + j0 * k;                                                 \
        V acc[R][G], av[R], bv;                                                                \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) _Pragma("GCC unroll 4") for (int j = 0; j < G; j++) \
          acc[r][j] = ZERO();                                                                  \
        for (int64_t p = 0; p < kv; p += W) {                                                  \
          _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) av[r] = LOAD(ar[r] + p);         \
          _Pragma("GCC unroll 4") for (int j = 0; j < G; j++) {                                \
            if (j >= nn) break;                                                                \
            bv = LOAD(bt + j * k + p);                                                         \
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) acc[r][j] = FMA(av[r], bv, acc[r][j]); \
          }                                                                                    \
        }                                                                                      \
        if (kv < k) {                                                                          \
          M_T mk = MK((int)(k - kv));                                                          \
          _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) av[r] = MLOAD(mk, ar[r] + kv);   \
          _Pragma("GCC unroll 4") for (int j = 0; j < G; j++) {                                \
            if (j >= nn) break;                                                                \
            bv = MLOAD(mk, bt + j * k + kv);                                                   \
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) acc[r][j] = FMA(av[r], bv, acc[r][j]); \
          }                                                                                    \
        }                                                                                      \
        /* constant indices (unrolled) keep acc in registers */                                \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) _Pragma("GCC unroll 4") for (int j = 0; j < G; j++) { \
          if (r >= rows || j >= nn) continue;                                                  \
          T v = (T)alpha * REDUCE(acc[r][j]);                                                  \
          T *cp = c + (i0 + r) * rc + (j0 + j) * cc;                                           \
          *cp = beta == 0 ? v : v + (T)beta * *cp;                                             \
        }                                                                                      \
      }                                                                                        \
    }                                                                                          \
  }
DOTKERNEL(s_dot_avx512, "avx512f", float, __m512, 16, 4, 4, __mmask16, MK16, _mm512_setzero_ps, _mm512_loadu_ps,
          ML512S, _mm512_fmadd_ps, _mm512_reduce_add_ps)
DOTKERNEL(d_dot_avx512, "avx512f", double, __m512d, 8, 4, 4, __mmask8, MK8, _mm512_setzero_pd, _mm512_loadu_pd,
          ML512D, _mm512_fmadd_pd, _mm512_reduce_add_pd)

/* Horizontal sums of AVX vectors (the AVX2 dot kernels' REDUCE). */
__attribute__((target("avx2"))) static inline float hsum256_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
__attribute__((target("avx2"))) static inline double hsum256_pd(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
DOTKERNEL(s_dot_avx2, "avx2,fma", float, __m256, 8, 4, 2, __m256i, MK256S, _mm256_setzero_ps, _mm256_loadu_ps,
          ML256S, _mm256_fmadd_ps, hsum256_ps)
DOTKERNEL(d_dot_avx2, "avx2,fma", double, __m256d, 4, 4, 2, __m256i, MK256D, _mm256_setzero_pd, _mm256_loadu_pd,
          ML256D, _mm256_fmadd_pd, hsum256_pd)

/* Blocking: a KC x NR panel of B stays in L1 while MC x KC of A streams from L2; NC
 * columns of B (KC x NC) are packed once per KC step. MC and NC are whole panels. The
 * skinny path takes up to 8 columns on AVX-512 and 16 on AVX2 (bench_nn, one thread:
 * 256x8x2304 at 80 GFLOP/s packed, 106 as dots on AVX-512, 41 and 70 on AVX2; at 16
 * columns AVX-512's packed kernel is as fast as the dots, 100-114 against ~98, while
 * AVX2's gains, 48 -> 67). */
static const nb__ukernel k_avx512[2] = {
    {"avx512", 32, 8, 256, 192, 3072, s_avx512, s_pack_t, s_dot_avx512, 8}, /* float */
    {"avx512", 16, 8, 256, 96, 1536, d_avx512, d_pack_t, d_dot_avx512, 8},  /* double */
};
static const nb__ukernel k_avx2[2] = {
    {"avx2", 16, 6, 256, 144, 3072, s_avx2, s_pack_t, s_dot_avx2, 16},
    {"avx2", 8, 6, 256, 96, 1536, d_avx2, d_pack_t, d_dot_avx2, 16},
};

static bool has_avx512(void) { return __builtin_cpu_supports("avx512f"); }
static bool has_avx2(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#else
static const nb__ukernel *const k_avx512 = NULL, *const k_avx2 = NULL;
static bool has_avx512(void) { return false; }
static bool has_avx2(void) { return false; }
#endif

static const nb__ukernel *chosen; /* [float, double], NULL for BLIS */
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

static void choose(void) {
  const char *want = getenv("NB_GEMM_KERNEL");
  if (want && strcmp(want, "blis") == 0)
    chosen = NULL;
  else if (want && strcmp(want, "avx2") == 0 && has_avx2())
    chosen = k_avx2;
  else if (has_avx512() && !(want && strcmp(want, "avx2") == 0))
    chosen = k_avx512;
  else if (has_avx2())
    chosen = k_avx2;
  else
    chosen = NULL;
}

const nb__ukernel *nb__gemm_ukernel(nb_dtype dt) {
  pthread_once(&choose_once, choose);
  if (!chosen || (dt != NB_F32 && dt != NB_F64))
    return NULL;
  return &chosen[dt == NB_F64];
}

const char *nb_gemm_kernel(void) {
  const nb__ukernel *k = nb__gemm_ukernel(NB_F32);
  return k ? k->isa : "blis";
}
