/* ops/nn/avg_pool2d.c — "avg_pool2d": PyTorch's F.avg_pool2d over (N, C, H, W) or
 * (C, H, W) input with kernel_size, stride (default kernel_size), zero padding,
 * ceil_mode and count_include_pad (the divisor counts padded cells, but never cells a
 * ceil_mode window hangs past the padding). Backward spreads g/divisor over each window.
 */
#include "nn_util.h"
#include "../common/graph_util.h"

/* The windows of pooling geometry p (PyTorch's rules: the divisor counts padded cells with
 * include_pad, but never cells a ceil_mode window hangs past the padding). */
static int windows(const nn_pool *p, bool include_pad, nn_avg_windows *a) {
  *a = (nn_avg_windows){.planes = p->planes, .H = p->H, .W = p->W, .OH = p->OH, .OW = p->OW};
  if (nn_avg_windows_alloc(a) < 0) return nb_last_status();
  for (int dim = 0; dim < 2; dim++) {
    int64_t O = dim ? p->OW : p->OH, I = dim ? p->W : p->H, k = dim ? p->kw : p->kh;
    int64_t st = dim ? p->sw : p->sh, pad = dim ? p->pw : p->ph;
    int64_t *lo = dim ? a->w0 : a->h0, *hi = dim ? a->w1 : a->h1, *dv = dim ? a->wdiv : a->hdiv;
    for (int64_t o = 0; o < O; o++) {
      int64_t s0 = o * st - pad, e = s0 + k < I + pad ? s0 + k : I + pad;
      lo[o] = s0 < 0 ? 0 : s0;
      hi[o] = e < I ? e : I;
      dv[o] = lo[o] >= hi[o] ? 0 : include_pad ? e - s0 : hi[o] - lo[o];
    }
  }
  return 0;
}

static int setup(const nb_tensor *x, const nb_attr_value *a, nn_pool *p) {
  return nn_pool_setup("avg_pool2d", x, &a[0].ints, &a[1].ints, &a[2].ints, NULL, a[3].i != 0, p);
}

static int avg_pool2d_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                              nb_tensor **out) {
  (void)ctx;
  nn_pool p;
  nn_avg_windows a;
  nb_tensor *x, *y;
  if (setup(in[0], attrs, &p) < 0 || nn_pool_alloc(in[0], p.OH, p.OW, &x, &y) < 0 ||
      windows(&p, attrs[4].i != 0, &a) < 0)
    return nb_last_status();
  nn_avg_windows_run(&a, nb_dtype_of(x), false, nb_data(x), nb_data(y),
                     1 + NB_PARALLEL_GRAIN / (p.OH * p.OW * p.kh * p.kw + 1));
  out[0] = y;
  return 0;
}

static int avg_pool2d_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  nn_pool p;
  nn_avg_windows a;
  nb_tensor *g, *dx;
  if (nn_pool_grad_alloc(ctx, grad_out[0], &g, &dx) < 0 || setup(dx, attrs, &p) < 0 ||
      windows(&p, attrs[4].i != 0, &a) < 0)
    return nb_last_status();
  nn_avg_windows_run(&a, nb_dtype_of(dx), true, nb_data(g), nb_data(dx),
                     1 + NB_PARALLEL_GRAIN / (p.OH * p.OW * p.kh * p.kw + 1));
  grad_in[0] = dx;
  return 0;
}

/* Recorded: g/divisor spread over each window (nn_avg_windows_graph). */
static int avg_pool2d_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  int nd;
  const int64_t *xs = nb_ctx_input_shape(ctx, 0, &nd);
  nb_tensor *shape_only = nb_empty(nd, xs, nb_dtype_of(grad_out[0]));
  nn_pool p;
  nn_avg_windows a;
  if (!shape_only || setup(shape_only, attrs, &p) < 0 || windows(&p, attrs[4].i != 0, &a) < 0)
    return nb_last_status();
  grad_in[0] = nn_avg_windows_graph(&a, grad_out[0], nd, xs);
  return grad_in[0] ? 0 : nb_last_status();
}

static int avg_pool2d_samples(nb_sample_sink *s) {
  int rc = 0;
#define S(...) (int64_t[]){__VA_ARGS__}
#define A(...) (nb_attr[]){__VA_ARGS__}
  rc |= nn_pool_sample(s, "2x2", S(2, 2, 4, 4), 1, A(NB_A_INTS("kernel_size", 2, 2)));
  rc |= nn_pool_sample(s, "3x3 stride 2 padding 1, count_include_pad", S(1, 2, 5, 5), 3,
                       A(NB_A_INTS("kernel_size", 3, 3), NB_A_INTS("stride", 2, 2), NB_A_INTS("padding", 1, 1)));
  rc |= nn_pool_sample(s, "padding 1, not counting padding", S(1, 1, 4, 5), 4,
                       A(NB_A_INTS("kernel_size", 3, 2), NB_A_INTS("stride", 1, 2), NB_A_INTS("padding", 1, 1),
                    NB_A_BOOL("count_include_pad", 0)));
  rc |= nn_pool_sample(s, "ceil_mode", S(1, 2, 5, 5), 3,
                       A(NB_A_INTS("kernel_size", 2, 2), NB_A_INTS("stride", 2, 2), NB_A_BOOL("ceil_mode", 1)));
#undef S
#undef A
  return rc < 0 ? NB_EINVAL : 0;
}

static const nb_output_spec outputs[] = {{"out", 0, "window averages, (N, C, OH, OW)"}};
static const nb_attr_spec attrs[] = {
    NN_POOL_KERNEL_STRIDE_ATTRS,
    {"padding", NB_ATTR_INTS, NB_ATTR_HAS_MIN, {.ints = {2, {0, 0}}}, 0, 0, NULL,
     "implicit zeros on both sides, at most half the kernel"},
    {"ceil_mode", NB_ATTR_BOOL, 0, {.i = 0}, 0, 0, NULL, "round the output size up"},
    {"count_include_pad", NB_ATTR_BOOL, 0, {.i = 1}, 0, 0, NULL,
     "divide by the window size including padded cells (else by the cells inside the input)"},
};

const nb_op_desc op_avg_pool2d = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "avg_pool2d",
    .doc = "2-D average pooling as PyTorch's F.avg_pool2d (no divisor_override). Output size "
           "per dim: floor((H + 2p - k)/s) + 1 (ceil with ceil_mode). Backward spreads each "
           "output gradient evenly over its window.",
    .n_inputs = 1,
    .inputs = nn_pool_inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .n_attrs = 5,
    .attrs = attrs,
    .forward = avg_pool2d_forward,
    .backward = avg_pool2d_backward,
    .backward_graph = avg_pool2d_backward_graph,
    .samples = avg_pool2d_samples,
    .saves = "nothing (shapes and attributes only)",
};
