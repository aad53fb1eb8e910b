/* ops/nn/conv2d.c — "conv2d": 2-D convolution over NCHW input (PyTorch's F.conv2d) with
 * stride, padding, dilation, groups and an optional bias.
 *
 * Everything is GEMM-shaped. Per group, the input patches are unfolded (im2col, in
 * conv2d_col.c) into a K×P matrix (K = C/groups·kH·kW rows, P = OH·OW columns) in
 * nb_scratch memory, and
 *   forward      Y_g  = W_g · col            (Mg×K · K×P)
 *   grad weight  dW_gᵀ += col · G_gᵀ         (K×P · P×Mg, transposed into dW at the end)
 *   grad input   dcol = W_gᵀ · G_g, folded back (col2im) into dx
 * When P is small (deep layers) several samples share one column matrix so the GEMMs
 * stay wide; a 1×1 stride-1 unpadded convolution uses the input itself as col. Column
 * matrices larger than L2 are built and consumed in blocks of whole channels.
 * float32 3×3 stride-1 convolutions with enough tiles and channels take the Winograd
 * F(2×2, 3×3) path instead (conv2d_wino.c): 16 GEMMs of 4/9 the multiply-adds each way;
 * float32 stride-1 convolutions of one input channel (first layers on grey images) run
 * forward and the weight gradient directly on padded planes (conv2d_direct.c), and
 * float32 layers with a few output channels (at most two vectors) over several input
 * channels with output channels across the vector lanes (conv2d_lanes.c); those two
 * take the input gradient through per-sample column matrices, samples in parallel.
 * Output size per dim: floor((H + 2p − d(k−1) − 1)/s) + 1.
 */
#include "conv2d_col.h"
#include "conv2d_direct.h"
#include "conv2d_lanes.h"
#include "conv2d_wino.h"
#include "seg_sum.h"

#include <string.h>

/* Largest column matrices (all chunks of the batch) forward keeps for backward (see
 * col_forward): LeNet's two convolutions need 5 and 4 MB. */
#define CONV_KEEP_BYTES ((size_t)8 << 20)

/* Target width (columns) of a column matrix shared by several samples. */
#define NN_CONV_COLS 256


static int setup(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_attr_value *at, cgeom *g) {
  memset(g, 0, sizeof *g);
  if (ops_same_dtype("conv2d", x, "input", w, "weight") < 0 ||
      ops_same_dtype("conv2d", x, "input", b, "bias") < 0)
    return NB_EDTYPE;
  int xd = nb_ndim(x);
  if (xd != 3 && xd != 4)
    return nb_set_error(NB_ESHAPE,
                        "conv2d: expected 3-D (unbatched) or 4-D (batched) input, got input of shape %s",
                        nb_shape_of(x));
  if (nb_ndim(w) != 4)
    return nb_set_error(NB_ESHAPE,
                        "conv2d: expected 4-D weight (out_channels, in_channels/groups, kH, kW), got %s",
                        nb_shape_of(w));
  int64_t st[2], pd[2], dl[2];
  if (nn_pair("conv2d", "stride", &at[0].ints, 1, st) < 0 ||
      nn_pair("conv2d", "padding", &at[1].ints, 0, pd) < 0 ||
      nn_pair("conv2d", "dilation", &at[2].ints, 1, dl) < 0)
    return NB_EINVAL;
  const int64_t *xs = nb_shape(x), *ws = nb_shape(w);
  g->batched = xd == 4;
  g->N = xd == 4 ? xs[0] : 1;
  g->C = xs[xd - 3], g->H = xs[xd - 2], g->W = xs[xd - 1];
  g->M = ws[0], g->Cg = ws[1], g->kh = ws[2], g->kw = ws[3];
  g->sh = st[0], g->sw = st[1], g->ph = pd[0], g->pw = pd[1], g->dh = dl[0], g->dw = dl[1];
  g->G = at[3].i;
  if (g->G > NN_ATTR_MAX)
    return nb_set_error(NB_EINVAL, "conv2d: groups value %lld is out of range (at most %lld)",
                        (long long)g->G, (long long)NN_ATTR_MAX);
  /* Sizes derived from the weight's and input's dims (a weight with no output channels may
   * have any kernel size) and the attributes (at most NN_ATTR_MAX): all checked, so no
   * product below can overflow int64. */
  int64_t eh, ew, hp, wp, cg, kk, p;
  if (__builtin_mul_overflow(g->dh, g->kh - 1, &eh) || __builtin_add_overflow(eh, 1, &eh) ||
      __builtin_mul_overflow(g->dw, g->kw - 1, &ew) || __builtin_add_overflow(ew, 1, &ew) ||
      __builtin_add_overflow(g->H, 2 * g->ph, &hp) || __builtin_add_overflow(g->W, 2 * g->pw, &wp) ||
      __builtin_mul_overflow(g->Cg, g->G, &cg) || __builtin_mul_overflow(g->kh, g->kw, &kk) ||
      __builtin_mul_overflow(kk, g->Cg, &kk) ||
      __builtin_mul_overflow(hp / g->sh + 1, wp / g->sw + 1, &p) || __builtin_mul_overflow(p, kk, &p) ||
      __builtin_mul_overflow(p, g->N > 0 ? g->N : 1, &p))
    return nb_set_error(NB_EINVAL,
                        "conv2d: sizes overflow for input %s, weight %s, stride [%lld,%lld], padding "
                        "[%lld,%lld], dilation [%lld,%lld] and groups %lld",
                        nb_shape_of(x), nb_shape_of(w), (long long)st[0], (long long)st[1],
                        (long long)pd[0], (long long)pd[1], (long long)dl[0], (long long)dl[1],
                        (long long)g->G);
  if (g->M % g->G != 0)
    return nb_set_error(NB_ESHAPE,
                        "conv2d: given groups=%lld, expected weight to be divisible by %lld at dimension 0, "
                        "but got weight of shape %s",
                        (long long)g->G, (long long)g->G, nb_shape_of(w));
  if (g->Cg * g->G != g->C)
    return nb_set_error(NB_ESHAPE,
                        "conv2d: given groups=%lld, weight of shape %s, expected input %s to have %lld "
                        "channels, but got %lld channels instead",
                        (long long)g->G, nb_shape_of(w), nb_shape_of(x), (long long)(g->Cg * g->G),
                        (long long)g->C);
  if (b != NULL && (nb_ndim(b) != 1 || nb_shape(b)[0] != g->M))
    return nb_set_error(NB_ESHAPE,
                        "conv2d: given weight of shape %s, expected bias to be 1-D with %lld elements, got %s",
                        nb_shape_of(w), (long long)g->M, nb_shape_of(b));
  if (g->kh == 0 || g->kw == 0)
    return nb_set_error(NB_ESHAPE, "conv2d: weight of shape %s has an empty kernel (input %s)",
                        nb_shape_of(w), nb_shape_of(x));
  if (g->H + 2 * g->ph < eh || g->W + 2 * g->pw < ew)
    return nb_set_error(NB_ESHAPE,
                        "conv2d: padded input size per channel (%lld x %lld) is smaller than the "
                        "dilated kernel (%lld x %lld) for input %s and weight %s",
                        (long long)(g->H + 2 * g->ph), (long long)(g->W + 2 * g->pw), (long long)eh,
                        (long long)ew, nb_shape_of(x), nb_shape_of(w));
  g->OH = (g->H + 2 * g->ph - eh) / g->sh + 1;
  g->OW = (g->W + 2 * g->pw - ew) / g->sw + 1;
  g->Mg = g->M / g->G;
  g->K = g->Cg * g->kh * g->kw;
  g->P = g->OH * g->OW;
  g->direct = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
  /* The whole batch in one column matrix when that fits CONV_KEEP_BYTES (small layers,
   * LeNet's: one im2col, one GEMM each way and one col2im, each running on all threads,
   * instead of a few hundred small parallel regions a step). Otherwise batch samples
   * into one column matrix until it is ~NN_CONV_COLS columns wide (narrow GEMMs are
   * inefficient), within an 8 MB column buffer. */
  g->nc = 1;
  size_t es = nb_dtype_size(nb_dtype_of(x));
  if (!g->direct && g->P > 0 && g->N > 1 && (size_t)(g->K * (g->N * g->P + 16)) * es <= CONV_KEEP_BYTES) {
    g->nc = g->N;
  } else if (!g->direct && g->P > 0 && g->P < NN_CONV_COLS) {
    g->nc = (NN_CONV_COLS + g->P - 1) / g->P;
    int64_t cap = ((int64_t)1 << 20) / (g->K > 0 ? g->K : 1) / g->P;
    if (g->nc > cap) g->nc = cap > 0 ? cap : 1;
    if (g->nc > g->N) g->nc = g->N > 0 ? g->N : 1;
  }
  return 0;
}

/* Copy between an Mg × (cn·P) matrix and cn planes of Mg × P inside an (N, M, P) tensor,
 * optionally adding bias (to_tensor) — used when samples share a column matrix. The
 * samples run in parallel (a whole batch is one chunk for small layers). */
typedef struct scatter_job {
  nb_dtype dt;
  const cgeom *g;
  void *tensor, *mat;
  int64_t ld;
  const void *bias;
  bool to_tensor;
} scatter_job;

static void scatter_range(int64_t s0, int64_t s1, void *u) {
  const scatter_job *j = u;
  const cgeom *g = j->g;
  size_t es = nb_dtype_size(j->dt);
  for (int64_t s = s0; s < s1; s++)
    for (int64_t m = 0; m < g->Mg; m++) {
      char *t = (char *)j->tensor + (size_t)((s * g->M + m) * g->P) * es;
      char *a = (char *)j->mat + (size_t)(m * j->ld + s * g->P) * es;
      if (!j->to_tensor) {
        memcpy(a, t, es * (size_t)g->P);
      } else if (j->bias == NULL) {
        memcpy(t, a, es * (size_t)g->P);
      } else if (j->dt == NB_F32) {
        float bv = ((const float *)j->bias)[m];
        for (int64_t p = 0; p < g->P; p++) ((float *)t)[p] = ((float *)a)[p] + bv;
      } else {
        double bv = ((const double *)j->bias)[m];
        for (int64_t p = 0; p < g->P; p++) ((double *)t)[p] = ((double *)a)[p] + bv;
      }
    }
}

static void scatter(nb_dtype dt, const cgeom *g, void *tensor, void *mat, int64_t cn, int64_t ld,
                    const void *bias, bool to_tensor) {
  scatter_job j = {dt, g, tensor, mat, ld, bias, to_tensor};
  nb_parallel_for(cn, 1 + NB_PARALLEL_GRAIN / (g->Mg * g->P + 1), scatter_range, &j);
}

/* Gᵀ ((cn·P) × Mg, row stride ldt) from cn samples' Mg × P output gradients (ysz apart),
 * samples in parallel. */
typedef struct gt_job {
  nb_dtype dt;
  const cgeom *g;
  const char *gs;
  char *gtb;
  int64_t ysz, ldt;
} gt_job;

static void gt_range(int64_t s0, int64_t s1, void *u) {
  const gt_job *j = u;
  size_t es = nb_dtype_size(j->dt);
  for (int64_t s = s0; s < s1; s++)
    nn_conv_transpose(j->dt, j->gs + (size_t)(s * j->ysz) * es, j->g->P, j->gtb + (size_t)(s * j->g->P * j->ldt) * es,
                      j->ldt, j->g->Mg, j->g->P);
}

/* Elements between the column matrices of consecutive chunks in a kept buffer (room for
 * the widest row stride, nn_conv_col_ld <= columns + 16, of any chunk). */
static int64_t kept_chunk(const cgeom *g) { return g->K * (g->nc * g->P + 16); }

/* Column-matrix rows handled per block (whole input channels, ~BLIS's KC of 256) when
 * the whole matrix would not fit L2 (CONV_BLOCK_BYTES): each block's im2col is then
 * consumed by its GEMM while still in L2, where the full K × cols matrix of a deep layer
 * (2304 × 256 floats = 2.3 MB) would spill to L3. Narrow (batch-1 deep) matrices are
 * not split: more, narrower GEMMs cost more than they save there. */
#define CONV_BLOCK_ROWS 256
#define CONV_BLOCK_BYTES ((size_t)1 << 20)

/* Channels per block: at most CONV_BLOCK_ROWS rows, blocks of near-equal size. */
static int64_t channel_block(const cgeom *g, size_t es) {
  int64_t kk = g->kh * g->kw, cb = CONV_BLOCK_ROWS / (kk > 0 ? kk : 1), cols = g->nc * g->P;
  if (cb < 1) cb = 1;
  if (g->direct || cb >= g->Cg || cols < 128 || (size_t)(g->K * cols) * es <= CONV_BLOCK_BYTES)
    return g->Cg > 0 ? g->Cg : 1;
  int64_t nb = (g->Cg + cb - 1) / cb;
  return (g->Cg + nb - 1) / nb;
}

/* The geometry of channels [c0, c0 + cw) of a group, for im2col/col2im of one block
 * (the input pointer is offset to channel c0 by the caller). */
static cgeom block_geom(const cgeom *g, int64_t cw) {
  cgeom b = *g;
  b.Cg = cw;
  b.K = cw * g->kh * g->kw;
  return b;
}

/* y = conv2d(x, w) + b through im2col GEMMs. *kept is set to the column matrix kept for
 * the weight gradient (see below), or NULL. */
static int col_forward(nb_ctx *ctx, const cgeom *gp, nb_dtype dt, nb_tensor *x, nb_tensor *w, nb_tensor *b,
                       nb_tensor *y, nb_tensor **keptp) {
  const cgeom g = *gp;
  size_t es = nb_dtype_size(dt);
  char *xp = nb_data(x), *wp = nb_data(w), *yp = nb_data(y);
  const char *bp = b ? nb_data(b) : NULL;
  void *col = NULL, *tmp = NULL;
  int64_t ldmax = g.nc * g.P + 16; /* >= col_ld of any chunk */
  int64_t kk = g.kh * g.kw, cb = channel_block(&g, es);
  /* The column matrices of the whole batch, chunk after chunk (each kept_chunk() apart),
   * are kept for the weight gradient, which then skips its own im2col, when they fit
   * CONV_KEEP_BYTES (so memory stays bounded). */
  nb_tensor *kept = NULL;
  int64_t nkeep = (g.N + g.nc - 1) / (g.nc > 0 ? g.nc : 1) * kept_chunk(&g);
  if (!g.direct && g.G == 1 && g.N > 0 && nb_ctx_recording(ctx) && nb_ctx_needs_input_grad(ctx, 1) &&
      (size_t)nkeep * es <= CONV_KEEP_BYTES) {
    if ((kept = nb_empty(1, &nkeep, dt)) == NULL) return nb_last_status();
    col = nb_data(kept);
  } else if (!g.direct) {
    col = nb_scratch(0, es * (size_t)(cb * kk * ldmax) + 64);
  }
  *keptp = kept;
  if (g.nc > 1) tmp = nb_scratch(1, es * (size_t)(g.Mg * ldmax) + 64);
  if ((!g.direct && col == NULL) || (g.nc > 1 && tmp == NULL)) return nb_last_status();
  int64_t xsz = g.C * g.H * g.W, ysz = g.M * g.P;
  for (int64_t n0 = 0; n0 < g.N; n0 += g.nc) {
    int64_t cn = g.N - n0 < g.nc ? g.N - n0 : g.nc;
    for (int64_t gi = 0; gi < g.G; gi++) {
      const char *xg = xp + (size_t)(n0 * xsz + gi * g.Cg * g.H * g.W) * es;
      int64_t ld = g.direct ? g.P : nn_conv_col_ld(&g, cn, es);
      const char *wg = wp + (size_t)(gi * g.Mg * g.K) * es;
      char *yg = yp + (size_t)(n0 * ysz + gi * g.Mg * g.P) * es;
      const char *bg = bp ? bp + (size_t)(gi * g.Mg) * es : NULL;
      double beta = 0.0;
      if (cn == 1 && bg != NULL) { /* write the bias, then let the GEMMs accumulate onto it */
        for (int64_t m = 0; m < g.Mg; m++)
          for (int64_t p = 0; p < g.P; p++) {
            if (dt == NB_F32)
              ((float *)yg)[m * g.P + p] = ((const float *)bg)[m];
            else
              ((double *)yg)[m * g.P + p] = ((const double *)bg)[m];
          }
        beta = 1.0;
      }
      /* Y (+)= W[:, block] · col_block over the channel blocks */
      for (int64_t c0 = 0; c0 == 0 || c0 < g.Cg; c0 += cb) { /* (once for 0 channels: Y = bias) */
        int64_t cw = g.Cg - c0 < cb ? g.Cg - c0 : cb, r0 = c0 * kk;
        const char *bm = xg; /* direct: the input is the column matrix */
        if (!g.direct) {
          cgeom gb = block_geom(&g, cw);
          char *cbk = kept ? (char *)col + (size_t)(n0 / g.nc * kept_chunk(&g) + r0 * ld) * es : col;
          nn_conv_im2col(dt, &gb, xg + (size_t)(c0 * g.H * g.W) * es, cbk, cn, ld);
          bm = cbk;
        }
        if (nn_gemm(dt, g.Mg, cn * g.P, cw * kk, 1.0, wg + (size_t)r0 * es, g.K, 1, bm, ld, 1,
                    c0 == 0 ? beta : 1.0, cn == 1 ? (void *)yg : tmp, cn == 1 ? g.P : ld, 1) < 0)
          return nb_last_status();
      }
      if (cn > 1) scatter(dt, &g, yg, tmp, cn, ld, bg, true);
    }
  }
  return 0;
}

static int conv2d_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                          nb_tensor **out) {
  cgeom g;
  if (setup(in[0], in[1], in[2], attrs, &g) < 0) return nb_last_status();
  nb_dtype dt = nb_dtype_of(in[0]);
  nb_tensor *x = ops_contig(in[0]), *w = ops_contig(in[1]), *b = ops_contig(in[2]);
  int64_t ys[4] = {g.N, g.M, g.OH, g.OW};
  nb_tensor *y = g.batched ? nb_empty(4, ys, dt) : nb_empty(3, ys + 1, dt);
  if (x == NULL || w == NULL || y == NULL || (in[2] != NULL && b == NULL)) return nb_last_status();
  nb_tensor *kept = NULL;
  const float *bf = b ? nb_data(b) : NULL; /* (the float32 paths') */
  int rc = 0;
  if (nn_direct_applies(dt, &g)) /* (the same order as nn_conv2d_grads) */
    nn_direct_forward(&g, nb_data(x), nb_data(w), bf, nb_data(y));
  else if (nn_wino_applies(dt, &g))
    rc = nn_wino_forward(&g, nb_data(x), nb_data(w), bf, nb_data(y));
  else if (nn_lanes_applies(dt, &g))
    rc = nn_lanes_forward(&g, nb_data(x), nb_data(w), bf, nb_data(y));
  else
    rc = col_forward(ctx, &g, dt, x, w, b, y, &kept);
  if (rc < 0) return nb_last_status();
  /* fixed slots (0: input, when weight needs a gradient; 1: weight, when input does; 2:
   * the kept column matrix): a backward restricted to some inputs reads the right one */
  if (nb_ctx_recording(ctx) &&
      (nb_ctx_save(ctx, nb_ctx_needs_input_grad(ctx, 1) ? in[0] : NULL) < 0 ||
       nb_ctx_save(ctx, nb_ctx_needs_input_grad(ctx, 0) ? in[1] : NULL) < 0))
    return nb_last_status();
  if (kept != NULL) {
    int one = 1;
    if (nb_ctx_save(ctx, kept) < 0 || nb_ctx_save_blob(ctx, &one, sizeof one) < 0) return nb_last_status();
  }
  out[0] = y;
  return 0;
}

typedef struct bias_job {
  nb_dtype dt;
  const cgeom *g;
  const void *go;
  void *db;
} bias_job;

static void bias_sum(int64_t m0, int64_t m1, void *u) {
  bias_job *j = u;
  const cgeom *g = j->g;
  for (int64_t m = m0; m < m1; m++) {
    double acc = 0;
    for (int64_t n = 0; n < g->N; n++) {
      int64_t o = (n * g->M + m) * g->P;
      if (j->dt == NB_F32)
        acc += seg_sum((const float *)j->go + o, g->P, false, 0);
      else
        for (int64_t p = 0; p < g->P; p++) acc += ((const double *)j->go)[o + p];
    }
    if (j->dt == NB_F32)
      ((float *)j->db)[m] = (float)acc;
    else
      ((double *)j->db)[m] = acc;
  }
}

/* dx and dw (either may be NULL; every element is overwritten) through im2col GEMMs, from
 * the output gradient gp; kept is forward's column matrix or NULL. */
static int col_backward(const cgeom *gg, nb_dtype dt, nb_tensor *x, nb_tensor *w, const char *gp, nb_tensor *dx,
                        nb_tensor *dw, nb_tensor *kept) {
  const cgeom g = *gg;
  bool need_x = dx != NULL, need_w = dw != NULL;
  size_t es = nb_dtype_size(dt);
  void *col = NULL, *dcol = NULL, *gbuf = NULL;
  char *wtb = NULL, *gtb = NULL;
  int64_t ldmax = g.nc * g.P + 16; /* >= col_ld of any chunk */
  /* With BLIS's GEMM the weight gradient is accumulated transposed, dWᵀ_g (K × Mg) +=
   * col · Gᵀ, from a transposed copy of the output gradient: all three operands
   * row-major, which BLIS's small-matrix path runs ~20% faster than G · colᵀ
   * (column-major B). nabla's own kernels pack both ways alike, so there dW = G · colᵀ
   * is written in place: no transposes of G and of dW (9.4 MB for a 512-channel 3×3
   * layer; ResNet-18's batch-16 step, 2 threads: 80.8-81.0 -> 75.4-76.2 ms). */
  int64_t ldt = nn_conv_pad_ld(g.Mg, es);
  /* (the core runs k <= 8 with column-major B through its own faster loop: keep G · colᵀ
   * when the whole batch has that few columns) */
  bool wtrans = need_w && g.N * g.P > 8 && strcmp(nb_gemm_kernel(), "blis") == 0;
  size_t wtsz = (es * (size_t)(g.G * g.K * ldt) + 63) & ~(size_t)63;
  if (wtrans) {
    wtb = nb_scratch(3, wtsz + es * (size_t)(g.nc * g.P * ldt) + 64);
    gtb = wtb ? wtb + wtsz : NULL;
  }
  int64_t kk = g.kh * g.kw, cb = channel_block(&g, es);
  if (need_w && !g.direct && !kept) col = nb_scratch(0, es * (size_t)(cb * kk * ldmax) + 64);
  if (need_x && !g.direct) dcol = nb_scratch(1, es * (size_t)(cb * kk * ldmax) + 64);
  bool need_gbuf = g.nc > 1 && (need_x || (need_w && !wtrans));
  if (need_gbuf) gbuf = nb_scratch(2, es * (size_t)(g.Mg * ldmax) + 64);
  if ((wtrans && !wtb) || (need_w && !g.direct && !kept && !col) || (need_x && !g.direct && !dcol) ||
      (need_gbuf && !gbuf))
    return nb_last_status();
  int64_t xsz = g.C * g.H * g.W, ysz = g.M * g.P;
  for (int64_t n0 = 0; n0 < g.N && (need_x || need_w); n0 += g.nc) {
    int64_t cn = g.N - n0 < g.nc ? g.N - n0 : g.nc, ncol = cn * g.P;
    /* column matrices use the padded stride; the gradient is read in place for one sample */
    int64_t ldc = g.direct ? g.P : nn_conv_col_ld(&g, cn, es), ldg = cn > 1 ? ldc : g.P;
    for (int64_t gi = 0; gi < g.G; gi++) {
      const char *gm = gp + (size_t)(n0 * ysz + gi * g.Mg * g.P) * es, *gs = gm;
      if (cn > 1 && (need_x || (need_w && !wtrans))) { /* G_g as one Mg × ncol matrix */
        scatter(dt, &g, (void *)gm, gbuf, cn, ldg, NULL, false);
        gm = gbuf;
      }
      size_t xoff = (size_t)(n0 * xsz + gi * g.Cg * g.H * g.W) * es;
      size_t woff = (size_t)(gi * g.Mg * g.K) * es;
      char *wtg = wtb ? wtb + (size_t)(gi * g.K * ldt) * es : NULL;
      if (wtrans) { /* Gᵀ: (cn·P) × Mg */
        gt_job tj = {dt, &g, gs, gtb, ysz, ldt};
        nb_parallel_for(cn, 1 + NB_PARALLEL_GRAIN / (g.Mg * g.P + 1), gt_range, &tj);
      }
      bool last = n0 + g.nc >= g.N;
      for (int64_t c0 = 0; c0 == 0 || c0 < g.Cg; c0 += cb) { /* channel blocks (once for 0) */
        int64_t cw = g.Cg - c0 < cb ? g.Cg - c0 : cb, r0 = c0 * kk, kb = cw * kk;
        cgeom gb = block_geom(&g, cw);
        size_t xb = xoff + (size_t)(c0 * g.H * g.W) * es;
        if (need_w) { /* dW_g[:, block] (+)= G_g · col_blockᵀ */
          const char *cm = (const char *)nb_data(x) + xb;
          if (kept) { /* forward's columns (same chunks, same stride) */
            cm = (const char *)nb_data(kept) + (size_t)(n0 / g.nc * kept_chunk(&g) + r0 * ldc) * es;
          } else if (!g.direct) {
            nn_conv_im2col(dt, &gb, cm, col, cn, ldc);
            cm = col;
          }
          if (!wtrans) {
            if (nn_gemm(dt, g.Mg, kb, ncol, 1.0, gm, ldg, 1, cm, 1, ldc, n0 == 0 ? 0.0 : 1.0,
                        (char *)nb_data(dw) + woff + (size_t)r0 * es, g.K, 1) < 0)
              return nb_last_status();
          } else {
            char *wtk = wtg + (size_t)(r0 * ldt) * es;
            if (nn_gemm(dt, kb, g.Mg, ncol, 1.0, cm, ldc, 1, gtb, ldt, 1, n0 == 0 ? 0.0 : 1.0, wtk, ldt, 1) < 0)
              return nb_last_status();
            if (last) /* the block is final: into dW while it is still in cache */
              nn_conv_transpose(dt, wtk, ldt, (char *)nb_data(dw) + woff + (size_t)r0 * es, g.K, kb, g.Mg);
          }
        }
        if (need_x) { /* dcol = W_g[:, block]ᵀ · G_g, folded back into dx */
          const char *wk = (const char *)nb_data(w) + woff + (size_t)r0 * es;
          char *dxb = (char *)nb_data(dx) + xb;
          if (g.direct) {
            if (nn_gemm(dt, kb, ncol, g.Mg, 1.0, wk, 1, g.K, gm, ldg, 1, 0.0, dxb, g.P, 1) < 0)
              return nb_last_status();
          } else {
            if (nn_gemm(dt, kb, ncol, g.Mg, 1.0, wk, 1, g.K, gm, ldg, 1, 0.0, dcol, ldc, 1) < 0)
              return nb_last_status();
            nn_conv_col2im(dt, &gb, dxb, dcol, cn, ldc);
          }
        }
      }
    }
  }
  return 0;
}

/* dx through per-sample column matrices, the samples in parallel: each thread computes
 * dcol = Wᵀ · G for one sample of its own at a time and folds it into dx while it is in
 * its cache (the whole batch's column matrix, 3.8 MB for LeNet's second layer, would go
 * through L3 twice, and its GEMM and fold each be one more parallel region). For the
 * direct and lanes paths, whose weight gradient needs no column matrix. */
typedef struct dx_job {
  nb_dtype dt;
  const cgeom *g;
  const char *w, *gp;
  char *dx;
  int failed;
} dx_job;

static void dx_samples(int64_t n0, int64_t n1, void *u) {
  dx_job *j = u;
  const cgeom *g = j->g;
  size_t es = nb_dtype_size(j->dt);
  void *dcol = nb_scratch(1, es * (size_t)(g->K * g->P) + 64);
  if (dcol == NULL) {
    __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    return;
  }
  for (int64_t n = n0; n < n1; n++)
    for (int64_t gi = 0; gi < g->G; gi++) {
      const char *wg = j->w + (size_t)(gi * g->Mg * g->K) * es;
      const char *gm = j->gp + (size_t)((n * g->M + gi * g->Mg) * g->P) * es;
      if (nn_gemm(j->dt, g->K, g->P, g->Mg, 1.0, wg, 1, g->K, gm, g->P, 1, 0.0, dcol, g->P, 1) < 0) {
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        return;
      }
      nn_conv_col2im(j->dt, g, j->dx + (size_t)((n * g->C + gi * g->Cg) * g->H * g->W) * es, dcol, 1, g->P);
    }
}

/* Per-sample column matrices at most this large take dx_samples (in L2 on any CPU). */
#define CONV_SAMPLE_COL_BYTES ((size_t)256 << 10)

static int input_grad(const cgeom *g, nb_dtype dt, nb_tensor *w, const char *gp, nb_tensor *dx) {
  if (g->direct || g->N < 2 || (size_t)(g->K * g->P) * nb_dtype_size(dt) > CONV_SAMPLE_COL_BYTES)
    return col_backward(g, dt, NULL, w, gp, dx, NULL, NULL);
  dx_job j = {dt, g, nb_data(w), gp, nb_data(dx), 0};
  nb_parallel_for(g->N, 1, dx_samples, &j);
  if (__atomic_load_n(&j.failed, __ATOMIC_RELAXED))
    return nb_set_error(NB_ENOMEM, "conv2d: out of memory for the input gradient's column matrices");
  return 0;
}

/* db[m] = Σ over samples and positions of the output gradient of channel m. */
static nb_tensor *bias_grad(nb_dtype dt, const cgeom *g, nb_tensor *gout) {
  nb_tensor *go = ops_contig(gout), *db = go ? nb_empty(1, &g->M, dt) : NULL;
  if (db == NULL) return NULL;
  bias_job j = {dt, g, nb_data(go), nb_data(db)};
  nb_parallel_for(g->M, 1 + NB_PARALLEL_GRAIN / (g->N * g->P + 1), bias_sum, &j);
  return db;
}

int nn_conv2d_grads(nb_dtype dt, int xnd, const int64_t *xsh, nb_tensor *x, const int64_t *wsh,
                    nb_tensor *w, nb_tensor *gout, const nb_attr_value *attrs, nb_tensor *kept,
                    nb_tensor **dx, nb_tensor **dw, nb_tensor **db) {
  bool need_x = dx != NULL, need_w = dw != NULL;
  /* geometry from the shapes (stand-ins for operands that were not given) */
  nb_tensor *xs = x ? x : nb_empty(xnd, xsh, dt), *wt = w ? w : nb_empty(4, wsh, dt);
  cgeom g;
  if (xs == NULL || wt == NULL || setup(xs, wt, NULL, attrs, &g) < 0) return nb_last_status();
  int64_t ys[4] = {g.N, g.M, g.OH, g.OW};
  const int64_t *os = g.batched ? ys : ys + 1;
  int ond = g.batched ? 4 : 3;
  bool fits = nb_ndim(gout) == ond && nb_dtype_of(gout) == dt;
  for (int d = 0; fits && d < ond; d++) fits = nb_shape(gout)[d] == os[d];
  if (!fits)
    return nb_set_error(NB_ESHAPE, "conv2d: the output gradient is %s %s; this convolution's output "
                        "is %s %s", nb_dtype_name(nb_dtype_of(gout)), nb_shape_of(gout),
                        nb_dtype_name(dt), nb_shape_str(ond, os, (char[96]){0}, 96));
  nb_tensor *go = ops_contig(gout);
  if (x) x = ops_contig(x);
  if (w) w = ops_contig(w);
  if (go == NULL || (need_w && x == NULL) || (need_x && w == NULL)) return nb_last_status();
  const char *gp = nb_data(go);
  bool wino = nn_wino_applies(dt, &g);
  if (need_x) *dx = nb_empty(xnd, xsh, dt); /* (col2im and the GEMMs overwrite every plane) */
  if (need_w) *dw = nb_empty(4, wsh, dt);
  if ((need_x && *dx == NULL) || (need_w && *dw == NULL)) return nb_last_status();
  if (wino) {
    if (nn_wino_backward(&g, x ? nb_data(x) : NULL, w ? nb_data(w) : NULL, (const float *)gp,
                         need_x ? nb_data(*dx) : NULL, need_w ? nb_data(*dw) : NULL) < 0)
      return nb_last_status();
  } else if (nn_direct_applies(dt, &g)) { /* the weight gradient direct, dx (rare) through im2col */
    if (need_w && db && !(*db = nb_empty(1, &g.M, dt))) return nb_last_status();
    if (need_w) nn_direct_weight_grad(&g, nb_data(x), (const float *)gp, nb_data(*dw), db ? nb_data(*db) : NULL);
    if (need_w) db = NULL; /* (done, in the same pass) */
    if (need_x && input_grad(&g, dt, w, gp, *dx) < 0) return nb_last_status();
  } else if (nn_lanes_applies(dt, &g)) { /* the weight gradient direct, dx through im2col */
    if (need_w && nn_lanes_weight_grad(&g, nb_data(x), (const float *)gp, nb_data(*dw)) < 0)
      return nb_last_status();
    if (need_x && input_grad(&g, dt, w, gp, *dx) < 0) return nb_last_status();
  } else if (col_backward(&g, dt, x, w, gp, need_x ? *dx : NULL, need_w ? *dw : NULL, kept) < 0) {
    return nb_last_status();
  }
  if (need_w && g.N == 0) nb_fill(*dw, 0.0);
  if (db && !(*db = bias_grad(dt, &g, go))) return nb_last_status();
  return 0;
}

static int conv2d_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  bool need_x = nb_ctx_needs_input_grad(ctx, 0), need_w = nb_ctx_needs_input_grad(ctx, 1);
  int xnd, wnd;
  nb_tensor *x = need_w ? nb_ctx_saved(ctx, 0) : NULL;
  nb_tensor *w = need_x ? nb_ctx_saved(ctx, 1) : NULL;
  if ((need_w && x == NULL) || (need_x && w == NULL)) return nb_last_status();
  size_t bsz = 0;
  const int *kflag = nb_ctx_blob(ctx, &bsz);
  nb_tensor *kept = kflag && bsz == sizeof *kflag && *kflag ? nb_ctx_saved(ctx, 2) : NULL;
  if (kflag && bsz == sizeof *kflag && *kflag && kept == NULL) return nb_last_status();
  nb_dtype dt = nb_ctx_input_dtype(ctx, 0);
  const int64_t *xsh = nb_ctx_input_shape(ctx, 0, &xnd), *wsh = nb_ctx_input_shape(ctx, 1, &wnd);
  if (nn_conv2d_grads(dt, xnd, xsh, x, wsh, w, grad_out[0], nb_ctx_attrs(ctx), kept,
                      need_x ? &grad_in[0] : NULL, need_w ? &grad_in[1] : NULL,
                      nb_ctx_needs_input_grad(ctx, 2) ? &grad_in[2] : NULL) < 0)
    return nb_last_status();
  return 0;
}

nb_tensor *nn_conv2d_call(const char *name, nb_tensor *a, nb_tensor *b, const nb_attr_value *at,
                          int64_t h, int64_t w) {
  bool conv = strcmp(name, "conv2d") == 0;
  nb_attr attrs[5] = {{.name = "stride", .type = NB_ATTR_INTS, .v = at[0]},
                      {.name = "padding", .type = NB_ATTR_INTS, .v = at[1]},
                      {.name = "dilation", .type = NB_ATTR_INTS, .v = at[2]},
                      NB_A_INT("groups", at[3].i),
                      strcmp(name, "conv2d_input_grad") == 0 ? NB_A_INTS("input_size", h, w)
                                                             : NB_A_INTS("kernel_size", h, w)};
  return nb_call1(name, conv ? 3 : 2, (nb_tensor *const[]){a, b, NULL}, conv ? 4 : 5, attrs);
}

/* The same gradients with dispatched ops, for NB_CREATE_GRAPH: the input and weight
 * gradients are the ops conv2d_input_grad and conv2d_weight_grad (conv2d_grad.c), which
 * are differentiable again; the bias gradient is a sum. */
static int conv2d_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  bool need_x = nb_ctx_needs_input_grad(ctx, 0), need_w = nb_ctx_needs_input_grad(ctx, 1);
  int xnd, wnd;
  nb_tensor *x = need_w ? nb_ctx_saved(ctx, 0) : NULL; /* fixed slots: see conv2d_forward */
  nb_tensor *w = need_x ? nb_ctx_saved(ctx, 1) : NULL;
  if ((need_w && x == NULL) || (need_x && w == NULL)) return nb_last_status();
  const int64_t *xsh = nb_ctx_input_shape(ctx, 0, &xnd), *wsh = nb_ctx_input_shape(ctx, 1, &wnd);
  nb_tensor *g = grad_out[0];
  if (need_x && !(grad_in[0] = nn_conv2d_call("conv2d_input_grad", g, w, nb_ctx_attrs(ctx),
                                                   xsh[xnd - 2], xsh[xnd - 1])))
    return nb_last_status();
  if (need_w && !(grad_in[1] = nn_conv2d_call("conv2d_weight_grad", x, g, nb_ctx_attrs(ctx),
                                                   wsh[2], wsh[3])))
    return nb_last_status();
  if (nb_ctx_needs_input_grad(ctx, 2)) {
    nb_attr dims = xnd == 4 ? NB_A_INTS("dim", 0, 2, 3) : NB_A_INTS("dim", 1, 2);
    if (!(grad_in[2] = nb_call1("sum", 1, &g, 1, &dims))) return nb_last_status();
  }
  return 0;
}

/* ---- samples and schema ---------------------------------------------------------------- */

static int sample(nb_sample_sink *s, const char *desc, const int64_t *xs, const int64_t *ws,
                  bool bias, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw,
                  int64_t groups) {
  nb_generator *gen = nb_sample_generator(s);
  nb_tensor *in[3] = {nb_rand_range(4, xs, -1, 1, NB_F64, gen), nb_rand_range(4, ws, -1, 1, NB_F64, gen),
                      bias ? nb_rand_range(1, ws, -1, 1, NB_F64, gen) : NULL};
  nb_attr at[4] = {NB_A_INTS("stride", sh, sw), NB_A_INTS("padding", ph, pw),
                   NB_A_INTS("dilation", dh, dw), NB_A_INT("groups", groups)};
  return nb_sample_add(s, desc, 3, in, 4, at, 0);
}

static int conv2d_samples(nb_sample_sink *s) {
  int rc = 0;
#define S(...) (int64_t[]){__VA_ARGS__}
  rc |= sample(s, "3x3, bias", S(2, 2, 5, 5), S(3, 2, 3, 3), true, 1, 1, 0, 0, 1, 1, 1);
  rc |= sample(s, "stride 2, padding 1", S(1, 2, 6, 5), S(2, 2, 3, 3), true, 2, 2, 1, 1, 1, 1, 1);
  rc |= sample(s, "dilation 2, padding 2", S(1, 1, 6, 6), S(2, 1, 3, 3), true, 1, 1, 2, 2, 2, 2, 1);
  rc |= sample(s, "groups 2, no bias", S(2, 4, 4, 4), S(6, 2, 3, 3), false, 1, 1, 1, 1, 1, 1, 2);
  rc |= sample(s, "depthwise (groups = channels)", S(1, 3, 4, 4), S(3, 1, 2, 2), true, 1, 1, 0, 0, 1, 1, 3);
  rc |= sample(s, "1x1 (direct GEMM)", S(2, 3, 3, 4), S(4, 3, 1, 1), true, 1, 1, 0, 0, 1, 1, 1);
  rc |= sample(s, "1x1 stride 2", S(1, 3, 5, 5), S(2, 3, 1, 1), false, 2, 2, 0, 0, 1, 1, 1);
  rc |= sample(s, "non-square kernel, stride and padding", S(1, 2, 5, 7), S(2, 2, 2, 3), true, 2, 1, 1, 0, 1, 2, 1);
  rc |= sample(s, "batch of 5 sharing a column matrix", S(5, 2, 3, 3), S(3, 2, 2, 2), true, 1, 1, 0, 0, 1, 1, 1);
#undef S
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_input_spec inputs[] = {
    {"input", NB_DT_FLOAT, 0, "(N, C, H, W), or (C, H, W) unbatched"},
    {"weight", NB_DT_FLOAT, 0, "(out_channels, C/groups, kH, kW)"},
    {"bias", NB_DT_FLOAT, NB_IN_OPTIONAL, "(out_channels), optional"},
};
static const nb_output_spec outputs[] = {
    {"out", 0, "(N, out_channels, OH, OW) with OH = floor((H + 2p - d(kH-1) - 1)/s) + 1"},
};
static const nb_attr_spec attrs[] = {NN_CONV2D_ATTR_SPECS};

const nb_op_desc op_conv2d = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "conv2d",
    .doc = "2-D convolution (cross-correlation) over NCHW input, as PyTorch's F.conv2d. "
           "Forward, grad input and grad weight are GEMMs (nb_gemm) over an im2col matrix kept in "
           "scratch memory (col2im folds the input gradient back); small spatial outputs "
           "batch several samples per GEMM. float32 3x3 stride-1 convolutions with enough "
           "tiles and channels use Winograd F(2x2, 3x3) instead: 16 GEMMs with 4/9 of the "
           "multiply-adds, in forward and both gradients; float32 stride-1 convolutions of "
           "one input channel (first layers on grey images) run forward and the weight "
           "gradient directly on zero-padded planes, and float32 layers of at most 16 or 32 "
           "output channels (AVX2, AVX-512) over several input channels directly with the "
           "output channels across vector lanes. Output size per dim: "
           "floor((H + 2*padding - dilation*(k-1) - 1)/stride) + 1.",
    .n_inputs = 3,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .n_attrs = 4,
    .attrs = attrs,
    .forward = conv2d_forward,
    .backward = conv2d_backward,
    .samples = conv2d_samples,
    .backward_graph = conv2d_backward_graph,
    .saves = "input (when weight needs a gradient) and weight (when input does)",
};
