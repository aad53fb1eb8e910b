/* ops/index/stack.c — "stack": join equal-shaped tensors along a new dim (torch.stack).
 * Same 16 input slots as cat (NULL in the unused ones). */
#include <string.h>

#include "index.h"

static int stack_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                         nb_tensor **out) {
  int n = idx_count_joined("stack", in);
  if (n < 0) return n;
  int nd = nb_ndim(in[0]);
  int dim = ops_wrap_dim("stack", attrs[0].i, nd, nb_shape(in[0]), true);
  if (dim < 0) return dim;
  int rc = idx_check_joined("stack", in, n, -1);
  if (rc < 0) return rc;
  if (nd + 1 > NB_MAX_DIMS)
    return nb_set_error(NB_EINVAL, "stack: result would have more than %d dims", NB_MAX_DIMS);
  int64_t shape[NB_MAX_DIMS];
  for (int d = 0, s = 0; d <= nd; d++) shape[d] = d == dim ? n : nb_shape(in[0])[s++];
  nb_tensor *o = nb_empty(nd + 1, shape, nb_dtype_of(in[0]));
  if (!o) return nb_last_status();
  for (int i = 0; i < n; i++) {
    nb_tensor *part = idx_select_view(o, dim, i);
    if (!part || nb_copy_into(part, in[i]) < 0) return nb_last_status();
  }
  if (nb_ctx_recording(ctx) && nb_ctx_save_blob(ctx, &n, sizeof n) < 0) return nb_last_status();
  out[0] = o;
  return 0;
}

/* Input i gets the output gradient's slice i along the new dim (a view of it). */
static int stack_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int n = idx_joined_count(ctx);
  if (n < 0) return n;
  int nd;
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &nd);
  int dim = ops_wrap_dim("stack", nb_ctx_attrs(ctx)[0].i, nd, shape, true);
  if (dim < 0) return dim;
  for (int i = 0; i < n; i++)
    if (nb_ctx_needs_input_grad(ctx, i) && !(grad_in[i] = idx_select_view(grad_out[0], dim, i)))
      return nb_last_status();
  return 0;
}

static int stack_samples(nb_sample_sink *sink) {
  nb_tensor *in[IDX_MAX_JOIN] = {0};
  for (int i = 0; i < 3; i++)
    if (!(in[i] = idx_rand(sink, 2, (int64_t[]){2, 3}))) return nb_last_status();
  int rc = nb_sample_add(sink, "three [2,3] dim 0", IDX_MAX_JOIN, in, 1,
                         (nb_attr[]){NB_A_INT("dim", 0)}, 0);
  if (rc < 0) return rc;
  in[2] = NULL;
  if ((rc = nb_sample_add(sink, "two [2,3] dim -1 (new last dim)", IDX_MAX_JOIN, in, 1,
                          (nb_attr[]){NB_A_INT("dim", -1)}, 0)) < 0)
    return rc;
  for (int i = 0; i < 2; i++)
    if (!(in[i] = idx_rand(sink, 0, NULL))) return nb_last_status();
  return nb_sample_add(sink, "two 0-d dim 0", IDX_MAX_JOIN, in, 1,
                       (nb_attr[]){NB_A_INT("dim", 0)}, 0);
}

static const nb_output_spec stack_outputs[] = {
    {"out", 0, "the tensors side by side along a new dim"}};
/* Recorded: input i's gradient is select(g, dim, i). */
static int stack_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int n = idx_joined_count(ctx);
  if (n < 0) return n;
  int nd;
  const int64_t *shape = nb_ctx_input_shape(ctx, 0, &nd);
  int dim = ops_wrap_dim("stack", nb_ctx_attrs(ctx)[0].i, nd, shape, true);
  if (dim < 0) return dim;
  nb_tensor *g = grad_out[0];
  for (int i = 0; i < n; i++) {
    nb_attr a[2] = {NB_A_INT("dim", dim), NB_A_INT("index", i)};
    if (nb_ctx_needs_input_grad(ctx, i) && !(grad_in[i] = nb_call1("select", 1, &g, 2, a)))
      return nb_last_status();
  }
  return 0;
}

static const nb_attr_spec stack_attrs[] = {
    {.name = "dim", .type = NB_ATTR_INT, .def = {.i = 0},
     .doc = "position of the new dim, in [-(ndim+1), ndim]"}};

const nb_op_desc op_stack = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "stack",
    .doc = "Join tensors of one shape and dtype along a new dim, like torch.stack. The op "
           "takes 16 input slots, the tensors first and NULL in the unused ones (the nb_stack "
           "wrapper takes any count). Gradient: each input gets its slice of the output "
           "gradient.",
    .n_inputs = IDX_MAX_JOIN,
    .inputs = idx_join_inputs,
    .n_outputs = 1,
    .outputs = stack_outputs,
    .n_attrs = 1,
    .attrs = stack_attrs,
    .forward = stack_forward,
    .backward = stack_backward,
    .backward_graph = stack_backward_graph,
    .samples = stack_samples,
    .saves = "the number of tensors",
};
