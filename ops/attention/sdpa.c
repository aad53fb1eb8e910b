/* ops/attention/sdpa.c — "scaled_dot_product_attention": softmax(Q·Kᵀ·scale + mask)·V
 * over (..., L, E) queries, (..., S, E) keys and (..., S, Ev) values with equal leading
 * dims, as F.scaled_dot_product_attention without dropout or an explicit mask; is_causal
 * masks key j > query i (PyTorch's lower-triangular mask). scale defaults to 1/√E.
 *
 * Fused: each batch entry runs on one thread (batches in parallel): two GEMMs through
 * nb_gemm and a row softmax in between (e^x by ew_exp.h, vectorisable; sums in double);
 * the probabilities P are saved for backward.
 * Backward per batch entry: dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P))·scale,
 * dQ = dS·K, dK = dSᵀ·Q (five GEMMs; dP in thread-local scratch).
 */
#include "attention.h"

#include <math.h>
#include <stdatomic.h>

#include "../elementwise/ew_exp.h" /* EW_EXP: e^x the compiler can vectorise */
#include "../common/graph_util.h"

typedef struct sdpa_job {
  nb_dtype dt;
  int64_t L, S, E, Ev;
  double scale;
  bool causal;
  const void *q, *k, *v, *go;
  void *o, *p; /* output, probabilities (B, L, S) */
  void *dq, *dk, *dv;
  atomic_int err;
} sdpa_job;

#define AT(base, T, off) ((T *)(base) + (off))

/* Row softmax of the (L, S) scores in place, masked keys set to 0. */
#define SOFTMAX_ROWS(T)                                                                     \
  for (int64_t i = 0; i < j->L; i++) {                                                      \
    T *row = P + i * j->S;                                                                  \
    int64_t n = j->causal ? (i + 1 < j->S ? i + 1 : j->S) : j->S;                           \
    T m = -INFINITY;                                                                        \
    double s = 0;                                                                           \
    for (int64_t c = 0; c < n; c++) m = row[c] > m ? row[c] : m;                            \
    for (int64_t c = 0; c < n; c++) row[c] = EW_EXP(row[c] - m);                            \
    for (int64_t c = 0; c < n; c++) s += row[c];                                            \
    T r = (T)(1.0 / s);                                                                     \
    for (int64_t c = 0; c < n; c++) row[c] *= r;                                            \
    for (int64_t c = n; c < j->S; c++) row[c] = 0;                                          \
  }

/* dS = P ⊙ (dP − rowsum(dP ⊙ P))·scale in place of dP. */
#define SOFTMAX_GRAD(T)                                                                     \
  for (int64_t i = 0; i < j->L; i++) {                                                      \
    const T *pr = P + i * j->S;                                                             \
    T *d = dP + i * j->S;                                                                   \
    double s = 0;                                                                           \
    for (int64_t c = 0; c < j->S; c++) s += (double)d[c] * pr[c];                           \
    T sf = (T)s, sc = (T)j->scale;                                                          \
    for (int64_t c = 0; c < j->S; c++) d[c] = pr[c] * (d[c] - sf) * sc;                     \
  }

static void fail(sdpa_job *j) { atomic_store(&j->err, 1); }

/* A worker's GEMM or scratch failed: its message stayed on that thread. */
static int gemm_failed(void) {
  return nb_set_error(NB_ENOMEM, "scaled_dot_product_attention: a GEMM or its scratch memory failed "
                      "on a worker thread");
}

static void sdpa_fwd(int64_t b0, int64_t b1, void *user) {
  sdpa_job *j = user;
  size_t es = j->dt == NB_F32 ? 4 : 8;
  for (int64_t b = b0; b < b1; b++) {
    const char *q = (const char *)j->q + b * j->L * j->E * es, *k = (const char *)j->k + b * j->S * j->E * es;
    const char *v = (const char *)j->v + b * j->S * j->Ev * es;
    char *p = (char *)j->p + b * j->L * j->S * es, *o = (char *)j->o + b * j->L * j->Ev * es;
    /* scores = scale · Q·Kᵀ (Kᵀ by strides) */
    if (nb_gemm(j->dt, false, false, j->L, j->S, j->E, j->scale, q, j->E, 1, k, 1, j->E, 0.0, p, j->S, 1) < 0)
      return fail(j);
    if (j->dt == NB_F32) {
      float *P = (float *)p;
      SOFTMAX_ROWS(float)
    } else {
      double *P = (double *)p;
      SOFTMAX_ROWS(double)
    }
    if (nb_gemm(j->dt, false, false, j->L, j->Ev, j->S, 1.0, p, j->S, 1, v, j->Ev, 1, 0.0, o, j->Ev, 1) < 0)
      return fail(j);
  }
}

static void sdpa_bwd(int64_t b0, int64_t b1, void *user) {
  sdpa_job *j = user;
  size_t es = j->dt == NB_F32 ? 4 : 8;
  void *dp = nb_scratch(0, (size_t)(j->L * j->S) * es);
  if (!dp) return fail(j);
  for (int64_t b = b0; b < b1; b++) {
    const char *q = (const char *)j->q + b * j->L * j->E * es, *k = (const char *)j->k + b * j->S * j->E * es;
    const char *v = (const char *)j->v + b * j->S * j->Ev * es, *go = (const char *)j->go + b * j->L * j->Ev * es;
    const char *p = (const char *)j->p + b * j->L * j->S * es;
    if (j->dv && nb_gemm(j->dt, false, false, j->S, j->Ev, j->L, 1.0, p, 1, j->S, go, j->Ev, 1, 0.0,
                         (char *)j->dv + b * j->S * j->Ev * es, j->Ev, 1) < 0)
      return fail(j);
    if (!j->dq && !j->dk) continue;
    /* dP = dO·Vᵀ */
    if (nb_gemm(j->dt, false, false, j->L, j->S, j->Ev, 1.0, go, j->Ev, 1, v, 1, j->Ev, 0.0, dp, j->S, 1) < 0)
      return fail(j);
    if (j->dt == NB_F32) {
      const float *P = (const float *)p;
      float *dP = dp;
      SOFTMAX_GRAD(float)
    } else {
      const double *P = (const double *)p;
      double *dP = dp;
      SOFTMAX_GRAD(double)
    }
    if (j->dq && nb_gemm(j->dt, false, false, j->L, j->E, j->S, 1.0, dp, j->S, 1, k, j->E, 1, 0.0,
                         (char *)j->dq + b * j->L * j->E * es, j->E, 1) < 0)
      return fail(j);
    if (j->dk && nb_gemm(j->dt, false, false, j->S, j->E, j->L, 1.0, dp, 1, j->S, q, j->E, 1, 0.0,
                         (char *)j->dk + b * j->S * j->E * es, j->E, 1) < 0)
      return fail(j);
  }
}

/* Shapes: q (..., L, E), k (..., S, E), v (..., S, Ev) with equal leading dims. */
static int sdpa_setup(nb_tensor *const *in, sdpa_job *j, int64_t *B) {
  nb_tensor *q = in[0], *k = in[1], *v = in[2];
  if (ops_same_dtype("scaled_dot_product_attention", q, "query", k, "key") < 0 ||
      ops_same_dtype("scaled_dot_product_attention", q, "query", v, "value") < 0)
    return NB_EDTYPE;
  int nd = nb_ndim(q);
  bool ok = nd >= 2 && nb_ndim(k) == nd && nb_ndim(v) == nd;
  for (int d = 0; ok && d < nd - 2; d++) ok = nb_shape(k)[d] == nb_shape(q)[d] && nb_shape(v)[d] == nb_shape(q)[d];
  if (ok) ok = nb_shape(k)[nd - 1] == nb_shape(q)[nd - 1] && nb_shape(v)[nd - 2] == nb_shape(k)[nd - 2];
  if (!ok) {
    char a[192], b2[192];
    snprintf(a, sizeof a, "%s", nb_shape_of(k));
    snprintf(b2, sizeof b2, "%s", nb_shape_of(v));
    return nb_set_error(NB_ESHAPE,
                        "scaled_dot_product_attention: query %s, key %s and value %s do not fit "
                        "(need (..., L, E), (..., S, E), (..., S, Ev) with equal leading dims)",
                        nb_shape_of(q), a, b2);
  }
  j->dt = nb_dtype_of(q);
  j->L = nb_shape(q)[nd - 2], j->E = nb_shape(q)[nd - 1];
  j->S = nb_shape(k)[nd - 2], j->Ev = nb_shape(v)[nd - 1];
  *B = 1;
  for (int d = 0; d < nd - 2; d++) *B *= nb_shape(q)[d];
  return 0;
}

static int sdpa_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  sdpa_job j = {0};
  int64_t B;
  if (sdpa_setup(in, &j, &B) < 0) return nb_last_status();
  j.causal = attrs[0].i != 0;
  j.scale = isnan(attrs[1].f) ? (j.E > 0 ? 1.0 / sqrt((double)j.E) : 1.0) : attrs[1].f;
  nb_tensor *q = ops_contig(in[0]), *k = ops_contig(in[1]), *v = ops_contig(in[2]);
  if (!q || !k || !v) return nb_last_status();
  int nd = nb_ndim(q);
  int64_t oshape[NB_MAX_DIMS], pshape[3] = {B, j.L, j.S};
  for (int d = 0; d < nd - 1; d++) oshape[d] = nb_shape(q)[d];
  oshape[nd - 1] = j.Ev;
  nb_tensor *o = nb_empty(nd, oshape, j.dt), *p = nb_empty(3, pshape, j.dt);
  if (!o || !p) return nb_last_status();
  j.q = nb_data(q), j.k = nb_data(k), j.v = nb_data(v), j.o = nb_data(o), j.p = nb_data(p);
  atomic_init(&j.err, 0);
  if (j.L > 0 && j.S > 0)
    nb_parallel_for(B, 1, sdpa_fwd, &j);
  else if (nb_fill(o, 0) < 0)
    return nb_last_status();
  if (atomic_load(&j.err)) return gemm_failed();
  if (nb_ctx_save(ctx, in[0]) < 0 || nb_ctx_save(ctx, in[1]) < 0 || nb_ctx_save(ctx, in[2]) < 0 ||
      nb_ctx_save(ctx, p) < 0)
    return nb_last_status();
  out[0] = o;
  return 0;
}

static int sdpa_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *s[4];
  for (int i = 0; i < 4; i++)
    if (!(s[i] = nb_ctx_saved(ctx, i))) return nb_last_status();
  sdpa_job j = {0};
  int64_t B;
  if (sdpa_setup(s, &j, &B) < 0) return nb_last_status();
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  j.causal = attrs[0].i != 0;
  j.scale = isnan(attrs[1].f) ? (j.E > 0 ? 1.0 / sqrt((double)j.E) : 1.0) : attrs[1].f;
  nb_tensor *q = ops_contig(s[0]), *k = ops_contig(s[1]), *v = ops_contig(s[2]);
  nb_tensor *go = ops_contig(grad_out[0]);
  if (!q || !k || !v || !go) return nb_last_status();
  j.q = nb_data(q), j.k = nb_data(k), j.v = nb_data(v), j.p = nb_data(s[3]), j.go = nb_data(go);
  nb_tensor *g[3] = {NULL, NULL, NULL};
  for (int i = 0; i < 3; i++)
    if (nb_ctx_needs_input_grad(ctx, i) && !(g[i] = nb_zeros(nb_ndim(s[i]), nb_shape(s[i]), j.dt)))
      return nb_last_status();
  j.dq = g[0] ? nb_data(g[0]) : NULL, j.dk = g[1] ? nb_data(g[1]) : NULL, j.dv = g[2] ? nb_data(g[2]) : NULL;
  atomic_init(&j.err, 0);
  if (j.L > 0 && j.S > 0) nb_parallel_for(B, 1, sdpa_bwd, &j);
  if (atomic_load(&j.err)) return gemm_failed();
  for (int i = 0; i < 3; i++) grad_in[i] = g[i];
  return 0;
}

/* t with its last two dims swapped, recorded. */
static nb_tensor *swap_last(nb_tensor *t) {
  return nb_call1("transpose", 1, &t, 2, (nb_attr[]){NB_A_INT("dim0", -2), NB_A_INT("dim1", -1)});
}

/* The causal mask as an additive (L, S) bias: 0 where key j <= query i, -inf after. */
static nb_tensor *causal_bias(int64_t L, int64_t S, nb_dtype dt) {
  nb_tensor *m = nb_zeros(2, (int64_t[]){L, S}, dt);
  if (!m) return NULL;
  for (int64_t i = 0; i < L; i++)
    for (int64_t c = i + 1; c < S; c++) {
      if (dt == NB_F32) ((float *)nb_data(m))[i * S + c] = -INFINITY;
      else ((double *)nb_data(m))[i * S + c] = -INFINITY;
    }
  return m;
}

/* Recorded, unfused: P = softmax(scale·Q·Kᵀ + causal bias) recomputed with dispatched ops
 * (the saved P is not connected to Q and K), then dV = Pᵀ·dO, dP = dO·Vᵀ,
 * dS = P ⊙ (dP − rowsum(dP ⊙ P))·scale, dQ = dS·K, dK = dSᵀ·Q. */
static int sdpa_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *q = nb_ctx_saved(ctx, 0), *k = nb_ctx_saved(ctx, 1), *v = nb_ctx_saved(ctx, 2);
  nb_tensor *g = grad_out[0];
  if (!q || !k || !v) return nb_last_status();
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  int nd = nb_ndim(q);
  int64_t L = nb_shape(q)[nd - 2], E = nb_shape(q)[nd - 1], S = nb_shape(k)[nd - 2];
  double scale = isnan(attrs[1].f) ? (E > 0 ? 1.0 / sqrt((double)E) : 1.0) : attrs[1].f;
  nb_tensor *kt = swap_last(k), *qk = kt ? NB_CALL("matmul", q, kt) : NULL;
  nb_tensor *sc = qk ? gu_scalar("mul", qk, scale) : NULL;
  if (sc && attrs[0].i) {
    nb_tensor *bias = causal_bias(L, S, nb_dtype_of(q));
    sc = bias ? NB_CALL("add", sc, bias) : NULL;
  }
  nb_tensor *p = sc ? nb_call1("softmax", 1, &sc, 1, &NB_A_INT("dim", -1)) : NULL;
  if (!p) return nb_last_status();
  if (nb_ctx_needs_input_grad(ctx, 2)) {
    nb_tensor *pt = swap_last(p);
    if (!pt || !(grad_in[2] = NB_CALL("matmul", pt, g))) return nb_last_status();
  }
  if (!nb_ctx_needs_input_grad(ctx, 0) && !nb_ctx_needs_input_grad(ctx, 1)) return 0;
  nb_tensor *vt = swap_last(v), *dp = vt ? NB_CALL("matmul", g, vt) : NULL;
  nb_tensor *dpp = dp ? NB_CALL("mul", dp, p) : NULL;
  nb_tensor *rs = dpp ? gu_reduce("sum", dpp, 1, (int64_t[]){-1}, true) : NULL;
  nb_tensor *dif = rs ? NB_CALL("sub", dp, rs) : NULL;
  nb_tensor *pd = dif ? NB_CALL("mul", p, dif) : NULL;
  nb_tensor *ds = pd ? gu_scalar("mul", pd, scale) : NULL;
  if (!ds) return nb_last_status();
  if (nb_ctx_needs_input_grad(ctx, 0) && !(grad_in[0] = NB_CALL("matmul", ds, k))) return nb_last_status();
  if (nb_ctx_needs_input_grad(ctx, 1)) {
    nb_tensor *dst = swap_last(ds);
    if (!dst || !(grad_in[1] = NB_CALL("matmul", dst, q))) return nb_last_status();
  }
  return 0;
}

static int sdpa_samples(nb_sample_sink *s) {
  nb_generator *g = nb_sample_generator(s);
  int rc = 0;
#define R(...) nb_rand_range(sizeof((int64_t[]){__VA_ARGS__}) / 8, (int64_t[]){__VA_ARGS__}, -1, 1, NB_F64, g)
  nb_tensor *a[3] = {R(2, 3, 4), R(2, 5, 4), R(2, 5, 3)};
  rc |= nb_sample_add(s, "batch 2, L 3, S 5", 3, a, 0, NULL, 0);
  nb_tensor *b[3] = {R(2, 2, 4, 3), R(2, 2, 4, 3), R(2, 2, 4, 3)};
  rc |= nb_sample_add(s, "(2,2) heads, causal", 3, b, 1, &NB_A_BOOL("is_causal", true), 0);
  nb_tensor *c[3] = {R(4, 3), R(6, 3), R(6, 2)};
  rc |= nb_sample_add(s, "2-D, causal, scale 0.7", 3, c, 2,
                      (nb_attr[]){NB_A_BOOL("is_causal", true), NB_A_FLOAT("scale", 0.7)}, 0);
#undef R
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_input_spec sdpa_inputs[] = {
    {"query", NB_DT_FLOAT, 0, "(..., L, E)"},
    {"key", NB_DT_FLOAT, 0, "(..., S, E); same leading dims and dtype"},
    {"value", NB_DT_FLOAT, 0, "(..., S, Ev); same leading dims and dtype"},
};
static const nb_output_spec sdpa_outputs[] = {{"out", 0, "(..., L, Ev)"}};
static const nb_attr_spec sdpa_attrs[] = {
    {.name = "is_causal", .type = NB_ATTR_BOOL, .def = {.i = 0},
     .doc = "mask key j > query i (lower-triangular, as PyTorch)"},
    {.name = "scale", .type = NB_ATTR_FLOAT, .def = {.f = NAN},
     .doc = "score scale; absent (default nan): 1/sqrt(E)"},
};

const nb_op_desc op_scaled_dot_product_attention = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "scaled_dot_product_attention",
    .doc = "Attention softmax(Q·Kᵀ·scale)·V over equal leading (batch, head) dims, as "
           "F.scaled_dot_product_attention with no dropout and no explicit mask; is_causal "
           "masks keys after each query. Fused: GEMMs (nb_gemm) and a row softmax per batch "
           "entry; the probabilities are saved for backward.",
    .node_name = "ScaledDotProductAttentionBackward",
    .n_inputs = 3,
    .inputs = sdpa_inputs,
    .n_outputs = 1,
    .outputs = sdpa_outputs,
    .n_attrs = 2,
    .attrs = sdpa_attrs,
    .forward = sdpa_forward,
    .backward = sdpa_backward,
    .backward_graph = sdpa_backward_graph,
    .samples = sdpa_samples,
    .saves = "query, key, value and the attention probabilities (batch, L, S)",
};
