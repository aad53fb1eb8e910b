/* Fixture plugin with four ops, checked in this order:
 *  - fixture_crash: forward dereferences NULL (SIGSEGV): reported by name, run goes on;
 *  - fixture_hang: forward never returns: killed at --timeout and reported;
 *  - fixture_good: a + 3b with broadcasting (backward returns broadcast-shaped
 *    gradients, the core reduces them): must pass;
 *  - fixture_sign: sign(x) with its input declared NB_IN_NONDIFF and no backward:
 *    "not differentiable";
 *  - fixture_no_backward: differentiable input and output but no backward: a failure;
 *  - fixture_scribble: the identity whose backward zeroes the grad_out it was given
 *    (a correct gradient, but grad_out must be read-only): a failure. */
#include <signal.h>
#include <unistd.h>

#include "fixture.h"

/* A non-NULL address in the unmapped first page: the store faults (SIGSEGV) even in
 * sanitizer builds, where UBSan would turn a plain NULL store into an exit instead. */
static volatile uintptr_t bad_address = 8;

static int crash_fwd(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, nb_tensor **out) {
  *(volatile int *)bad_address = 1; /* SIGSEGV */
  return -1;
}

static int hang_fwd(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, nb_tensor **out) {
  for (;;) pause();
  return -1;
}

static int ident_bwd(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  grad_in[0] = grad_out[0];
  return 0;
}

/* fixture_good: out = a + 3 b, b broadcast against a */
static int good_fwd(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, nb_tensor **out) {
  nb_tensor *ac, *bc;
  double *a = fx_values(in[0], &ac), *b = fx_values(in[1], &bc);
  if (!a || !b) return nb_last_status();
  int64_t n = nb_numel(in[0]), m = nb_numel(in[1]); /* b's shape is a suffix of a's */
  if (!(out[0] = nb_empty(nb_ndim(in[0]), nb_shape(in[0]), NB_F64))) return nb_last_status();
  double *y = nb_data(out[0]);
  for (int64_t i = 0; i < n; i++) y[i] = a[i] + 3 * b[i % m];
  return 0;
}
static int good_bwd(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  if (nb_ctx_needs_input_grad(ctx, 0)) grad_in[0] = grad_out[0];
  if (nb_ctx_needs_input_grad(ctx, 1)) {
    nb_tensor *gc;
    double *g = fx_values(grad_out[0], &gc);
    nb_tensor *t = g ? nb_empty(nb_ndim(gc), nb_shape(gc), NB_F64) : NULL;
    if (!t) return nb_last_status();
    double *o = nb_data(t);
    for (int64_t i = 0; i < nb_numel(t); i++) o[i] = 3 * g[i]; /* broadcast shape: core reduces */
    grad_in[1] = t;
  }
  return 0;
}
static int good_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  nb_tensor *a = nb_rand_range(2, (int64_t[]){2, 3}, -1, 1, NB_F64, g);
  nb_tensor *b = nb_rand_range(1, (int64_t[]){3}, -1, 1, NB_F64, g);
  nb_tensor *b2 = nb_rand_range(2, (int64_t[]){2, 3}, -1, 1, NB_F64, g);
  int rc = nb_sample_add(sink, "[2,3] + 3*[3]", 2, (nb_tensor *[]){a, b}, 0, NULL, NB_SAMPLE_BROADCAST);
  return rc ? rc : nb_sample_add(sink, "[2,3] + 3*[2,3]", 2, (nb_tensor *[]){a, b2}, 0, NULL, 0);
}

static int ident_fwd(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, nb_tensor **out) {
  return (out[0] = nb_copy_data(in[0])) ? 0 : nb_last_status();
}
static int scribble_bwd(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  if (!(grad_in[0] = nb_copy_data(grad_out[0]))) return nb_last_status();
  return nb_fill(grad_out[0], 0); /* wrong: grad_out belongs to the caller */
}

FX_UNARY(sign_of, (x[i] > 0) - (x[i] < 0))
static int sign_fwd(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, nb_tensor **out) {
  return (out[0] = sign_of(in[0])) ? 0 : nb_last_status();
}

static const nb_input_spec ab[] = {{"a", NB_DT_F64, 0, "left"}, {"b", NB_DT_F64, 0, "broadcast right"}};
static const nb_input_spec x_nondiff[] = {{"x", NB_DT_F64, NB_IN_NONDIFF, "input"}};

static const nb_op_desc crash = {.struct_size = NB_OP_DESC_SIZE, .name = "fixture_crash",
  .doc = "crashes in forward", .n_inputs = 1, .inputs = fx_x, .n_outputs = 1, .outputs = fx_out,
  .forward = crash_fwd, .backward = ident_bwd, .samples = fx_samples_2x3};
static const nb_op_desc hang = {.struct_size = NB_OP_DESC_SIZE, .name = "fixture_hang",
  .doc = "never returns", .n_inputs = 1, .inputs = fx_x, .n_outputs = 1, .outputs = fx_out,
  .forward = hang_fwd, .backward = ident_bwd, .samples = fx_samples_2x3};
static const nb_op_desc good = {.struct_size = NB_OP_DESC_SIZE, .name = "fixture_good",
  .doc = "a + 3b", .n_inputs = 2, .inputs = ab, .n_outputs = 1, .outputs = fx_out,
  .forward = good_fwd, .backward = good_bwd, .samples = good_samples};
static const nb_op_desc sign = {.struct_size = NB_OP_DESC_SIZE, .name = "fixture_sign",
  .doc = "sign, not differentiable", .n_inputs = 1, .inputs = x_nondiff, .n_outputs = 1,
  .outputs = fx_out, .forward = sign_fwd, .samples = fx_samples_2x3};
static const nb_op_desc no_bwd = {.struct_size = NB_OP_DESC_SIZE, .name = "fixture_no_backward",
  .doc = "sign without declaring it", .n_inputs = 1, .inputs = fx_x, .n_outputs = 1,
  .outputs = fx_out, .forward = sign_fwd, .samples = fx_samples_2x3};

static const nb_op_desc scribble = {.struct_size = NB_OP_DESC_SIZE, .name = "fixture_scribble",
  .doc = "identity whose backward writes into grad_out", .n_inputs = 1, .inputs = fx_x, .n_outputs = 1,
  .outputs = fx_out, .forward = ident_fwd, .backward = scribble_bwd, .samples = fx_samples_2x3};

static int init(nb_registrar *r) {
  static const nb_op_desc *const ops[] = {&crash, &hang, &good, &sign, &no_bwd, &scribble, NULL};
  return nb_register_ops(r, ops);
}
NB_PLUGIN_DEFINE("fixture_crash", "0", "gradcheck fixture: crash, hang, good, not differentiable", "MIT", init)
