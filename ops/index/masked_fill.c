/* ops/index/masked_fill.c — "masked_fill": input with `value` where a bool mask holds
 * (out-of-place torch.masked_fill; e.g. a causal attention mask filled with -inf). */
#include "index.h"

static int masked_fill_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                               nb_tensor **out) {
  nb_dtype dt = nb_dtype_of(in[0]);
  if (nb_value_check("masked_fill", attrs[0].f, dt) < 0) return nb_last_status();
  int nd;
  int64_t shape[NB_MAX_DIMS];
  if (nb_broadcast_shapes("masked_fill", 2, (const nb_tensor *const[]){in[0], in[1]}, &nd, shape) < 0)
    return nb_last_status();
  nb_tensor *v = nb_full(0, NULL, attrs[0].f, dt);
  nb_tensor *o = v ? nb_empty(nd, shape, dt) : NULL;
  if (!o || idx_where_into(o, in[1], v, in[0]) < 0) return nb_last_status();
  if (nb_ctx_needs_input_grad(ctx, 0) && nb_ctx_save(ctx, in[1]) < 0) return nb_last_status();
  out[0] = o;
  return 0;
}

/* The output gradient where the mask is false, zeros where it filled. */
static int masked_fill_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *m = nb_ctx_saved(ctx, 0), *g = grad_out[0];
  if (!m) return nb_last_status();
  nb_tensor *r = nb_empty(nb_ndim(g), nb_shape(g), nb_dtype_of(g));
  if (!r || idx_where_into(r, m, NULL, g) < 0) return nb_last_status();
  grad_in[0] = r;
  return 0;
}

static int masked_fill_samples(nb_sample_sink *sink) {
  int rc;
  if ((rc = idx_add_sample(sink, "[2,3] mask [2,3] value -1.5", 2,
                           (nb_tensor *[]){idx_rand(sink, 2, (int64_t[]){2, 3}),
                                           idx_mask(sink, 2, (int64_t[]){2, 3})},
                           1, (nb_attr[]){NB_A_FLOAT("value", -1.5)}, 0)) < 0)
    return rc;
  return idx_add_sample(sink, "[3,4] mask [4] value 0", 2,
                        (nb_tensor *[]){idx_rand(sink, 2, (int64_t[]){3, 4}),
                                        idx_mask(sink, 1, (int64_t[]){4})},
                        1, (nb_attr[]){NB_A_FLOAT("value", 0)}, 0);
}

/* Recorded: where(mask, 0, g). */
static int masked_fill_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *m = nb_ctx_saved(ctx, 0), *g = grad_out[0];
  nb_tensor *z = m ? nb_op_scalar_operand(0, nb_dtype_of(g)) : NULL;
  if (!z) return nb_last_status();
  grad_in[0] = NB_CALL("where", m, z, g);
  nb_release(z);
  return grad_in[0] ? 0 : nb_last_status();
}

static const nb_input_spec masked_fill_inputs[] = {
    {"input", NB_DT_ANY, 0, "tensor"},
    {"mask", NB_DT_BOOL, NB_IN_NONDIFF, "bool, broadcastable with input: where to fill"},
};
static const nb_output_spec masked_fill_outputs[] = {
    {"out", 0, "input with value where mask holds, of the broadcast shape"}};
static const nb_attr_spec masked_fill_attrs[] = {
    {.name = "value", .type = NB_ATTR_FLOAT, .flags = NB_ATTR_REQUIRED,
     .doc = "fill value (may be -inf; must fit an int64 input)"}};

const nb_op_desc op_masked_fill = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "masked_fill",
    .doc = "A copy of input with `value` wherever the bool mask holds, like "
           "torch.masked_fill (out of place; mask broadcast with input). A causal attention "
           "mask is masked_fill(scores, triu(ones) of bool, -inf). Gradient: the output "
           "gradient where the mask is false, zeros where it filled.",
    .n_inputs = 2,
    .inputs = masked_fill_inputs,
    .n_outputs = 1,
    .outputs = masked_fill_outputs,
    .n_attrs = 1,
    .attrs = masked_fill_attrs,
    .forward = masked_fill_forward,
    .backward = masked_fill_backward,
    .backward_graph = masked_fill_backward_graph,
    .samples = masked_fill_samples,
    .saves = "the mask when input needs a gradient",
};
