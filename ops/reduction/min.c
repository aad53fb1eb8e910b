/* ops/reduction/min.c — "min": the smallest element (0-d), gradient split among ties. */
#include "reduce.h"

static int min_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  return red_extreme_all_forward(ctx, in, false, out);
}

static int min_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  nb_tensor *x[] = {
      red_distinct_sample(g, 2, (int64_t[]){3, 4}),
      red_distinct_sample(g, 1, (int64_t[]){7}),
      red_transposed_sample(red_distinct_sample(g, 2, (int64_t[]){3, 5})),
      red_distinct_sample(g, 0, NULL),
  };
  const char *desc[] = {"[3,4]", "[7]", "transposed [5,3]", "0-d"};
  for (int i = 0; i < 4; i++) {
    if (!x[i]) return nb_last_status();
    int rc = nb_sample_add(sink, desc[i], 1, &x[i], 0, NULL, 0);
    if (rc < 0) return rc;
  }
  return 0;
}

static const nb_input_spec min_inputs[] = {
    {"input", NB_DT_FLOAT, 0, "non-empty tensor (float32 or float64)"}};
static const nb_output_spec min_outputs[] = {{"out", 0, "0-d tensor: the smallest element"}};

const nb_op_desc red_min_desc = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "min",
    .doc = "Smallest element of the whole input as a 0-d tensor, like torch.min(x). NaN "
           "propagates. An empty input is an error. Gradient (PyTorch 2.x): split evenly "
           "among the elements equal to the minimum, e.g. min of [1,1,3] sends [.5,.5,0].",
    .n_inputs = 1,
    .inputs = min_inputs,
    .n_outputs = 1,
    .outputs = min_outputs,
    .forward = min_forward,
    .backward = red_extreme_all_backward,
    .samples = min_samples,
    .saves = "the input, the minimum and its number of ties",
};
