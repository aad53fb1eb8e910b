/* ops/nn/conv2d_lanes.h — conv2d's lanes path (conv2d_lanes.c): direct float32
 * convolution with the output channels across the vector lanes, for layers with few
 * output channels and several input channels (LeNet's 6 → 16, 5×5 on 14×14). Forward
 * and the weight gradient run without a column matrix. Internal to the nn plugin.
 */
#ifndef NABLA_OPS_NN_CONV2D_LANES_H
#define NABLA_OPS_NN_CONV2D_LANES_H

#include "conv2d_col.h"

/* True when conv2d of geometry g in dtype dt takes the lanes path: float32, one group,
 * at least two input channels, at most two vectors of output channels (32 with the
 * AVX-512 kernels, 16 with AVX2's; the GEMM's kernel choice, nb_gemm_kernel(), picks
 * the instruction set, and without either the path is off), stride and dilation 1
 * along the width, a kernel at most 7 wide and more than one tap. */
bool nn_lanes_applies(nb_dtype dt, const cgeom *g);

/* y (N, M, OH, OW) = conv2d(x, w) + bias (bias may be NULL); g must satisfy
 * nn_lanes_applies. Samples run in parallel. Returns 0, or NB_ENOMEM (error set) when
 * scratch memory cannot be had. */
int nn_lanes_forward(const cgeom *g, const float *x, const float *w, const float *bias, float *y);

/* dw (M, C, kh, kw) = the weight gradient for output gradient dy and input x,
 * overwritten; g must satisfy nn_lanes_applies. Runs over (input channel, kernel row)
 * units in parallel, each summing every sample in a fixed order (the same bits for any
 * thread count). Returns 0, or NB_ENOMEM (error set). */
int nn_lanes_weight_grad(const cgeom *g, const float *x, const float *dy, float *dw);

#endif
