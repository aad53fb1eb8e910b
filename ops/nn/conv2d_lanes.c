/* ops/nn/conv2d_lanes.c — conv2d's lanes path: direct float32 convolution with the
 * output channels across the vector lanes, for layers with few output channels and
 * several input channels (LeNet's second convolution, 6 → 16, 5×5 on 14×14).
 *
 * Such layers are too thin for im2col + GEMM: every column-matrix element is written,
 * packed and read again for at most M multiply-adds, and those copies cost more than
 * the arithmetic (LeNet's second convolution spent a quarter of its time in im2col and
 * more in packing). Here nothing is unfolded. With r running over the K taps (input
 * channel, kernel row, kernel column) and x̂ the zero-padded input:
 *   forward      y[n, :, oh, ow] = b + Σ_r x̂[n, c, oh·sh + ki·dh, ow + kj] · Wr[r, :]
 *   grad weight  dWr[r, :]       = Σ_n,oh,ow x̂[n, c, oh·sh + ki·dh, ow + kj] · dyT[n, oh, ow, :]
 * where Wr is the weight as K rows of output channels (padded to whole vectors) and dyT
 * the output gradient transposed the same way. Every term is one fused multiply-add of
 * a broadcast input value with a vector of output channels. A forward register tile
 * holds T neighbouring outputs of a row (each weight row loaded once for all of them);
 * a weight-gradient tile holds one kernel row's taps in up to four partial sums over
 * interleaved positions (independent chains for the FMA pipelines), and each sample's
 * sums are added in double (a float sum over a whole batch drifts: 6,400 terms a tap
 * for LeNet at batch 64).
 * Forward runs over samples in parallel; the weight gradient over (input channel,
 * kernel row) units, each summing all samples in a fixed order, so any thread count
 * gives the same bits. The kernels are compiled for AVX-512 and for AVX2+FMA with
 * target attributes and follow the GEMM's run-time choice (nb_gemm_kernel(), so
 * NB_GEMM_KERNEL picks them too); elsewhere conv2d takes the im2col path. The input
 * gradient goes through per-sample column matrices (conv2d.c's input_grad: its GEMM has
 * K rows, so it is not thin).
 */
#include "conv2d_lanes.h"

#include <string.h>

#define LANES_MV 2    /* vectors of output channels at most */
#define LANES_KW 7    /* kernel columns at most */
#define LANES_TMAX 14 /* outputs per forward tile at most (AVX-512, one vector) */

typedef struct lanes_job {
  const cgeom *g;
  int mv, T;           /* vectors per row of output channels; forward tile width */
  int64_t Hp, Wp, ldv; /* padded plane; floats per row of output channels (mv·lanes) */
  const float *x;      /* input (pad pass) */
  float *xpw;          /* padded input being written (pad pass) */
  const float *xp;     /* padded input (N, C, Hp, Wp) */
  const float *wr;     /* forward: (K + 1) × ldv, the last row the bias */
  const int32_t *toff; /* forward: each tap's offset in a padded sample */
  const float *dy;     /* weight gradient: the output gradient (N, M, P) */
  float *dyt;          /* weight gradient: dy transposed, (N, P, ldv) */
  float *y, *dwr;      /* output; weight gradient as K × ldv */
  int failed;          /* set (atomically) when a chunk found no scratch memory */
} lanes_job;

bool nn_lanes_applies(nb_dtype dt, const cgeom *g) {
  if (dt != NB_F32 || g->G != 1 || g->C < 2 || g->M < 1 || g->sw != 1 || g->dw != 1 || g->kw > LANES_KW ||
      g->kh * g->kw < 2 || g->OH < 1 || g->OW < 1)
    return false;
  int L = nn_conv_fma_lanes();
  if (L == 0 || g->M > LANES_MV * L) return false;
  int64_t mv = (g->M + L - 1) / L, budget = L == 16 ? 24 : 12; /* accumulators a tile may hold */
  /* (tap offsets are int32: whole padded samples must stay below 2^31 floats; the sizes
   * are checked against overflow, as huge paddings may come with a huge stride) */
  int64_t hw, chw;
  if (__builtin_mul_overflow(g->H + 2 * g->ph, g->W + 2 * g->pw, &hw) || __builtin_mul_overflow(hw, g->C, &chw))
    return false;
  return g->kw * mv <= budget && chw < INT32_MAX;
}

/* ---- the zero-padded input ------------------------------------------------------- */

static void pad_range(int64_t u0, int64_t u1, void *u) {
  const lanes_job *j = u;
  for (int64_t p = u0; p < u1; p++) /* plane p = n·C + c */
    nn_conv_pad_plane(j->g, j->x + p * j->g->H * j->g->W, j->xpw + p * j->Hp * j->Wp, j->Wp);
}

/* j->xp = x zero-padded (in scratch slot 1), or x itself without padding; sets Hp, Wp. */
static int pad_input(lanes_job *j, const float *x) {
  const cgeom *g = j->g;
  j->Hp = g->H + 2 * g->ph, j->Wp = g->W + 2 * g->pw;
  j->xp = x;
  if (g->ph == 0 && g->pw == 0) return 0;
  j->x = x;
  j->xpw = nb_scratch(1, sizeof(float) * (size_t)(g->N * g->C * j->Hp * j->Wp) + 64);
  if (j->xpw == NULL) return nb_last_status();
  nb_parallel_for(g->N * g->C, 1 + NB_PARALLEL_GRAIN / (j->Hp * j->Wp), pad_range, j);
  j->xp = j->xpw;
  return 0;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* The kernels of one instruction set: vectors V of L floats, intrinsics ZERO ... ADD.
 * BUDGET is the accumulators a tile may hold (the other registers carry operands).
 *
 * fwd_tile: outputs xb[0..T) of one row against all K taps, into out (T rows of ldv =
 * MV·L floats), starting from the bias row wr[K].
 * dw_unit: the taps of input channel c and kernel row ki, summed over every sample and
 * position, into dwr's rows (c·kh + ki)·kw + kj. */
#define LANES_KERNELS(S, ISA, V, L, BUDGET, ZERO, LOAD, STORE, SET1, FMA, ADD)                  \
  __attribute__((target(ISA), always_inline)) static inline void fwd_tile_##S(                   \
      const float *xb, const int32_t *toff, int64_t K, const float *wr, float *out, const int T, \
      const int MV) {                                                                           \
    V acc[LANES_TMAX][LANES_MV], wv[LANES_MV];                                                  \
    _Pragma("GCC unroll 16") for (int t = 0; t < T; t++)                                        \
      _Pragma("GCC unroll 2") for (int v = 0; v < MV; v++) acc[t][v] = LOAD(wr + K * MV * L + v * L); \
    for (int64_t r = 0; r < K; r++) {                                                           \
      const float *q = xb + toff[r];                                                            \
      _Pragma("GCC unroll 2") for (int v = 0; v < MV; v++) wv[v] = LOAD(wr + (r * MV + v) * L); \
      _Pragma("GCC unroll 16") for (int t = 0; t < T; t++) {                                    \
        V xs = SET1(q[t]);                                                                      \
        _Pragma("GCC unroll 2") for (int v = 0; v < MV; v++) acc[t][v] = FMA(xs, wv[v], acc[t][v]); \
      }                                                                                         \
    }                                                                                           \
    _Pragma("GCC unroll 16") for (int t = 0; t < T; t++)                                        \
      _Pragma("GCC unroll 2") for (int v = 0; v < MV; v++) STORE(out + (t * MV + v) * L, acc[t][v]); \
  }                                                                                             \
                                                                                                \
  __attribute__((target(ISA))) static void fwd_samples_##S(int64_t n0, int64_t n1, void *u) {   \
    lanes_job *j = u;                                                                           \
    const cgeom *g = j->g;                                                                      \
    int64_t OW = g->OW, P = g->OH * OW, K = g->K, ldv = j->ldv, T = j->T;                       \
    float *out = nb_scratch(2, sizeof(float) * (size_t)(P * ldv) + 64);                         \
    if (out == NULL) {                                                                          \
      __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);                                        \
      return;                                                                                   \
    }                                                                                           \
    for (int64_t n = n0; n < n1; n++) {                                                         \
      const float *xs = j->xp + n * g->C * j->Hp * j->Wp;                                       \
      for (int64_t oh = 0; oh < g->OH; oh++)                                                    \
        for (int64_t ow0 = 0; ow0 < OW; ow0 += T) {                                             \
          int64_t s = ow0 + T <= OW ? ow0 : OW - T; /* the last tile ends at the row's end */  \
          const float *xb = xs + oh * g->sh * j->Wp + s;                                        \
          float *o = out + (oh * OW + s) * ldv;                                                 \
          switch (T) {                                                                          \
            LANES_T_CASES(S)                                                                    \
          }                                                                                     \
        }                                                                                       \
      nn_conv_transpose(NB_F32, out, ldv, j->y + n * g->M * P, P, P, g->M);                     \
    }                                                                                           \
  }                                                                                             \
                                                                                                \
  __attribute__((target(ISA), always_inline)) static inline void dw_unit_##S(                   \
      const lanes_job *j, int64_t c, int64_t ki, const int KW, const int MV) {                  \
    const cgeom *g = j->g;                                                                      \
    const int PS = KW * MV * 4 <= BUDGET ? 4 : KW * MV * 2 <= BUDGET ? 2 : 1;                   \
    int64_t OW = g->OW, P = g->OH * OW, ldv = j->ldv;                                           \
    V acc[4][LANES_KW][LANES_MV], d[4][LANES_MV];                                               \
    double tot[LANES_KW * LANES_MV * L];                                                        \
    memset(tot, 0, sizeof tot);                                                                 \
    for (int64_t n = 0; n < g->N; n++) {                                                        \
      _Pragma("GCC unroll 4") for (int s = 0; s < PS; s++)                                      \
        _Pragma("GCC unroll 8") for (int kj = 0; kj < KW; kj++)                                 \
          _Pragma("GCC unroll 2") for (int v = 0; v < MV; v++) acc[s][kj][v] = ZERO();          \
      const float *plane = j->xp + ((n * g->C + c) * j->Hp + ki * g->dh) * j->Wp;               \
      const float *dyn = j->dyt + n * P * ldv;                                                  \
      for (int64_t oh = 0; oh < g->OH; oh++) {                                                  \
        const float *xr = plane + oh * g->sh * j->Wp, *dr = dyn + oh * OW * ldv;                \
        int64_t ow = 0;                                                                         \
        for (; ow + PS <= OW; ow += PS)                                                         \
          _Pragma("GCC unroll 4") for (int s = 0; s < PS; s++) {                                \
            _Pragma("GCC unroll 2") for (int v = 0; v < MV; v++) d[s][v] = LOAD(dr + (ow + s) * ldv + v * L); \
            _Pragma("GCC unroll 8") for (int kj = 0; kj < KW; kj++) {                           \
              V xs = SET1(xr[ow + s + kj]);                                                     \
              _Pragma("GCC unroll 2") for (int v = 0; v < MV; v++)                              \
                acc[s][kj][v] = FMA(xs, d[s][v], acc[s][kj][v]);                                \
            }                                                                                   \
          }                                                                                     \
        for (; ow < OW; ow++) { /* the row's last OW mod PS outputs, into the first sums */   \
          _Pragma("GCC unroll 2") for (int v = 0; v < MV; v++) d[0][v] = LOAD(dr + ow * ldv + v * L); \
          _Pragma("GCC unroll 8") for (int kj = 0; kj < KW; kj++) {                             \
            V xs = SET1(xr[ow + kj]);                                                           \
            _Pragma("GCC unroll 2") for (int v = 0; v < MV; v++) acc[0][kj][v] = FMA(xs, d[0][v], acc[0][kj][v]); \
          }                                                                                     \
        }                                                                                       \
      }                                                                                         \
      _Pragma("GCC unroll 8") for (int kj = 0; kj < KW; kj++) /* the sample's sums, in double */ \
        _Pragma("GCC unroll 2") for (int v = 0; v < MV; v++) {                                  \
          V t = acc[0][kj][v];                                                                  \
          _Pragma("GCC unroll 4") for (int s = 1; s < PS; s++) t = ADD(t, acc[s][kj][v]);       \
          nn_add_f64(tot + (kj * MV + v) * L, (const float *)&t, L);                            \
        }                                                                                       \
    }                                                                                           \
    for (int kj = 0; kj < KW; kj++)                                                             \
      for (int l = 0; l < MV * L; l++) j->dwr[((c * g->kh + ki) * KW + kj) * ldv + l] = (float)tot[kj * MV * L + l]; \
  }                                                                                             \
                                                                                                \
  __attribute__((target(ISA))) static void dw_units_##S(int64_t u0, int64_t u1, void *u) {      \
    const lanes_job *j = u;                                                                     \
    for (int64_t unit = u0; unit < u1; unit++) {                                                \
      int64_t c = unit / j->g->kh, ki = unit % j->g->kh;                                        \
      switch (j->g->kw * 4 + j->mv) {                                                           \
        LANES_KW_CASES(S)                                                                       \
      }                                                                                         \
    }                                                                                           \
  }

/* The forward tile widths (a constant in each case, so the tile stays in registers):
 * tiles of two vectors are at most 12 wide on AVX-512 and 6 on AVX2, see fwd_tmax. */
#define LANES_T_CASE(S, t)                                                                      \
  case t:                                                                                       \
    if (j->mv == 1)                                                                             \
      fwd_tile_##S(xb, j->toff, K, j->wr, o, t, 1);                                             \
    else                                                                                        \
      fwd_tile_##S(xb, j->toff, K, j->wr, o, t, 2);                                             \
    break;
#define LANES_T_CASES(S)                                                                        \
  LANES_T_CASE(S, 1) LANES_T_CASE(S, 2) LANES_T_CASE(S, 3) LANES_T_CASE(S, 4) LANES_T_CASE(S, 5) \
  LANES_T_CASE(S, 6) LANES_T_CASE(S, 7) LANES_T_CASE(S, 8) LANES_T_CASE(S, 9) LANES_T_CASE(S, 10) \
  LANES_T_CASE(S, 11) LANES_T_CASE(S, 12) LANES_T_CASE(S, 13) LANES_T_CASE(S, 14)
#define LANES_KW_CASE(S, kw)                                                                    \
  case kw * 4 + 1: dw_unit_##S(j, c, ki, kw, 1); break;                                         \
  case kw * 4 + 2: dw_unit_##S(j, c, ki, kw, 2); break;
#define LANES_KW_CASES(S)                                                                       \
  LANES_KW_CASE(S, 1) LANES_KW_CASE(S, 2) LANES_KW_CASE(S, 3) LANES_KW_CASE(S, 4) LANES_KW_CASE(S, 5) \
  LANES_KW_CASE(S, 6) LANES_KW_CASE(S, 7)

LANES_KERNELS(avx512, "avx512f", __m512, 16, 24, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps,
              _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps)
LANES_KERNELS(avx2, "avx2,fma", __m256, 8, 12, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_storeu_ps,
              _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps)

static nb_range_fn fwd_fn(int L) { return L == 16 ? fwd_samples_avx512 : fwd_samples_avx2; }
static nb_range_fn dw_fn(int L) { return L == 16 ? dw_units_avx512 : dw_units_avx2; }
#else
static nb_range_fn fwd_fn(int L) { (void)L; return NULL; } /* (nn_lanes_applies is false) */
static nb_range_fn dw_fn(int L) { (void)L; return NULL; }
#endif

/* Widest forward tile: what the registers hold besides the weight vectors. */
static int fwd_tmax(int L, int mv) { return L == 16 ? (mv == 1 ? 14 : 12) : (mv == 1 ? 12 : 6); }

static int lanes_failed(const lanes_job *j) {
  if (__atomic_load_n(&j->failed, __ATOMIC_RELAXED))
    return nb_set_error(NB_ENOMEM, "conv2d: out of memory for the lanes path's per-thread buffers");
  return 0;
}

int nn_lanes_forward(const cgeom *g, const float *x, const float *w, const float *bias, float *y) {
  int L = nn_conv_fma_lanes();
  lanes_job j = {.g = g, .mv = (int)((g->M + L - 1) / L), .y = y};
  j.ldv = (int64_t)j.mv * L;
  int tmax = fwd_tmax(L, j.mv);
  int64_t tiles = (g->OW + tmax - 1) / tmax;
  j.T = (int)((g->OW + tiles - 1) / tiles); /* equal tiles: 10 outputs are one tile of 10 */
  if (pad_input(&j, x) < 0) return nb_last_status();
  int64_t K = g->K, kk = g->kh * g->kw;
  size_t wsz = sizeof(float) * (size_t)((K + 1) * j.ldv);
  float *wr = nb_scratch(0, wsz + sizeof(int32_t) * (size_t)K + 64);
  if (wr == NULL) return nb_last_status();
  int32_t *toff = (int32_t *)((char *)wr + wsz);
  memset(wr, 0, wsz);
  for (int64_t r = 0; r < K; r++) {
    for (int64_t m = 0; m < g->M; m++) wr[r * j.ldv + m] = w[m * K + r];
    int64_t c = r / kk, ki = r % kk / g->kw, kj = r % g->kw;
    toff[r] = (int32_t)((c * j.Hp + ki * g->dh) * j.Wp + kj);
  }
  if (bias)
    for (int64_t m = 0; m < g->M; m++) wr[K * j.ldv + m] = bias[m];
  j.wr = wr, j.toff = toff;
  nb_parallel_for(g->N, 1 + NB_PARALLEL_GRAIN / (g->OH * g->OW * K * j.mv + 1), fwd_fn(L), &j);
  return lanes_failed(&j);
}

/* dyT for samples [n0, n1): each (M, P) plane transposed into P rows of ldv floats,
 * zeros in the lanes past M. */
static void dyt_range(int64_t n0, int64_t n1, void *u) {
  const lanes_job *j = u;
  const cgeom *g = j->g;
  int64_t P = g->OH * g->OW;
  for (int64_t n = n0; n < n1; n++) {
    float *d = j->dyt + n * P * j->ldv;
    nn_conv_transpose(NB_F32, j->dy + n * g->M * P, P, d, j->ldv, g->M, P);
    if (g->M < j->ldv)
      for (int64_t p = 0; p < P; p++) memset(d + p * j->ldv + g->M, 0, sizeof(float) * (size_t)(j->ldv - g->M));
  }
}

int nn_lanes_weight_grad(const cgeom *g, const float *x, const float *dy, float *dw) {
  int L = nn_conv_fma_lanes();
  lanes_job j = {.g = g, .mv = (int)((g->M + L - 1) / L), .dy = dy};
  j.ldv = (int64_t)j.mv * L;
  int64_t P = g->OH * g->OW;
  size_t tsz = sizeof(float) * (size_t)(g->N * P * j.ldv);
  char *buf = nb_scratch(0, tsz + sizeof(float) * (size_t)(g->K * j.ldv) + 64);
  if (buf == NULL || pad_input(&j, x) < 0) return nb_last_status();
  j.dyt = (float *)buf, j.dwr = (float *)(buf + tsz);
  nb_parallel_for(g->N, 1 + NB_PARALLEL_GRAIN / (g->M * P + 1), dyt_range, &j);
  nb_parallel_for(g->C * g->kh, 1, dw_fn(L), &j);
  nn_conv_transpose(NB_F32, j.dwr, j.ldv, dw, g->K, g->K, g->M);
  return lanes_failed(&j);
}
