/* Fixture: a tiny good plugin ("plugtest_good") with one op and one optimizer.
 *
 * plugtest_scale(x; factor, mode, size, bias) = x * factor * (mode == "negate" ? -1 : 1)
 *                                               * prod(size) + bias
 * Its attributes exercise every resolution rule (defaults, INT->FLOAT, INTS broadcast,
 * choices, ranges, a required one). plugtest_sgd: param -= lr * grad.
 */
#include <nabla/sdk.h>

static double scale_of(const nb_attr_value *a) {
  double s = a[0].f * (a[1].i == 1 ? -1.0 : 1.0);
  for (int j = 0; j < a[2].ints.n; j++) s *= (double)a[2].ints.v[j];
  return s;
}

/* out = x * s + b for a floating tensor (copied to be contiguous). */
static nb_tensor *affine(nb_tensor *x, double s, double b) {
  nb_tensor *out = nb_copy_data(x);
  if (!out) return NULL;
  int64_t n = nb_numel(out);
  if (nb_dtype_of(out) == NB_F32) {
    float *p = nb_data(out);
    for (int64_t i = 0; i < n; i++) p[i] = (float)(p[i] * s + b);
  } else {
    double *p = nb_data(out);
    for (int64_t i = 0; i < n; i++) p[i] = p[i] * s + b;
  }
  return out;
}

static int scale_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *a,
                         nb_tensor **out) {
  out[0] = affine(in[0], scale_of(a), a[3].f);
  return out[0] ? 0 : nb_last_status();
}

static int scale_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  if (nb_ctx_needs_input_grad(ctx, 0)) {
    grad_in[0] = affine(grad_out[0], scale_of(nb_ctx_attrs(ctx)), 0.0);
    if (!grad_in[0]) return nb_last_status();
  }
  return 0;
}

static int scale_samples(nb_sample_sink *sink) {
  int64_t shape[2] = {2, 3};
  nb_tensor *x = nb_rand_range(2, shape, -1.0, 1.0, NB_F64, nb_sample_generator(sink));
  nb_attr a1[] = {NB_A_FLOAT("bias", 0.5)};
  nb_attr a2[] = {NB_A_FLOAT("bias", -1.0), NB_A_STR("mode", "negate"), NB_A_INTS("size", 2, 3)};
  int rc = nb_sample_add(sink, "defaults", 1, &x, 1, a1, 0);
  if (rc == 0) rc = nb_sample_add(sink, "negate, size (2,3)", 1, &x, 3, a2, 0);
  return rc;
}

static const nb_input_spec scale_inputs[] = {{"x", NB_DT_FLOAT, 0, "the tensor to scale"}};
static const nb_output_spec scale_outputs[] = {{"out", 0, "scaled tensor"}};
static const nb_attr_spec scale_attrs[] = {
    {.name = "factor", .type = NB_ATTR_FLOAT, .flags = NB_ATTR_HAS_MIN | NB_ATTR_HAS_MAX,
     .def = {.f = 2.0}, .min = -100, .max = 100, .doc = "multiplier"},
    {.name = "mode", .type = NB_ATTR_STRING, .def = {.s = "plain"}, .choices = "plain,negate",
     .doc = "negate flips the sign"},
    {.name = "size", .type = NB_ATTR_INTS, .flags = NB_ATTR_HAS_MIN,
     .def = {.ints = {2, {1, 1}}}, .min = 1, .doc = "extra factors, multiplied"},
    {.name = "bias", .type = NB_ATTR_FLOAT, .flags = NB_ATTR_REQUIRED, .doc = "added last"},
};
static const nb_op_desc scale_op = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "plugtest_scale",
    .doc = "Test op: x * factor * sign * prod(size) + bias.",
    .n_inputs = 1, .inputs = scale_inputs,
    .n_outputs = 1, .outputs = scale_outputs,
    .n_attrs = 4, .attrs = scale_attrs,
    .forward = scale_forward, .backward = scale_backward, .samples = scale_samples,
    .saves = "nothing (the gradient only needs the attributes)",
};

static int sgd_step(const nb_attr_value *hp, int64_t step, nb_tensor *param, nb_tensor *grad,
                    nb_tensor **state) {
  return nb_axpy_into(param, -hp[0].f, grad);
}
static const nb_attr_spec sgd_hp[] = {
    {.name = "lr", .type = NB_ATTR_FLOAT, .flags = NB_ATTR_HAS_MIN, .def = {.f = 0.1}, .min = 0,
     .doc = "learning rate"},
};
static const nb_optim_desc sgd_optim = {
    .struct_size = NB_OPTIM_DESC_SIZE, .name = "plugtest_sgd", .doc = "Test optimizer.",
    .n_hparams = 1, .hparams = sgd_hp, .step = sgd_step,
};

static int init(nb_registrar *r) {
  int rc = nb_register_op(r, &scale_op);
  return rc < 0 ? rc : nb_register_optimizer(r, &sgd_optim);
}

NB_PLUGIN_DEFINE("plugtest_good", "1.2.3", "A tiny good test plugin", "MIT", init)
