/* ops/reduction/red_arg_ops.c — forward, schema and samples shared by "argmax" and
 * "argmin": the int64 position of the extreme along a dim, or over the flattened input
 * when no dim is given. Built on red_extreme_dim (the kernel of max_dim/min_dim). */
#include <string.h>

#include "reduce.h"

int red_arg_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, bool is_max,
                    nb_tensor **out) {
  const char *op = nb_ctx_op_name(ctx);
  nb_tensor *x = in[0];
  int ndim = nb_ndim(x);
  bool keepdim = attrs[1].i != 0;
  if (attrs[0].ints.n > 1) {
    char buf[192];
    return nb_set_error(NB_EINVAL, "%s: dim %s names more than one dim (give one, or none for "
                        "the flattened input)", op, ops_ints_str(&attrs[0].ints, buf, sizeof buf));
  }
  if (nb_numel(x) == 0)
    return nb_set_error(NB_EINVAL, "%s: cannot take the %s of an empty tensor of shape %s", op,
                        is_max ? "argmax" : "argmin", nb_shape_of(x));
  int64_t oshape[NB_MAX_DIMS];
  int d = 0, ond = 0;
  if (attrs[0].ints.n == 1) {
    if ((d = ops_wrap_dim(op, attrs[0].ints.v[0], ndim, nb_shape(x), false)) < 0) return d;
    ond = red_out_shape(ndim, nb_shape(x), ndim > 0 ? 1u << d : 0u, keepdim, oshape);
  } else { /* the flattened input: a 1-d view of a contiguous copy */
    nb_tensor *c = ops_contig(x);
    int64_t n = nb_numel(x), one = 1;
    x = c ? ops_view(c, 1, &n, &one, 0) : NULL;
    if (!x) return nb_last_status();
    ond = keepdim ? ndim : 0;
    for (int i = 0; i < ond; i++) oshape[i] = 1;
  }
  nb_tensor *vals = nb_empty(ond, oshape, nb_dtype_of(x));
  nb_tensor *idx = vals ? nb_empty(ond, oshape, NB_I64) : NULL;
  if (!idx) return nb_last_status();
  int rc = red_extreme_dim(x, d, is_max, vals, idx);
  if (rc < 0) return rc;
  out[0] = idx;
  return 0;
}

const nb_input_spec red_arg_inputs[1] = {
    {"input", NB_DT_FLOAT, NB_IN_NONDIFF,
     "non-empty tensor (float32 or float64); may require grad (the result never does)"}};
const nb_output_spec red_arg_outputs[1] = {
    {"out", NB_OUT_NONDIFF, "int64 positions (first on ties; NaN wins)"}};
const nb_attr_spec red_arg_attrs[2] = {
    {.name = "dim",
     .type = NB_ATTR_INTS,
     .flags = NB_ATTR_OPTIONAL,
     .doc = "one dim to reduce (negative counts from the end); absent: the flattened input"},
    {.name = "keepdim", .type = NB_ATTR_BOOL, .def = {.i = 0},
     .doc = "keep the reduced dim (all dims when flattened) as size 1"},
};

int red_arg_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  static const struct {
    const char *desc;
    int ndim;
    int64_t shape[3];
    int ndims;
    int64_t dim;
    bool keepdim;
  } s[] = {
      {"[3,4] dim 1", 2, {3, 4}, 1, 1, false},
      {"[2,3,4] dim -2, keepdim", 3, {2, 3, 4}, 1, -2, true},
      {"[3,4] flattened", 2, {3, 4}, 0, 0, false},
      {"[2,3] flattened, keepdim", 2, {2, 3}, 0, 0, true},
  };
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
    nb_tensor *x = red_distinct_sample(g, s[i].ndim, s[i].shape);
    if (!x) return nb_last_status();
    nb_attr a[] = {NB_A_BOOL("keepdim", s[i].keepdim), NB_A_INTS("dim", s[i].dim)};
    int rc = nb_sample_add(sink, s[i].desc, 1, &x, s[i].ndims ? 2 : 1, a, NB_SAMPLE_NO_GRAD_CHECK);
    if (rc < 0) return rc;
  }
  return 0;
}
