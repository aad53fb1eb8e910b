/* ops/index/expand.c — "expand": broadcast size-1 dims (and new leading dims) to a larger
 * shape without copying (torch.expand); a view with stride 0 in the broadcast dims. */
#include "index.h"

/* Output shape and strides for expanding t to `size` (-1 keeps a dim). */
static int plan(const nb_tensor *t, const nb_ints *size, int64_t *shape, int64_t *strides) {
  int nd = nb_ndim(t), n = size->n;
  char want[192], have[192];
  if (n < nd) goto bad;
  for (int d = n - 1, s = nd - 1; d >= 0; d--, s--) {
    int64_t req = size->v[d];
    if (s < 0) { /* new leading dim */
      if (req < 0) goto bad;
      shape[d] = req;
      strides[d] = 0;
      continue;
    }
    int64_t have_d = nb_shape(t)[s];
    if (req == -1 || req == have_d) {
      shape[d] = have_d;
      strides[d] = nb_strides(t)[s];
    } else if (have_d == 1 && req >= 0) {
      shape[d] = req;
      strides[d] = 0;
    } else {
      goto bad;
    }
  }
  return n;
bad:
  return nb_set_error(NB_ESHAPE,
                      "expand: cannot expand shape %s to %s (only size-1 dims grow, -1 keeps a "
                      "dim, new dims go in front)",
                      nb_shape_str(nd, nb_shape(t), have, sizeof have),
                      ops_ints_str(size, want, sizeof want));
}

static int expand_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                          nb_tensor **out) {
  int64_t shape[NB_MAX_DIMS], strides[NB_MAX_DIMS];
  int nd = plan(in[0], &attrs[0].ints, shape, strides);
  if (nd < 0) return nd;
  out[0] = ops_view(in[0], nd, shape, strides, 0);
  return out[0] ? 0 : nb_last_status();
}

/* The output gradient as is: the core sums it back over the broadcast dims. */
/* Also the backward_graph: the core sums the gradient back to the input's shape, recorded
 * under create_graph. */
static int expand_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  grad_in[0] = grad_out[0];
  return 0;
}

static int expand_samples(nb_sample_sink *sink) {
  int rc;
  if ((rc = idx_add_sample(sink, "[3,1] to [3,4]", 1,
                           (nb_tensor *[]){idx_rand(sink, 2, (int64_t[]){3, 1})}, 1,
                           (nb_attr[]){NB_A_INTS("size", 3, 4)}, NB_SAMPLE_BROADCAST)) < 0)
    return rc;
  if ((rc = idx_add_sample(sink, "[2,1] to [2,-1,3] (new leading dim)", 1,
                           (nb_tensor *[]){idx_rand(sink, 2, (int64_t[]){2, 1})}, 1,
                           (nb_attr[]){NB_A_INTS("size", 2, -1, 3)}, NB_SAMPLE_BROADCAST)) < 0)
    return rc;
  return idx_add_sample(sink, "0-d to [2,3]", 1, (nb_tensor *[]){idx_rand(sink, 0, NULL)}, 1,
                        (nb_attr[]){NB_A_INTS("size", 2, 3)}, NB_SAMPLE_BROADCAST);
}


static const nb_input_spec expand_inputs[] = {{"input", NB_DT_ANY, 0, "tensor"}};
static const nb_output_spec expand_outputs[] = {
    {"out", 0, "view of the requested size (stride 0 in the broadcast dims)"}};
static const nb_attr_spec expand_attrs[] = {
    {.name = "size", .type = NB_ATTR_INTS, .flags = NB_ATTR_REQUIRED,
     .doc = "the new shape: -1 keeps a dim; only size-1 dims grow; extra dims go in front"}};

const nb_op_desc op_expand = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "expand",
    .doc = "Broadcast a tensor to a larger shape without copying, like torch.expand: a view "
           "whose broadcast dims have stride 0 (write to it only through a copy). -1 keeps a "
           "dim. Gradient: the output gradient summed over the broadcast dims.",
    .flags = NB_OP_VIEW,
    .n_inputs = 1,
    .inputs = expand_inputs,
    .n_outputs = 1,
    .outputs = expand_outputs,
    .n_attrs = 1,
    .attrs = expand_attrs,
    .forward = expand_forward,
    .backward = expand_backward,
    .backward_graph = expand_backward,
    .samples = expand_samples,
    .saves = "nothing",
};
