/* ops/nn/conv2d_graph.c — conv2d's backward_graph: its gradients written with dispatched
 * ops (so a create_graph backward records them), unfused and not fast. The im2col
 * matrix is a gather of the input at fixed flat positions (zero where a window reaches
 * the padding), so with K = kH·kW window offsets, P = OH·OW outputs and G groups:
 *   cols  (N, G, C/G·K, P) = gather(x, positions) · valid
 *   dx    = scatter_add(zeros, positions, (Wᵀ · G) · valid)   (col2im)
 *   dW    = Σ_n G · colsᵀ,  db = Σ g over batch and space.
 */
#include "nn_util.h"
#include "../common/graph_util.h"

#include <string.h>

/* One of an INTS attribute's 1 or 2 values. */
static int64_t pair(const nb_attr_value *a, int i) { return a->ints.n == 1 ? a->ints.v[0] : a->ints.v[i]; }

int nn_conv2d_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  bool need_x = nb_ctx_needs_input_grad(ctx, 0), need_w = nb_ctx_needs_input_grad(ctx, 1);
  nb_tensor *x = need_w ? nb_ctx_saved(ctx, 0) : NULL, *w = need_x ? nb_ctx_saved(ctx, 1) : NULL;
  if ((need_w && !x) || (need_x && !w)) return nb_last_status();
  const nb_attr_value *at = nb_ctx_attrs(ctx);
  int xnd, wnd;
  const int64_t *xs = nb_ctx_input_shape(ctx, 0, &xnd), *ws = nb_ctx_input_shape(ctx, 1, &wnd);
  bool batched = xnd == 4;
  int64_t N = batched ? xs[0] : 1, C = xs[xnd - 3], H = xs[xnd - 2], W = xs[xnd - 1];
  int64_t O = ws[0], kh = ws[2], kw = ws[3], G = at[3].i, Cg = C / G, Og = O / G;
  nb_tensor *g = grad_out[0];
  int64_t OH = nb_shape(g)[nb_ndim(g) - 2], OW = nb_shape(g)[nb_ndim(g) - 1];
  int64_t K = kh * kw, P = OH * OW;
  /* flat input positions (N, C, K·P) and the valid mask (K·P), built without recording */
  nb_tensor *pos = nb_empty(3, (int64_t[]){N, C, K * P}, NB_I64);
  nb_tensor *valid = nb_empty(1, (int64_t[]){K * P}, nb_dtype_of(g));
  if (!pos || !valid) return nb_last_status();
  int64_t *pv = nb_data(pos);
  for (int64_t i = 0; i < kh; i++)
    for (int64_t j = 0; j < kw; j++)
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
          int64_t h = oh * pair(&at[0], 0) - pair(&at[1], 0) + i * pair(&at[2], 0);
          int64_t c = ow * pair(&at[0], 1) - pair(&at[1], 1) + j * pair(&at[2], 1);
          int64_t e = (i * kw + j) * P + oh * OW + ow;
          bool ok = h >= 0 && h < H && c >= 0 && c < W;
          pv[e] = ok ? h * W + c : 0;
          if (nb_dtype_of(g) == NB_F32) ((float *)nb_data(valid))[e] = ok;
          else ((double *)nb_data(valid))[e] = ok;
        }
  for (int64_t q = 1; q < N * C; q++) memcpy(pv + q * K * P, pv, (size_t)(K * P) * sizeof *pv);
  nb_tensor *g4 = gu_reshape(g, 4, (int64_t[]){N, G, Og, P});
  if (!g4) return nb_last_status();
  if (need_x) {
    nb_tensor *w3 = gu_reshape(w, 3, (int64_t[]){G, Og, Cg * K});
    nb_tensor *wt = w3 ? nb_call1("transpose", 1, &w3, 2, (nb_attr[]){NB_A_INT("dim0", 1), NB_A_INT("dim1", 2)}) : NULL;
    nb_tensor *dcol = wt ? NB_CALL("matmul", wt, g4) : NULL; /* (N, G, Cg·K, P) */
    nb_tensor *d3 = dcol ? gu_reshape(dcol, 3, (int64_t[]){N, C, K * P}) : NULL;
    nb_tensor *dv = d3 ? NB_CALL("mul", d3, valid) : NULL;
    nb_tensor *z = dv ? nb_zeros(3, (int64_t[]){N, C, H * W}, nb_dtype_of(g)) : NULL;
    nb_tensor *dx = z ? nb_call1("scatter_add", 3, (nb_tensor *const[]){z, pos, dv}, 1, &NB_A_INT("dim", 2)) : NULL;
    if (!dx || !(grad_in[0] = gu_reshape(dx, xnd, xs))) return nb_last_status();
  }
  if (need_w) {
    nb_tensor *x3 = gu_reshape(x, 3, (int64_t[]){N, C, H * W});
    nb_tensor *cols = x3 ? nb_call1("gather", 2, (nb_tensor *const[]){x3, pos}, 1, &NB_A_INT("dim", 2)) : NULL;
    nb_tensor *cv = cols ? NB_CALL("mul", cols, valid) : NULL;
    nb_tensor *c4 = cv ? gu_reshape(cv, 4, (int64_t[]){N, G, Cg * K, P}) : NULL;
    nb_tensor *ct = c4 ? nb_call1("transpose", 1, &c4, 2, (nb_attr[]){NB_A_INT("dim0", 2), NB_A_INT("dim1", 3)}) : NULL;
    nb_tensor *dw = ct ? NB_CALL("matmul", g4, ct) : NULL; /* (N, G, Og, Cg·K) */
    nb_tensor *dws = dw ? gu_reduce("sum", dw, 1, (int64_t[]){0}, false) : NULL;
    if (!dws || !(grad_in[1] = gu_reshape(dws, wnd, ws))) return nb_last_status();
  }
  if (nb_ctx_needs_input_grad(ctx, 2)) {
    int64_t dims[3] = {0, 2, 3};
    nb_tensor *gb = batched ? g : gu_reshape(g, 4, (int64_t[]){1, O, OH, OW});
    if (!gb || !(grad_in[2] = gu_reduce("sum", gb, 3, dims, false))) return nb_last_status();
  }
  return 0;
}
