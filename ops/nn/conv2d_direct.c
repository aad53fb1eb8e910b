/* ops/nn/conv2d_direct.c — conv2d's direct path for float32 convolutions of one input
 * channel (first layers on grey images: LeNet's 1→6, 5×5 on 28×28).
 *
 * With one input channel the im2col GEMM is the thinnest possible: K = kh·kw rows
 * (25) and M output channels (6), so the column matrix (K values per output pixel,
 * 5 MB for LeNet at batch 64) costs more to write and read than the multiply-adds.
 * Here each sample's plane is copied once into a zero-padded stack buffer whose rows
 * are wide enough for whole 8-float vectors, and
 *   forward      y[m, oh, ow..ow+7] = b[m] + Σ_ki,kj w[m, ki, kj] · pad[oh+ki, ow+kj..]
 *   grad weight  dw[m, ki, kj] = Σ_n Σ_oh,ow dy[n, m, oh, ow] · pad_n[oh+ki, ow+kj]
 * as 8-lane vector multiply-adds (no FMA, so the AVX2 clone and the plain one agree),
 * or, with nabla's own GEMM kernels, as fused multiply-adds on 16- or 8-float vectors
 * (see the FMA kernels below).
 * Forward runs over samples in parallel; the weight gradient over output channels,
 * each summing its samples in order (per sample and tap a float lane sum, added in
 * double), so any thread count gives the same bits. The input gradient (rarely wanted
 * for a first layer) goes through per-sample column matrices (conv2d.c's input_grad).
 */
#include "conv2d_direct.h"
#include "seg_sum.h"

#include <string.h>

/* The row copies here are a few dozen floats: inline loops, not memcpy/memset calls
 * (as in conv2d_col.c; applies to this file's functions only). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

#define DIR_LANES 8
#define DIR_MBLOCK 16 /* output channels of one weight-gradient pass over the samples */
#define DIR_MAX_OW 64  /* outputs per row: at most 8 vectors */
#define DIR_MAX_K 7    /* kernel rows and columns */
#define DIR_MAX_HP 128 /* padded input rows */
#define DIR_MAX_WB (DIR_MAX_OW + DIR_MAX_K - 1)

typedef float dir_v8 __attribute__((vector_size(4 * DIR_LANES)));

bool nn_direct_applies(nb_dtype dt, const cgeom *g) {
  return dt == NB_F32 && g->G == 1 && g->C == 1 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 &&
         g->kh <= DIR_MAX_K && g->kw <= DIR_MAX_K && g->OW >= 1 && g->OW <= DIR_MAX_OW && g->OH >= 1 &&
         g->H + 2 * g->ph <= DIR_MAX_HP;
}

typedef struct dir_job {
  const cgeom *g;
  const float *x, *w, *b, *dy;
  float *y, *dw, *db;
} dir_job;

/* Vectors per output row and the padded buffer's row length (whole vectors of outputs
 * plus the kernel's reach; >= W + 2·pw). */
static int64_t dir_nv(const cgeom *g) { return (g->OW + DIR_LANES - 1) / DIR_LANES; }
static int64_t dir_wb(const cgeom *g) { return dir_nv(g) * DIR_LANES + g->kw - 1; }

/* One output row of output channel m: nv vectors (a constant after inlining, so the
 * accumulators stay in registers and each weight is broadcast once for all of them). */
static inline __attribute__((always_inline)) void dir_row(const cgeom *g, const float *pad, int64_t wb,
                                                          const float *wm, float bv, float *yr, int64_t nv) {
  dir_v8 acc[DIR_MAX_OW / DIR_LANES], xv;
  for (int64_t v = 0; v < nv; v++) {
    acc[v] = (dir_v8){0};
    acc[v] += bv;
  }
  for (int64_t ki = 0; ki < g->kh; ki++) {
    const float *r = pad + ki * wb;
    for (int64_t kj = 0; kj < g->kw; kj++) {
      float wv = wm[ki * g->kw + kj];
      for (int64_t v = 0; v < nv; v++) {
        memcpy(&xv, r + kj + v * DIR_LANES, sizeof xv);
        acc[v] += wv * xv;
      }
    }
  }
  for (int64_t v = 0; v < nv; v++) {
    if ((v + 1) * DIR_LANES <= g->OW)
      memcpy(yr + v * DIR_LANES, &acc[v], sizeof acc[v]);
    else
      for (int64_t l = 0; l < g->OW - v * DIR_LANES; l++) yr[v * DIR_LANES + l] = acc[v][l];
  }
}

NB_SIMD_CLONES static void dir_forward(int64_t n0, int64_t n1, void *u) {
  const dir_job *j = u;
  const cgeom *g = j->g;
  int64_t nv = dir_nv(g), wb = dir_wb(g), kk = g->kh * g->kw, OH = g->OH, OW = g->OW;
  float pad[DIR_MAX_HP * DIR_MAX_WB];
  for (int64_t n = n0; n < n1; n++) {
    nn_conv_pad_plane(g, j->x + n * g->H * g->W, pad, wb);
    for (int64_t m = 0; m < g->M; m++) {
      const float *wm = j->w + m * kk;
      float bv = j->b ? j->b[m] : 0.0f;
      float *ym = j->y + (n * g->M + m) * OH * OW;
      for (int64_t oh = 0; oh < OH; oh++) {
        const float *pr = pad + oh * wb;
        float *yr = ym + oh * OW;
        switch (nv) { /* (constant widths: see dir_row) */
        case 1: dir_row(g, pr, wb, wm, bv, yr, 1); break;
        case 2: dir_row(g, pr, wb, wm, bv, yr, 2); break;
        case 3: dir_row(g, pr, wb, wm, bv, yr, 3); break;
        case 4: dir_row(g, pr, wb, wm, bv, yr, 4); break;
        default: dir_row(g, pr, wb, wm, bv, yr, nv); break;
        }
      }
    }
  }
}

/* s[kj] += Σ_oh,v gb row oh · pad row (oh + ki) shifted by kj, for kj < kw (a constant
 * after inlining: the kw sums stay in registers and each gradient vector is loaded
 * once for all of them). */
static inline __attribute__((always_inline)) void dir_taps(const float *gb, int64_t gw, const float *pad,
                                                           int64_t wb, int64_t OH, int64_t nv, int64_t kw,
                                                           dir_v8 *s) {
  dir_v8 a, b, t[DIR_MAX_K];
  for (int64_t kj = 0; kj < kw; kj++) t[kj] = (dir_v8){0};
  for (int64_t oh = 0; oh < OH; oh++)
    for (int64_t v = 0; v < nv; v++) {
      memcpy(&a, gb + oh * gw + v * DIR_LANES, sizeof a);
      for (int64_t kj = 0; kj < kw; kj++) {
        memcpy(&b, pad + oh * wb + v * DIR_LANES + kj, sizeof b);
        t[kj] += a * b;
      }
    }
  for (int64_t kj = 0; kj < kw; kj++) s[kj] = t[kj];
}

NB_SIMD_CLONES static void dir_weight_grad(int64_t m0, int64_t m1, void *u) {
  const dir_job *j = u;
  const cgeom *g = j->g;
  int64_t nv = dir_nv(g), wb = dir_wb(g), kk = g->kh * g->kw, OH = g->OH, OW = g->OW, gw = nv * DIR_LANES;
  float pad[DIR_MAX_HP * DIR_MAX_WB], gb[DIR_MAX_HP * DIR_MAX_OW];
  double acc[DIR_MBLOCK][DIR_MAX_K * DIR_MAX_K], bacc[DIR_MBLOCK];
  for (int64_t mb = m0; mb < m1; mb += DIR_MBLOCK) { /* each sample padded once per block */
    int64_t me = m1 - mb < DIR_MBLOCK ? m1 : mb + DIR_MBLOCK;
    memset(acc, 0, sizeof acc);
    memset(bacc, 0, sizeof bacc);
    for (int64_t n = 0; n < g->N; n++) {
      nn_conv_pad_plane(g, j->x + n * g->H * g->W, pad, wb);
      for (int64_t m = mb; m < me; m++) {
        const float *dy = j->dy + (n * g->M + m) * OH * OW;
        if (j->db) bacc[m - mb] += seg_sum(dy, OH * OW, false, 0); /* (as conv2d.c's bias_sum) */
        for (int64_t oh = 0; oh < OH; oh++) /* rows of whole vectors, zeros past OW */
          for (int64_t l = 0; l < gw; l++) gb[oh * gw + l] = l < OW ? dy[oh * OW + l] : 0.0f;
        for (int64_t ki = 0; ki < g->kh; ki++) {
          dir_v8 s[DIR_MAX_K];
          const float *pr = pad + ki * wb;
          switch (g->kw) { /* (constant widths: see dir_taps) */
          case 3: dir_taps(gb, gw, pr, wb, OH, nv, 3, s); break;
          case 5: dir_taps(gb, gw, pr, wb, OH, nv, 5, s); break;
          default: dir_taps(gb, gw, pr, wb, OH, nv, g->kw, s); break;
          }
          for (int64_t kj = 0; kj < g->kw; kj++) {
            double t = 0;
            for (int l = 0; l < DIR_LANES; l++) t += s[kj][l];
            acc[m - mb][ki * g->kw + kj] += t;
          }
        }
      }
    }
    for (int64_t m = mb; m < me; m++) {
      for (int64_t t = 0; t < kk; t++) j->dw[m * kk + t] = (float)acc[m - mb][t];
      if (j->db) j->db[m] = (float)bacc[m - mb];
    }
  }
}

/* ---- FMA kernels ----------------------------------------------------------------------
 * With nabla's own GEMM kernels (nb_gemm_kernel() "avx512" or "avx2"), the same sums run
 * as fused multiply-adds on vectors of L = 16 or 8 floats: forward keeps up to 8 output
 * channels' rows in registers so each input vector is loaded once for all of them, and
 * the weight gradient two kernel rows' taps; each sample's tap sums are added in double,
 * 8 lanes at a time. Rows of at most 4 vectors (64 or 32 outputs) take them; the rest,
 * and CPUs without AVX2, run the plain kernels above. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define DF_NV 4 /* vectors per output row at most */
#define DF_MB 8 /* output channels per forward tile at most */

/* Floats per vector of the FMA kernels for g: 16, 8, or 0 (the plain kernels). */
static int df_lanes(const cgeom *g) {
  int L = nn_conv_fma_lanes();
  return L && (g->OW + L - 1) / L <= DF_NV ? L : 0;
}
static int64_t df_nv(const cgeom *g, int L) { return (g->OW + L - 1) / L; }
static int64_t df_wb(const cgeom *g, int L) { return df_nv(g, L) * L + g->kw - 1; }
/* Channels per forward tile: MB·NV accumulators, NV input vectors and a weight within
 * the registers (32 with AVX-512, 16 with AVX2). */
static int64_t df_mbmax(int64_t nv, int L) {
  int64_t mb = ((L == 16 ? 31 : 15) - nv) / nv;
  return mb > DF_MB ? DF_MB : mb;
}

/* The kernels of one instruction set: vectors V of L floats; MK(n) the mask of a
 * vector's first n lanes, MSTORE a masked store.
 * S##_row: output row oh of channels [m0, m0 + MB) of one sample (ys: its planes).
 * S##_taps: tot[(r·KW + kj)·8 ..] += Σ_oh,v gb row oh · pad row (oh + r) shifted by kj,
 * for the KR kernel rows r from pad on. */
#define DF_KERNELS(S, ISA, V, L, M_T, MK, ZERO, LOAD, STORE, MSTORE, SET1, FMA)                    \
  __attribute__((target(ISA), always_inline)) static inline void S##_row(                          \
      const cgeom *g, const float *pad, int64_t wb, const dir_job *j, float *ys, int64_t m0, int64_t oh, \
      const int MB, const int NV) {                                                               \
    int64_t kk = g->kh * g->kw, OW = g->OW;                                                       \
    V acc[DF_MB][DF_NV], xv[DF_NV];                                                               \
    _Pragma("GCC unroll 8") for (int q = 0; q < MB; q++) {                                        \
      V bv = SET1(j->b ? j->b[m0 + q] : 0.0f);                                                    \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[q][v] = bv;                        \
    }                                                                                             \
    for (int64_t ki = 0; ki < g->kh; ki++) {                                                      \
      const float *r = pad + (oh + ki) * wb;                                                      \
      const float *wk = j->w + m0 * kk + ki * g->kw;                                              \
      for (int64_t kj = 0; kj < g->kw; kj++) {                                                    \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) xv[v] = LOAD(r + kj + L * v);        \
        _Pragma("GCC unroll 8") for (int q = 0; q < MB; q++) {                                    \
          V wv = SET1(wk[q * kk + kj]);                                                           \
          _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[q][v] = FMA(wv, xv[v], acc[q][v]); \
        }                                                                                         \
      }                                                                                           \
    }                                                                                             \
    M_T tail = MK((int)(OW - L * (NV - 1)));                                                      \
    _Pragma("GCC unroll 8") for (int q = 0; q < MB; q++) {                                        \
      float *yr = ys + ((m0 + q) * g->OH + oh) * OW;                                              \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV - 1; v++) STORE(yr + L * v, acc[q][v]);      \
      MSTORE(yr + L * (NV - 1), tail, acc[q][NV - 1]);                                            \
    }                                                                                             \
  }                                                                                               \
                                                                                                  \
  __attribute__((target(ISA))) static void S##_forward(int64_t n0, int64_t n1, void *u) {         \
    const dir_job *j = u;                                                                         \
    const cgeom *g = j->g;                                                                        \
    int64_t nv = df_nv(g, L), wb = df_wb(g, L), mbmax = df_mbmax(nv, L);                          \
    int64_t blocks = (g->M + mbmax - 1) / mbmax, mbs = (g->M + blocks - 1) / blocks; /* near-equal */ \
    float pad[DIR_MAX_HP * DIR_MAX_WB];                                                           \
    for (int64_t n = n0; n < n1; n++) {                                                           \
      nn_conv_pad_plane(g, j->x + n * g->H * g->W, pad, wb);                                      \
      float *ys = j->y + n * g->M * g->OH * g->OW;                                                \
      for (int64_t m0 = 0; m0 < g->M; m0 += mbs) {                                                \
        int64_t mb = g->M - m0 < mbs ? g->M - m0 : mbs;                                           \
        for (int64_t oh = 0; oh < g->OH; oh++) switch (nv * 16 + mb) {                            \
            DF_ROW_CASES(S, 1) DF_ROW_CASES(S, 2) DF_ROW_CASES(S, 3) DF_ROW_CASES(S, 4)           \
          }                                                                                       \
      }                                                                                           \
    }                                                                                             \
  }                                                                                               \
                                                                                                  \
  __attribute__((target(ISA), always_inline)) static inline void S##_taps(                         \
      const float *gb, int64_t gw, const float *pad, int64_t wb, int64_t OH, int64_t nv, double *tot, \
      const int KW, const int KR) {                                                               \
    V t[2][DIR_MAX_K];                                                                            \
    _Pragma("GCC unroll 2") for (int r = 0; r < KR; r++)                                          \
      _Pragma("GCC unroll 8") for (int kj = 0; kj < KW; kj++) t[r][kj] = ZERO();                  \
    for (int64_t oh = 0; oh < OH; oh++)                                                           \
      for (int64_t v = 0; v < nv; v++) {                                                          \
        V a = LOAD(gb + oh * gw + L * v);                                                         \
        _Pragma("GCC unroll 2") for (int r = 0; r < KR; r++) {                                    \
          const float *pr = pad + (oh + r) * wb + L * v;                                          \
          _Pragma("GCC unroll 8") for (int kj = 0; kj < KW; kj++) t[r][kj] = FMA(a, LOAD(pr + kj), t[r][kj]); \
        }                                                                                         \
      }                                                                                           \
    _Pragma("GCC unroll 2") for (int r = 0; r < KR; r++)                                          \
      _Pragma("GCC unroll 8") for (int kj = 0; kj < KW; kj++)                                     \
        for (int h = 0; h < L; h += 8) /* (lanes l and l + 8 into total l) */                   \
          nn_add_f64(tot + (r * KW + kj) * 8, (const float *)&t[r][kj] + h, 8);                   \
  }                                                                                               \
                                                                                                  \
  __attribute__((target(ISA))) static void S##_weight_grad(int64_t m0, int64_t m1, void *u) {     \
    const dir_job *j = u;                                                                         \
    const cgeom *g = j->g;                                                                        \
    int64_t nv = df_nv(g, L), wb = df_wb(g, L), gw = nv * L, kk = g->kh * g->kw, OH = g->OH, OW = g->OW; \
    float pad[DIR_MAX_HP * DIR_MAX_WB], gb[DIR_MAX_HP * DIR_MAX_OW];                              \
    double tot[DF_MB][DIR_MAX_K * DIR_MAX_K * 8], bacc[DF_MB];                                    \
    for (int64_t mb = m0; mb < m1; mb += DF_MB) { /* each sample padded once per block */        \
      int64_t me = m1 - mb < DF_MB ? m1 : mb + DF_MB;                                             \
      memset(tot, 0, sizeof tot);                                                                 \
      memset(bacc, 0, sizeof bacc);                                                               \
      for (int64_t n = 0; n < g->N; n++) {                                                        \
        nn_conv_pad_plane(g, j->x + n * g->H * g->W, pad, wb);                                    \
        for (int64_t m = mb; m < me; m++) {                                                       \
          const float *dy = j->dy + (n * g->M + m) * OH * OW;                                     \
          if (j->db) bacc[m - mb] += seg_sum(dy, OH * OW, false, 0); /* (as conv2d.c's bias_sum) */ \
          for (int64_t oh = 0; oh < OH; oh++) /* rows of whole vectors, zeros past OW */         \
            for (int64_t l = 0; l < gw; l++) gb[oh * gw + l] = l < OW ? dy[oh * OW + l] : 0.0f;   \
          for (int64_t ki = 0; ki < g->kh; ki += 2) {                                             \
            int kr = g->kh - ki >= 2 ? 2 : 1;                                                     \
            const float *pr = pad + ki * wb;                                                      \
            double *tk = tot[m - mb] + ki * g->kw * 8;                                            \
            switch (g->kw) {                                                                      \
              DF_TAPS_CASE(S, 1) DF_TAPS_CASE(S, 2) DF_TAPS_CASE(S, 3) DF_TAPS_CASE(S, 4)         \
              DF_TAPS_CASE(S, 5) DF_TAPS_CASE(S, 6) DF_TAPS_CASE(S, 7)                            \
            }                                                                                     \
          }                                                                                       \
        }                                                                                         \
      }                                                                                           \
      for (int64_t m = mb; m < me; m++) {                                                         \
        for (int64_t t = 0; t < kk; t++) {                                                        \
          double sum = 0;                                                                         \
          for (int l = 0; l < 8; l++) sum += tot[m - mb][t * 8 + l];                              \
          j->dw[m * kk + t] = (float)sum;                                                         \
        }                                                                                         \
        if (j->db) j->db[m] = (float)bacc[m - mb];                                                \
      }                                                                                           \
    }                                                                                             \
  }

/* Constant tile shapes in every case, so the tiles stay in registers. */
#define DF_ROW_CASE(S, nv, mb)                                                                    \
  case nv * 16 + mb: S##_row(g, pad, wb, j, ys, m0, oh, mb, nv); break;
#define DF_ROW_CASES(S, nv)                                                                       \
  DF_ROW_CASE(S, nv, 1) DF_ROW_CASE(S, nv, 2) DF_ROW_CASE(S, nv, 3) DF_ROW_CASE(S, nv, 4)         \
  DF_ROW_CASE(S, nv, 5) DF_ROW_CASE(S, nv, 6) DF_ROW_CASE(S, nv, 7) DF_ROW_CASE(S, nv, 8)
#define DF_TAPS_CASE(S, kw)                                                                       \
  case kw:                                                                                        \
    if (kr == 2)                                                                                  \
      S##_taps(gb, gw, pr, wb, OH, nv, tk, kw, 2);                                                \
    else                                                                                          \
      S##_taps(gb, gw, pr, wb, OH, nv, tk, kw, 1);                                                \
    break;

#define DF_MK16(n) ((__mmask16)((n) >= 16 ? 0xFFFFu : (1u << (n)) - 1u))
#define DF_MS16(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define DF_MK8(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define DF_MS8(p, m, v) _mm256_maskstore_ps(p, m, v)
DF_KERNELS(df16, "avx512f", __m512, 16, __mmask16, DF_MK16, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps,
           DF_MS16, _mm512_set1_ps, _mm512_fmadd_ps)
DF_KERNELS(df8, "avx2,fma", __m256, 8, __m256i, DF_MK8, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_storeu_ps,
           DF_MS8, _mm256_set1_ps, _mm256_fmadd_ps)

static nb_range_fn forward_fn(const cgeom *g) {
  int L = df_lanes(g);
  return L == 16 ? df16_forward : L == 8 ? df8_forward : dir_forward;
}
static nb_range_fn weight_grad_fn(const cgeom *g) {
  int L = df_lanes(g);
  return L == 16 ? df16_weight_grad : L == 8 ? df8_weight_grad : dir_weight_grad;
}
#else
static nb_range_fn forward_fn(const cgeom *g) { (void)g; return dir_forward; }
static nb_range_fn weight_grad_fn(const cgeom *g) { (void)g; return dir_weight_grad; }
#endif

void nn_direct_forward(const cgeom *g, const float *x, const float *w, const float *bias, float *y) {
  dir_job j = {.g = g, .x = x, .w = w, .b = bias, .y = y};
  int64_t work = g->M * g->OH * g->OW * g->kh * g->kw;
  nb_parallel_for(g->N, 1 + NB_PARALLEL_GRAIN / (work + 1), forward_fn(g), &j);
}

void nn_direct_weight_grad(const cgeom *g, const float *x, const float *dy, float *dw, float *db) {
  dir_job j = {.g = g, .x = x, .dy = dy, .dw = dw, .db = db};
  int64_t work = g->N * g->OH * g->OW * g->kh * g->kw;
  nb_parallel_for(g->M, 1 + NB_PARALLEL_GRAIN / (work + 1), weight_grad_fn(g), &j);
}
