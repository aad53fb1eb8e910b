/* ops/nn/nn_util.c — helpers shared by the nn plugin's operators (see nn_util.h). */
#include "nn_util.h"
#include "../common/graph_util.h"

#include <string.h>

int nn_pair(const char *op, const char *name, const nb_ints *v, int64_t def, int64_t out[2]) {
  if (v->n == 0) {
    out[0] = out[1] = def;
  } else if (v->n == 1) {
    out[0] = out[1] = v->v[0];
  } else if (v->n == 2) {
    out[0] = v->v[0];
    out[1] = v->v[1];
  } else {
    return nb_set_error(NB_EINVAL, "%s: %s must have 1 or 2 values, got %d", op, name, v->n);
  }
  for (int i = 0; i < 2; i++)
    if (out[i] > NN_ATTR_MAX || out[i] < -NN_ATTR_MAX)
      return nb_set_error(NB_EINVAL, "%s: %s value %lld is out of range (magnitude at most %lld)", op, name,
                          (long long)out[i], (long long)NN_ATTR_MAX);
  return 0;
}

static int64_t div_floor(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

int64_t nn_pool_out(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dil, bool ceil_mode) {
  int64_t span, num, last; /* (the arithmetic is checked: absurd sizes give INT64_MIN) */
  if (stride < 1 || __builtin_mul_overflow(dil, k - 1, &span) || __builtin_mul_overflow(pad, 2, &num) ||
      __builtin_add_overflow(num, in, &num) || __builtin_sub_overflow(num, span, &num) ||
      __builtin_add_overflow(num, (ceil_mode ? stride - 1 : 0) - 1, &num))
    return INT64_MIN;
  int64_t out = div_floor(num, stride) + 1;
  if (ceil_mode && !__builtin_mul_overflow(out - 1, stride, &last) && last >= in + pad) out--;
  return out;
}

int nn_pool_input(const char *op, const nb_tensor *x, int64_t *planes, int64_t *h, int64_t *w) {
  int nd = nb_ndim(x);
  const int64_t *sh = nb_shape(x);
  if (nd != 3 && nd != 4)
    return nb_set_error(NB_ESHAPE, "%s: expected 3-D (C, H, W) or 4-D (N, C, H, W) input, got %s", op,
                        nb_shape_of(x));
  for (int d = nd - 3; d < nd; d++)
    if (sh[d] == 0)
      return nb_set_error(NB_ESHAPE, "%s: expected non-empty channel and spatial dims, got input %s",
                          op, nb_shape_of(x));
  *planes = nd == 4 ? sh[0] * sh[1] : sh[0];
  *h = sh[nd - 2];
  *w = sh[nd - 1];
  return 0;
}

int nn_pool_alloc(nb_tensor *input, int64_t oh, int64_t ow, nb_tensor **x, nb_tensor **y) {
  int nd = nb_ndim(input);
  int64_t shape[NB_MAX_DIMS];
  memcpy(shape, nb_shape(input), sizeof(int64_t) * (size_t)nd);
  shape[nd - 2] = oh;
  shape[nd - 1] = ow;
  *x = ops_contig(input);
  *y = nb_empty(nd, shape, nb_dtype_of(input));
  return *x && *y ? 0 : nb_last_status();
}

int nn_pool_grad_alloc(nb_ctx *ctx, nb_tensor *grad_out, nb_tensor **g, nb_tensor **dx) {
  int nd;
  const int64_t *xs = nb_ctx_input_shape(ctx, 0, &nd);
  *dx = nb_empty(nd, xs, nb_ctx_input_dtype(ctx, 0));
  *g = ops_contig(grad_out);
  return *dx && *g ? 0 : nb_last_status();
}

int nn_pool_setup(const char *op, const nb_tensor *x, const nb_ints *k, const nb_ints *s,
                  const nb_ints *p, const nb_ints *d, bool ceil_mode, nn_pool *o) {
  int64_t kk[2] = {1, 1}, ss[2] = {1, 1}, pp[2] = {0, 0}, dd[2] = {1, 1};
  memset(o, 0, sizeof *o);
  if (nn_pool_input(op, x, &o->planes, &o->H, &o->W) < 0) return NB_ESHAPE;
  if (k->n == 0) return nb_set_error(NB_EINVAL, "%s: kernel_size is required", op);
  if (nn_pair(op, "kernel_size", k, 1, kk) < 0 || nn_pair(op, "stride", s->n ? s : k, 1, ss) < 0 ||
      nn_pair(op, "padding", p, 0, pp) < 0 || (d && nn_pair(op, "dilation", d, 1, dd) < 0))
    return NB_EINVAL;
  for (int i = 0; i < 2; i++)
    if (pp[i] > ((kk[i] - 1) * dd[i] + 1) / 2)
      return nb_set_error(NB_EINVAL,
                          "%s: padding should be at most half of the effective kernel size, got "
                          "padding [%lld,%lld] for kernel_size [%lld,%lld] and dilation [%lld,%lld]",
                          op, (long long)pp[0], (long long)pp[1], (long long)kk[0], (long long)kk[1],
                          (long long)dd[0], (long long)dd[1]);
  o->kh = kk[0], o->kw = kk[1], o->sh = ss[0], o->sw = ss[1], o->ph = pp[0], o->pw = pp[1];
  o->dh = dd[0], o->dw = dd[1];
  o->OH = nn_pool_out(o->H, o->kh, o->ph, o->sh, o->dh, ceil_mode);
  o->OW = nn_pool_out(o->W, o->kw, o->pw, o->sw, o->dw, ceil_mode);
  int64_t work; /* output cells times window cells must be countable (the kernels' grain) */
  if (o->OH == INT64_MIN || o->OW == INT64_MIN || __builtin_mul_overflow(o->OH, o->OW, &work) ||
      __builtin_mul_overflow(work, o->kh, &work) || __builtin_mul_overflow(work, o->kw, &work))
    return nb_set_error(NB_EINVAL,
                        "%s: output size overflows for input %s with kernel_size [%lld,%lld], stride "
                        "[%lld,%lld], padding [%lld,%lld] and dilation [%lld,%lld]",
                        op, nb_shape_of(x), (long long)kk[0], (long long)kk[1], (long long)ss[0],
                        (long long)ss[1], (long long)pp[0], (long long)pp[1], (long long)dd[0],
                        (long long)dd[1]);
  if (o->OH < 1 || o->OW < 1)
    return nb_set_error(NB_ESHAPE, "%s: input %s gives output size %lldx%lld, which is too small", op,
                        nb_shape_of(x), (long long)o->OH, (long long)o->OW);
  return 0;
}

/* Make strides of degenerate (size-1) matrix dims consistent, as BLIS wants. */
static void fix_strides(int64_t r, int64_t c, int64_t *rs, int64_t *cs) {
  if (r == 1 && c == 1) {
    *rs = 1;
    *cs = 1;
  } else if (r == 1) {
    *rs = c * *cs;
  } else if (c == 1) {
    *cs = r * *rs;
  }
}

int nn_gemm(nb_dtype dt, int64_t m, int64_t n, int64_t k, double alpha, const void *a,
            int64_t rs_a, int64_t cs_a, const void *b, int64_t rs_b, int64_t cs_b, double beta,
            void *c, int64_t rs_c, int64_t cs_c) {
  if (m == 0 || n == 0) return 0;
  fix_strides(m, n, &rs_c, &cs_c);
  if (k == 0) { /* C = beta * C */
    size_t es = nb_dtype_size(dt);
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        char *p = (char *)c + (size_t)(i * rs_c + j * cs_c) * es;
        if (dt == NB_F32)
          *(float *)p = beta == 0 ? 0.0f : (float)(beta * *(float *)p);
        else
          *(double *)p = beta == 0 ? 0.0 : beta * *(double *)p;
      }
    return 0;
  }
  fix_strides(m, k, &rs_a, &cs_a);
  fix_strides(k, n, &rs_b, &cs_b);
  return nb_gemm(dt, false, false, m, n, k, alpha, a, rs_a, cs_a, b, rs_b, cs_b, beta, c, rs_c,
                 cs_c);
}

/* True when the batch strides bs[0..nd) walk the batch as one run continuing a matrix
 * dimension of stride `base` (so the batch folds into that dimension). */
static bool chains(const int64_t *bs, const int64_t *shp, int nd, int64_t base) {
  int64_t expect = base;
  if (base == 0) return false;
  for (int d = nd - 1; d >= 0; d--) {
    if (bs[d] != expect) return false;
    expect *= shp[d];
  }
  return true;
}

static bool all_zero(const int64_t *bs, int nd) {
  for (int d = 0; d < nd; d++)
    if (bs[d] != 0) return false;
  return true;
}

int nn_gemm_batched(nb_dtype dt, int nb, const int64_t *bshape, int64_t m, int64_t n, int64_t k,
                    double alpha, const nn_mat *a, const nn_mat *b, double beta, nn_mat *c) {
  int64_t shp[NB_MAX_DIMS];
  nn_mat A = *a, B = *b, C = *c;
  int nd = 0;
  int64_t nbat = 1;
  for (int d = 0; d < nb; d++) {
    if (bshape[d] == 1) continue;
    shp[nd] = bshape[d];
    A.bs[nd] = a->bs[d];
    B.bs[nd] = b->bs[d];
    C.bs[nd] = c->bs[d];
    nbat *= bshape[d];
    nd++;
  }
  if (nbat == 0 || m == 0 || n == 0) return 0;
  if (nd == 0)
    return nn_gemm(dt, m, n, k, alpha, A.p, A.rs, A.cs, B.p, B.rs, B.cs, beta, C.p, C.rs, C.cs);

  /* Fold the batch into m: B shared, A's and C's rows continue across the batch. */
  if (all_zero(B.bs, nd)) {
    int64_t ars = m == 1 ? A.bs[nd - 1] : A.rs, crs = m == 1 ? C.bs[nd - 1] : C.rs;
    if (chains(A.bs, shp, nd, ars * m) && chains(C.bs, shp, nd, crs * m))
      return nn_gemm(dt, m * nbat, n, k, alpha, A.p, ars, A.cs, B.p, B.rs, B.cs, beta, C.p, crs,
                     C.cs);
  }
  /* Fold into n: A shared, B's and C's columns continue across the batch. */
  if (all_zero(A.bs, nd)) {
    int64_t bcs = n == 1 ? B.bs[nd - 1] : B.cs, ccs = n == 1 ? C.bs[nd - 1] : C.cs;
    if (chains(B.bs, shp, nd, bcs * n) && chains(C.bs, shp, nd, ccs * n))
      return nn_gemm(dt, m, n * nbat, k, alpha, A.p, A.rs, A.cs, B.p, B.rs, bcs, beta, C.p, C.rs,
                     ccs);
  }
  /* Fold into k: C shared (a sum over the batch), A's columns and B's rows continue. */
  if (all_zero(C.bs, nd)) {
    int64_t acs = k == 1 ? A.bs[nd - 1] : A.cs, brs = k == 1 ? B.bs[nd - 1] : B.rs;
    if (chains(A.bs, shp, nd, acs * k) && chains(B.bs, shp, nd, brs * k))
      return nn_gemm(dt, m, n, k * nbat, alpha, A.p, A.rs, acs, B.p, brs, B.cs, beta, C.p, C.rs,
                     C.cs);
  }

  size_t es = nb_dtype_size(dt);
  int64_t idx[NB_MAX_DIMS] = {0};
  for (int64_t it = 0; it < nbat; it++) {
    int64_t oa = 0, ob = 0, oc = 0;
    bool first = true; /* first visit of this C block */
    for (int d = 0; d < nd; d++) {
      oa += idx[d] * A.bs[d];
      ob += idx[d] * B.bs[d];
      oc += idx[d] * C.bs[d];
      if (C.bs[d] == 0 && idx[d] != 0) first = false;
    }
    int rc = nn_gemm(dt, m, n, k, alpha, (const char *)A.p + oa * (int64_t)es, A.rs, A.cs,
                     (const char *)B.p + ob * (int64_t)es, B.rs, B.cs, first ? beta : 1.0,
                     (char *)C.p + oc * (int64_t)es, C.rs, C.cs);
    if (rc < 0) return rc;
    for (int d = nd - 1; d >= 0; d--) {
      if (++idx[d] < shp[d]) break;
      idx[d] = 0;
    }
  }
  return 0;
}

int nn_avg_windows_alloc(nn_avg_windows *a) {
  int64_t n = 3 * (a->OH + a->OW);
  nb_tensor *t = nb_empty(1, &n, NB_I64);
  if (t == NULL) return nb_last_status();
  int64_t *p = nb_data(t);
  a->h0 = p, a->h1 = p + a->OH, a->hdiv = p + 2 * a->OH;
  p += 3 * a->OH;
  a->w0 = p, a->w1 = p + a->OW, a->wdiv = p + 2 * a->OW;
  return 0;
}

typedef struct avg_job {
  const nn_avg_windows *a;
  const void *src;
  void *dst;
} avg_job;

#define AVG_KERNELS(T, SUF)                                                                  \
  static void avg_fwd_##SUF(int64_t q0, int64_t q1, void *u) {                               \
    const avg_job *j = u;                                                                    \
    const nn_avg_windows *a = j->a;                                                          \
    for (int64_t q = q0; q < q1; q++) {                                                      \
      const T *x = (const T *)j->src + q * a->H * a->W;                                      \
      T *y = (T *)j->dst + q * a->OH * a->OW;                                                \
      for (int64_t oh = 0; oh < a->OH; oh++)                                                 \
        for (int64_t ow = 0; ow < a->OW; ow++) {                                             \
          double div = (double)(a->hdiv[oh] * a->wdiv[ow]), s = 0;                           \
          for (int64_t ih = a->h0[oh]; ih < a->h1[oh]; ih++)                                 \
            for (int64_t iw = a->w0[ow]; iw < a->w1[ow]; iw++) s += x[ih * a->W + iw];       \
          y[oh * a->OW + ow] = div > 0 ? (T)(s / div) : 0;                                   \
        }                                                                                    \
    }                                                                                        \
  }                                                                                          \
  static void avg_bwd_##SUF(int64_t q0, int64_t q1, void *u) {                               \
    const avg_job *j = u;                                                                    \
    const nn_avg_windows *a = j->a;                                                          \
    for (int64_t q = q0; q < q1; q++) {                                                      \
      const T *g = (const T *)j->src + q * a->OH * a->OW;                                    \
      T *dx = (T *)j->dst + q * a->H * a->W;                                                 \
      for (int64_t i = 0; i < a->H * a->W; i++) dx[i] = 0;                                   \
      for (int64_t oh = 0; oh < a->OH; oh++)                                                 \
        for (int64_t ow = 0; ow < a->OW; ow++) {                                             \
          double div = (double)(a->hdiv[oh] * a->wdiv[ow]);                                  \
          if (div == 0) continue;                                                            \
          T v = (T)(g[oh * a->OW + ow] / div);                                               \
          for (int64_t ih = a->h0[oh]; ih < a->h1[oh]; ih++)                                 \
            for (int64_t iw = a->w0[ow]; iw < a->w1[ow]; iw++) dx[ih * a->W + iw] += v;      \
        }                                                                                    \
    }                                                                                        \
  }

AVG_KERNELS(float, f32)
AVG_KERNELS(double, f64)

void nn_avg_windows_run(const nn_avg_windows *a, nb_dtype dt, bool backward, const void *src, void *dst,
                        int64_t grain) {
  avg_job j = {a, src, dst};
  nb_range_fn fn = backward ? (dt == NB_F32 ? avg_bwd_f32 : avg_bwd_f64) : (dt == NB_F32 ? avg_fwd_f32 : avg_fwd_f64);
  nb_parallel_for(a->planes, grain, fn, &j);
}

const nb_input_spec nn_pool_inputs[1] = {{"input", NB_DT_FLOAT, 0, "(N, C, H, W) or (C, H, W)"}};

int nn_pool_sample(nb_sample_sink *s, const char *desc, const int64_t *xs, int n_at, const nb_attr *at) {
  nb_tensor *x = nb_rand_range(4, xs, -1, 1, NB_F64, nb_sample_generator(s));
  return nb_sample_add(s, desc, 1, &x, n_at, at, 0);
}

const nb_input_spec nn_softmax_inputs[1] = {{"input", NB_DT_FLOAT, 0, "any shape"}};
const nb_attr_spec nn_softmax_attrs[1] = {
    {"dim", NB_ATTR_INT, 0, {.i = -1}, 0, 0, NULL, "dimension to normalise (negative counts from the end)"},
};

nb_tensor *nn_pool_scatter_graph(nb_tensor *src, nb_tensor *index, int64_t planes, int64_t H, int64_t W,
                                 int nd, const int64_t *xshape) {
  nb_tensor *z = nb_zeros(2, (int64_t[]){planes, H * W}, nb_dtype_of(src));
  nb_tensor *r = z ? nb_call1("scatter_add", 3, (nb_tensor *const[]){z, index, src}, 1, &NB_A_INT("dim", 1))
                   : NULL;
  return r ? gu_reshape(r, nd, xshape) : NULL;
}

nb_tensor *nn_avg_windows_graph(const nn_avg_windows *a, nb_tensor *g, int nd, const int64_t *xshape) {
  int64_t P = a->OH * a->OW, K = 1;
  for (int64_t oh = 0; oh < a->OH; oh++)
    for (int64_t ow = 0; ow < a->OW; ow++) {
      int64_t n = (a->h1[oh] - a->h0[oh]) * (a->w1[ow] - a->w0[ow]);
      if (n > K) K = n;
    }
  nb_tensor *wt = nb_zeros(2, (int64_t[]){P, K}, NB_F64);
  nb_tensor *pos = nb_zeros(2, (int64_t[]){a->planes, P * K}, NB_I64);
  if (!wt || !pos) return NULL;
  double *w = nb_data(wt);
  int64_t *ix = nb_data(pos);
  for (int64_t oh = 0; oh < a->OH; oh++)
    for (int64_t ow = 0; ow < a->OW; ow++) {
      int64_t o = oh * a->OW + ow, k = 0;
      double div = (double)(a->hdiv[oh] * a->wdiv[ow]);
      for (int64_t h = a->h0[oh]; h < a->h1[oh]; h++)
        for (int64_t c = a->w0[ow]; c < a->w1[ow]; c++, k++) {
          w[o * K + k] = div > 0 ? 1.0 / div : 0;
          ix[o * K + k] = h * a->W + c;
        }
    }
  for (int64_t q = 1; q < a->planes; q++) memcpy(ix + q * P * K, ix, (size_t)(P * K) * sizeof *ix);
  if (nb_dtype_of(g) != NB_F64 && !(wt = nb_call1("to_dtype", 1, &wt, 1, &NB_A_INT("dtype", nb_dtype_of(g)))))
    return NULL;
  nb_tensor *g3 = gu_reshape(g, 3, (int64_t[]){a->planes, P, 1});
  nb_tensor *gw = g3 ? NB_CALL("mul", g3, wt) : NULL;
  nb_tensor *src = gw ? gu_reshape(gw, 2, (int64_t[]){a->planes, P * K}) : NULL;
  return src ? nn_pool_scatter_graph(src, pos, a->planes, a->H, a->W, nd, xshape) : NULL;
}
