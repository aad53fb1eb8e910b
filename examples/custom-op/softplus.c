/* softplus.c — a complete out-of-tree nabla operator plugin: one op, "my_softplus" (nabla
 * ships "softplus" in its activation plugin, and two plugins may not register one name).
 *
 *   softplus(x) = log(1 + exp(beta * x)) / beta,  or x where beta * x > threshold
 *
 * (PyTorch's torch.nn.functional.softplus, same attributes and defaults.) Everything a
 * plugin needs is here: the schema (inputs, outputs, attributes), forward, backward,
 * the samples nabla-gradcheck uses, and the entry point. Build: see meson.build and
 * README.md.
 */
#include <math.h>
#include <nabla/sdk.h>

/* y = f(x) elementwise over any strides, float32 or float64, using the core's
 * strided iterator (out first: it gives the iteration shape). */
static int softplus_map(nb_tensor *y, nb_tensor *x, nb_tensor *g, double beta, double threshold) {
  bool f32 = nb_dtype_of(y) == NB_F32;
  nb_iter it;
  int n = g ? 3 : 2;
  if (nb_iter_init(&it, n, (nb_tensor *[]){y, x, g}) < 0) return nb_last_status();
  do {
    for (int64_t k = 0; k < it.n; k++) {
      char *py = it.ptr[0] + k * it.step[0], *px = it.ptr[1] + k * it.step[1];
      double v = f32 ? *(float *)px : *(double *)px, bx = beta * v, r;
      if (!g) { /* forward */
        r = bx > threshold ? v : log1p(exp(bx)) / beta;
      } else { /* backward: grad * sigmoid(beta x), or grad in the linear region */
        char *pg = it.ptr[2] + k * it.step[2];
        double gv = f32 ? *(float *)pg : *(double *)pg;
        r = bx > threshold ? gv : gv / (1 + exp(-bx));
      }
      if (f32)
        *(float *)py = (float)r;
      else
        *(double *)py = r;
    }
  } while (nb_iter_next(&it));
  return 0;
}

/* attrs arrive resolved in schema order: [0] beta, [1] threshold */
static int softplus_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                            nb_tensor **out) {
  nb_tensor *x = in[0];
  out[0] = nb_empty(nb_ndim(x), nb_shape(x), nb_dtype_of(x)); /* scoped: dispatch keeps it */
  if (!out[0]) return nb_last_status();
  int rc = softplus_map(out[0], x, NULL, attrs[0].f, attrs[1].f);
  if (rc < 0) return rc;
  /* Save the input only when a gradient will be asked for. */
  if (nb_ctx_needs_input_grad(ctx, 0) && nb_ctx_save(ctx, x) < 0) return nb_last_status();
  return 0;
}

static int softplus_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *x = nb_ctx_saved(ctx, 0); /* NULL if freed or modified in place */
  if (!x) return nb_last_status();
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  nb_tensor *gx = nb_empty(nb_ndim(x), nb_shape(x), nb_dtype_of(x));
  if (!gx) return nb_last_status();
  int rc = softplus_map(gx, x, grad_out[0], attrs[0].f, attrs[1].f);
  if (rc < 0) return rc;
  grad_in[0] = gx;
  return 0;
}

/* Samples for nabla-gradcheck: float64 inputs, away from the kink at the threshold. */
static int softplus_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  nb_tensor *a = nb_rand_range(2, (int64_t[]){3, 4}, -3, 3, NB_F64, g);
  nb_tensor *b = nb_rand_range(3, (int64_t[]){2, 3, 2}, -1.5, 1.5, NB_F64, g);
  nb_tensor *c = nb_rand_range(1, (int64_t[]){5}, 2.5, 4, NB_F64, g);
  nb_tensor *d = nb_scalar(0.25, NB_F64);
  int rc = nb_sample_add(sink, "3x4, defaults", 1, &a, 0, NULL, 0);
  if (!rc)
    rc = nb_sample_add(sink, "2x3x2, beta 2, threshold 4", 1, &b, 2,
                       (nb_attr[]){NB_A_FLOAT("beta", 2.0), NB_A_FLOAT("threshold", 4.0)}, 0);
  if (!rc)
    rc = nb_sample_add(sink, "linear region (beta 2, threshold 4)", 1, &c, 2,
                       (nb_attr[]){NB_A_FLOAT("beta", 2.0), NB_A_FLOAT("threshold", 4.0)}, 0);
  if (!rc) rc = nb_sample_add(sink, "0-d", 1, &d, 0, NULL, 0);
  return rc;
}

static const nb_input_spec softplus_inputs[] = {
    {"input", NB_DT_FLOAT, 0, "any floating tensor"}};
static const nb_output_spec softplus_outputs[] = {{"out", 0, "same shape and dtype as input"}};
static const nb_attr_spec softplus_attrs[] = {
    {"beta", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN, {.f = 1.0}, 1e-6, 0, NULL, "sharpness (> 0)"},
    {"threshold", NB_ATTR_FLOAT, 0, {.f = 20.0}, 0, 0, NULL,
     "above beta*x > threshold the op is the identity"},
};

static const nb_op_desc softplus_op = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "my_softplus",
    .doc = "log(1 + exp(beta*x)) / beta, the identity where beta*x > threshold (as PyTorch).",
    .node_name = "MySoftplusBackward",
    .n_inputs = 1,
    .inputs = softplus_inputs,
    .n_outputs = 1,
    .outputs = softplus_outputs,
    .n_attrs = 2,
    .attrs = softplus_attrs,
    .forward = softplus_forward,
    .backward = softplus_backward,
    .samples = softplus_samples,
    .saves = "the input (when it needs a gradient)",
};

static int softplus_init(nb_registrar *r) { return nb_register_op(r, &softplus_op); }

NB_PLUGIN_DEFINE("softplus", "1.0.0", "Softplus activation (example out-of-tree plugin)", "MIT",
                 softplus_init)
