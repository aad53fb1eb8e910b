/* ops/nn/matmul.c — "matmul": PyTorch's torch.matmul for 1-D, 2-D and batched
 * operands with broadcast batch dimensions. Forward and both gradients are strided
 * GEMMs through nb_gemm (transposes are stride swaps, never copies); a batch that
 * shares one operand folds into a single large GEMM.
 */
#include "nn_util.h"
#include "../common/graph_util.h"

#include <string.h>

typedef struct mm_geom {
  int nbd; /* broadcast batch dims */
  int64_t bshape[NB_MAX_DIMS];
  int64_t m, n, k;
  nn_mat a, b;                           /* a: m×k, b: k×n, batch strides 0 when broadcast */
  int64_t ga_bs[NB_MAX_DIMS], ga_rs;     /* contiguous gradient of a, in a's own shape */
  int64_t gb_bs[NB_MAX_DIMS], gb_cs;     /* contiguous gradient of b, in b's own shape */
  int64_t c_bs[NB_MAX_DIMS];             /* contiguous output (batch, m, n) */
  int out_ndim;
  int64_t out_shape[NB_MAX_DIMS];
} mm_geom;

/* A tensor is usable by BLIS as is unless a matrix dim of size > 1 has stride 0. */
static nb_tensor *gemm_ready(nb_tensor *t) {
  int nd = nb_ndim(t);
  const int64_t *sh = nb_shape(t), *st = nb_strides(t);
  for (int d = nd > 2 ? nd - 2 : 0; d < nd; d++)
    if (sh[d] > 1 && st[d] == 0) return nb_copy_data(t);
  return t;
}

/* Contiguous strides of a gradient laid out in the operand's own batch shape, aligned to
 * the broadcast batch (0 where the operand is broadcast or lacks the dim). */
static void own_batch_strides(int nbd, const int64_t *bshape, int own_nbd, const int64_t *own_shape,
                              int64_t block, int64_t *out) {
  int64_t s = block;
  for (int d = nbd - 1; d >= 0; d--) {
    int od = d - (nbd - own_nbd);
    if (od < 0) {
      out[d] = 0;
      continue;
    }
    out[d] = (own_shape[od] == 1 && bshape[d] != 1) ? 0 : s;
    s *= own_shape[od];
  }
}

static int mm_setup(nb_tensor *a, nb_tensor *b, mm_geom *g) {
  int na = nb_ndim(a), nb = nb_ndim(b);
  const int64_t *as = nb_shape(a), *bs = nb_shape(b), *ast = nb_strides(a), *bst = nb_strides(b);
  memset(g, 0, sizeof *g);
  if (na == 0 || nb == 0)
    return nb_set_error(NB_ESHAPE, "matmul: both arguments need at least 1 dimension, got shapes %s and %s",
                        nb_shape_of(a), nb_shape_of(b));
  int64_t ka;
  if (na == 1) {
    g->m = 1, ka = as[0];
    g->a.rs = ka * ast[0], g->a.cs = ast[0];
  } else {
    g->m = as[na - 2], ka = as[na - 1];
    g->a.rs = ast[na - 2], g->a.cs = ast[na - 1];
  }
  if (nb == 1) {
    g->k = bs[0], g->n = 1;
    g->b.rs = bst[0], g->b.cs = 1;
  } else {
    g->k = bs[nb - 2], g->n = bs[nb - 1];
    g->b.rs = bst[nb - 2], g->b.cs = bst[nb - 1];
  }
  if (ka != g->k)
    return nb_set_error(NB_ESHAPE, "matmul: shapes %s and %s cannot be multiplied (%lld != %lld)",
                        nb_shape_of(a), nb_shape_of(b), (long long)ka, (long long)g->k);
  int abd = na > 2 ? na - 2 : 0, bbd = nb > 2 ? nb - 2 : 0;
  g->nbd = abd > bbd ? abd : bbd;
  for (int d = 0; d < g->nbd; d++) {
    int da = d - (g->nbd - abd), db = d - (g->nbd - bbd);
    int64_t sa = da >= 0 ? as[da] : 1, sb = db >= 0 ? bs[db] : 1;
    if (sa != sb && sa != 1 && sb != 1)
      return nb_set_error(NB_ESHAPE, "matmul: batch dimensions of %s and %s cannot be broadcast",
                          nb_shape_of(a), nb_shape_of(b));
    g->bshape[d] = sa > sb ? sa : sb;
    g->a.bs[d] = (da >= 0 && sa != 1) ? ast[da] : 0;
    g->b.bs[d] = (db >= 0 && sb != 1) ? bst[db] : 0;
  }
  g->a.p = nb_data(a);
  g->b.p = nb_data(b);
  own_batch_strides(g->nbd, g->bshape, abd, as, g->m * g->k, g->ga_bs);
  own_batch_strides(g->nbd, g->bshape, bbd, bs, g->k * g->n, g->gb_bs);
  g->ga_rs = g->k;
  g->gb_cs = 1;
  int64_t s = g->m * g->n;
  for (int d = g->nbd - 1; d >= 0; d--) {
    g->c_bs[d] = s;
    s *= g->bshape[d];
  }
  g->out_ndim = 0;
  for (int d = 0; d < g->nbd; d++) g->out_shape[g->out_ndim++] = g->bshape[d];
  if (na > 1) g->out_shape[g->out_ndim++] = g->m;
  if (nb > 1) g->out_shape[g->out_ndim++] = g->n;
  return 0;
}

static int matmul_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                          nb_tensor **out) {
  (void)attrs;
  if (ops_same_dtype("matmul", in[0], "input", in[1], "other") < 0) return NB_EDTYPE;
  nb_tensor *a = gemm_ready(in[0]), *b = gemm_ready(in[1]);
  if (a == NULL || b == NULL) return nb_last_status();
  mm_geom g;
  if (mm_setup(a, b, &g) < 0) return nb_last_status();
  nb_dtype dt = nb_dtype_of(a);
  nb_tensor *y = nb_empty(g.out_ndim, g.out_shape, dt);
  if (y == NULL) return nb_last_status();
  nn_mat c = {.p = nb_data(y), .rs = g.n, .cs = 1};
  memcpy(c.bs, g.c_bs, sizeof c.bs);
  if (nn_gemm_batched(dt, g.nbd, g.bshape, g.m, g.n, g.k, 1.0, &g.a, &g.b, 0.0, &c) < 0)
    return nb_last_status();
  /* grad of input needs other and vice versa: save only what backward will read */
  /* Fixed slots (NULL when not needed): a backward restricted to some inputs
   * (nb_autograd_grad) may need fewer gradients than forward did. */
  if (nb_ctx_recording(ctx) &&
      (nb_ctx_save(ctx, nb_ctx_needs_input_grad(ctx, 1) ? in[0] : NULL) < 0 ||
       nb_ctx_save(ctx, nb_ctx_needs_input_grad(ctx, 0) ? in[1] : NULL) < 0))
    return nb_last_status();
  out[0] = y;
  return 0;
}

static int matmul_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  bool need_a = nb_ctx_needs_input_grad(ctx, 0), need_b = nb_ctx_needs_input_grad(ctx, 1);
  nb_tensor *a = need_b ? nb_ctx_saved(ctx, 0) : NULL;
  nb_tensor *b = need_a ? nb_ctx_saved(ctx, 1) : NULL;
  if ((need_b && a == NULL) || (need_a && b == NULL)) return nb_last_status();
  /* Geometry needs both shapes; stand in an empty tensor of the right shape for the
   * operand that was not saved (its data is never read). */
  int nd;
  const int64_t *sh;
  nb_dtype dt = nb_ctx_input_dtype(ctx, 0);
  if (a == NULL) {
    sh = nb_ctx_input_shape(ctx, 0, &nd);
    a = nb_empty(nd, sh, dt);
  }
  if (b == NULL) {
    sh = nb_ctx_input_shape(ctx, 1, &nd);
    b = nb_empty(nd, sh, dt);
  }
  if (a == NULL || b == NULL) return nb_last_status();
  a = gemm_ready(a);
  b = gemm_ready(b);
  nb_tensor *go = ops_contig(grad_out[0]);
  if (a == NULL || b == NULL || go == NULL) return nb_last_status();
  mm_geom g;
  if (mm_setup(a, b, &g) < 0) return nb_last_status();
  nn_mat G = {.p = nb_data(go), .rs = g.n, .cs = 1};
  memcpy(G.bs, g.c_bs, sizeof G.bs);
  if (need_a) { /* dA = G · Bᵀ, accumulated over a's broadcast batch dims */
    nb_tensor *ga = nb_empty(nb_ndim(a), nb_shape(a), dt);
    if (ga == NULL) return nb_last_status();
    nn_mat bt = {.p = g.b.p, .rs = g.b.cs, .cs = g.b.rs}, C = {.p = nb_data(ga), .rs = g.ga_rs, .cs = 1};
    memcpy(bt.bs, g.b.bs, sizeof bt.bs);
    memcpy(C.bs, g.ga_bs, sizeof C.bs);
    if (nn_gemm_batched(dt, g.nbd, g.bshape, g.m, g.k, g.n, 1.0, &G, &bt, 0.0, &C) < 0)
      return nb_last_status();
    grad_in[0] = ga;
  }
  if (need_b) { /* dB = Aᵀ · G */
    nb_tensor *gb = nb_empty(nb_ndim(b), nb_shape(b), dt);
    if (gb == NULL) return nb_last_status();
    nn_mat at = {.p = g.a.p, .rs = g.a.cs, .cs = g.a.rs}, C = {.p = nb_data(gb), .rs = g.n, .cs = g.gb_cs};
    memcpy(at.bs, g.a.bs, sizeof at.bs);
    memcpy(C.bs, g.gb_bs, sizeof C.bs);
    if (nn_gemm_batched(dt, g.nbd, g.bshape, g.k, g.n, g.m, 1.0, &at, &G, 0.0, &C) < 0)
      return nb_last_status();
    grad_in[1] = gb;
  }
  return 0;
}

/* transpose of the last two dims, or unsqueeze/squeeze at `dim`, recorded. */
static nb_tensor *mt(nb_tensor *t) {
  return nb_call1("transpose", 1, &t, 2, (nb_attr[]){NB_A_INT("dim0", -1), NB_A_INT("dim1", -2)});
}
static nb_tensor *unsq(const char *op, nb_tensor *t, int dim) {
  return t ? nb_call1(op, 1, &t, 1, (nb_attr[]){NB_A_INT("dim", dim)}) : NULL;
}

/* Recorded, on 1-D operands promoted as forward does: dA = G Bᵀ, dB = Aᵀ G (the core
 * sums broadcast batch dims back). */
static int matmul_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  bool need_a = nb_ctx_needs_input_grad(ctx, 0), need_b = nb_ctx_needs_input_grad(ctx, 1);
  int na, nbd;
  nb_tensor *a = need_b ? nb_ctx_saved(ctx, 0) : NULL;
  nb_tensor *b = need_a ? nb_ctx_saved(ctx, 1) : NULL;
  if ((need_b && a == NULL) || (need_a && b == NULL)) return nb_last_status();
  nb_ctx_input_shape(ctx, 0, &na);
  nb_ctx_input_shape(ctx, 1, &nbd);
  nb_tensor *g = grad_out[0];
  if (na == 1 && nbd == 1)
    g = gu_reshape(g, 2, (int64_t[]){1, 1});
  else if (na == 1)
    g = unsq("unsqueeze", g, -2);
  else if (nbd == 1)
    g = unsq("unsqueeze", g, -1);
  if (!g) return nb_last_status();
  if (need_a) {
    nb_tensor *bb = nbd == 1 ? unsq("unsqueeze", b, -1) : b;
    nb_tensor *ga = bb ? nb_call1("matmul", 2, (nb_tensor *const[]){g, mt(bb)}, 0, NULL) : NULL;
    if (ga && na == 1) ga = unsq("squeeze", ga, -2);
    if (!(grad_in[0] = ga)) return nb_last_status();
  }
  if (need_b) {
    nb_tensor *aa = na == 1 ? unsq("unsqueeze", a, 0) : a;
    nb_tensor *gb = aa ? nb_call1("matmul", 2, (nb_tensor *const[]){mt(aa), g}, 0, NULL) : NULL;
    if (gb && nbd == 1) gb = unsq("squeeze", gb, -1);
    if (!(grad_in[1] = gb)) return nb_last_status();
  }
  return 0;
}

static int add(nb_sample_sink *s, const char *desc, int na, const int64_t *as, int nb,
               const int64_t *bs) {
  nb_generator *gen = nb_sample_generator(s);
  nb_tensor *in[2] = {nb_rand_range(na, as, -1, 1, NB_F64, gen), nb_rand_range(nb, bs, -1, 1, NB_F64, gen)};
  unsigned fl = (na > 2 || nb > 2) && na != nb ? NB_SAMPLE_BROADCAST : 0;
  return nb_sample_add(s, desc, 2, in, 0, NULL, fl);
}

static int matmul_samples(nb_sample_sink *s) {
  int rc = 0;
  rc |= add(s, "2-D x 2-D", 2, (int64_t[]){3, 4}, 2, (int64_t[]){4, 5});
  rc |= add(s, "1-D x 1-D (dot)", 1, (int64_t[]){5}, 1, (int64_t[]){5});
  rc |= add(s, "2-D x 1-D", 2, (int64_t[]){3, 4}, 1, (int64_t[]){4});
  rc |= add(s, "1-D x 2-D", 1, (int64_t[]){4}, 2, (int64_t[]){4, 2});
  rc |= add(s, "1-D x batched", 1, (int64_t[]){3}, 3, (int64_t[]){2, 3, 2});
  rc |= add(s, "batched x 1-D", 3, (int64_t[]){2, 2, 3}, 1, (int64_t[]){3});
  rc |= add(s, "batched x batched", 3, (int64_t[]){2, 3, 4}, 3, (int64_t[]){2, 4, 2});
  rc |= add(s, "batched x 2-D (shared)", 3, (int64_t[]){2, 3, 4}, 2, (int64_t[]){4, 3});
  rc |= add(s, "2-D x batched (shared)", 2, (int64_t[]){3, 4}, 3, (int64_t[]){2, 4, 3});
  rc |= add(s, "broadcast batch", 4, (int64_t[]){2, 1, 3, 4}, 3, (int64_t[]){3, 4, 2});
  /* a transposed (non-contiguous) operand */
  nb_generator *gen = nb_sample_generator(s);
  nb_tensor *base = nb_rand_range(2, (int64_t[]){4, 3}, -1, 1, NB_F64, gen);
  nb_tensor *in[2] = {nb_as_strided(base, 2, (int64_t[]){3, 4}, (int64_t[]){1, 3}, 0),
                      nb_rand_range(2, (int64_t[]){4, 2}, -1, 1, NB_F64, gen)};
  rc |= nb_sample_add(s, "transposed operand", 2, in, 0, NULL, 0);
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_input_spec inputs[] = {
    {"input", NB_DT_FLOAT, 0, "left operand: (k), (m,k) or (...,m,k)"},
    {"other", NB_DT_FLOAT, 0, "right operand: (k), (k,n) or (...,k,n); same dtype"},
};
static const nb_output_spec outputs[] = {
    {"out", 0, "product; 1-D operands lose their dim as in torch.matmul, batch dims broadcast"},
};

const nb_op_desc op_matmul = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "matmul",
    .doc = "Matrix product with torch.matmul semantics: dot product of two 1-D tensors, "
           "matrix-vector, vector-matrix, matrix-matrix, and batched products whose batch "
           "dimensions broadcast. Every product (forward and both gradients) is one strided "
           "GEMM (nb_gemm); a shared operand folds the batch into a single GEMM.",
    .n_inputs = 2,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .forward = matmul_forward,
    .backward = matmul_backward,
    .backward_graph = matmul_backward_graph,
    .samples = matmul_samples,
    .saves = "input (when other needs a gradient) and other (when input does)",
};
