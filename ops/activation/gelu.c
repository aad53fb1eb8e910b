/* ops/activation/gelu.c — "gelu": x·Φ(x), exact (erf) or with PyTorch's tanh
 * approximation (attr approximate = "none" | "tanh"), as F.gelu.
 * Backward from the saved input: Φ(x) + x·φ(x), or for tanh
 * ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715·x²) with t = tanh(√(2/π)(x + 0.044715x³)).
 */
#include "act.h"

#define GELU_RSQRT2 0.70710678118654752440
#define GELU_RSQRT2PI 0.39894228040143267794 /* 1/√(2π) */
#define GELU_SQRT2_PI 0.79788456080286535588 /* √(2/π) */
#define GELU_C 0.044715
#define T(v) ((__typeof__(a))(v))

EW_UNARY_F(gelu_erf, T(0.5) * a * (1 + erf(a * T(GELU_RSQRT2))))
static const ew_fns gelu_erf_fns = EW_TABLE_F(gelu_erf);
EW_BINARY_F(gelu_erf_grad,
            a * (T(0.5) * (1 + erf(b * T(GELU_RSQRT2))) + b * T(GELU_RSQRT2PI) * exp(T(-0.5) * b * b)))
static const ew_fns gelu_erf_grad_fns = EW_TABLE_F(gelu_erf_grad);

EW_UNARY_F(gelu_tanh, T(0.5) * a * (1 + tanh(T(GELU_SQRT2_PI) * (a + T(GELU_C) * a * a * a))))
static const ew_fns gelu_tanh_fns = EW_TABLE_F(gelu_tanh);
/* in the binary kernels `a` is the gradient and `b` the input (same type) */
#define TANH_IN(b) tanh(T(GELU_SQRT2_PI) * ((b) + T(GELU_C) * (b) * (b) * (b)))
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
    .samples = gelu_samples,
    .saves = "the input (when it needs a gradient)",
};
