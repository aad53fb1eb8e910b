/* ops/index/cat.c — "cat": join tensors along an existing dim (torch.cat). The schema
 * has IDX_MAX_JOIN input slots; the first must be given, unused trailing ones are NULL
 * (nb_cat pads them and chains longer lists). */
#include <string.h>

#include "index.h"

/* Number of given tensors (leading non-NULL slots), after checking that no tensor
 * follows a NULL slot. */
int idx_count_joined(const char *op, nb_tensor *const *in) {
  int n = 0;
  while (n < IDX_MAX_JOIN && in[n]) n++;
  for (int i = n; i < IDX_MAX_JOIN; i++)
    if (in[i])
      return nb_set_error(NB_EINVAL, "%s: tensor %d follows an empty slot %d (give the tensors "
                                     "in the first slots)", op, i, n);
  return n;
}

/* Check the tensors against in[0] (same dtype, same ndim, same sizes except `dim` when
 * `except_dim` >= 0; same shape otherwise). */
int idx_check_joined(const char *op, nb_tensor *const *in, int n, int except_dim) {
  for (int i = 1; i < n; i++) {
    if (nb_dtype_of(in[i]) != nb_dtype_of(in[0]))
      return nb_set_error(NB_EDTYPE, "%s: tensor %d has dtype %s, tensor 0 has %s", op, i,
                          nb_dtype_name(nb_dtype_of(in[i])), nb_dtype_name(nb_dtype_of(in[0])));
    bool ok = nb_ndim(in[i]) == nb_ndim(in[0]);
    for (int d = 0; ok && d < nb_ndim(in[0]); d++)
      ok = d == except_dim || nb_shape(in[i])[d] == nb_shape(in[0])[d];
    if (!ok) {
      char a[192], b[192];
      nb_shape_str(nb_ndim(in[0]), nb_shape(in[0]), a, sizeof a);
      nb_shape_str(nb_ndim(in[i]), nb_shape(in[i]), b, sizeof b);
      if (except_dim >= 0)
        return nb_set_error(NB_ESHAPE, "%s: tensor %d has shape %s, tensor 0 has %s: sizes must "
                                       "match except in dim %d", op, i, b, a, except_dim);
      return nb_set_error(NB_ESHAPE, "%s: tensor %d has shape %s, tensor 0 has %s: shapes must "
                                     "be equal", op, i, b, a);
    }
  }
  return 0;
}

static int cat_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                       nb_tensor **out) {
  int n = idx_count_joined("cat", in);
  if (n < 0) return n;
  if (nb_ndim(in[0]) == 0)
    return nb_set_error(NB_EINVAL, "cat: zero-dimensional tensor 0 cannot be concatenated");
  int dim = ops_wrap_dim("cat", attrs[0].i, nb_ndim(in[0]), nb_shape(in[0]), false);
  if (dim < 0) return dim;
  int rc = idx_check_joined("cat", in, n, dim);
  if (rc < 0) return rc;
  int64_t shape[NB_MAX_DIMS], total = 0;
  for (int i = 0; i < n; i++) total += nb_shape(in[i])[dim];
  memcpy(shape, nb_shape(in[0]), (size_t)nb_ndim(in[0]) * sizeof shape[0]);
  shape[dim] = total;
  nb_tensor *o = nb_empty(nb_ndim(in[0]), shape, nb_dtype_of(in[0]));
  if (!o) return nb_last_status();
  for (int i = 0, at = 0; i < n; at += (int)nb_shape(in[i])[dim], i++) {
    nb_tensor *part = idx_slice_view(o, dim, at, nb_shape(in[i])[dim], 1);
    if (!part || nb_copy_into(part, in[i]) < 0) return nb_last_status();
  }
  if (nb_ctx_recording(ctx) && nb_ctx_save_blob(ctx, &n, sizeof n) < 0) return nb_last_status();
  out[0] = o;
  return 0;
}

int idx_joined_count(nb_ctx *ctx) {
  size_t size = 0;
  const int *n = nb_ctx_blob(ctx, &size);
  if (!n || size != sizeof *n) return nb_set_error(NB_ESTATE, "%s: tensor count not saved",
                                                   nb_ctx_op_name(ctx));
  return *n;
}

/* Each input gets its part of the output gradient (a view of it). */
static int cat_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int nd;
  const int64_t *shape0 = nb_ctx_input_shape(ctx, 0, &nd);
  int dim = ops_wrap_dim("cat", nb_ctx_attrs(ctx)[0].i, nd, shape0, false);
  if (dim < 0) return dim;
  int n = idx_joined_count(ctx);
  if (n < 0) return n;
  int64_t at = 0;
  for (int i = 0; i < n; i++) {
    const int64_t *shape = nb_ctx_input_shape(ctx, i, NULL);
    if (nb_ctx_needs_input_grad(ctx, i) &&
        !(grad_in[i] = idx_slice_view(grad_out[0], dim, at, shape[dim], 1)))
      return nb_last_status();
    at += shape[dim];
  }
  return 0;
}

static int cat_samples(nb_sample_sink *sink) {
  nb_tensor *in[IDX_MAX_JOIN] = {0};
  in[0] = idx_rand(sink, 2, (int64_t[]){2, 3});
  in[1] = idx_rand(sink, 2, (int64_t[]){1, 3});
  in[2] = idx_rand(sink, 2, (int64_t[]){3, 3});
  if (!in[0] || !in[1] || !in[2]) return nb_last_status();
  int rc = nb_sample_add(sink, "[2,3], [1,3], [3,3] dim 0", IDX_MAX_JOIN, in, 1,
                         (nb_attr[]){NB_A_INT("dim", 0)}, 0);
  if (rc < 0) return rc;
  in[0] = idx_rand(sink, 3, (int64_t[]){2, 2, 3});
  in[1] = idx_rand(sink, 3, (int64_t[]){2, 4, 3});
  in[2] = NULL;
  if (!in[0] || !in[1]) return nb_last_status();
  if ((rc = nb_sample_add(sink, "[2,2,3], [2,4,3] dim -2", IDX_MAX_JOIN, in, 1,
                          (nb_attr[]){NB_A_INT("dim", -2)}, 0)) < 0)
    return rc;
  in[1] = NULL;
  return nb_sample_add(sink, "one tensor [2,2,3] dim 2", IDX_MAX_JOIN, in, 1,
                       (nb_attr[]){NB_A_INT("dim", 2)}, 0);
}

#define JOIN_INPUT(k) {"tensor" #k, NB_DT_ANY, NB_IN_OPTIONAL, "tensor " #k " (or NULL: unused)"}
const nb_input_spec idx_join_inputs[IDX_MAX_JOIN] = {
    {"tensor0", NB_DT_ANY, 0, "first tensor"}, JOIN_INPUT(1), JOIN_INPUT(2), JOIN_INPUT(3),
    JOIN_INPUT(4), JOIN_INPUT(5), JOIN_INPUT(6), JOIN_INPUT(7), JOIN_INPUT(8), JOIN_INPUT(9),
    JOIN_INPUT(10), JOIN_INPUT(11), JOIN_INPUT(12), JOIN_INPUT(13), JOIN_INPUT(14),
    JOIN_INPUT(15)};
static const nb_output_spec cat_outputs[] = {
    {"out", 0, "the tensors one after another along dim"}};
/* Recorded: each input's part of the gradient, a slice along dim. */
static int cat_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int nd;
  const int64_t *shape0 = nb_ctx_input_shape(ctx, 0, &nd);
  int dim = ops_wrap_dim("cat", nb_ctx_attrs(ctx)[0].i, nd, shape0, false);
  if (dim < 0) return dim;
  int n = idx_joined_count(ctx);
  if (n < 0) return n;
  nb_tensor *g = grad_out[0];
  int64_t at = 0;
  for (int i = 0; i < n; i++) {
    int64_t len = nb_ctx_input_shape(ctx, i, NULL)[dim];
    nb_attr a[3] = {NB_A_INT("dim", dim), NB_A_INT("start", at), NB_A_INT("end", at + len)};
    if (nb_ctx_needs_input_grad(ctx, i) && !(grad_in[i] = nb_call1("slice", 1, &g, 3, a)))
      return nb_last_status();
    at += len;
  }
  return 0;
}

static const nb_attr_spec cat_attrs[] = {
    {.name = "dim", .type = NB_ATTR_INT, .def = {.i = 0}, .doc = "dim to join along"}};

const nb_op_desc op_cat = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "cat",
    .doc = "Concatenate tensors along an existing dim, like torch.cat: same dtype, same "
           "sizes except in dim. The op takes 16 input slots, the tensors first and NULL in "
           "the unused ones (the nb_cat wrapper takes any count). Gradient: each input gets "
           "its part of the output gradient.",
    .n_inputs = IDX_MAX_JOIN,
    .inputs = idx_join_inputs,
    .n_outputs = 1,
    .outputs = cat_outputs,
    .n_attrs = 1,
    .attrs = cat_attrs,
    .forward = cat_forward,
    .backward = cat_backward,
    .backward_graph = cat_backward_graph,
    .samples = cat_samples,
    .saves = "nothing (input shapes only)",
};
