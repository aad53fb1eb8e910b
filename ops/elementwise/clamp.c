/* ops/elementwise/clamp.c — "clamp": elementwise min(max(x, min), max) with optional
 * bounds (attrs "min", "max"; an absent or nan bound means unbounded on that side; when
 * min > max every element becomes max, as PyTorch).
 * Backward: g where min <= x <= max, else 0 (PyTorch's mask, bounds included).
 */
#include <math.h>

#include "ew.h"
#include "../common/graph_util.h"

/* Compares are kept unconditional (no nested ?: or &&) so the loops vectorise. */
#define MAX_LO(a, lo) ((a) < (lo) ? (lo) : (a))
#define MIN_HI(a, hi) ((a) > (hi) ? (hi) : (a))
#define INSIDE(a, lo, hi) (((a) >= (lo)) & ((a) <= (hi)))
EW_UNARY(clamp_f32, float, float, MIN_HI(MAX_LO(a, (float)X->v0), (float)X->v1))
EW_UNARY(clamp_f64, double, double, MIN_HI(MAX_LO(a, X->v0), X->v1))
static const ew_fns clamp_fns = EW_TABLE_F(clamp);
/* (g, x) -> g where lo <= x <= hi */
EW_BINARY(clamp_grad_f32, float, float, float, INSIDE(b, (float)X->v0, (float)X->v1) ? a : 0)
EW_BINARY(clamp_grad_f64, double, double, double, INSIDE(b, X->v0, X->v1) ? a : 0)
static const ew_fns clamp_grad_fns = EW_TABLE_F(clamp_grad);

/* Bounds from the resolved attrs: absent sides become -inf / +inf. */
static ew_extra clamp_bounds(const nb_attr_value *attrs) {
  ew_extra x = {-INFINITY, INFINITY, 0, 0};
  if (!isnan(attrs[0].f)) x.v0 = attrs[0].f, x.has0 = 1;
  if (!isnan(attrs[1].f)) x.v1 = attrs[1].f, x.has1 = 1;
  return x;
}

static int clamp_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                         nb_tensor **out) {
  ew_extra x = clamp_bounds(attrs);
  if (!x.has0 && !x.has1)
    return nb_set_error(NB_EINVAL,
                        "clamp: at least one of 'min' or 'max' must be given "
                        "(input %s %s)",
                        nb_dtype_name(nb_dtype_of(in[0])), nb_shape_of(in[0]));
  out[0] = ew_map(1, in, clamp_fns, &x);
  if (!out[0]) return nb_last_status();
  if (nb_ctx_needs_input_grad(ctx, 0) && ew_save(ctx, in[0]) < 0) return nb_last_status();
  return 0;
}

static int clamp_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *s = nb_ctx_saved(ctx, 0);
  if (!s) return nb_last_status();
  ew_extra x = clamp_bounds(nb_ctx_attrs(ctx));
  grad_in[0] = ew_map(2, (nb_tensor *const[]){grad_out[0], s}, clamp_grad_fns, &x);
  return grad_in[0] ? 0 : nb_last_status();
}

/* Inputs in [-2, 2) kept at least 0.1 away from the bounds +-1 (the kinks). */
static nb_tensor *clamp_input(nb_sample_sink *sink, int ndim, const int64_t *shape) {
  nb_tensor *t = ew_rand(sink, ndim, shape, -2, 2);
  if (!t) return NULL;
  double *v = nb_data(t);
  for (int64_t i = 0; i < nb_numel(t); i++)
    for (double b = -1; b <= 1; b += 2)
      if (fabs(v[i] - b) < 0.1) v[i] = b + (v[i] < b ? -0.1 : 0.1);
  return t;
}

static int clamp_samples(nb_sample_sink *sink) {
  if (nb_scope_begin() < 0) return nb_last_status();
  int r = 0;
  int64_t sh[] = {3, 4};
  nb_tensor *x = clamp_input(sink, 2, sh), *s = clamp_input(sink, 0, NULL);
  if (!x || !s) r = nb_last_status();
  nb_attr both[] = {NB_A_FLOAT("min", -1.0), NB_A_FLOAT("max", 1.0)};
  if (r == 0) r = nb_sample_add(sink, "min -1, max 1", 1, &x, 2, both, 0);
  if (r == 0) r = nb_sample_add(sink, "min -1 only", 1, &x, 1, &NB_A_FLOAT("min", -1.0), 0);
  if (r == 0) r = nb_sample_add(sink, "max 1 only", 1, &x, 1, &NB_A_FLOAT("max", 1.0), 0);
  if (r == 0) r = nb_sample_add(sink, "0-d, min -1, max 1", 1, &s, 2, both, 0);
  nb_scope_end();
  return r;
}

/* Piecewise linear: g times the (constant) derivative mask, recorded through g. */
static int clamp_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return (grad_in[0] = gu_masked(ctx, clamp_backward, grad_out[0], 0)) ? 0 : nb_last_status();
}

static const nb_input_spec clamp_inputs[] = {{"input", NB_DT_FLOAT, 0, "any floating tensor"}};
static const nb_output_spec clamp_outputs[] = {{"out", 0, "same shape and dtype as input"}};
/* Not NB_ATTR_OPTIONAL: dispatch zeroes an absent optional FLOAT, which cannot be told
 * from an explicit 0. A nan default gives "absent means unbounded" exactly. */
static const nb_attr_spec clamp_attrs[] = {
    {.name = "min",
     .type = NB_ATTR_FLOAT,
     .def = {.f = NAN},
     .doc = "lower bound; absent (default nan) means no lower bound"},
    {.name = "max",
     .type = NB_ATTR_FLOAT,
     .def = {.f = NAN},
     .doc = "upper bound; absent (default nan) means no upper bound"},
};

const nb_op_desc op_clamp = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "clamp",
    .doc = "Elementwise clamp to [min, max]: min(max(x, min), max). Either bound may be "
           "absent (at least one must be given); when min > max every element becomes max. "
           "nan inputs stay nan. Gradient g where min <= x <= max, 0 elsewhere.",
    .node_name = "ClampBackward",
    .n_inputs = 1,
    .inputs = clamp_inputs,
    .n_outputs = 1,
    .outputs = clamp_outputs,
    .n_attrs = 2,
    .attrs = clamp_attrs,
    .forward = clamp_forward,
    .backward = clamp_backward,
    .backward_graph = clamp_backward_graph,
    .samples = clamp_samples,
    .saves = "the input (when it needs a gradient)",
};
