/* ops/nn/conv2d_col.h — conv2d's geometry and the data movement around its GEMMs
 * (conv2d_col.c): im2col, col2im and a matrix transpose. Internal to the nn plugin.
 *
 * A column matrix of cn samples has K = Cg·kh·kw rows (channel-major, then kernel row,
 * kernel column) and cn·P columns (sample-major, then output row, output column), row
 * stride ld >= cn·P.
 */
#ifndef NABLA_OPS_NN_CONV2D_COL_H
#define NABLA_OPS_NN_CONV2D_COL_H

#include <string.h>

#include "nn_util.h"

typedef struct cgeom {
  int64_t N, C, H, W, M, kh, kw, sh, sw, ph, pw, dh, dw, G, OH, OW, Cg, Mg, K, P;
  int64_t nc; /* samples per column matrix */
  bool direct; /* 1×1, stride 1, no padding: col is the input itself */
  bool batched;
} cgeom;

/* Row stride for a matrix of n columns: n, plus 16 elements when that is a multiple of
 * 1 KB — BLIS packs and streams such matrices up to 2x slower (cache-set aliasing of
 * the rows; 64x1024x147 sgemm: 48 -> 71..96 GFLOP/s with the padded stride). */
static inline int64_t nn_conv_pad_ld(int64_t n, size_t es) {
  return n >= 64 && ((size_t)n * es) % 1024 == 0 ? n + 16 : n;
}
/* Row stride of a column matrix of cn samples. */
static inline int64_t nn_conv_col_ld(const cgeom *g, int64_t cn, size_t es) {
  return nn_conv_pad_ld(cn * g->P, es);
}

/* col (K × cn·P, row stride ld) = the patches of the cn samples starting at x (the first
 * of the group's g->Cg channels; samples g->C·H·W apart). Runs with nb_parallel_for. */
void nn_conv_im2col(nb_dtype dt, const cgeom *g, const void *x, void *col, int64_t cn, int64_t ld);

/* Folds the column matrix col (laid out as for nn_conv_im2col) back into dx: each of the
 * cn samples' g->Cg planes there is overwritten with its sum. col is scratch and may be
 * modified. */
void nn_conv_col2im(nb_dtype dt, const cgeom *g, void *dx, void *col, int64_t cn, int64_t ld);

/* dst (cols × rows, row stride ldd) = transpose of src (rows × cols, row stride lds). */
void nn_conv_transpose(nb_dtype dt, const void *src, int64_t lds, void *dst, int64_t ldd, int64_t rows,
                       int64_t cols);

/* ---- shared by the direct float32 paths (conv2d_direct.c, conv2d_lanes.c) ---- */

/* Floats per vector of the FMA kernels that follow the GEMM's instruction-set choice
 * (nb_gemm_kernel()): 16 (AVX-512), 8 (AVX2) or 0 (neither: the direct paths' plain
 * kernels or im2col). */
int nn_conv_fma_lanes(void);

/* d (H + 2·ph rows of wd >= W + 2·pw floats) = plane x (H × W) of geometry g with
 * zeros around it, the columns past W + 2·pw zero too. */
void nn_conv_pad_plane(const cgeom *g, const float *x, float *d, int64_t wd);

typedef float nn_v8f __attribute__((vector_size(32)));
typedef double nn_v8d __attribute__((vector_size(64)));

/* tot[i] += f[i] in double for i < n, n a multiple of 8 (inlined into each kernel, so it
 * compiles for the kernel's instruction set): how the direct paths add each sample's
 * float sums into their totals. */
static inline __attribute__((always_inline)) void nn_add_f64(double *tot, const float *f, int n) {
  for (int h = 0; h < n; h += 8) {
    nn_v8f a;
    nn_v8d t;
    memcpy(&a, f + h, sizeof a);
    memcpy(&t, tot + h, sizeof t);
    t += __builtin_convertvector(a, nn_v8d);
    memcpy(tot + h, &t, sizeof t);
  }
}

#endif
