/* ops/nn/conv2d_col.h — conv2d's geometry and the data movement around its GEMMs
 * (conv2d_col.c): im2col, col2im and a matrix transpose. Internal to the nn plugin.
 *
 * A column matrix of cn samples has K = Cg·kh·kw rows (channel-major, then kernel row,
 * kernel column) and cn·P columns (sample-major, then output row, output column), row
 * stride ld >= cn·P.
 */
#ifndef NABLA_OPS_NN_CONV2D_COL_H
#define NABLA_OPS_NN_CONV2D_COL_H

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

#endif
