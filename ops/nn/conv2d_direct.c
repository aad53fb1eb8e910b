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
 * as 8-lane vector multiply-adds (no FMA, so the AVX2 clone and the plain one agree).
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

void nn_direct_forward(const cgeom *g, const float *x, const float *w, const float *bias, float *y) {
  dir_job j = {.g = g, .x = x, .w = w, .b = bias, .y = y};
  int64_t work = g->M * g->OH * g->OW * g->kh * g->kw;
  nb_parallel_for(g->N, 1 + NB_PARALLEL_GRAIN / (work + 1), dir_forward, &j);
}

void nn_direct_weight_grad(const cgeom *g, const float *x, const float *dy, float *dw, float *db) {
  dir_job j = {.g = g, .x = x, .dy = dy, .dw = dw, .db = db};
  int64_t work = g->N * g->OH * g->OW * g->kh * g->kw;
  nb_parallel_for(g->M, 1 + NB_PARALLEL_GRAIN / (work + 1), dir_weight_grad, &j);
}
