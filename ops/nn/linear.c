/* ops/nn/linear.c — "linear": y = x·Wᵀ + b over any leading dims of x (PyTorch's
 * F.linear). The leading dims fold into the rows of one GEMM; Wᵀ is a stride swap.
 * Backward: dx = G·W, dW = Gᵀ·x (both single GEMMs), db = column sums of G.
 */
#include "nn_util.h"
#include "../common/graph_util.h"

#include <string.h>

/* x as an R×in matrix with strides; returns x or a contiguous copy when its leading
 * dims do not fold into one row stride. NULL on error. */
static nb_tensor *x_matrix(nb_tensor *x, int64_t *rows, int64_t *rs, int64_t *cs) {
  int nd = nb_ndim(x);
  const int64_t *sh = nb_shape(x), *st = nb_strides(x);
  int64_t in = sh[nd - 1];
  *rows = in == 0 ? 0 : nb_numel(x) / in;
  if (in > 1 && st[nd - 1] == 0) goto copy;
  if (nd == 1) {
    *rs = in * st[0];
    *cs = st[0];
    return x;
  }
  for (int d = 0; d < nd - 2; d++)
    if (sh[d] != 1 && st[d] != st[d + 1] * sh[d + 1]) goto copy;
  if (sh[nd - 2] > 1 && st[nd - 2] == 0) goto copy;
  *rs = st[nd - 2];
  *cs = st[nd - 1];
  if (*rows > 1 && *rs == 0) goto copy;
  return x;
copy:
  x = nb_copy_data(x);
  *rs = in;
  *cs = 1;
  return x;
}

static int check(nb_tensor *x, nb_tensor *w, nb_tensor *b) {
  if (ops_same_dtype("linear", x, "input", w, "weight") < 0 ||
      ops_same_dtype("linear", x, "input", b, "bias") < 0)
    return NB_EDTYPE;
  if (nb_ndim(w) != 2)
    return nb_set_error(NB_ESHAPE, "linear: weight must be 2-D (out_features, in_features), got %s",
                        nb_shape_of(w));
  if (nb_ndim(x) < 1)
    return nb_set_error(NB_ESHAPE, "linear: input must have at least 1 dimension, got %s",
                        nb_shape_of(x));
  if (nb_shape(x)[nb_ndim(x) - 1] != nb_shape(w)[1])
    return nb_set_error(NB_ESHAPE,
                        "linear: input %s and weight %s do not fit (input's last dim %lld != in_features %lld)",
                        nb_shape_of(x), nb_shape_of(w), (long long)nb_shape(x)[nb_ndim(x) - 1],
                        (long long)nb_shape(w)[1]);
  if (b != NULL && (nb_ndim(b) != 1 || nb_shape(b)[0] != nb_shape(w)[0]))
    return nb_set_error(NB_ESHAPE, "linear: bias %s must have shape [%lld] for weight %s",
                        nb_shape_of(b), (long long)nb_shape(w)[0], nb_shape_of(w));
  return 0;
}

typedef struct fill_job {
  nb_dtype dt;
  void *y;
  const void *b;
  int64_t bstride, n;
} fill_job;

static void fill_rows(int64_t r0, int64_t r1, void *u) {
  fill_job *j = u;
  for (int64_t r = r0; r < r1; r++) {
    if (j->dt == NB_F32) {
      float *y = (float *)j->y + r * j->n;
      const float *b = j->b;
      for (int64_t c = 0; c < j->n; c++) y[c] = b[c * j->bstride];
    } else {
      double *y = (double *)j->y + r * j->n;
      const double *b = j->b;
      for (int64_t c = 0; c < j->n; c++) y[c] = b[c * j->bstride];
    }
  }
}

static int linear_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                          nb_tensor **out) {
  (void)attrs;
  nb_tensor *x = in[0], *w = in[1], *b = in[2];
  if (check(x, w, b) < 0) return nb_last_status();
  nb_dtype dt = nb_dtype_of(x);
  int64_t nout = nb_shape(w)[0], nin = nb_shape(w)[1], rows, rs, cs;
  nb_tensor *xm = x_matrix(x, &rows, &rs, &cs);
  if (xm == NULL) return nb_last_status();
  int64_t shape[NB_MAX_DIMS];
  int nd = nb_ndim(x);
  memcpy(shape, nb_shape(x), sizeof(int64_t) * (size_t)nd);
  shape[nd - 1] = nout;
  nb_tensor *y = nb_empty(nd, shape, dt);
  if (y == NULL) return nb_last_status();
  double beta = 0.0;
  if (b != NULL) {
    fill_job j = {dt, nb_data(y), nb_data(b), nb_strides(b)[0], nout};
    nb_parallel_for(rows, nout > 0 ? 1 + NB_PARALLEL_GRAIN / nout : rows, fill_rows, &j);
    beta = 1.0;
  }
  const int64_t *ws = nb_strides(w);
  if (nn_gemm(dt, rows, nout, nin, 1.0, nb_data(xm), rs, cs, nb_data(w), ws[1], ws[0], beta,
              nb_data(y), nout, 1) < 0)
    return nb_last_status();
  /* Fixed slots (NULL when not needed): a backward restricted to some inputs
   * (nb_autograd_grad) may need fewer gradients than forward did. */
  if (nb_ctx_recording(ctx) &&
      (nb_ctx_save(ctx, nb_ctx_needs_input_grad(ctx, 1) ? x : NULL) < 0 ||
       nb_ctx_save(ctx, nb_ctx_needs_input_grad(ctx, 0) ? w : NULL) < 0))
    return nb_last_status();
  out[0] = y;
  return 0;
}

typedef struct colsum_job {
  nb_dtype dt;
  const void *g;
  void *out;
  int64_t rows, n;
} colsum_job;

/* Column sums of a contiguous rows×n matrix for columns [c0, c1), in double, rows in order. */
static void colsum(int64_t c0, int64_t c1, void *u) {
  colsum_job *j = u;
  for (int64_t cb = c0; cb < c1; cb += 64) {
    int64_t ce = cb + 64 < c1 ? cb + 64 : c1;
    double acc[64] = {0};
    for (int64_t r = 0; r < j->rows; r++) {
      if (j->dt == NB_F32) {
        const float *g = (const float *)j->g + r * j->n;
        for (int64_t c = cb; c < ce; c++) acc[c - cb] += g[c];
      } else {
        const double *g = (const double *)j->g + r * j->n;
        for (int64_t c = cb; c < ce; c++) acc[c - cb] += g[c];
      }
    }
    for (int64_t c = cb; c < ce; c++) {
      if (j->dt == NB_F32)
        ((float *)j->out)[c] = (float)acc[c - cb];
      else
        ((double *)j->out)[c] = acc[c - cb];
    }
  }
}

static int linear_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  bool need_x = nb_ctx_needs_input_grad(ctx, 0), need_w = nb_ctx_needs_input_grad(ctx, 1);
  nb_tensor *x = need_w ? nb_ctx_saved(ctx, 0) : NULL;
  nb_tensor *w = need_x ? nb_ctx_saved(ctx, 1) : NULL;
  if ((need_w && x == NULL) || (need_x && w == NULL)) return nb_last_status();
  nb_dtype dt = nb_ctx_input_dtype(ctx, 0);
  int wnd, xnd;
  const int64_t *wsh = nb_ctx_input_shape(ctx, 1, &wnd);
  const int64_t *xsh = nb_ctx_input_shape(ctx, 0, &xnd);
  int64_t nout = wsh[0], nin = wsh[1];
  nb_tensor *g = ops_contig(grad_out[0]);
  if (g == NULL) return nb_last_status();
  int64_t rows = 1;
  for (int d = 0; d < xnd - 1; d++) rows *= xsh[d];
  if (need_x) { /* dx = G · W */
    nb_tensor *gx = nb_empty(xnd, xsh, dt);
    if (gx == NULL) return nb_last_status();
    const int64_t *ws = nb_strides(w);
    if (nn_gemm(dt, rows, nin, nout, 1.0, nb_data(g), nout, 1, nb_data(w), ws[0], ws[1], 0.0,
                nb_data(gx), nin, 1) < 0)
      return nb_last_status();
    grad_in[0] = gx;
  }
  if (need_w) { /* dW = Gᵀ · x */
    int64_t xr, rs, cs;
    nb_tensor *xm = x_matrix(x, &xr, &rs, &cs);
    nb_tensor *gw = nb_empty(2, wsh, dt);
    if (xm == NULL || gw == NULL) return nb_last_status();
    if (nn_gemm(dt, nout, nin, rows, 1.0, nb_data(g), 1, nout, nb_data(xm), rs, cs, 0.0,
                nb_data(gw), nin, 1) < 0)
      return nb_last_status();
    grad_in[1] = gw;
  }
  if (nb_ctx_needs_input_grad(ctx, 2)) {
    nb_tensor *gb = nb_empty(1, &nout, dt);
    if (gb == NULL) return nb_last_status();
    colsum_job j = {dt, nb_data(g), nb_data(gb), rows, nout};
    int64_t grain = rows > 0 ? 64 * (1 + NB_PARALLEL_GRAIN / (64 * rows)) : nout;
    nb_parallel_for(nout, grain, colsum, &j);
    grad_in[2] = gb;
  }
  return 0;
}

/* Recorded: dx = G W, dW = Gᵀ x over the folded leading dims, db = G (summed back by the
 * core). */
static int linear_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  bool need_x = nb_ctx_needs_input_grad(ctx, 0), need_w = nb_ctx_needs_input_grad(ctx, 1);
  int wnd;
  nb_tensor *x = need_w ? nb_ctx_saved(ctx, 0) : NULL;
  nb_tensor *w = need_x ? nb_ctx_saved(ctx, 1) : NULL;
  if ((need_w && x == NULL) || (need_x && w == NULL)) return nb_last_status();
  const int64_t *wsh = nb_ctx_input_shape(ctx, 1, &wnd);
  nb_tensor *g = grad_out[0];
  if (need_x && !(grad_in[0] = NB_CALL("matmul", g, w))) return nb_last_status();
  if (need_w) {
    nb_tensor *g2 = gu_reshape(g, 2, (int64_t[]){-1, wsh[0]});
    nb_tensor *x2 = g2 ? gu_reshape(x, 2, (int64_t[]){-1, wsh[1]}) : NULL;
    nb_tensor *gt = x2 ? nb_call1("transpose", 1, &g2, 2, (nb_attr[]){NB_A_INT("dim0", 0), NB_A_INT("dim1", 1)}) : NULL;
    if (!gt || !(grad_in[1] = NB_CALL("matmul", gt, x2))) return nb_last_status();
  }
  if (nb_ctx_needs_input_grad(ctx, 2)) grad_in[2] = g;
  return 0;
}

static int linear_samples(nb_sample_sink *s) {
  nb_generator *gen = nb_sample_generator(s);
  int rc = 0;
#define R(nd, ...) nb_rand_range(nd, (int64_t[]){__VA_ARGS__}, -1, 1, NB_F64, gen)
  nb_tensor *a[3] = {R(2, 3, 4), R(2, 5, 4), R(1, 5)};
  rc |= nb_sample_add(s, "2-D input with bias", 3, a, 0, NULL, 0);
  nb_tensor *b[3] = {R(2, 3, 4), R(2, 2, 4), NULL};
  rc |= nb_sample_add(s, "no bias", 3, b, 0, NULL, 0);
  nb_tensor *c[3] = {R(3, 2, 3, 4), R(2, 3, 4), R(1, 3)};
  rc |= nb_sample_add(s, "3-D input (leading dims fold)", 3, c, 0, NULL, 0);
  nb_tensor *d[3] = {R(1, 4), R(2, 3, 4), R(1, 3)};
  rc |= nb_sample_add(s, "1-D input", 3, d, 0, NULL, 0);
  nb_tensor *base = R(2, 4, 3);
  nb_tensor *e[3] = {nb_as_strided(base, 2, (int64_t[]){3, 4}, (int64_t[]){1, 3}, 0), R(2, 2, 4),
                     R(1, 2)};
  rc |= nb_sample_add(s, "transposed input", 3, e, 0, NULL, 0);
#undef R
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_input_spec inputs[] = {
    {"input", NB_DT_FLOAT, 0, "(..., in_features)"},
    {"weight", NB_DT_FLOAT, 0, "(out_features, in_features)"},
    {"bias", NB_DT_FLOAT, NB_IN_OPTIONAL, "(out_features), optional"},
};
static const nb_output_spec outputs[] = {{"out", 0, "(..., out_features)"}};

const nb_op_desc op_linear = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "linear",
    .doc = "Affine map y = x·Wᵀ + b applied over the last dim of x (PyTorch's F.linear). "
           "All leading dims fold into the rows of one GEMM; the bias is written first "
           "and the GEMM accumulates onto it. Gradients: dx = G·W, dW = Gᵀ·x (single GEMMs, "
           "transposes by strides), db = column sums of G.",
    .n_inputs = 3,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .forward = linear_forward,
    .backward = linear_backward,
    .backward_graph = linear_backward_graph,
    .samples = linear_samples,
    .saves = "input (when weight needs a gradient) and weight (when input does)",
};
