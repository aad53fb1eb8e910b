/* ops/nn/max_pool2d.c — "max_pool2d": PyTorch's F.max_pool2d over (N, C, H, W) or
 * (C, H, W) input with kernel_size, stride (default kernel_size), padding (-inf),
 * dilation and ceil_mode. Forward records the argmax of each window (flat index in its
 * H×W plane; a NaN wins, as in PyTorch); backward sends each gradient to that argmax.
 * Planes are independent and run in parallel; backward adds within a plane in order.
 */
#include "nn_util.h"
#include "../common/graph_util.h"

#include <math.h>
#include <string.h>

typedef struct mp_job {
  const nn_pool *p;
  const void *x;
  void *y;
  int64_t *idx;
  const void *g; /* backward */
  void *dx;
} mp_job;

/* Forward walks each window in row-major tap order and takes a tap when v > max or v is
 * NaN (so the last NaN wins, as in PyTorch). Windows wholly inside the plane (all but the
 * border ones) skip the bounds checks and make that choice through bit masks: GCC turns
 * a float ?: into a branch, which on real data mispredicts about every other tap (the
 * masked form took maxpool 16x64x32x32 3x3/2 from 8.8 to 6.2 ms, same bits and indices). */

/* float32 interior windows of stride 1 or 2, MP_LANES outputs at a time in vector
 * lanes: per lane the same taps in the same order and the same choice as one_ (a tap
 * wins when greater or NaN), so the same bits and indices; a window on its own is a
 * chain of dependent compares, ~25 instructions a tap. Stride-2 rows are split into
 * their even and odd columns first, so each tap is a contiguous load. Does windows
 * [ow, owb) (all interior) and returns owb, or returns ow when the lanes do not apply. */
#define MP_LANES 8
#define MP_VEC_ROW 4096 /* stride 2: most floats of the kh split input rows of one output row */
typedef float mp_v8f __attribute__((vector_size(4 * MP_LANES)));
typedef int32_t mp_v8i __attribute__((vector_size(4 * MP_LANES)));

NB_FAST_FP_BEGIN
NB_SIMD_CLONES static int64_t vec_f32(const nn_pool *p, const float *x, float *y, int64_t *ix, int64_t oh,
                                     int64_t h0, int64_t ow, int64_t owb) {
  int64_t hw2 = (p->W + 1) / 2;
  if ((p->sw != 1 && p->sw != 2) || p->H * p->W > INT32_MAX || (p->sw == 2 && p->kh * 2 * hw2 > MP_VEC_ROW) ||
      owb - ow < MP_LANES)
    return ow;
  float halves[MP_VEC_ROW]; /* stride 2: per kernel row, even columns then odd */
  if (p->sw == 2)
    for (int64_t ki = 0; ki < p->kh; ki++) {
      const float *r = x + (h0 + ki * p->dh) * p->W;
      float *e = halves + ki * 2 * hw2, *o = e + hw2;
      for (int64_t i = 0; i < p->W / 2; i++) {
        e[i] = r[2 * i];
        o[i] = r[2 * i + 1];
      }
      if (p->W % 2) e[p->W / 2] = r[p->W - 1];
    }
  mp_v8i lane;
  for (int l = 0; l < MP_LANES; l++) lane[l] = (int32_t)(l * p->sw);
  int64_t end = owb;
  for (; ow < end; ow += MP_LANES) {
    if (ow + MP_LANES > end) ow = end - MP_LANES; /* the last block overlaps: same values again */
    mp_v8f m = {0};
    mp_v8i best = {0};
    for (int64_t ki = 0; ki < p->kh; ki++)
      for (int64_t kj = 0; kj < p->kw; kj++) {
        int64_t col = ow * p->sw - p->pw + kj * p->dw, o = (h0 + ki * p->dh) * p->W + col; /* lane 0 */
        const float *src = p->sw == 1 ? x + o : halves + ki * 2 * hw2 + (col & 1) * hw2 + col / 2;
        mp_v8f a;
        memcpy(&a, src, sizeof a);
        mp_v8i at = lane + (int32_t)o;
        if (ki == 0 && kj == 0) {
          m = a, best = at;
          continue;
        }
        mp_v8i t = (a > m) | (a != a);
        m = (mp_v8f)(((mp_v8i)a & t) | ((mp_v8i)m & ~t));
        best = (at & t) | (best & ~t);
      }
    memcpy(y + oh * p->OW + ow, &m, sizeof m);
    if (ix)
      for (int l = 0; l < MP_LANES; l++) ix[oh * p->OW + ow + l] = best[l];
  }
  return end;
}
/* float32 2×2 windows of stride 2 without padding or dilation inside the plane (LeNet,
 * VGG): MP_LANES outputs at a time from two input rows, whose even and odd columns (the
 * four taps) are split out with vector shuffles; the same taps in the same order and
 * the same choice as one_, so the same bits and indices. Rows narrower than MP_LANES
 * outputs go window by window. Does plane q of the job. */
static bool pool22_applies(const nn_pool *p) {
  return p->kh == 2 && p->kw == 2 && p->sh == 2 && p->sw == 2 && p->ph == 0 && p->pw == 0 && p->dh == 1 &&
         p->dw == 1 && 2 * p->OH <= p->H && 2 * p->OW <= p->W && p->H * p->W <= INT32_MAX;
}

/* 2×2 stride-2 windows that tile the plane exactly (even H and W): backward writes each
 * input element once. */
static bool pool22_tiles(const nn_pool *p) {
  return pool22_applies(p) && p->H == 2 * p->OH && p->W == 2 * p->OW;
}

NB_SIMD_CLONES static void pool22_f32(const nn_pool *p, const float *x, float *y, int64_t *ix) {
  const mp_v8i even = {0, 2, 4, 6, 8, 10, 12, 14}, odd = even + 1;
  mp_v8i lane;
  for (int l = 0; l < MP_LANES; l++) lane[l] = 2 * l;
  int64_t W = p->W, OW = p->OW;
  for (int64_t oh = 0; oh < p->OH; oh++) {
    const float *r0 = x + 2 * oh * W;
    float *yr = y + oh * OW;
    int64_t *ir = ix ? ix + oh * OW : NULL;
    int64_t ow = 0;
    for (; OW >= MP_LANES && ow < OW; ow += MP_LANES) {
      if (ow + MP_LANES > OW) ow = OW - MP_LANES; /* the last block overlaps: same values again */
      mp_v8f a[4], t0, t1; /* taps (0,0), (0,1), (1,0), (1,1) */
      for (int r = 0; r < 2; r++) {
        memcpy(&t0, r0 + r * W + 2 * ow, sizeof t0);
        memcpy(&t1, r0 + r * W + 2 * ow + MP_LANES, sizeof t1);
        a[2 * r] = __builtin_shuffle(t0, t1, even);
        a[2 * r + 1] = __builtin_shuffle(t0, t1, odd);
      }
      mp_v8i at = lane + (int32_t)(2 * oh * W + 2 * ow), best = at;
      mp_v8f m = a[0];
      for (int k = 1; k < 4; k++) {
        mp_v8i tk = at + (int32_t)((k >> 1) * W + (k & 1));
        mp_v8i t = (a[k] > m) | (a[k] != a[k]);
        m = (mp_v8f)(((mp_v8i)a[k] & t) | ((mp_v8i)m & ~t));
        best = (tk & t) | (best & ~t);
      }
      memcpy(yr + ow, &m, sizeof m);
      if (ir)
        for (int l = 0; l < MP_LANES; l++) ir[ow + l] = best[l];
    }
    for (; ow < OW; ow++) {
      int64_t o0 = 2 * oh * W + 2 * ow, best = o0;
      union { float f; uint32_t u; } m = {x[o0]}, v;
      for (int k = 1; k < 4; k++) {
        int64_t o = o0 + (k >> 1) * W + (k & 1);
        v.f = x[o];
        int64_t t = -(int64_t)((v.f > m.f) | (v.f != v.f));
        m.u = (v.u & (uint32_t)t) | (m.u & ~(uint32_t)t);
        best = (o & t) | (best & ~t);
      }
      yr[ow] = m.f;
      if (ir) ir[ow] = best;
    }
  }
}

/* Backward of pool22_f32 when the windows tile the plane: each input element is
 * written once (the gradient at the window's argmax, 0 elsewhere: no zeroing pass),
 * MP_LANES windows at a time, interleaved back into the two rows with shuffles. A
 * gradient lands as 0 + g, as the general path's 0 += g does (-0 becomes +0). */
NB_SIMD_CLONES static void pool22_bwd_f32(const nn_pool *p, const float *g, const int64_t *ix, float *dx) {
  const mp_v8i lo = {0, 8, 1, 9, 2, 10, 3, 11}, hi = lo + 4;
  mp_v8i lane;
  for (int l = 0; l < MP_LANES; l++) lane[l] = 2 * l;
  int64_t W = p->W, OW = p->OW;
  for (int64_t oh = 0; oh < p->OH; oh++) {
    const float *gr = g + oh * OW;
    const int64_t *ir = ix + oh * OW;
    float *d0 = dx + 2 * oh * W;
    int64_t ow = 0;
    for (; OW >= MP_LANES && ow < OW; ow += MP_LANES) {
      if (ow + MP_LANES > OW) ow = OW - MP_LANES; /* the last block overlaps: same values again */
      mp_v8f v, zero = {0};
      memcpy(&v, gr + ow, sizeof v);
      v = zero + v;
      mp_v8i k; /* the argmax's offset from the window's first element */
      for (int l = 0; l < MP_LANES; l++) k[l] = (int32_t)(ir[ow + l] - 2 * oh * W - 2 * ow);
      k -= lane;
      mp_v8f t[4];
      for (int q = 0; q < 4; q++)
        t[q] = (mp_v8f)((mp_v8i)v & (k == (int32_t)((q >> 1) * W + (q & 1))));
      for (int r = 0; r < 2; r++) {
        mp_v8f a = __builtin_shuffle(t[2 * r], t[2 * r + 1], lo), b = __builtin_shuffle(t[2 * r], t[2 * r + 1], hi);
        memcpy(d0 + r * W + 2 * ow, &a, sizeof a);
        memcpy(d0 + r * W + 2 * ow + MP_LANES, &b, sizeof b);
      }
    }
    for (; ow < OW; ow++) { /* (bit masks, not branches: the argmax's place is random) */
      int64_t b = 2 * oh * W + 2 * ow, k = ir[ow] - b;
      union { float f; uint32_t u; } v = {0.0f + gr[ow]}, d[4];
      d[0].u = v.u & (0u - (uint32_t)(k == 0));
      d[1].u = v.u & (0u - (uint32_t)(k == 1));
      d[2].u = v.u & (0u - (uint32_t)(k == W));
      d[3].u = v.u & (0u - (uint32_t)(k == W + 1));
      dx[b] = d[0].f;
      dx[b + 1] = d[1].f;
      dx[b + W] = d[2].f;
      dx[b + W + 1] = d[3].f;
    }
  }
}
NB_FAST_FP_END
/* (float64 keeps the window-by-window form) */
static inline int64_t vec_f64(const nn_pool *p, const double *x, double *y, int64_t *ix, int64_t oh, int64_t h0,
                              int64_t ow, int64_t owb) {
  (void)p, (void)x, (void)y, (void)ix, (void)oh, (void)h0, (void)owb;
  return ow;
}

#define MP_KERNELS(T, UT, SUF)                                                               \
  /* the window of output (oh, ow): h0 = oh·sh − ph, ki0 its first row inside the plane */  \
  static inline void one_##SUF(const nn_pool *p, const T *x, T *y, int64_t *ix, int64_t oh,  \
                               int64_t ow, int64_t h0, int64_t ki0, bool row_in) {           \
    int64_t w0 = ow * p->sw - p->pw;                                                         \
    int64_t kj0 = w0 < 0 ? (-w0 + p->dw - 1) / p->dw : 0;                                    \
    if (row_in && kj0 == 0 && w0 + (p->kw - 1) * p->dw < p->W) {                             \
      int64_t o0 = h0 * p->W + w0, best = o0;                                                \
      union { T f; UT u; } m = {x[o0]}, a;                                                   \
      for (int64_t ki = 0; ki < p->kh; ki++)                                                 \
        for (int64_t kj = ki == 0; kj < p->kw; kj++) {                                       \
          int64_t o = o0 + ki * p->dh * p->W + kj * p->dw;                                   \
          a.f = x[o];                                                                        \
          int64_t t = -(int64_t)((a.f > m.f) | (a.f != a.f));                                \
          m.u = (a.u & (UT)t) | (m.u & ~(UT)t);                                              \
          best = (o & t) | (best & ~t);                                                      \
        }                                                                                    \
      y[oh * p->OW + ow] = m.f;                                                              \
      if (ix) ix[oh * p->OW + ow] = best;                                                    \
      return;                                                                                \
    }                                                                                        \
    int64_t ih0 = h0 + ki0 * p->dh, iw0 = w0 + kj0 * p->dw; /* first tap inside */          \
    int64_t best = ki0 < p->kh && kj0 < p->kw && ih0 < p->H && iw0 < p->W                       \
                       ? ih0 * p->W + iw0                                                    \
                       : -1; /* a window entirely in padding: no gradient */                \
    T m = -INFINITY;                                                                         \
    for (int64_t ki = ki0; ki < p->kh; ki++) {                                               \
      int64_t ih = h0 + ki * p->dh;                                                          \
      if (ih >= p->H) break;                                                                 \
      for (int64_t kj = kj0; kj < p->kw; kj++) {                                             \
        int64_t iw = w0 + kj * p->dw;                                                        \
        if (iw >= p->W) break;                                                               \
        T v = x[ih * p->W + iw];                                                             \
        if (v > m || isnan(v)) {                                                             \
          m = v;                                                                             \
          best = ih * p->W + iw;                                                             \
        }                                                                                    \
      }                                                                                      \
    }                                                                                        \
    y[oh * p->OW + ow] = m;                                                                  \
    if (ix) ix[oh * p->OW + ow] = best;                                                      \
  }                                                                                          \
  static void fwd_##SUF(int64_t q0, int64_t q1, void *u) {                                   \
    const mp_job *j = u;                                                                     \
    const nn_pool *p = j->p;                                                                 \
    /* output columns [owa, owb) have windows wholly inside the plane's columns */          \
    int64_t owa = (p->pw + p->sw - 1) / p->sw, lim = p->W - 1 - (p->kw - 1) * p->dw + p->pw;  \
    int64_t owb = lim < 0 ? 0 : lim / p->sw + 1;                                             \
    if (owb > p->OW) owb = p->OW;                                                            \
    for (int64_t q = q0; q < q1; q++) {                                                      \
      const T *x = (const T *)j->x + q * p->H * p->W;                                        \
      T *y = (T *)j->y + q * p->OH * p->OW;                                                  \
      int64_t *ix = j->idx ? j->idx + q * p->OH * p->OW : NULL;                              \
      if (sizeof(T) == sizeof(float) && pool22_applies(p)) {                                 \
        pool22_f32(p, (const float *)x, (float *)y, ix);                                     \
        continue;                                                                            \
      }                                                                                      \
      for (int64_t oh = 0; oh < p->OH; oh++) {                                               \
        int64_t h0 = oh * p->sh - p->ph;                                                     \
        int64_t ki0 = h0 < 0 ? (-h0 + p->dh - 1) / p->dh : 0;                                \
        bool row_in = ki0 == 0 && h0 + (p->kh - 1) * p->dh < p->H;                           \
        int64_t ow = 0;                                                                      \
        if (row_in && owa < owb) {                                                           \
          for (; ow < owa; ow++) one_##SUF(p, x, y, ix, oh, ow, h0, ki0, row_in);            \
          ow = vec_##SUF(p, x, y, ix, oh, h0, ow, owb);                                      \
        }                                                                                    \
        for (; ow < p->OW; ow++) one_##SUF(p, x, y, ix, oh, ow, h0, ki0, row_in);            \
      }                                                                                      \
    }                                                                                        \
  }                                                                                          \
  static void bwd_##SUF(int64_t q0, int64_t q1, void *u) {                                   \
    const mp_job *j = u;                                                                     \
    const nn_pool *p = j->p;                                                                 \
    if (sizeof(T) == sizeof(float) && pool22_tiles(p)) {                                     \
      for (int64_t q = q0; q < q1; q++)                                                      \
        pool22_bwd_f32(p, (const float *)j->g + q * p->OH * p->OW, j->idx + q * p->OH * p->OW, \
                       (float *)j->dx + q * p->H * p->W);                                    \
      return;                                                                                \
    }                                                                                        \
    memset((T *)j->dx + q0 * p->H * p->W, 0, sizeof(T) * (size_t)((q1 - q0) * p->H * p->W)); \
    for (int64_t q = q0; q < q1; q++) {                                                      \
      T *dx = (T *)j->dx + q * p->H * p->W;                                                  \
      const T *g = (const T *)j->g + q * p->OH * p->OW;                                      \
      const int64_t *ix = j->idx + q * p->OH * p->OW;                                        \
      for (int64_t o = 0; o < p->OH * p->OW; o++)                                            \
        if (ix[o] >= 0) dx[ix[o]] += g[o];                                                   \
    }                                                                                        \
  }

MP_KERNELS(float, uint32_t, f32)
MP_KERNELS(double, uint64_t, f64)

static int setup(const nb_tensor *x, const nb_attr_value *a, nn_pool *p) {
  return nn_pool_setup("max_pool2d", x, &a[0].ints, &a[1].ints, &a[2].ints, &a[3].ints, a[4].i != 0, p);
}

static int max_pool2d_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                              nb_tensor **out) {
  nn_pool p;
  nb_tensor *x, *y;
  if (setup(in[0], attrs, &p) < 0 || nn_pool_alloc(in[0], p.OH, p.OW, &x, &y) < 0)
    return nb_last_status();
  bool rec = nb_ctx_recording(ctx);
  nb_tensor *idx = rec ? nb_empty(nb_ndim(y), nb_shape(y), NB_I64) : NULL;
  if (rec && idx == NULL) return nb_last_status();
  mp_job j = {&p, nb_data(x), nb_data(y), idx ? nb_data(idx) : NULL, NULL, NULL};
  int64_t work = p.OH * p.OW * p.kh * p.kw;
  bool f32 = nb_dtype_of(x) == NB_F32;
  nb_parallel_for(p.planes, 1 + NB_PARALLEL_GRAIN / (work + 1), f32 ? fwd_f32 : fwd_f64, &j);
  if (rec && nb_ctx_save(ctx, idx) < 0) return nb_last_status();
  out[0] = y;
  return 0;
}

static int max_pool2d_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *idx = nb_ctx_saved(ctx, 0), *g, *dx;
  nn_pool p; /* forward's geometry (dx has the input's shape) */
  if (idx == NULL || nn_pool_grad_alloc(ctx, grad_out[0], &g, &dx) < 0 || setup(dx, nb_ctx_attrs(ctx), &p) < 0)
    return nb_last_status();
  p.OH = nb_shape(idx)[nb_ndim(idx) - 2];
  p.OW = nb_shape(idx)[nb_ndim(idx) - 1];
  mp_job j = {&p, NULL, NULL, nb_data(idx), nb_data(g), nb_data(dx)};
  bool f32 = nb_dtype_of(dx) == NB_F32;
  nb_parallel_for(p.planes, 1 + NB_PARALLEL_GRAIN / (p.H * p.W + 1), f32 ? bwd_f32 : bwd_f64, &j);
  grad_in[0] = dx;
  return 0;
}

/* Recorded: each gradient scattered (scatter_add) to its saved argmax in the plane. */
static int max_pool2d_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *idx = nb_ctx_saved(ctx, 0);
  if (idx == NULL) return nb_last_status();
  int nd;
  const int64_t *xs = nb_ctx_input_shape(ctx, 0, &nd);
  int64_t H = xs[nd - 2], W = xs[nd - 1], M = nb_shape(idx)[nb_ndim(idx) - 2] * nb_shape(idx)[nb_ndim(idx) - 1];
  int64_t planes = M > 0 ? nb_numel(idx) / M : 0;
  nb_tensor *i2 = gu_reshape(idx, 2, (int64_t[]){planes, M});
  nb_tensor *g2 = i2 ? gu_reshape(grad_out[0], 2, (int64_t[]){planes, M}) : NULL;
  grad_in[0] = g2 ? nn_pool_scatter_graph(g2, i2, planes, H, W, nd, xs) : NULL;
  return grad_in[0] ? 0 : nb_last_status();
}

static int max_pool2d_samples(nb_sample_sink *s) {
  int rc = 0;
#define S(...) (int64_t[]){__VA_ARGS__}
#define A(...) (nb_attr[]){__VA_ARGS__}
  rc |= nn_pool_sample(s, "2x2 (stride = kernel)", S(2, 2, 4, 4), 1, A(NB_A_INTS("kernel_size", 2, 2)));
  rc |= nn_pool_sample(s, "3x3 stride 2 padding 1 (ResNet stem)", S(1, 2, 5, 5), 3,
                       A(NB_A_INTS("kernel_size", 3, 3), NB_A_INTS("stride", 2, 2), NB_A_INTS("padding", 1, 1)));
  rc |= nn_pool_sample(s, "overlapping windows, stride 1", S(1, 1, 4, 5), 2,
                       A(NB_A_INTS("kernel_size", 2, 3), NB_A_INTS("stride", 1, 1)));
  rc |= nn_pool_sample(s, "dilation 2", S(1, 2, 6, 6), 2,
                       A(NB_A_INTS("kernel_size", 2, 2), NB_A_INTS("dilation", 2, 2)));
  rc |= nn_pool_sample(s, "ceil_mode", S(1, 2, 5, 5), 3,
                       A(NB_A_INTS("kernel_size", 2, 2), NB_A_INTS("stride", 2, 2), NB_A_BOOL("ceil_mode", 1)));
#undef S
#undef A
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_output_spec outputs[] = {{"out", 0, "window maxima, (N, C, OH, OW)"}};
static const nb_attr_spec attrs[] = {
    NN_POOL_KERNEL_STRIDE_ATTRS,
    {"padding", NB_ATTR_INTS, NB_ATTR_HAS_MIN, {.ints = {2, {0, 0}}}, 0, 0, NULL,
     "implicit -inf on both sides, at most half the effective kernel"},
    {"dilation", NB_ATTR_INTS, NB_ATTR_HAS_MIN, {.ints = {2, {1, 1}}}, 1, 0, NULL,
     "spacing between window elements"},
    {"ceil_mode", NB_ATTR_BOOL, 0, {.i = 0}, 0, 0, NULL,
     "round the output size up (a last window must start inside the input or left padding)"},
};

const nb_op_desc op_max_pool2d = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "max_pool2d",
    .doc = "2-D max pooling as PyTorch's F.max_pool2d. The gradient of each window goes to "
           "its argmax (overlapping windows add up). Output size per dim: "
           "floor((H + 2p - d(k-1) - 1)/s) + 1 (ceil with ceil_mode).",
    .n_inputs = 1,
    .inputs = nn_pool_inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .n_attrs = 5,
    .attrs = attrs,
    .forward = max_pool2d_forward,
    .backward = max_pool2d_backward,
    .backward_graph = max_pool2d_backward_graph,
    .samples = max_pool2d_samples,
    .saves = "int64 argmax indices (flat in each H x W plane), same shape as the output",
};
