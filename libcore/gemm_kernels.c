/* gemm_kernels.c — the GEMM micro-kernels for x86-64 and the choice between them.
 *
 * A micro-kernel computes one MR x NR tile of C from a packed panel of A (MR rows, k
 * columns, column by column) and a packed panel of B (k rows of NR): C = alpha·A·B +
 * beta·C, C's rows at unit stride and its columns ldc apart; beta == 0 does not read C.
 * Each is compiled for its instruction set with a target attribute and chosen at run time
 * from what the CPU reports, never from the build machine's flags: AVX-512 (32x12 float,
 * 16x12 double), AVX2 + FMA (16x6 float, 8x6 double), or none (BLIS's GEMM; on x86-64
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
 * accumulators. ZERO/LOAD/STORE/SET1/FMA/MUL are the instruction set's intrinsics. */
#define UKERNEL(NAME, T, V, W, NR, ISA, ZERO, LOAD, STORE, SET1, FMA, MUL)                  \
  __attribute__((target(ISA))) static void NAME(int64_t k, const void *pa, const void *pb, void *pc, \
                                                int64_t ldc, double alpha_d, double beta_d) {     \
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
    V va = SET1((T)alpha_d);                                                                   \
    if (beta_d == 0) {                                                                         \
      _Pragma("GCC unroll 16") for (int j = 0; j < NR; j++) {                                  \
        STORE(c + j * ldc, MUL(va, c0[j]));                                                    \
        STORE(c + j * ldc + W, MUL(va, c1[j]));                                                \
      }                                                                                        \
    } else {                                                                                   \
      V vb = SET1((T)beta_d);                                                                  \
      _Pragma("GCC unroll 16") for (int j = 0; j < NR; j++) {                                  \
        STORE(c + j * ldc, FMA(vb, LOAD(c + j * ldc), MUL(va, c0[j])));                        \
        STORE(c + j * ldc + W, FMA(vb, LOAD(c + j * ldc + W), MUL(va, c1[j])));                \
      }                                                                                        \
    }                                                                                          \
  }

UKERNEL(s_avx512, float, __m512, 16, 12, "avx512f", _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps,
        _mm512_set1_ps, _mm512_fmadd_ps, _mm512_mul_ps)
UKERNEL(d_avx512, double, __m512d, 8, 12, "avx512f", _mm512_setzero_pd, _mm512_loadu_pd, _mm512_storeu_pd,
        _mm512_set1_pd, _mm512_fmadd_pd, _mm512_mul_pd)
UKERNEL(s_avx2, float, __m256, 8, 6, "avx2,fma", _mm256_setzero_ps, _mm256_loadu_ps, _mm256_storeu_ps,
        _mm256_set1_ps, _mm256_fmadd_ps, _mm256_mul_ps)
UKERNEL(d_avx2, double, __m256d, 4, 6, "avx2,fma", _mm256_setzero_pd, _mm256_loadu_pd, _mm256_storeu_pd,
        _mm256_set1_pd, _mm256_fmadd_pd, _mm256_mul_pd)

/* Blocking: a KC x NR panel of B stays in L1 while MC x KC of A streams from L2; NC
 * columns of B (KC x NC) are packed once per KC step. MC and NC are whole panels. */
static const nb__ukernel k_avx512[2] = {
    {"avx512", 32, 12, 256, 192, 3072, s_avx512}, /* float */
    {"avx512", 16, 12, 256, 96, 1536, d_avx512},  /* double */
};
static const nb__ukernel k_avx2[2] = {
    {"avx2", 16, 6, 256, 144, 3072, s_avx2},
    {"avx2", 8, 6, 256, 96, 1536, d_avx2},
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
