/* ops/index/where.c — "where": cond ? input : other elementwise, with NumPy broadcasting
 * of all three (torch.where). */
#include "index.h"

static int where_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                         nb_tensor **out) {
  int rc = ops_same_dtype("where", in[1], "input", in[2], "other");
  if (rc < 0) return rc;
  int nd;
  int64_t shape[NB_MAX_DIMS];
  if (nb_broadcast_shapes("where", 3, (const nb_tensor *const[]){in[0], in[1], in[2]}, &nd, shape) < 0)
    return nb_last_status();
  nb_tensor *o = nb_empty(nd, shape, nb_dtype_of(in[1]));
  if (!o || idx_where_into(o, in[0], in[1], in[2]) < 0) return nb_last_status();
  if ((nb_ctx_needs_input_grad(ctx, 1) || nb_ctx_needs_input_grad(ctx, 2)) &&
      nb_ctx_save(ctx, in[0]) < 0)
    return nb_last_status();
  out[0] = o;
  return 0;
}

/* input gets the output gradient where cond holds, other where it does not (zeros
 * elsewhere), at the broadcast shape; the core sums each back to its operand's shape. */
static int where_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *cond = nb_ctx_saved(ctx, 0), *g = grad_out[0];
  if (!cond) return nb_last_status();
  for (int i = 1; i <= 2; i++) {
    if (!nb_ctx_needs_input_grad(ctx, i)) continue;
    nb_tensor *r = nb_empty(nb_ndim(g), nb_shape(g), nb_dtype_of(g));
    if (!r || idx_where_into(r, cond, i == 1 ? g : NULL, i == 1 ? NULL : g) < 0)
      return nb_last_status();
    grad_in[i] = r;
  }
  return 0;
}

static int where_samples(nb_sample_sink *sink) {
  int rc;
  if ((rc = idx_add_sample(sink, "same shape [2,3]", 3,
                           (nb_tensor *[]){idx_mask(sink, 2, (int64_t[]){2, 3}),
                                           idx_rand(sink, 2, (int64_t[]){2, 3}),
                                           idx_rand(sink, 2, (int64_t[]){2, 3})},
                           0, NULL, 0)) < 0)
    return rc;
  if ((rc = idx_add_sample(sink, "cond [2,1], input [3], other 0-d", 3,
                           (nb_tensor *[]){idx_mask(sink, 2, (int64_t[]){2, 1}),
                                           idx_rand(sink, 1, (int64_t[]){3}),
                                           idx_rand(sink, 0, NULL)},
                           0, NULL, NB_SAMPLE_BROADCAST)) < 0)
    return rc;
  return idx_add_sample(sink, "cond [4], input [3,4], other [3,1]", 3,
                        (nb_tensor *[]){idx_mask(sink, 1, (int64_t[]){4}),
                                        idx_rand(sink, 2, (int64_t[]){3, 4}),
                                        idx_rand(sink, 2, (int64_t[]){3, 1})},
                        0, NULL, NB_SAMPLE_BROADCAST);
}

/* Recorded: where(cond, g, 0) for input, where(cond, 0, g) for other. */
static int where_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  nb_tensor *cond = nb_ctx_saved(ctx, 0), *g = grad_out[0];
  nb_tensor *z = cond ? nb_op_scalar_operand(0, nb_dtype_of(g)) : NULL;
  if (!z) return nb_last_status();
  int rc = 0;
  for (int i = 1; i <= 2 && rc == 0; i++)
    if (nb_ctx_needs_input_grad(ctx, i) &&
        !(grad_in[i] = i == 1 ? NB_CALL("where", cond, g, z) : NB_CALL("where", cond, z, g)))
      rc = nb_last_status();
  nb_release(z);
  return rc;
}

static const nb_input_spec where_inputs[] = {
    {"condition", NB_DT_BOOL, NB_IN_NONDIFF, "bool: where to take input"},
    {"input", NB_DT_ANY, 0, "values where condition holds"},
    {"other", NB_DT_ANY, 0, "values elsewhere, same dtype as input"},
};
static const nb_output_spec where_outputs[] = {
    {"out", 0, "condition ? input : other, of the broadcast shape of all three"}};

const nb_op_desc op_where = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "where",
    .doc = "Elementwise choice condition ? input : other with NumPy broadcasting of all "
           "three, like torch.where(condition, input, other); condition is bool, input and "
           "other share a dtype. Gradient: input gets the output gradient where condition "
           "holds, other where it does not.",
    .n_inputs = 3,
    .inputs = where_inputs,
    .n_outputs = 1,
    .outputs = where_outputs,
    .forward = where_forward,
    .backward = where_backward,
    .backward_graph = where_backward_graph,
    .samples = where_samples,
    .saves = "the condition when input or other needs a gradient",
};
