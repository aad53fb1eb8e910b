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
 * or, with the AVX-512 GEMM kernel, as fused multiply-adds on 16-float vectors (see
 * the AVX-512 kernels below).
 * Forward runs over samples in parallel; the weight gradient over output channels,
 * each summing its samples in order (per sample and tap a float lane sum, added in
 * double), so any thread count gives the same bits. The input gradient (rarely wanted
 * for a first layer) stays on the im2col path.
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

/* pad (H + 2ph rows of wb floats) = plane x with zeros around it. */
static inline void dir_pad(const cgeom *g, const float *restrict x, float *restrict pad, int64_t wb) {
  for (int64_t i = 0; i < (g->H + 2 * g->ph) * wb; i++) pad[i] = 0;
  for (int64_t ih = 0; ih < g->H; ih++)
    for (int64_t iw = 0; iw < g->W; iw++) pad[(ih + g->ph) * wb + g->pw + iw] = x[ih * g->W + iw];
}

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
    dir_pad(g, j->x + n * g->H * g->W, pad, wb);
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
      dir_pad(g, j->x + n * g->H * g->W, pad, wb);
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

/* ---- AVX-512 kernels ------------------------------------------------------------------
 * With the AVX-512 GEMM kernel (nb_gemm_kernel()), the same sums run as fused
 * multiply-adds on 16-float vectors: forward keeps up to 8 output channels' rows in
 * registers so each input vector is loaded once for all of them, and the weight
 * gradient two kernel rows' taps; each sample's tap sums are added in double, 8 lanes
 * at a time. (Other CPUs run the plain kernels above.) */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define D16_NV (DIR_MAX_OW / 16) /* vectors per output row at most */
#define D16_MB 8                  /* output channels per forward tile at most */

static bool d16_on(void) { return strcmp(nb_gemm_kernel(), "avx512") == 0; }
static int64_t d16_nv(const cgeom *g) { return (g->OW + 15) / 16; }
static int64_t d16_wb(const cgeom *g) { return d16_nv(g) * 16 + g->kw - 1; }
/* Channels per forward tile: MB·NV accumulators, NV input vectors and a weight. */
static int64_t d16_mbmax(int64_t nv) { return nv <= 3 ? 8 : 6; }

/* Output row oh of channels [m0, m0 + MB) of one sample (ys: its output planes). */
__attribute__((target("avx512f"), always_inline)) static inline void d16_row(const cgeom *g, const float *pad,
                                                                              int64_t wb, const dir_job *j,
                                                                              float *ys, int64_t m0, int64_t oh,
                                                                              const int MB, const int NV) {
  int64_t kk = g->kh * g->kw, OW = g->OW;
  __m512 acc[D16_MB][D16_NV], xv[D16_NV];
  _Pragma("GCC unroll 8") for (int q = 0; q < MB; q++) {
    __m512 bv = _mm512_set1_ps(j->b ? j->b[m0 + q] : 0.0f);
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[q][v] = bv;
  }
  for (int64_t ki = 0; ki < g->kh; ki++) {
    const float *r = pad + (oh + ki) * wb;
    const float *wk = j->w + m0 * kk + ki * g->kw;
    for (int64_t kj = 0; kj < g->kw; kj++) {
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) xv[v] = _mm512_loadu_ps(r + kj + 16 * v);
      _Pragma("GCC unroll 8") for (int q = 0; q < MB; q++) {
        __m512 wv = _mm512_set1_ps(wk[q * kk + kj]);
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[q][v] = _mm512_fmadd_ps(wv, xv[v], acc[q][v]);
      }
    }
  }
  __mmask16 tail = (__mmask16)((1u << (OW - 16 * (NV - 1))) - 1u);
  _Pragma("GCC unroll 8") for (int q = 0; q < MB; q++) {
    float *yr = ys + ((m0 + q) * g->OH + oh) * OW;
    _Pragma("GCC unroll 4") for (int v = 0; v < NV - 1; v++) _mm512_storeu_ps(yr + 16 * v, acc[q][v]);
    _mm512_mask_storeu_ps(yr + 16 * (NV - 1), tail, acc[q][NV - 1]);
  }
}

#define D16_ROW_CASE(nv, mb)                                                                   \
  case nv * 16 + mb: d16_row(g, pad, wb, j, ys, m0, oh, mb, nv); break;
#define D16_ROW_CASES(nv)                                                                      \
  D16_ROW_CASE(nv, 1) D16_ROW_CASE(nv, 2) D16_ROW_CASE(nv, 3) D16_ROW_CASE(nv, 4)              \
  D16_ROW_CASE(nv, 5) D16_ROW_CASE(nv, 6) D16_ROW_CASE(nv, 7) D16_ROW_CASE(nv, 8)

__attribute__((target("avx512f"))) static void d16_forward(int64_t n0, int64_t n1, void *u) {
  const dir_job *j = u;
  const cgeom *g = j->g;
  int64_t nv = d16_nv(g), wb = d16_wb(g), mbmax = d16_mbmax(nv);
  int64_t blocks = (g->M + mbmax - 1) / mbmax, mbs = (g->M + blocks - 1) / blocks; /* near-equal */
  float pad[DIR_MAX_HP * DIR_MAX_WB];
  for (int64_t n = n0; n < n1; n++) {
    dir_pad(g, j->x + n * g->H * g->W, pad, wb);
    float *ys = j->y + n * g->M * g->OH * g->OW;
    for (int64_t m0 = 0; m0 < g->M; m0 += mbs) {
      int64_t mb = g->M - m0 < mbs ? g->M - m0 : mbs;
      for (int64_t oh = 0; oh < g->OH; oh++) switch (nv * 16 + mb) {
          D16_ROW_CASES(1) D16_ROW_CASES(2) D16_ROW_CASES(3) D16_ROW_CASES(4)
        }
    }
  }
}

/* tot[(r·KW + kj)·8 ..] += (in double, lanes l and l + 8 added) Σ_oh,v gb row oh · pad
 * row (oh + r) shifted by kj, for the KR kernel rows r from pad on. */
__attribute__((target("avx512f"), always_inline)) static inline void d16_taps(const float *gb, int64_t gw,
                                                                               const float *pad, int64_t wb,
                                                                               int64_t OH, int64_t nv, double *tot,
                                                                               const int KW, const int KR) {
  __m512 t[2][DIR_MAX_K];
  _Pragma("GCC unroll 2") for (int r = 0; r < KR; r++)
    _Pragma("GCC unroll 8") for (int kj = 0; kj < KW; kj++) t[r][kj] = _mm512_setzero_ps();
  for (int64_t oh = 0; oh < OH; oh++)
    for (int64_t v = 0; v < nv; v++) {
      __m512 a = _mm512_loadu_ps(gb + oh * gw + 16 * v);
      _Pragma("GCC unroll 2") for (int r = 0; r < KR; r++) {
        const float *pr = pad + (oh + r) * wb + 16 * v;
        _Pragma("GCC unroll 8") for (int kj = 0; kj < KW; kj++)
          t[r][kj] = _mm512_fmadd_ps(a, _mm512_loadu_ps(pr + kj), t[r][kj]);
      }
    }
  _Pragma("GCC unroll 2") for (int r = 0; r < KR; r++)
    _Pragma("GCC unroll 8") for (int kj = 0; kj < KW; kj++) {
      __m256 lo = _mm512_castps512_ps256(t[r][kj]);
      __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t[r][kj]), 1));
      double *d = tot + (r * KW + kj) * 8;
      __m512d s = _mm512_add_pd(_mm512_cvtps_pd(lo), _mm512_cvtps_pd(hi));
      _mm512_storeu_pd(d, _mm512_add_pd(_mm512_loadu_pd(d), s));
    }
}

#define D16_TAPS_CASE(kw)                                                                      \
  case kw:                                                                                     \
    if (kr == 2)                                                                               \
      d16_taps(gb, gw, pr, wb, OH, nv, tk, kw, 2);                                            \
    else                                                                                       \
      d16_taps(gb, gw, pr, wb, OH, nv, tk, kw, 1);                                            \
    break;

__attribute__((target("avx512f"))) static void d16_weight_grad(int64_t m0, int64_t m1, void *u) {
  const dir_job *j = u;
  const cgeom *g = j->g;
  int64_t nv = d16_nv(g), wb = d16_wb(g), gw = nv * 16, kk = g->kh * g->kw, OH = g->OH, OW = g->OW;
  float pad[DIR_MAX_HP * DIR_MAX_WB], gb[DIR_MAX_HP * DIR_MAX_OW];
  double tot[D16_MB][DIR_MAX_K * DIR_MAX_K * 8], bacc[D16_MB];
  for (int64_t mb = m0; mb < m1; mb += D16_MB) { /* each sample padded once per block */
    int64_t me = m1 - mb < D16_MB ? m1 : mb + D16_MB;
    memset(tot, 0, sizeof tot);
    memset(bacc, 0, sizeof bacc);
    for (int64_t n = 0; n < g->N; n++) {
      dir_pad(g, j->x + n * g->H * g->W, pad, wb);
      for (int64_t m = mb; m < me; m++) {
        const float *dy = j->dy + (n * g->M + m) * OH * OW;
        if (j->db) bacc[m - mb] += seg_sum(dy, OH * OW, false, 0); /* (as conv2d.c's bias_sum) */
        for (int64_t oh = 0; oh < OH; oh++) /* rows of whole vectors, zeros past OW */
          for (int64_t l = 0; l < gw; l++) gb[oh * gw + l] = l < OW ? dy[oh * OW + l] : 0.0f;
        for (int64_t ki = 0; ki < g->kh; ki += 2) {
          int kr = g->kh - ki >= 2 ? 2 : 1;
          const float *pr = pad + ki * wb;
          double *tk = tot[m - mb] + ki * g->kw * 8;
          switch (g->kw) {
            D16_TAPS_CASE(1) D16_TAPS_CASE(2) D16_TAPS_CASE(3) D16_TAPS_CASE(4) D16_TAPS_CASE(5)
            D16_TAPS_CASE(6) D16_TAPS_CASE(7)
          }
        }
      }
    }
    for (int64_t m = mb; m < me; m++) {
      for (int64_t t = 0; t < kk; t++) {
        double sum = 0;
        for (int l = 0; l < 8; l++) sum += tot[m - mb][t * 8 + l];
        j->dw[m * kk + t] = (float)sum;
      }
      if (j->db) j->db[m] = (float)bacc[m - mb];
    }
  }
}
#else
static bool d16_on(void) { return false; }
static void d16_forward(int64_t n0, int64_t n1, void *u) { dir_forward(n0, n1, u); }
static void d16_weight_grad(int64_t m0, int64_t m1, void *u) { dir_weight_grad(m0, m1, u); }
#endif

void nn_direct_forward(const cgeom *g, const float *x, const float *w, const float *bias, float *y) {
  dir_job j = {.g = g, .x = x, .w = w, .b = bias, .y = y};
  int64_t work = g->M * g->OH * g->OW * g->kh * g->kw;
  nb_parallel_for(g->N, 1 + NB_PARALLEL_GRAIN / (work + 1), d16_on() ? d16_forward : dir_forward, &j);
}

void nn_direct_weight_grad(const cgeom *g, const float *x, const float *dy, float *dw, float *db) {
  dir_job j = {.g = g, .x = x, .dy = dy, .dw = dw, .db = db};
  int64_t work = g->N * g->OH * g->OW * g->kh * g->kw;
  nb_parallel_for(g->M, 1 + NB_PARALLEL_GRAIN / (work + 1), d16_on() ? d16_weight_grad : dir_weight_grad, &j);
}
