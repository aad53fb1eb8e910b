/* ops/nn/conv2d_wino.h — conv2d's Winograd F(2×2, 3×3) path (conv2d_wino.c) for float32
 * 3×3 stride-1 convolutions: forward, grad input and grad weight each as 16 GEMMs of
 * 4/9 the multiply-adds of the im2col GEMM. Internal to the nn plugin.
 */
#ifndef NABLA_OPS_NN_CONV2D_WINO_H
#define NABLA_OPS_NN_CONV2D_WINO_H

#include "conv2d_col.h"

/* True when conv2d of geometry g in dtype dt takes the Winograd path: float32, one group,
 * a 3×3 kernel with stride and dilation 1, padding at most 2, and enough tiles and
 * channels for it to beat im2col (see conv2d_wino.c). */
bool nn_wino_applies(nb_dtype dt, const cgeom *g);

/* y (N, M, OH, OW) = conv2d(x, w) + bias (bias may be NULL); geometry g must satisfy
 * nn_wino_applies. Returns 0 or a status (out of scratch memory). */
int nn_wino_forward(const cgeom *g, const float *x, const float *w, const float *bias, float *y);

/* The gradients for output gradient dy: dx (N, C, H, W) from weights w and dw (M, C,
 * 3, 3) from input x, both overwritten. Either of dx and dw may be NULL (then w or x may
 * be too). Returns 0 or a status (out of scratch memory). */
int nn_wino_backward(const cgeom *g, const float *x, const float *w, const float *dy, float *dx, float *dw);

#endif
