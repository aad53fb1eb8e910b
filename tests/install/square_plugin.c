/* square_plugin.c — a complete out-of-tree operator plugin, the one README.md shows.
 * install_test.sh builds it against the installed tree:
 *
 *   cc -shared -fPIC -fvisibility=hidden square_plugin.c -o square.so \
 *      $(pkg-config --cflags --libs nabla)
 *
 * and loads it through NABLA_PLUGIN_PATH. One op, "square": y = x², dy/dx = 2x.
 */
#include <nabla/sdk.h>

/* y = x * x over any strides (nb_iter walks both tensors in lock-step). */
static int square_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                          nb_tensor **out) {
  (void)attrs;
  nb_tensor *x = in[0];
  out[0] = nb_empty(nb_ndim(x), nb_shape(x), NB_F64); /* scoped: the core keeps it */
  nb_iter it;
  if (!out[0] || nb_iter_init(&it, 2, (nb_tensor *[]){out[0], x}) < 0) return nb_last_status();
  do {
    for (int64_t k = 0; k < it.n; k++) {
      double v = *(const double *)(it.ptr[1] + k * it.step[1]);
      *(double *)(it.ptr[0] + k * it.step[0]) = v * v;
    }
  } while (nb_iter_next(&it));
  return nb_ctx_save(ctx, x) < 0 ? nb_last_status() : 0; /* backward needs x */
}

/* dL/dx = dL/dy * 2x */
static int square_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *x = nb_ctx_saved(ctx, 0); /* NULL if freed or modified in place */
  if (!x) return nb_last_status();
  grad_in[0] = nb_empty(nb_ndim(x), nb_shape(x), NB_F64);
  nb_iter it;
  if (!grad_in[0] || nb_iter_init(&it, 3, (nb_tensor *[]){grad_in[0], grad_out[0], x}) < 0)
    return nb_last_status();
  do {
    for (int64_t k = 0; k < it.n; k++) {
      double g = *(const double *)(it.ptr[1] + k * it.step[1]);
      double v = *(const double *)(it.ptr[2] + k * it.step[2]);
      *(double *)(it.ptr[0] + k * it.step[0]) = 2.0 * v * g;
    }
  } while (nb_iter_next(&it));
  return 0;
}

/* Inputs for nabla-gradcheck: float64, away from nothing in particular (x² is smooth). */
static int square_samples(nb_sample_sink *sink) {
  nb_tensor *x = nb_rand_range(2, (const int64_t[]){3, 4}, -2.0, 2.0, NB_F64,
                               nb_sample_generator(sink));
  return x ? nb_sample_add(sink, "3x4", 1, &x, 0, NULL, 0) : nb_last_status();
}

static const nb_input_spec square_inputs[] = {{"x", NB_DT_F64, 0, "any float64 tensor"}};
static const nb_output_spec square_outputs[] = {{"y", 0, "x squared, elementwise"}};
static const nb_op_desc square_op = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "square",
    .doc = "Elementwise square, y = x * x.",
    .n_inputs = 1,
    .inputs = square_inputs,
    .n_outputs = 1,
    .outputs = square_outputs,
    .forward = square_forward,
    .backward = square_backward,
    .samples = square_samples,
    .saves = "x",
};

static int square_init(nb_registrar *r) { return nb_register_op(r, &square_op); }

NB_PLUGIN_DEFINE("square", "1.0.0", "Example out-of-tree plugin: elementwise square", "MIT",
                 square_init)
