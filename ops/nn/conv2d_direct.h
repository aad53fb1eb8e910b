/* ops/nn/conv2d_direct.h — conv2d's direct path (conv2d_direct.c) for float32 first
 * layers: one input channel, small kernels, stride and dilation 1 (LeNet's 5×5 conv on
 * 28×28 digits). Forward and the weight gradient run on the zero-padded input planes
 * without a column matrix. Internal to the nn plugin.
 */
#ifndef NABLA_OPS_NN_CONV2D_DIRECT_H
#define NABLA_OPS_NN_CONV2D_DIRECT_H

#include "conv2d_col.h"

/* True when conv2d of geometry g in dtype dt takes the direct path: float32, one group
 * of one input channel, a kernel of at most 7×7 with stride and dilation 1, outputs at
 * most 64 wide and a padded input at most 128 rows high. */
bool nn_direct_applies(nb_dtype dt, const cgeom *g);

/* y (N, M, OH, OW) = conv2d(x, w) + bias (bias may be NULL); g must satisfy
 * nn_direct_applies. Runs with nb_parallel_for over the samples. */
void nn_direct_forward(const cgeom *g, const float *x, const float *w, const float *bias, float *y);

/* dw (M, 1, kh, kw) = the weight gradient for output gradient dy and input x, and,
 * when db is not NULL, db (M) = the bias gradient in the same pass over dy (the same
 * sums as the im2col path's), both overwritten; g must satisfy nn_direct_applies. Runs
 * with nb_parallel_for over the output channels, each summing the samples in order
 * (the same bits for any thread count). */
void nn_direct_weight_grad(const cgeom *g, const float *x, const float *dy, float *dw, float *db);

#endif
