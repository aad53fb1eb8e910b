/* ops/nn/conv2d_wino.c — conv2d's Winograd F(2×2, 3×3) path for float32 3×3 stride-1
 * convolutions (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
 *
 * The output is cut into 2×2 tiles, each computed from a 4×4 input tile d as
 *   Y = Aᵀ [ Σ_c (G g Gᵀ) ⊙ (Bᵀ d B) ] A
 * so with U_ξ = (G g Gᵀ)_ξ (M × C) and V_ξ = (Bᵀ d B)_ξ (tiles × C) for the 16 points ξ,
 * the channel sums are 16 GEMMs O_ξ = V_ξ · U_ξᵀ: 16 multiply-adds per 4 outputs and
 * channel pair instead of 36. Backward is the same algebra differentiated exactly, from
 * the transformed output gradient dO = A dy Aᵀ of every tile:
 *   grad weight  dU_ξ = dO_ξᵀ · V_ξ (16 GEMMs), dg = Gᵀ dU G;
 *   grad input   dV_ξ = dO_ξ · U_ξ (16 GEMMs), dx = Σ_tiles B dV Bᵀ (tiles overlap by 2).
 *
 * The transforms work channels-last: each sample's planes are transposed to (H·W) × C
 * first, so every tile transform is a vector loop over channels whatever the plane size
 * (ResNet's deep layers have 4×4 and 2×2 planes). Samples go through in chunks whose
 * channels-last copies take at most WINO_CHUNK_BYTES of scratch (or one sample), and
 * their tiles in blocks whose transformed data stays near L2. Transforms run over
 * channel slices and the 16 GEMMs side by side, with nb_parallel_for; each value is
 * computed by one thread in a fixed order, so results do not depend on the thread count.
 *
 * Against im2col, float32 results differ by rounding (the transforms add and subtract
 * inputs before multiplying); an infinite input can give NaN where im2col gives ±inf
 * (inf − inf inside a transform), and finite values near FLT_MAX can overflow inside a
 * transform where im2col's products would not.
 */
#include "conv2d_wino.h"

#include <string.h>

/* The tile transforms' channel loops read and write through pointer tables the compiler
 * cannot prove apart; they never overlap (pixels of a tensor against transformed blocks
 * in scratch), so the loops vectorise without run-time checks. */
#if defined(__GNUC__) && !defined(__clang__)
#define WINO_IVDEP _Pragma("GCC ivdep")
#elif defined(__clang__)
#define WINO_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#else
#define WINO_IVDEP
#endif

#define WINO_BLOCK_BYTES ((size_t)2 << 20) /* transformed data of one block of tiles */

/* When the Winograd path pays off (measured with bench/nn on ResNet-18's 3×3 layers):
 * the 16 GEMMs must be large enough to run near the GEMM's peak, and there must be enough
 * tiles for the work on activations to outweigh the kernel transforms (which scale with
 * C·M alone). Batch 16 at 16×16, 8×8 and 4×4 planes gains 1.2-1.5× over im2col; batch
 * 1 and 2×2 planes lose up to 3×. */
#define WINO_MIN_CHANNELS 16
#define WINO_MIN_TILES 64
#define WINO_MIN_WORK (2.0 * 1024 * 1024) /* tiles · C · M */
#define WINO_CHUNK_BYTES ((size_t)8 << 20) /* channels-last copies of a chunk of samples */
#define CB 64                               /* channels per step of a tile transform */

/* The geometry of one convolution: input (N, C, H, W), 3×3 kernel, padding (ph, pw),
 * output (N, M, OH, OW) in TH × TW tiles of 2×2 per sample, T tiles in all (tile
 * j = (n·TH + th)·TW + tw). Transformed blocks hold up to tb tiles; their rows of C or M
 * values are ldc and ldm apart. */
typedef struct wgeo {
  int64_t N, C, H, W, M, OH, OW, ph, pw, TH, TW, T, tb, ldc, ldm;
  int64_t ups; /* stride of the 16 planes of U and dU (M × C each) */
} wgeo;

bool nn_wino_applies(nb_dtype dt, const cgeom *g) {
  if (dt != NB_F32 || g->G != 1 || g->kh != 3 || g->kw != 3 || g->sh != 1 || g->sw != 1 || g->dh != 1 ||
      g->dw != 1 || g->ph > 2 || g->pw > 2 || g->C < WINO_MIN_CHANNELS || g->M < WINO_MIN_CHANNELS)
    return false;
  int64_t tiles = g->N * ((g->OH + 1) / 2) * ((g->OW + 1) / 2);
  return tiles >= WINO_MIN_TILES && (double)tiles * (double)g->C * (double)g->M >= WINO_MIN_WORK;
}

static wgeo geo_of(const cgeom *g) {
  wgeo p = {.N = g->N, .C = g->C, .H = g->H, .W = g->W, .M = g->M, .OH = g->OH, .OW = g->OW, .ph = g->ph,
            .pw = g->pw, .TH = (g->OH + 1) / 2, .TW = (g->OW + 1) / 2};
  p.T = p.N * p.TH * p.TW;
  p.ldc = nn_conv_pad_ld(p.C, sizeof(float));
  p.ldm = nn_conv_pad_ld(p.M, sizeof(float));
  p.ups = nn_conv_pad_ld(p.M * p.C, sizeof(float)); /* planes 2^k bytes apart share cache sets */
  int64_t per = 16 * (p.ldc + p.ldm) * (int64_t)sizeof(float), tb = (int64_t)WINO_BLOCK_BYTES / per;
  if (tb < 8) tb = 8;
  int64_t nblk = (p.T + tb - 1) / tb; /* blocks of near-equal size */
  p.tb = (p.T + nblk - 1) / nblk;
  return p;
}

/* ---- tile transforms (n <= CB channels; u, v: 16 rows xs apart) ------------------------- */

NB_FAST_FP_BEGIN

/* v_ξ = (Bᵀ d B)_ξ from the 16 input pixels d[4i + k] (row i, column k of the tile). */
NB_SIMD_CLONES static void input_tile(const float *const *d, float *v, int64_t xs, int n) {
  WINO_IVDEP
  for (int c = 0; c < n; c++) {
    float t[4][4];
    for (int k = 0; k < 4; k++) { /* Bᵀ d: rows */
      t[0][k] = d[k][c] - d[8 + k][c];
      t[1][k] = d[4 + k][c] + d[8 + k][c];
      t[2][k] = d[8 + k][c] - d[4 + k][c];
      t[3][k] = d[4 + k][c] - d[12 + k][c];
    }
    for (int i = 0; i < 4; i++) { /* (Bᵀ d) B: columns */
      v[(4 * i + 0) * xs + c] = t[i][0] - t[i][2];
      v[(4 * i + 1) * xs + c] = t[i][1] + t[i][2];
      v[(4 * i + 2) * xs + c] = t[i][2] - t[i][1];
      v[(4 * i + 3) * xs + c] = t[i][1] - t[i][3];
    }
  }
}

/* The 2×2 output pixels y[2r + s] = (Aᵀ O A)[r][s] + bias from the 16 products o_ξ. */
NB_SIMD_CLONES static void output_tile(const float *o, int64_t xs, const float *bias, float *const *y, int n) {
  WINO_IVDEP
  for (int c = 0; c < n; c++) {
    float a[2][4];
    for (int k = 0; k < 4; k++) { /* Aᵀ O: rows */
      float o0 = o[k * xs + c], o1 = o[(4 + k) * xs + c], o2 = o[(8 + k) * xs + c], o3 = o[(12 + k) * xs + c];
      a[0][k] = o0 + o1 + o2;
      a[1][k] = o1 - o2 - o3;
    }
    for (int r = 0; r < 2; r++) { /* (Aᵀ O) A: columns */
      y[2 * r][c] = a[r][0] + a[r][1] + a[r][2] + bias[c];
      y[2 * r + 1][c] = a[r][1] - a[r][2] - a[r][3] + bias[c];
    }
  }
}

/* dO_ξ = (A dy Aᵀ)_ξ from the 2×2 output-gradient pixels q[2r + s]. */
NB_SIMD_CLONES static void grad_tile(const float *const *q, float *o, int64_t xs, int n) {
  WINO_IVDEP
  for (int c = 0; c < n; c++) {
    float z[4][2];
    for (int s = 0; s < 2; s++) { /* A dy: rows */
      float q0 = q[s][c], q1 = q[2 + s][c];
      z[0][s] = q0;
      z[1][s] = q0 + q1;
      z[2][s] = q0 - q1;
      z[3][s] = -q1;
    }
    for (int i = 0; i < 4; i++) { /* (A dy) Aᵀ: columns */
      o[(4 * i + 0) * xs + c] = z[i][0];
      o[(4 * i + 1) * xs + c] = z[i][0] + z[i][1];
      o[(4 * i + 2) * xs + c] = z[i][0] - z[i][1];
      o[(4 * i + 3) * xs + c] = -z[i][1];
    }
  }
}

/* d[4i + k] += (B dV Bᵀ)[i][k] from the 16 values dv_ξ: the transpose of input_tile. */
NB_SIMD_CLONES static void input_grad_tile(const float *dv, int64_t xs, float *const *d, int n) {
  WINO_IVDEP
  for (int c = 0; c < n; c++) {
    float s[4][4];
    for (int k = 0; k < 4; k++) { /* B dV: rows */
      float v0 = dv[k * xs + c], v1 = dv[(4 + k) * xs + c], v2 = dv[(8 + k) * xs + c], v3 = dv[(12 + k) * xs + c];
      s[0][k] = v0;
      s[1][k] = v1 - v2 + v3;
      s[2][k] = v1 + v2 - v0;
      s[3][k] = -v3;
    }
    for (int i = 0; i < 4; i++) { /* (B dV) Bᵀ: columns */
      d[4 * i + 0][c] += s[i][0];
      d[4 * i + 1][c] += s[i][1] - s[i][2] + s[i][3];
      d[4 * i + 2][c] += s[i][1] + s[i][2] - s[i][0];
      d[4 * i + 3][c] -= s[i][3];
    }
  }
}

NB_FAST_FP_END

/* ---- parallel jobs over channel slices ------------------------------------------------ */

/* The four tile transforms: which tensor they read or write, pixel by pixel. */
typedef enum wkind {
  W_INPUT,      /* channels-last input (4×4 pixels) → V */
  W_OUTPUT,     /* O → channels-last output (2×2 pixels), plus bias */
  W_GRAD,       /* channels-last output gradient (2×2 pixels) → dO */
  W_INPUT_GRAD, /* dV → added into the channels-last input gradient (4×4 pixels) */
} wkind;

typedef struct wjob {
  const wgeo *p;
  wkind kind;
  int64_t j0, nt;   /* the block: tiles [j0, j0 + nt) */
  const float *src; /* channels-last tensor (W_INPUT, W_GRAD) or transformed block */
  float *dst;       /* transformed block, or channels-last tensor (W_OUTPUT, W_INPUT_GRAD) */
  const float *bias;
} wjob;

static const float zeros[CB];

/* Runs a transform over the block's tiles for channel slice [16·a0, 16·a1): per tile, the
 * pixels of the channels-last tensor (outside the plane: zeros to read, a sink to write)
 * and its rows of the transformed block, CB channels at a time. Tiles go in order, so the
 * overlapping sums of W_INPUT_GRAD do not depend on the threads. */
static void tile_job(int64_t a0, int64_t a1, void *u) {
  const wjob *j = u;
  const wgeo *p = j->p;
  bool in = j->kind == W_INPUT || j->kind == W_INPUT_GRAD; /* 4×4 input pixels, else 2×2 output */
  int64_t ch = in ? p->C : p->M, ld = in ? p->ldc : p->ldm, xs = j->nt * ld;
  int64_t H = in ? p->H : p->OH, W = in ? p->W : p->OW, side = in ? 4 : 2, oh = in ? p->ph : 0, ow = in ? p->pw : 0;
  int64_t c0 = 16 * a0, c1 = 16 * a1 < ch ? 16 * a1 : ch;
  const float *tensor = j->kind == W_INPUT || j->kind == W_GRAD ? j->src : j->dst;
  const float *block = j->kind == W_INPUT || j->kind == W_GRAD ? NULL : j->src;
  float sink[CB] = {0};
  for (int64_t t = 0; t < j->nt; t++) {
    int64_t tile = j->j0 + t, n = tile / (p->TH * p->TW), th = tile / p->TW % p->TH, tw = tile % p->TW;
    const float *px[16];
    for (int64_t i = 0; i < side * side; i++) {
      int64_t h = 2 * th - oh + i / side, w = 2 * tw - ow + i % side;
      px[i] = h < 0 || h >= H || w < 0 || w >= W ? NULL : tensor + ((n * H + h) * W + w) * ch;
    }
    for (int64_t c = c0; c < c1; c += CB) {
      int nc = c1 - c < CB ? (int)(c1 - c) : CB;
      float *pc[16]; /* (read-only for W_INPUT and W_GRAD) */
      for (int64_t i = 0; i < side * side; i++)
        pc[i] = px[i] ? (float *)px[i] + c : block ? sink : (float *)zeros;
      /* the tile's rows of the transformed block: written (W_INPUT, W_GRAD) or read */
      float *rows = block ? (float *)block + t * ld + c : j->dst + t * ld + c;
      switch (j->kind) {
      case W_INPUT: input_tile((const float *const *)pc, rows, xs, nc); break;
      case W_GRAD: grad_tile((const float *const *)pc, rows, xs, nc); break;
      case W_OUTPUT: output_tile(rows, xs, j->bias ? j->bias + c : zeros, pc, nc); break;
      case W_INPUT_GRAD: input_grad_tile(rows, xs, pc, nc); break;
      }
    }
  }
}

/* Runs transform `kind` over the block's channel slices of 16 (C or M channels). */
static void run_tiles(const wgeo *p, wkind kind, int64_t j0, int64_t nt, const float *src, float *dst,
                      const float *bias) {
  wjob j = {p, kind, j0, nt, src, dst, bias};
  int64_t ch = kind == W_INPUT || kind == W_INPUT_GRAD ? p->C : p->M;
  nb_parallel_for((ch + 15) / 16, 1 + NB_PARALLEL_GRAIN / (16 * 16 * nt), tile_job, &j);
}

/* ---- the 16 GEMMs ---------------------------------------------------------------------- */

/* C_ξ = A_ξ · B_ξ + beta·C_ξ for ξ = 0..15, the matrices of ξ at a + ξ·sa, b + ξ·sb and
 * c + ξ·sc. They run side by side on the core's threads, each GEMM on one thread: BLIS
 * threading each of them would start 16 parallel regions a block. */
typedef struct gemm16 {
  int64_t m, n, k;
  const float *a, *b;
  float *c;
  int64_t sa, rsa, csa, sb, rsb, csb, sc, rsc, csc;
  double beta;
  unsigned failed; /* bit ξ: GEMM ξ failed (before touching C: nb_gemm checks first) */
} gemm16;

static int gemm_one(const gemm16 *g, int64_t xi) {
  return nn_gemm(NB_F32, g->m, g->n, g->k, 1.0, g->a + xi * g->sa, g->rsa, g->csa, g->b + xi * g->sb, g->rsb,
                 g->csb, g->beta, g->c + xi * g->sc, g->rsc, g->csc);
}

static void gemm_job(int64_t x0, int64_t x1, void *u) {
  gemm16 *g = u;
  for (int64_t xi = x0; xi < x1; xi++)
    if (gemm_one(g, xi) < 0) __atomic_fetch_or(&g->failed, 1u << xi, __ATOMIC_RELAXED);
}

/* Runs the 16 GEMMs; 0 or a status (a failed one is run again on this thread, which
 * sets the error message there). */
static int run_gemms(gemm16 *g) {
  nb_parallel_for(16, 1, gemm_job, g);
  for (int64_t xi = 0; xi < 16; xi++)
    if ((g->failed >> xi & 1u) && gemm_one(g, xi) < 0) return nb_last_status();
  return 0;
}

/* ---- layout changes -------------------------------------------------------------------- */

typedef struct tjob {
  const float *src;
  float *dst;
  int64_t rows, cols; /* per sample: src rows × cols into dst cols × rows */
} tjob;

static void transpose_job(int64_t n0, int64_t n1, void *u) {
  const tjob *j = u;
  for (int64_t n = n0; n < n1; n++)
    nn_conv_transpose(NB_F32, j->src + n * j->rows * j->cols, j->cols, (float *)j->dst + n * j->rows * j->cols,
                      j->rows, j->rows, j->cols);
}

/* Per sample of n, dst (cols × rows) = srcᵀ (rows × cols): NCHW ↔ channels-last. */
static void transpose_samples(const float *src, float *dst, int64_t n, int64_t rows, int64_t cols) {
  tjob j = {src, dst, rows, cols};
  nb_parallel_for(n, 1 + NB_PARALLEL_GRAIN / (rows * cols + 1), transpose_job, &j);
}

/* ---- kernel transforms ----------------------------------------------------------------- */

/* Kernels per step of the kernel transforms. They go through stack buffers (9 or 16 rows
 * of KCOLS), so the transforms are vector loops over kernels and the 16 planes (a power
 * of two bytes apart, say) are read and written row-wise. */
#define KCOLS 64

NB_FAST_FP_BEGIN

/* u[ξ][c] = (G g_c Gᵀ)_ξ for the n kernels g_c = k[0..8][c] (rows of KCOLS). */
NB_SIMD_CLONES static void kernel_transform(const float (*k)[KCOLS], float (*u)[KCOLS], int n) {
  for (int c = 0; c < n; c++) {
    float t[4][3];
    for (int j = 0; j < 3; j++) { /* G g */
      float k0 = k[j][c], k1 = k[3 + j][c], k2 = k[6 + j][c];
      t[0][j] = k0;
      t[1][j] = 0.5f * (k0 + k1 + k2);
      t[2][j] = 0.5f * (k0 - k1 + k2);
      t[3][j] = k2;
    }
    for (int i = 0; i < 4; i++) { /* (G g) Gᵀ */
      u[4 * i + 0][c] = t[i][0];
      u[4 * i + 1][c] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
      u[4 * i + 2][c] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
      u[4 * i + 3][c] = t[i][2];
    }
  }
}

/* k[0..8][c] = Gᵀ dU_c G (3×3) for the n gradients dU_c = du[0..15][c]. */
NB_SIMD_CLONES static void kernel_grad(const float (*du)[KCOLS], float (*k)[KCOLS], int n) {
  for (int c = 0; c < n; c++) {
    float t[3][4];
    for (int j = 0; j < 4; j++) { /* Gᵀ dU */
      float u0 = du[j][c], u1 = du[4 + j][c], u2 = du[8 + j][c], u3 = du[12 + j][c];
      t[0][j] = u0 + 0.5f * (u1 + u2);
      t[1][j] = 0.5f * (u1 - u2);
      t[2][j] = 0.5f * (u1 + u2) + u3;
    }
    for (int i = 0; i < 3; i++) { /* (Gᵀ dU) G */
      k[3 * i + 0][c] = t[i][0] + 0.5f * (t[i][1] + t[i][2]);
      k[3 * i + 1][c] = 0.5f * (t[i][1] - t[i][2]);
      k[3 * i + 2][c] = 0.5f * (t[i][1] + t[i][2]) + t[i][3];
    }
  }
}

NB_FAST_FP_END

typedef struct kjob {
  const wgeo *p;
  bool grad;        /* weights → U, or dU → the weight gradient */
  const float *src; /* weights (M, C, 3, 3), or dU (16 planes of M × C) */
  float *dst;       /* U, or the weight gradient */
} kjob;

/* Output channels [m0, m1) of U from the weights, or of the weight gradient from dU. */
static void kernel_job(int64_t m0, int64_t m1, void *u) {
  const kjob *j = u;
  const wgeo *p = j->p;
  float k[9][KCOLS], buf[16][KCOLS];
  for (int64_t m = m0; m < m1; m++)
    for (int64_t c0 = 0; c0 < p->C; c0 += KCOLS) {
      int nc = p->C - c0 < KCOLS ? (int)(p->C - c0) : KCOLS;
      float *w9 = (float *)(j->grad ? j->dst : j->src) + (m * p->C + c0) * 9; /* (read-only unless grad) */
      float *u16 = (float *)(j->grad ? j->src : j->dst) + m * p->C + c0;
      if (!j->grad) { /* 3×3 kernels in, 16 rows out */
        for (int c = 0; c < nc; c++)
          for (int i = 0; i < 9; i++) k[i][c] = w9[c * 9 + i];
        kernel_transform(k, buf, nc);
        for (int xi = 0; xi < 16; xi++) memcpy(u16 + xi * p->ups, buf[xi], sizeof(float) * (size_t)nc);
      } else { /* the reverse */
        for (int xi = 0; xi < 16; xi++) memcpy(buf[xi], u16 + xi * p->ups, sizeof(float) * (size_t)nc);
        kernel_grad(buf, k, nc);
        for (int c = 0; c < nc; c++)
          for (int i = 0; i < 9; i++) w9[c * 9 + i] = k[i][c];
      }
    }
}

/* The 16 kernel transforms (M × C each) of w into scratch slot 1. */
static float *kernels(const wgeo *p, const float *w) {
  float *u = nb_scratch(1, sizeof(float) * (size_t)(16 * p->ups) + 64);
  if (u == NULL) return NULL;
  kjob j = {p, false, w, u};
  nb_parallel_for(p->M, 1 + NB_PARALLEL_GRAIN / (16 * p->C), kernel_job, &j);
  return u;
}

/* ---- forward and backward -------------------------------------------------------------- */

/* Block buffers in scratch slot 0: V (16 × tb × ldc) then O (16 × tb × ldm). */
static float *block_buffers(const wgeo *p) {
  return nb_scratch(0, sizeof(float) * (size_t)(16 * p->tb * (p->ldc + p->ldm)) + 64);
}

/* Samples per chunk: the channels-last copies of a chunk (per_sample floats a sample)
 * stay within WINO_CHUNK_BYTES, or one sample. */
static int64_t chunk_samples(const wgeo *p, int64_t per_sample) {
  int64_t ns = (int64_t)WINO_CHUNK_BYTES / (per_sample * (int64_t)sizeof(float) + 1);
  return ns < 1 ? 1 : ns > p->N ? p->N : ns;
}

/* The geometry of samples [n0, n0 + ns) as a convolution of its own. */
static wgeo chunk_of(const wgeo *p, int64_t n0, int64_t ns) {
  wgeo q = *p;
  q.N = p->N - n0 < ns ? p->N - n0 : ns;
  q.T = q.N * p->TH * p->TW;
  return q;
}

int nn_wino_forward(const cgeom *g, const float *x, const float *w, const float *bias, float *y) {
  wgeo p = geo_of(g);
  int64_t hw = p.H * p.W, ohw = p.OH * p.OW, ns = chunk_samples(&p, hw * p.C + ohw * p.M);
  const float *u = kernels(&p, w);
  float *v = block_buffers(&p);
  float *xt = nb_scratch(3, sizeof(float) * (size_t)(ns * (hw * p.C + ohw * p.M)) + 64);
  if (u == NULL || v == NULL || xt == NULL) return nb_last_status();
  float *o = v + 16 * p.tb * p.ldc, *yt = xt + ns * hw * p.C;
  for (int64_t n0 = 0; n0 < p.N; n0 += ns) {
    wgeo q = chunk_of(&p, n0, ns);
    transpose_samples(x + n0 * p.C * hw, xt, q.N, p.C, hw);
    for (int64_t j0 = 0; j0 < q.T; j0 += q.tb) {
      int64_t nt = q.T - j0 < q.tb ? q.T - j0 : q.tb;
      run_tiles(&q, W_INPUT, j0, nt, xt, v, NULL);
      gemm16 gm = {nt, q.M, q.C, v, u, o, nt * q.ldc, q.ldc, 1, q.ups, 1, q.C, nt * q.ldm, q.ldm, 1, 0.0, 0};
      if (run_gemms(&gm) < 0) return nb_last_status(); /* O_ξ (tiles × M) = V_ξ (tiles × C) · U_ξᵀ */
      run_tiles(&q, W_OUTPUT, j0, nt, o, yt, bias);
    }
    transpose_samples(yt, y + n0 * p.M * ohw, q.N, ohw, p.M);
  }
  return 0;
}

int nn_wino_backward(const cgeom *g, const float *x, const float *w, const float *dy, float *dx, float *dw) {
  if (dx == NULL && dw == NULL) return 0;
  wgeo p = geo_of(g);
  int64_t hw = p.H * p.W, ohw = p.OH * p.OW, nxc = (dw ? 1 : 0) + (dx ? 1 : 0); /* copies of x's size */
  int64_t ns = chunk_samples(&p, ohw * p.M + nxc * hw * p.C);
  const float *u = dx ? kernels(&p, w) : NULL;
  float *du = dw ? nb_scratch(2, sizeof(float) * (size_t)(16 * p.ups) + 64) : NULL;
  float *v = block_buffers(&p);
  /* channels-last dy, then x (for dw) and/or dx (for dx) of a chunk */
  float *dyt = nb_scratch(3, sizeof(float) * (size_t)(ns * (ohw * p.M + nxc * hw * p.C)) + 64);
  if ((dx && u == NULL) || (dw && du == NULL) || v == NULL || dyt == NULL) return nb_last_status();
  float *o = v + 16 * p.tb * p.ldc, *xt = dyt + ns * ohw * p.M, *dxt = dw ? xt + ns * hw * p.C : xt;
  for (int64_t n0 = 0; n0 < p.N; n0 += ns) {
    wgeo q = chunk_of(&p, n0, ns);
    transpose_samples(dy + n0 * p.M * ohw, dyt, q.N, p.M, ohw);
    if (dw) transpose_samples(x + n0 * p.C * hw, xt, q.N, p.C, hw);
    if (dx) memset(dxt, 0, sizeof(float) * (size_t)(q.N * hw * p.C));
    for (int64_t j0 = 0; j0 < q.T; j0 += q.tb) {
      int64_t nt = q.T - j0 < q.tb ? q.T - j0 : q.tb;
      run_tiles(&q, W_GRAD, j0, nt, dyt, o, NULL);
      if (dw) {
        run_tiles(&q, W_INPUT, j0, nt, xt, v, NULL);
        /* dU_ξ (M × C) += dO_ξᵀ (M × tiles) · V_ξ (tiles × C) */
        gemm16 gm = {q.M, q.C, nt, o, v, du, nt * q.ldm, 1, q.ldm, nt * q.ldc, q.ldc, 1, q.ups, q.C, 1,
                     n0 == 0 && j0 == 0 ? 0.0 : 1.0, 0};
        if (run_gemms(&gm) < 0) return nb_last_status();
      }
      if (dx) {
        /* dV_ξ (tiles × C) = dO_ξ (tiles × M) · U_ξ (M × C), over V */
        gemm16 gm = {nt, q.C, q.M, o, u, v, nt * q.ldm, q.ldm, 1, q.ups, q.C, 1, nt * q.ldc, q.ldc, 1, 0.0, 0};
        if (run_gemms(&gm) < 0) return nb_last_status();
        run_tiles(&q, W_INPUT_GRAD, j0, nt, v, dxt, NULL);
      }
    }
    if (dx) transpose_samples(dxt, dx + n0 * p.C * hw, q.N, hw, p.C);
  }
  if (dw) {
    kjob jk = {&p, true, du, dw};
    nb_parallel_for(p.M, 1 + NB_PARALLEL_GRAIN / (16 * p.C), kernel_job, &jk);
  }
  return 0;
}
