/* ops/nn/conv2d_col.c — conv2d's data movement around its GEMMs: im2col (input patches
 * unfolded into a column matrix), col2im (a column matrix folded back, added into the
 * input gradient) and the matrix transpose of the weight-gradient path. Two kernel
 * families: the general one works row by row on the input (with a shifted-plane fast
 * path for stride-1 "same" convolutions), the small-plane one copies each plane into a
 * zero-padded stack buffer first. See conv2d_col.h for the layouts.
 */
#include "conv2d_col.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

/* Most rows moved here are a few dozen elements long: keep the copy and zeroing loops
 * inline rather than turned into memcpy/memset calls, which cost more than the move
 * (explicit memcpy/memset calls for whole planes stay). Applies to this file's
 * functions only (after the includes). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

typedef struct col_job {
  const cgeom *g;
  const void *x;  /* input (or dx for col2im): first sample of the chunk, group g */
  void *col;      /* K × (cn·P) matrix, row stride ld */
  int64_t ld, cn;
} col_job;

/* Range of output columns ow whose input column ow·s − p + kj·d lies in [0, W). */
static void valid_range(int64_t W, int64_t OW, int64_t s, int64_t off, int64_t *lo, int64_t *hi) {
  /* need 0 <= ow*s + off < W */
  int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
  int64_t h = W - 1 - off < 0 ? -1 : (W - 1 - off) / s;
  if (h > OW - 1) h = OW - 1;
  *lo = l;
  *hi = h; /* inclusive; empty when hi < lo */
}

/* Output rows [*lo, *hi] whose input row oh + t lies inside the input (stride 1). */
static void shifted_rows(const cgeom *g, int64_t t, int64_t *lo, int64_t *hi) {
  *lo = t < 0 ? -t : 0;
  *hi = g->H - 1 - t < g->OH - 1 ? g->H - 1 - t : g->OH - 1;
}

/* Zero the columns of one output row outside [lo, hi] (usually one element each side). */
#define ZERO_WRAPPED(T, d, lo, hi, ow)                                                        \
  do {                                                                                        \
    T *zd_ = (d);                                                                             \
    if ((lo) == 1)                                                                            \
      zd_[0] = 0;                                                                             \
    else                                                                                      \
      for (int64_t z_ = 0; z_ < (lo); z_++) zd_[z_] = 0;                                      \
    if ((hi) == (ow) - 2)                                                                     \
      zd_[(ow) - 1] = 0;                                                                      \
    else                                                                                      \
      for (int64_t z_ = (hi) + 1; z_ < (ow); z_++) zd_[z_] = 0;                               \
  } while (0)

/* Widest padded input row the stride-2 im2col kernel takes (stack buffers). */
#define CONV_S2_MAX 2048

#define CONV_KERNELS(T, SUF)                                                                  \
  static void im2col_##SUF(int64_t u0, int64_t u1, void *user) {                             \
    const col_job *j = user;                                                                  \
    const cgeom *g = j->g;                                                                    \
    int64_t kk = g->kh * g->kw;                                                               \
    for (int64_t u = u0; u < u1; u++) {                                                       \
      int64_t s = u / g->K, r = u % g->K, c = r / kk, ki = (r / g->kw) % g->kh, kj = r % g->kw; \
      const T *src = (const T *)j->x + s * g->C * g->H * g->W + c * g->H * g->W;              \
      T *dst = (T *)j->col + r * j->ld + s * g->P;                                            \
      int64_t off = kj * g->dw - g->pw, lo, hi;                                               \
      valid_range(g->W, g->OW, g->sw, off, &lo, &hi);                                         \
      if (g->sh == 1 && g->sw == 1 && g->OW == g->W && hi >= lo) {                            \
        /* the row is the input plane shifted by t rows and off columns: one copy, then     \
         * zero the rows outside the input and the columns that wrapped around */           \
        int64_t t = ki * g->dh - g->ph, ohl, ohh;                                             \
        shifted_rows(g, t, &ohl, &ohh);                                                       \
        if (ohh < ohl) {                                                                      \
          memset(dst, 0, sizeof(T) * (size_t)g->P);                                           \
          continue;                                                                           \
        }                                                                                     \
        memset(dst, 0, sizeof(T) * (size_t)(ohl * g->OW));                                    \
        memset(dst + (ohh + 1) * g->OW, 0, sizeof(T) * (size_t)((g->OH - 1 - ohh) * g->OW));  \
        int64_t shift = t * g->W + off, a = ohl * g->OW + shift, b = (ohh + 1) * g->OW + shift; \
        if (a < 0) a = 0;                                                                     \
        if (b > g->H * g->W) b = g->H * g->W;                                                 \
        memcpy(dst + (a - shift), src + a, sizeof(T) * (size_t)(b - a));                      \
        for (int64_t oh = ohl; oh <= ohh; oh++) ZERO_WRAPPED(T, dst + oh * g->OW, lo, hi, g->OW); \
        continue;                                                                             \
      }                                                                                       \
      for (int64_t oh = 0; oh < g->OH; oh++) {                                                \
        T *d = dst + oh * g->OW;                                                              \
        int64_t ih = oh * g->sh - g->ph + ki * g->dh;                                         \
        if (ih < 0 || ih >= g->H || hi < lo) {                                                \
          memset(d, 0, sizeof(T) * (size_t)g->OW);                                            \
          continue;                                                                           \
        }                                                                                     \
        const T *srow = src + ih * g->W + off;                                                \
        for (int64_t ow = 0; ow < lo; ow++) d[ow] = 0;                                        \
        if (g->sw == 1)                                                                       \
          memcpy(d + lo, srow + lo, sizeof(T) * (size_t)(hi - lo + 1));                       \
        else                                                                                  \
          for (int64_t ow = lo; ow <= hi; ow++) d[ow] = srow[ow * g->sw];                     \
        for (int64_t ow = hi + 1; ow < g->OW; ow++) d[ow] = 0;                                \
      }                                                                                       \
    }                                                                                         \
  }                                                                                           \
  /* Column stride 2 with 3+ kernel columns (stems), unit = (sample, channel, kernel row):   \
   * each input row is zero-padded and split into its even and odd columns once, and then  \
   * every kernel column's row segment is a contiguous copy from one of the halves. */      \
  static void im2col_s2_##SUF(int64_t u0, int64_t u1, void *user) {                          \
    const col_job *j = user;                                                                  \
    const cgeom *g = j->g;                                                                    \
    int64_t Wp = g->W + 2 * g->pw, OW = g->OW;                                                \
    T row[CONV_S2_MAX + 1], half[2][CONV_S2_MAX / 2 + 1];                                     \
    for (int64_t q = 0; q < Wp + 1; q++) row[q] = 0;                                          \
    for (int64_t u = u0; u < u1; u++) {                                                       \
      int64_t s = u / (g->Cg * g->kh), c = u / g->kh % g->Cg, ki = u % g->kh;                 \
      const T *src = (const T *)j->x + s * g->C * g->H * g->W + c * g->H * g->W;              \
      T *dst = (T *)j->col + (c * g->kh + ki) * g->kw * j->ld + s * g->P;                     \
      for (int64_t oh = 0; oh < g->OH; oh++) {                                                \
        int64_t ih = oh * g->sh - g->ph + ki * g->dh;                                         \
        if (ih < 0 || ih >= g->H) {                                                           \
          for (int64_t kj = 0; kj < g->kw; kj++) memset(dst + kj * j->ld + oh * OW, 0, sizeof(T) * (size_t)OW); \
          continue;                                                                           \
        }                                                                                     \
        for (int64_t iw = 0; iw < g->W; iw++) row[g->pw + iw] = src[ih * g->W + iw];         \
        for (int64_t i = 0; i < (Wp + 1) / 2; i++) {                                          \
          half[0][i] = row[2 * i];                                                            \
          half[1][i] = row[2 * i + 1];                                                        \
        }                                                                                     \
        for (int64_t kj = 0; kj < g->kw; kj++) {                                              \
          int64_t off = kj * g->dw;                                                           \
          T *restrict d = dst + kj * j->ld + oh * OW;                                         \
          const T *restrict h = half[off & 1] + off / 2;                                      \
          for (int64_t ow = 0; ow < OW; ow++) d[ow] = h[ow];                                  \
        }                                                                                     \
      }                                                                                       \
    }                                                                                         \
  }                                                                                           \
  /* unit = (sample, channel): the plane is zeroed, then every column row of that channel  \
   * adds into it */                                                                        \
  static void col2im_##SUF(int64_t u0, int64_t u1, void *user) {                             \
    const col_job *j = user;                                                                  \
    const cgeom *g = j->g;                                                                    \
    for (int64_t u = u0; u < u1; u++) {                                                       \
      int64_t s = u / g->Cg, c = u % g->Cg;                                                   \
      T *dst = (T *)j->x + s * g->C * g->H * g->W + c * g->H * g->W;                          \
      memset(dst, 0, sizeof(T) * (size_t)(g->H * g->W));                                     \
      for (int64_t ki = 0; ki < g->kh; ki++)                                                  \
        for (int64_t kj = 0; kj < g->kw; kj++) {                                              \
          int64_t r = (c * g->kh + ki) * g->kw + kj, off = kj * g->dw - g->pw, lo, hi;        \
          T *src = (T *)j->col + r * j->ld + s * g->P;                                        \
          valid_range(g->W, g->OW, g->sw, off, &lo, &hi);                                     \
          if (g->sh == 1 && g->sw == 1 && g->OW == g->W) {                                    \
            /* shifted plane: zero the wrapped columns of this (scratch) row, then one      \
             * contiguous add over the rows that fall inside the input */                   \
            int64_t t = ki * g->dh - g->ph, ohl, ohh;                                         \
            shifted_rows(g, t, &ohl, &ohh);                                                   \
            if (ohh < ohl || hi < lo) continue;                                               \
            for (int64_t oh = ohl; oh <= ohh; oh++) ZERO_WRAPPED(T, src + oh * g->OW, lo, hi, g->OW); \
            int64_t shift = t * g->W + off, a = ohl * g->OW + shift, b = (ohh + 1) * g->OW + shift; \
            if (a < 0) a = 0;                                                                 \
            if (b > g->H * g->W) b = g->H * g->W;                                             \
            T *restrict dp = dst + a;                                                         \
            const T *restrict sp = src + (a - shift);                                         \
            for (int64_t i = 0; i < b - a; i++) dp[i] += sp[i];                               \
            continue;                                                                         \
          }                                                                                   \
          for (int64_t oh = 0; oh < g->OH; oh++) {                                            \
            int64_t ih = oh * g->sh - g->ph + ki * g->dh;                                     \
            if (ih < 0 || ih >= g->H) continue;                                               \
            T *restrict drow = dst + ih * g->W + off;                                         \
            const T *restrict srow = src + oh * g->OW;                                        \
            if (g->sw == 1)                                                                   \
              for (int64_t ow = lo; ow <= hi; ow++) drow[ow] += srow[ow];                     \
            else                                                                              \
              for (int64_t ow = lo; ow <= hi; ow++) drow[ow * g->sw] += srow[ow];             \
          }                                                                                   \
        }                                                                                     \
    }                                                                                         \
  }

CONV_KERNELS(float, f32)
CONV_KERNELS(double, f64)

/* Padded planes of at most this many elements go through a stack copy (pad path). */
#define CONV_PAD_MAX 6144

/* Rows × cols block move d[r·drs + c·dcs] (=|+=) s[r·srs + c·scs]. The small-plane
 * kernels below do all their work through it; blk_* dispatches the shapes of ResNet-style
 * layers (square 2..16 wide blocks, unit or stride-2 columns) to copies of the loop with
 * those sizes as constants, which the compiler unrolls into vector moves (the
 * runtime-sized loops spent most of their time in loop control and remainders). */
#define CONV_BLK(T, SUF)                                                                      \
  static inline __attribute__((always_inline)) void blk_loop_##SUF(                          \
      T *restrict d, int64_t drs, int64_t dcs, const T *restrict s, int64_t srs, int64_t scs,  \
      int64_t rows, int64_t cols, bool add) {                                                 \
    typedef T vec __attribute__((vector_size(16)));                                           \
    const int64_t vl = (int64_t)(16 / sizeof(T));                                             \
    if (dcs == 1 && scs == 1 && cols >= vl) {                                                 \
      /* explicit 16-byte vectors: GCC leaves the unrolled scalar form of the add. A row    \
       * whose length is no multiple of the vector ends with one more vector copy that     \
       * overlaps the last (same values again), or, adding, with scalar adds. */          \
      int64_t cv = cols - cols % vl;                                                          \
      for (int64_t r = 0; r < rows; r++) {                                                    \
        for (int64_t c = 0; c < cv; c += vl) {                                                \
          vec a, b;                                                                           \
          memcpy(&b, s + r * srs + c, sizeof b);                                              \
          if (add) {                                                                          \
            memcpy(&a, d + r * drs + c, sizeof a);                                            \
            b += a;                                                                           \
          }                                                                                   \
          memcpy(d + r * drs + c, &b, sizeof b);                                              \
        }                                                                                     \
        if (cv < cols && !add) {                                                              \
          vec b;                                                                              \
          memcpy(&b, s + r * srs + cols - vl, sizeof b);                                      \
          memcpy(d + r * drs + cols - vl, &b, sizeof b);                                      \
        } else {                                                                              \
          for (int64_t c = cv; c < cols; c++) d[r * drs + c] += s[r * srs + c];               \
        }                                                                                     \
      }                                                                                       \
      return;                                                                                 \
    }                                                                                         \
    for (int64_t r = 0; r < rows; r++)                                                        \
      for (int64_t c = 0; c < cols; c++) {                                                    \
        if (add)                                                                              \
          d[r * drs + c * dcs] += s[r * srs + c * scs];                                       \
        else                                                                                  \
          d[r * drs + c * dcs] = s[r * srs + c * scs];                                        \
      }                                                                                       \
  }                                                                                           \
  static void blk_##SUF(T *restrict d, int64_t drs, int64_t dcs, const T *restrict s, int64_t srs, \
                        int64_t scs, int64_t rows, int64_t cols, bool add) {                  \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wshadow\"")             \
    /* one case: constant cols, column strides and add; constant rows when square */         \
    CONV_BLK_CASES(SUF, 1, 1) CONV_BLK_CASES(SUF, 1, 2) CONV_BLK_CASES(SUF, 2, 1)              \
    _Pragma("GCC diagnostic pop")                                                             \
    blk_loop_##SUF(d, drs, dcs, s, srs, scs, rows, cols, add);                                \
  }
#define CONV_BLK_CASE(SUF, DC, SC, N)                                                         \
  if (cols == N && dcs == DC && scs == SC) {                                                  \
    if (rows == N) {                                                                          \
      if (add) blk_loop_##SUF(d, drs, DC, s, srs, SC, N, N, true);                            \
      else blk_loop_##SUF(d, drs, DC, s, srs, SC, N, N, false);                               \
    } else {                                                                                  \
      if (add) blk_loop_##SUF(d, drs, DC, s, srs, SC, rows, N, true);                         \
      else blk_loop_##SUF(d, drs, DC, s, srs, SC, rows, N, false);                            \
    }                                                                                         \
    return;                                                                                   \
  }
#define CONV_BLK_CASES(SUF, DC, SC)                                                           \
  CONV_BLK_CASE(SUF, DC, SC, 2) CONV_BLK_CASE(SUF, DC, SC, 4) CONV_BLK_CASE(SUF, DC, SC, 8)  \
  CONV_BLK_CASE(SUF, DC, SC, 16)
CONV_BLK(float, f32)
CONV_BLK(double, f64)

/* Rows × cols unit-stride move d[r·drs + c] (=|+=) s[r·srs + c] for the stride-1 rows of
 * the small-plane kernels (LeNet's are 10 wide): each row in 32-byte vectors, then one
 * more that overlaps the last (a copy; same values again) or 16- and 8-byte vectors and
 * single elements (an add). Per row a handful of moves, where blk's and GCC's own
 * loops spent ~50 instructions on loop control and remainders. */
/* One vector move of GCC vector type VT: *dp (=|+=) *sp (unaligned). */
#define CONV_VMOVE(VT, dp, sp, add)                                                           \
  do {                                                                                        \
    VT va_, vb_;                                                                              \
    memcpy(&vb_, (sp), sizeof vb_);                                                           \
    if (add) {                                                                                \
      memcpy(&va_, (dp), sizeof va_);                                                         \
      vb_ += va_;                                                                             \
    }                                                                                         \
    memcpy((dp), &vb_, sizeof vb_);                                                           \
  } while (0)
#define CONV_ROWS(T, SUF)                                                                     \
  static inline __attribute__((always_inline)) void rows_##SUF(T *restrict d, int64_t drs,   \
      const T *restrict s, int64_t srs, int64_t rows, int64_t cols, bool add) {               \
    typedef T v32 __attribute__((vector_size(32)));                                           \
    typedef T v16 __attribute__((vector_size(16)));                                           \
    typedef T v8 __attribute__((vector_size(8)));                                             \
    const int64_t n32 = (int64_t)(32 / sizeof(T)), n16 = n32 / 2, n8 = n32 / 4;               \
    for (int64_t r = 0; r < rows; r++, d += drs, s += srs) {                                  \
      int64_t c = 0;                                                                          \
      for (; c + n32 <= cols; c += n32) CONV_VMOVE(v32, d + c, s + c, add);                   \
      if (c == cols) continue;                                                                \
      if (!add && cols >= n32) { /* overlapping the last vector: same values again */       \
        CONV_VMOVE(v32, d + cols - n32, s + cols - n32, false);                               \
        continue;                                                                             \
      }                                                                                       \
      if (c + n16 <= cols) {                                                                  \
        CONV_VMOVE(v16, d + c, s + c, add);                                                   \
        c += n16;                                                                             \
      }                                                                                       \
      if (n8 > 1 && c + n8 <= cols) {                                                         \
        CONV_VMOVE(v8, d + c, s + c, add);                                                    \
        c += n8;                                                                              \
      }                                                                                       \
      for (; c < cols; c++) d[c] = add ? d[c] + s[c] : s[c];                                  \
    }                                                                                         \
  }
CONV_ROWS(float, f32)
CONV_ROWS(double, f64)

/* Small planes: one unit = (sample, channel). The plane is copied into a zero-padded
 * buffer once, then every column row of the channel is a plain strided copy (im2col) or
 * add (col2im) with no bounds logic and no library calls. col2im adds the kernel
 * offsets in the same order as the general path (from a zeroed plane), so the results
 * are identical. */
#define CONV_PAD_KERNELS(T, SUF)                                                              \
  NB_SIMD_CLONES static void im2col_pad_##SUF(int64_t u0, int64_t u1, void *user) {          \
    const col_job *j = user;                                                                  \
    const cgeom *g = j->g;                                                                    \
    int64_t Hp = g->H + 2 * g->ph, Wp = g->W + 2 * g->pw, OH = g->OH, OW = g->OW;             \
    int64_t sh = g->sh, sw = g->sw;                                                           \
    T pad[CONV_PAD_MAX];                                                                      \
    memset(pad, 0, sizeof(T) * (size_t)(Hp * Wp));                                            \
    for (int64_t u = u0; u < u1; u++) {                                                       \
      int64_t s = u / g->Cg, c = u % g->Cg;                                                   \
      const T *src = (const T *)j->x + s * g->C * g->H * g->W + c * g->H * g->W;              \
      blk_##SUF(pad + g->ph * Wp + g->pw, Wp, 1, src, g->W, 1, g->H, g->W, false);            \
      for (int64_t ki = 0; ki < g->kh; ki++)                                                  \
        for (int64_t kj = 0; kj < g->kw; kj++) {                                              \
          int64_t r = (c * g->kh + ki) * g->kw + kj;                                          \
          T *restrict dst = (T *)j->col + r * j->ld + s * g->P;                               \
          const T *restrict sp = pad + ki * g->dh * Wp + kj * g->dw;                          \
          if (sw == 1)                                                                        \
            rows_##SUF(dst, OW, sp, sh * Wp, OH, OW, false);                                  \
          else                                                                                \
            blk_##SUF(dst, OW, 1, sp, sh * Wp, sw, OH, OW, false);                            \
        }                                                                                     \
    }                                                                                         \
  }                                                                                           \
  NB_SIMD_CLONES static void col2im_pad_##SUF(int64_t u0, int64_t u1, void *user) {          \
    const col_job *j = user;                                                                  \
    const cgeom *g = j->g;                                                                    \
    int64_t Hp = g->H + 2 * g->ph, Wp = g->W + 2 * g->pw, OH = g->OH, OW = g->OW;             \
    int64_t sh = g->sh, sw = g->sw;                                                           \
    T acc[CONV_PAD_MAX];                                                                      \
    for (int64_t u = u0; u < u1; u++) {                                                       \
      int64_t s = u / g->Cg, c = u % g->Cg;                                                   \
      memset(acc, 0, sizeof(T) * (size_t)(Hp * Wp));                                          \
      for (int64_t ki = 0; ki < g->kh; ki++)                                                  \
        for (int64_t kj = 0; kj < g->kw; kj++) {                                              \
          int64_t r = (c * g->kh + ki) * g->kw + kj;                                          \
          const T *restrict src = (const T *)j->col + r * j->ld + s * g->P;                   \
          T *restrict ap = acc + ki * g->dh * Wp + kj * g->dw;                                \
          if (sw == 1)                                                                        \
            rows_##SUF(ap, sh * Wp, src, OW, OH, OW, true);                                   \
          else                                                                                \
            blk_##SUF(ap, sh * Wp, sw, src, OW, 1, OH, OW, true);                             \
        }                                                                                     \
      T *dst = (T *)j->x + s * g->C * g->H * g->W + c * g->H * g->W;                          \
      blk_##SUF(dst, g->W, 1, acc + g->ph * Wp + g->pw, Wp, 1, g->H, g->W, false);            \
    }                                                                                         \
  }

CONV_PAD_KERNELS(float, f32)
CONV_PAD_KERNELS(double, f64)

/* Whether the pad path applies: small outputs (rows of at most CONV_PAD_P columns, where
 * the general path's per-row bookkeeping and library calls dominate; measured faster
 * for ResNet-18's 8x8 and smaller layers, no gain at 16x16 and slower for the 7x7
 * stride-2 stem) whose padded plane fits the stack buffer. */
#define CONV_PAD_P 128
static bool use_pad(const cgeom *g) {
  /* (1x1 kernels copy each input element once anyway: the plane copy only adds work) */
  return g->P <= CONV_PAD_P && g->kh * g->kw > 1 && (g->H + 2 * g->ph) * (g->W + 2 * g->pw) <= CONV_PAD_MAX;
}

void nn_conv_im2col(nb_dtype dt, const cgeom *g, const void *x, void *col, int64_t cn, int64_t ld) {
  col_job j = {g, x, col, ld, cn};
  if (use_pad(g)) {
    int64_t work = g->K / (g->Cg > 0 ? g->Cg : 1) * g->P; /* 0 for 0 input channels */
    int64_t grain = 1 + NB_PARALLEL_GRAIN / (work > 0 ? work : 1);
    nb_parallel_for(cn * g->Cg, grain, dt == NB_F32 ? im2col_pad_f32 : im2col_pad_f64, &j);
    return;
  }
  int64_t grain = 1 + NB_PARALLEL_GRAIN / (g->P > 0 ? g->P : 1);
  if (g->sw == 2 && g->kw >= 3 && g->W + 2 * g->pw <= CONV_S2_MAX) { /* (1×1: nothing to share) */
    nb_parallel_for(cn * g->Cg * g->kh, 1 + NB_PARALLEL_GRAIN / (g->kw * g->P + 1), dt == NB_F32 ? im2col_s2_f32 : im2col_s2_f64,
                    &j);
    return;
  }
  nb_parallel_for(cn * g->K, grain, dt == NB_F32 ? im2col_f32 : im2col_f64, &j);
}

void nn_conv_col2im(nb_dtype dt, const cgeom *g, void *dx, void *col, int64_t cn, int64_t ld) {
  col_job j = {g, dx, col, ld, cn};
  int64_t work = g->K / (g->Cg > 0 ? g->Cg : 1) * g->P; /* 0 for 0 input channels */
  int64_t grain = 1 + NB_PARALLEL_GRAIN / (work > 0 ? work : 1);
  if (use_pad(g))
    nb_parallel_for(cn * g->Cg, grain, dt == NB_F32 ? col2im_pad_f32 : col2im_pad_f64, &j);
  else
    nb_parallel_for(cn * g->Cg, grain, dt == NB_F32 ? col2im_f32 : col2im_f64, &j);
}
/* dst (cols × rows, row stride ldd) = transpose of src (rows × cols, row stride lds),
 * in 16-row strips so the source rows stay in L1; float32 moves 4×4 blocks through SSE
 * registers (~6x faster than the scalar loop). */
static void transpose_f32(const float *restrict src, int64_t lds, float *restrict dst, int64_t ldd,
                          int64_t rows, int64_t cols) {
  int64_t r4 = 0, c4 = 0;
#ifdef __SSE2__
  r4 = rows & ~(int64_t)3, c4 = cols & ~(int64_t)3;
  for (int64_t i0 = 0; i0 < r4; i0 += 16) {
    int64_t i1 = i0 + 16 < r4 ? i0 + 16 : r4;
    for (int64_t j = 0; j < c4; j += 4)
      for (int64_t i = i0; i < i1; i += 4) {
        const float *s = src + i * lds + j;
        __m128 a = _mm_loadu_ps(s), b = _mm_loadu_ps(s + lds), c = _mm_loadu_ps(s + 2 * lds),
               d = _mm_loadu_ps(s + 3 * lds);
        _MM_TRANSPOSE4_PS(a, b, c, d);
        float *t = dst + j * ldd + i;
        _mm_storeu_ps(t, a);
        _mm_storeu_ps(t + ldd, b);
        _mm_storeu_ps(t + 2 * ldd, c);
        _mm_storeu_ps(t + 3 * ldd, d);
      }
  }
#endif
  for (int64_t i = 0; i < rows; i++) /* the edges (everything without SSE) */
    for (int64_t j = i < r4 ? c4 : 0; j < cols; j++) dst[j * ldd + i] = src[i * lds + j];
}

static void transpose_f64(const double *restrict src, int64_t lds, double *restrict dst, int64_t ldd,
                          int64_t rows, int64_t cols) {
  for (int64_t i0 = 0; i0 < rows; i0 += 16)
    for (int64_t j = 0; j < cols; j++) {
      int64_t i1 = i0 + 16 < rows ? i0 + 16 : rows;
      for (int64_t i = i0; i < i1; i++) dst[j * ldd + i] = src[i * lds + j];
    }
}

void nn_conv_transpose(nb_dtype dt, const void *src, int64_t lds, void *dst, int64_t ldd, int64_t rows,
                      int64_t cols) {
  if (dt == NB_F32)
    transpose_f32(src, lds, dst, ldd, rows, cols);
  else
    transpose_f64(src, lds, dst, ldd, rows, cols);
}

int nn_conv_fma_lanes(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  const char *k = nb_gemm_kernel();
  return strcmp(k, "avx512") == 0 ? 16 : strcmp(k, "avx2") == 0 ? 8 : 0;
#else
  return 0;
#endif
}

/* (plain loops, not memcpy/memset calls: rows of a few dozen floats, see the top) */
void nn_conv_pad_plane(const cgeom *g, const float *restrict x, float *restrict d, int64_t wd) {
  for (int64_t i = 0; i < g->ph * wd; i++) d[i] = 0;
  for (int64_t ih = 0; ih < g->H; ih++) {
    float *restrict r = d + (g->ph + ih) * wd;
    const float *restrict s = x + ih * g->W;
    for (int64_t c = 0; c < g->pw; c++) r[c] = 0;
    for (int64_t c = 0; c < g->W; c++) r[g->pw + c] = s[c];
    for (int64_t c = g->pw + g->W; c < wd; c++) r[c] = 0;
  }
  float *b = d + (g->ph + g->H) * wd;
  for (int64_t i = 0; i < g->ph * wd; i++) b[i] = 0;
}
