/* ops/reduction/max_dim.c — "max_dim": maxima along one dim, with their indices. */
#include "reduce.h"

static int max_dim_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                           nb_tensor **out) {
  return red_extreme_dim_forward(ctx, in, attrs, true, out);
}

static int max_dim_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  struct {
    const char *desc;
    nb_tensor *x;
    int64_t dim;
    bool keepdim;
  } s[] = {
      {"[3,4] dim 1", red_distinct_sample(g, 2, (int64_t[]){3, 4}), 1, false},
      {"[3,4] dim 0, keepdim", red_distinct_sample(g, 2, (int64_t[]){3, 4}), 0, true},
      {"[2,3,4] dim -2", red_distinct_sample(g, 3, (int64_t[]){2, 3, 4}), -2, false},
      {"[2,3,4] dim -1, keepdim", red_distinct_sample(g, 3, (int64_t[]){2, 3, 4}), -1, true},
      {"transposed [5,3] dim 0",
       red_transposed_sample(red_distinct_sample(g, 2, (int64_t[]){3, 5})), 0, false},
      {"transposed [5,3] dim 1, keepdim",
       red_transposed_sample(red_distinct_sample(g, 2, (int64_t[]){3, 5})), 1, true},
      {"0-d, dim 0", red_distinct_sample(g, 0, NULL), 0, false},
  };
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
    if (!s[i].x) return nb_last_status();
    nb_attr a[] = {NB_A_INT("dim", s[i].dim), NB_A_BOOL("keepdim", s[i].keepdim)};
    int rc = nb_sample_add(sink, s[i].desc, 1, &s[i].x, 2, a, 0);
    if (rc < 0) return rc;
  }
  return 0;
}

static const nb_input_spec max_dim_inputs[] = {
    {"input", NB_DT_FLOAT, 0, "tensor (float32 or float64); the dim must not be empty"}};
static const nb_output_spec max_dim_outputs[] = {
    {"values", 0, "maximum of each slice along dim"},
    {"indices", NB_OUT_NONDIFF, "int64 position of that maximum along dim (first on ties)"},
};
static const nb_attr_spec max_dim_attrs[] = {
    {.name = "dim",
     .type = NB_ATTR_INT,
     .flags = NB_ATTR_REQUIRED,
     .doc = "dim to reduce (negative counts from the end)"},
    {.name = "keepdim",
     .type = NB_ATTR_BOOL,
     .def = {.i = 0},
     .doc = "keep the reduced dim as size 1 in both outputs"},
};

const nb_op_desc red_max_dim_desc = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "max_dim",
    .doc = "Maximum along one dim, like torch.max(x, dim): values and int64 indices. On ties "
           "the first occurrence is selected (as PyTorch's CPU kernel); NaN is selected over "
           "any number. Gradient: all of it goes to the selected index of each slice.",
    .n_inputs = 1,
    .inputs = max_dim_inputs,
    .n_outputs = 2,
    .outputs = max_dim_outputs,
    .n_attrs = 2,
    .attrs = max_dim_attrs,
    .forward = max_dim_forward,
    .backward = red_extreme_dim_backward,
    .samples = max_dim_samples,
    .saves = "the indices output (and the input's shape)",
};
