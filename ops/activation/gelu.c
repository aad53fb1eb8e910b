/* ops/activation/gelu.c — "gelu": x·Φ(x), exact (erf) or with PyTorch's tanh
 * approximation (attr approximate = "none" | "tanh"), as F.gelu.
 * Backward from the saved input: Φ(x) + x·φ(x), or for tanh
 * ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715·x²) with t = tanh(√(2/π)(x + 0.044715x³)).
 */
#include "act.h"
#include "../common/graph_util.h"

#define GELU_RSQRT2 0.70710678118654752440
#define GELU_RSQRT2PI 0.39894228040143267794 /* 1/√(2π) */
#define GELU_SQRT2_PI 0.79788456080286535588 /* √(2/π) */
#define GELU_C 0.044715
#define T(v) ((__typeof__(a))(v))

EW_UNARY_F(gelu_erf, T(0.5) * a * (1 + ACT_ERF(a * T(GELU_RSQRT2))))
static const ew_fns gelu_erf_fns = EW_TABLE_F(gelu_erf);
EW_BINARY_F(gelu_erf_grad,
            a * (T(0.5) * (1 + ACT_ERF(b * T(GELU_RSQRT2))) + b * T(GELU_RSQRT2PI) * EW_EXP(T(-0.5) * b * b)))
static const ew_fns gelu_erf_grad_fns = EW_TABLE_F(gelu_erf_grad);

EW_UNARY_F(gelu_tanh, T(0.5) * a * (1 + ACT_TANH(T(GELU_SQRT2_PI) * (a + T(GELU_C) * a * a * a))))
static const ew_fns gelu_tanh_fns = EW_TABLE_F(gelu_tanh);
/* in the binary kernels `a` is the gradient and `b` the input (same type) */
#define TANH_IN(b) ACT_TANH(T(GELU_SQRT2_PI) * ((b) + T(GELU_C) * (b) * (b) * (b)))
EW_BINARY_F(gelu_tanh_grad,
            a * (T(0.5) * (1 + TANH_IN(b)) +
                 T(0.5) * b * (1 - TANH_IN(b) * TANH_IN(b)) * T(GELU_SQRT2_PI) *
                     (1 + T(3 * GELU_C) * b * b)))
static const ew_fns gelu_tanh_grad_fns = EW_TABLE_F(gelu_tanh_grad);

static int gelu_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                        nb_tensor **out) {
  return act_forward(ctx, in, attrs, 0, attrs[0].i ? gelu_tanh_fns : gelu_erf_fns, out);
}

static int gelu_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  bool tanh_ = nb_ctx_attrs(ctx)[0].i != 0;
  return act_backward(ctx, grad_out, 0, tanh_ ? gelu_tanh_grad_fns : gelu_erf_grad_fns, grad_in);
}

static int gelu_samples(nb_sample_sink *sink) {
  ew_range r = {-3, 3, 0};
  int rc = ew_unary_samples(sink, r, 0, NULL);
  if (rc == 0) rc = ew_unary_samples(sink, r, 1, &NB_A_STR("approximate", "tanh"));
  return rc;
}

/* Recorded f'(x). Exact: Φ(x) + x·φ(x) with Φ(x) = ½(1 + erf(x/√2)) and
 * φ(x) = e^(−x²/2)/√(2π). Tanh: ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715·x²),
 * t = tanh(√(2/π)(x + 0.044715x³)). */
static nb_tensor *gelu_deriv(nb_tensor *x, const nb_attr_value *attrs) {
  nb_tensor *x2 = NB_CALL("mul", x, x);
  if (!x2) return NULL;
  if (!attrs[0].i) {
    nb_tensor *xs = gu_scalar("mul", x, GELU_RSQRT2), *e = xs ? NB_CALL("erf", xs) : NULL;
    nb_tensor *e1 = e ? gu_scalar("add", e, 1.0) : NULL;
    nb_tensor *cdf = e1 ? gu_scalar("mul", e1, 0.5) : NULL;
    nb_tensor *h = cdf ? gu_scalar("mul", x2, -0.5) : NULL, *ex = h ? NB_CALL("exp", h) : NULL;
    nb_tensor *pdf = ex ? gu_scalar("mul", ex, GELU_RSQRT2PI) : NULL;
    nb_tensor *xp = pdf ? NB_CALL("mul", x, pdf) : NULL;
    return xp ? NB_CALL("add", cdf, xp) : NULL;
  }
  nb_tensor *x3 = NB_CALL("mul", x2, x), *cx3 = x3 ? gu_scalar("mul", x3, GELU_C) : NULL;
  nb_tensor *in = cx3 ? NB_CALL("add", x, cx3) : NULL;
  nb_tensor *u = in ? gu_scalar("mul", in, GELU_SQRT2_PI) : NULL, *t = u ? NB_CALL("tanh", u) : NULL;
  nb_tensor *t1 = t ? gu_scalar("add", t, 1.0) : NULL, *a = t1 ? gu_scalar("mul", t1, 0.5) : NULL;
  nb_tensor *t2 = a ? NB_CALL("mul", t, t) : NULL, *nt2 = t2 ? NB_CALL("neg", t2) : NULL;
  nb_tensor *omt = nt2 ? gu_scalar("add", nt2, 1.0) : NULL;                     /* 1 − t² */
  nb_tensor *p3 = omt ? gu_scalar("mul", x2, 3 * GELU_C) : NULL, *p = p3 ? gu_scalar("add", p3, 1.0) : NULL;
  nb_tensor *xo = p ? NB_CALL("mul", x, omt) : NULL, *xop = xo ? NB_CALL("mul", xo, p) : NULL;
  nb_tensor *b = xop ? gu_scalar("mul", xop, 0.5 * GELU_SQRT2_PI) : NULL;
  return b ? NB_CALL("add", a, b) : NULL;
}
static int gelu_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return act_backward_graph(ctx, grad_out, gelu_deriv, grad_in);
}

static const nb_attr_spec gelu_attrs[] = {
    {.name = "approximate",
     .type = NB_ATTR_STRING,
     .def = {.s = "none"},
     .choices = "none,tanh",
     .doc = "\"none\": exact x·Φ(x) with erf; \"tanh\": PyTorch's tanh approximation"},
};

const nb_op_desc op_gelu = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "gelu",
    .doc = "Gaussian error linear unit, as F.gelu: x·Φ(x) = ½x(1 + erf(x/√2)), or with "
           "approximate=\"tanh\" ½x(1 + tanh(√(2/π)(x + 0.044715x³))). Gradient from the "
           "saved input.",
    .node_name = "GeluBackward",
    .n_inputs = 1,
    .inputs = act_inputs,
    .n_outputs = 1,
    .outputs = act_outputs,
    .n_attrs = 1,
    .attrs = gelu_attrs,
    .forward = gelu_forward,
    .backward = gelu_backward,
    .backward_graph = gelu_backward_graph,
    .samples = gelu_samples,
    .saves = "the input (when it needs a gradient)",
};
