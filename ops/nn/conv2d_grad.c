/* ops/nn/conv2d_grad.c — conv2d's two gradients as ops of their own, so that a
 * create_graph backward through conv2d records them and they can be differentiated again
 * (PyTorch's convolution_backward plays the same part):
 *
 *   "conv2d_input_grad"(g, w)   dx = J_xᵀ g, the transposed convolution of g by w,
 *                               for an input of spatial size input_size
 *   "conv2d_weight_grad"(x, g)  dw = J_wᵀ g, for a kernel of kernel_size
 *
 * Both are bilinear, and their vector-Jacobian products are conv2d and each other:
 *   input_grad:  d/dg = conv2d(u, w)        d/dw = weight_grad(u, g)    (u shaped like x)
 *   weight_grad: d/dx = input_grad(g, v)    d/dg = conv2d(x, v)         (v shaped like w)
 * so their backwards are written with dispatched ops and serve as backward_graph too.
 * Forward runs conv2d's own gradient kernels (nn_conv2d_grads in conv2d.c).
 */
#include "nn_util.h"

/* The size attribute (input_size or kernel_size): two values >= 1. */
static int size_attr(const char *op, const char *name, const nb_ints *v, int64_t out[2]) {
  if (v->n != 2)
    return nb_set_error(NB_EINVAL, "%s: %s needs 2 values (height, width), got %d", op, name, v->n);
  out[0] = v->v[0], out[1] = v->v[1];
  return 0;
}

/* ---- conv2d_input_grad(grad_output, weight) --------------------------------------------- */

static int input_grad_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                              nb_tensor **out) {
  nb_tensor *g = in[0], *w = in[1];
  int64_t hw[2] = {0, 0};
  if (size_attr("conv2d_input_grad", "input_size", &attrs[4].ints, hw) < 0) return nb_last_status();
  if (ops_same_dtype("conv2d_input_grad", g, "grad_output", w, "weight") < 0) return NB_EDTYPE;
  int gd = nb_ndim(g);
  if ((gd != 3 && gd != 4) || nb_ndim(w) != 4)
    return nb_set_error(NB_ESHAPE, "conv2d_input_grad: expected a 3-D or 4-D grad_output and a 4-D "
                        "weight, got %s and %s", nb_shape_of(g), nb_shape_str(nb_ndim(w), nb_shape(w),
                        (char[96]){0}, 96));
  int64_t xsh[4] = {nb_shape(g)[0], nb_shape(w)[1] * attrs[3].i, hw[0], hw[1]};
  const int64_t *xs = gd == 4 ? xsh : xsh + 1;
  if (nn_conv2d_grads(nb_dtype_of(g), gd, xs, NULL, nb_shape(w), w, g, attrs, NULL, &out[0], NULL, NULL) < 0)
    return nb_last_status();
  /* fixed slots: g for weight's gradient, w for grad_output's */
  if (nb_ctx_save(ctx, nb_ctx_needs_input_grad(ctx, 1) ? g : NULL) < 0 ||
      nb_ctx_save(ctx, nb_ctx_needs_input_grad(ctx, 0) ? w : NULL) < 0)
    return nb_last_status();
  return 0;
}

static int input_grad_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  const nb_attr_value *at = nb_ctx_attrs(ctx);
  nb_tensor *u = grad_out[0];
  if (nb_ctx_needs_input_grad(ctx, 0)) {
    nb_tensor *w = nb_ctx_saved(ctx, 1);
    if (!w || !(grad_in[0] = nn_conv2d_call("conv2d", u, w, at, 0, 0))) return nb_last_status();
  }
  if (nb_ctx_needs_input_grad(ctx, 1)) {
    nb_tensor *g = nb_ctx_saved(ctx, 0);
    int wnd;
    const int64_t *wsh = nb_ctx_input_shape(ctx, 1, &wnd);
    if (!g || !(grad_in[1] = nn_conv2d_call("conv2d_weight_grad", u, g, at, wsh[2], wsh[3])))
      return nb_last_status();
  }
  return 0;
}

/* ---- conv2d_weight_grad(input, grad_output) ---------------------------------------------- */

static int weight_grad_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                               nb_tensor **out) {
  nb_tensor *x = in[0], *g = in[1];
  int64_t k[2] = {0, 0};
  if (size_attr("conv2d_weight_grad", "kernel_size", &attrs[4].ints, k) < 0) return nb_last_status();
  if (ops_same_dtype("conv2d_weight_grad", x, "input", g, "grad_output") < 0) return NB_EDTYPE;
  int xd = nb_ndim(x);
  if ((xd != 3 && xd != 4) || nb_ndim(g) != xd)
    return nb_set_error(NB_ESHAPE, "conv2d_weight_grad: expected input and grad_output both 3-D or "
                        "4-D, got %s and %s", nb_shape_of(x), nb_shape_str(nb_ndim(g), nb_shape(g),
                        (char[96]){0}, 96));
  int64_t G = attrs[3].i, C = nb_shape(x)[xd - 3];
  if (G < 1 || C % G)
    return nb_set_error(NB_ESHAPE, "conv2d_weight_grad: %lld input channels do not split into %lld "
                        "groups", (long long)C, (long long)G);
  int64_t wsh[4] = {nb_shape(g)[xd - 3], C / G, k[0], k[1]};
  if (nn_conv2d_grads(nb_dtype_of(x), xd, nb_shape(x), x, wsh, NULL, g, attrs, NULL, NULL, &out[0], NULL) < 0)
    return nb_last_status();
  /* fixed slots: g for input's gradient, x for grad_output's */
  if (nb_ctx_save(ctx, nb_ctx_needs_input_grad(ctx, 0) ? g : NULL) < 0 ||
      nb_ctx_save(ctx, nb_ctx_needs_input_grad(ctx, 1) ? x : NULL) < 0)
    return nb_last_status();
  return 0;
}

static int weight_grad_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  const nb_attr_value *at = nb_ctx_attrs(ctx);
  nb_tensor *v = grad_out[0];
  if (nb_ctx_needs_input_grad(ctx, 0)) {
    nb_tensor *g = nb_ctx_saved(ctx, 0);
    int xnd;
    const int64_t *xsh = nb_ctx_input_shape(ctx, 0, &xnd);
    if (!g || !(grad_in[0] = nn_conv2d_call("conv2d_input_grad", g, v, at, xsh[xnd - 2], xsh[xnd - 1])))
      return nb_last_status();
  }
  if (nb_ctx_needs_input_grad(ctx, 1)) {
    nb_tensor *x = nb_ctx_saved(ctx, 1);
    if (!x || !(grad_in[1] = nn_conv2d_call("conv2d", x, v, at, 0, 0))) return nb_last_status();
  }
  return 0;
}

/* ---- samples and schema ---------------------------------------------------------------- */

/* Samples of conv2d_input_grad (input_grad) or conv2d_weight_grad: plain, strided with an
 * input size that stride 2 rounds away, dilated and grouped, unbatched. */
static int grad_samples(nb_sample_sink *s, bool input_grad) {
  int rc = 0;
#define S(...) (int64_t[]){__VA_ARGS__}
  struct { const char *d; const int64_t *x; int64_t M, kh, kw, st, pd, dl, G; int nd; } c[] = {
      {"3x3", S(2, 2, 5, 5), 3, 3, 3, 1, 0, 1, 1, 4},
      {"stride 2, padding 1, odd size", S(1, 2, 7, 6), 2, 3, 3, 2, 1, 1, 1, 4},
      {"dilation 2, groups 2", S(1, 4, 6, 6), 2, 2, 2, 1, 1, 2, 2, 4},
      {"unbatched 1x1", S(1, 3, 3, 4), 2, 1, 1, 1, 0, 1, 1, 3},
  };
#undef S
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    nb_generator *gen = nb_sample_generator(s);
    const int64_t *xs = c[i].x;
    int64_t OH = (xs[2] + 2 * c[i].pd - c[i].dl * (c[i].kh - 1) - 1) / c[i].st + 1;
    int64_t OW = (xs[3] + 2 * c[i].pd - c[i].dl * (c[i].kw - 1) - 1) / c[i].st + 1;
    int64_t gs[4] = {xs[0], c[i].M, OH, OW}, ws[4] = {c[i].M, xs[1] / c[i].G, c[i].kh, c[i].kw};
    int nd = c[i].nd;
    nb_tensor *g = nb_rand_range(nd, gs + 4 - nd, -1, 1, NB_F64, gen);
    nb_tensor *other = input_grad ? nb_rand_range(4, ws, -1, 1, NB_F64, gen)
                                  : nb_rand_range(nd, xs + 4 - nd, -1, 1, NB_F64, gen);
    nb_attr at[5] = {NB_A_INTS("stride", c[i].st, c[i].st), NB_A_INTS("padding", c[i].pd, c[i].pd),
                     NB_A_INTS("dilation", c[i].dl, c[i].dl), NB_A_INT("groups", c[i].G),
                     input_grad ? NB_A_INTS("input_size", xs[2], xs[3])
                                : NB_A_INTS("kernel_size", c[i].kh, c[i].kw)};
    nb_tensor *in[2] = {input_grad ? g : other, input_grad ? other : g};
    rc |= nb_sample_add(s, c[i].d, 2, in, 5, at, 0);
  }
  return rc < 0 ? NB_EINVAL : 0;
}
static int input_grad_samples(nb_sample_sink *s) { return grad_samples(s, true); }
static int weight_grad_samples(nb_sample_sink *s) { return grad_samples(s, false); }

static const nb_input_spec input_grad_inputs[] = {
    {"grad_output", NB_DT_FLOAT, 0, "conv2d's output gradient (N, out_channels, OH, OW) or 3-D"},
    {"weight", NB_DT_FLOAT, 0, "(out_channels, in_channels/groups, kH, kW)"},
};
static const nb_input_spec weight_grad_inputs[] = {
    {"input", NB_DT_FLOAT, 0, "conv2d's input (N, C, H, W) or 3-D"},
    {"grad_output", NB_DT_FLOAT, 0, "conv2d's output gradient, same number of dims"},
};
static const nb_output_spec input_grad_outputs[] = {{"grad_input", 0, "(N, C, H, W) or 3-D"}};
static const nb_output_spec weight_grad_outputs[] = {{"grad_weight", 0, "(out_channels, C/groups, kH, kW)"}};
static const nb_attr_spec input_grad_attrs[] = {
    NN_CONV2D_ATTR_SPECS,
    {"input_size", NB_ATTR_INTS, NB_ATTR_REQUIRED | NB_ATTR_HAS_MIN, {.i = 0}, 1, 0, NULL,
     "(H, W) of conv2d's input (several sizes give the same output size when stride > 1)"}};
static const nb_attr_spec weight_grad_attrs[] = {
    NN_CONV2D_ATTR_SPECS,
    {"kernel_size", NB_ATTR_INTS, NB_ATTR_REQUIRED | NB_ATTR_HAS_MIN, {.i = 0}, 1, 0, NULL,
     "(kH, kW) of conv2d's weight"}};

const nb_op_desc op_conv2d_input_grad = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "conv2d_input_grad",
    .doc = "The input gradient of conv2d (a transposed convolution of grad_output by weight) "
           "for an input of spatial size input_size, with conv2d's stride, padding, dilation "
           "and groups. conv2d's backward under create_graph records it; it is differentiable "
           "again (its gradients are conv2d and conv2d_weight_grad).",
    .n_inputs = 2,
    .inputs = input_grad_inputs,
    .n_outputs = 1,
    .outputs = input_grad_outputs,
    .n_attrs = 5,
    .attrs = input_grad_attrs,
    .forward = input_grad_forward,
    .backward = input_grad_backward,
    .samples = input_grad_samples,
    .backward_graph = input_grad_backward,
    .saves = "grad_output (when weight needs a gradient) and weight (when grad_output does)",
};

const nb_op_desc op_conv2d_weight_grad = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "conv2d_weight_grad",
    .doc = "The weight gradient of conv2d for a kernel of kernel_size, from conv2d's input and "
           "output gradient, with conv2d's stride, padding, dilation and groups. conv2d's "
           "backward under create_graph records it; it is differentiable again (its gradients "
           "are conv2d_input_grad and conv2d).",
    .n_inputs = 2,
    .inputs = weight_grad_inputs,
    .n_outputs = 1,
    .outputs = weight_grad_outputs,
    .n_attrs = 5,
    .attrs = weight_grad_attrs,
    .forward = weight_grad_forward,
    .backward = weight_grad_backward,
    .samples = weight_grad_samples,
    .backward_graph = weight_grad_backward,
    .saves = "grad_output (when input needs a gradient) and input (when grad_output does)",
};
