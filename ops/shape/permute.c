/* ops/shape/permute.c — "permute": reorder all dims (always a view). */
#include "shape.h"

/* Wrap and check dims against t: one entry per dim, each dim once. */
static int check_perm(const nb_tensor *t, const nb_ints *dims, int *perm) {
  int nd = nb_ndim(t);
  char buf[128];
  if (dims->n != nd)
    return nb_set_error(NB_EINVAL,
                        "permute: number of dims don't match: input of shape %s has %d dims "
                        "but dims %s has %d entries",
                        nb_shape_of(t), nd, ops_ints_str(dims, buf, sizeof buf), dims->n);
  unsigned seen = 0;
  for (int i = 0; i < nd; i++) {
    int d = shp_wrap_dim("permute", dims->v[i], t, false);
    if (d < 0) return d;
    if (seen & (1u << d))
      return nb_set_error(NB_EINVAL, "permute: dim %d appears more than once in dims %s", d,
                          ops_ints_str(dims, buf, sizeof buf));
    seen |= 1u << d;
    perm[i] = d;
  }
  return 0;
}

/* View of t whose dim i is t's dim perm[i]. */
static nb_tensor *permuted(nb_tensor *t, const int *perm) {
  int nd = nb_ndim(t);
  int64_t shape[NB_MAX_DIMS], strides[NB_MAX_DIMS];
  for (int i = 0; i < nd; i++) {
    shape[i] = nb_shape(t)[perm[i]];
    strides[i] = nb_strides(t)[perm[i]];
  }
  return shp_view(t, nd, shape, strides);
}

static int permute_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                           nb_tensor **out) {
  int perm[NB_MAX_DIMS];
  if (check_perm(in[0], &attrs[0].ints, perm) < 0) return nb_last_status();
  out[0] = permuted(in[0], perm);
  return out[0] ? 0 : nb_last_status();
}

/* The gradient is the output gradient under the inverse permutation (a view of it). */
static int permute_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int perm[NB_MAX_DIMS], inv[NB_MAX_DIMS];
  if (check_perm(grad_out[0], &nb_ctx_attrs(ctx)[0].ints, perm) < 0) return nb_last_status();
  for (int i = 0; i < nb_ndim(grad_out[0]); i++) inv[perm[i]] = i;
  grad_in[0] = permuted(grad_out[0], inv);
  return grad_in[0] ? 0 : nb_last_status();
}

/* The inverse permutation, through the op itself (recorded). */
static int permute_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  int perm[NB_MAX_DIMS];
  if (check_perm(grad_out[0], &nb_ctx_attrs(ctx)[0].ints, perm) < 0) return nb_last_status();
  nb_attr a = {.name = "dims", .type = NB_ATTR_INTS};
  a.v.ints.n = nb_ndim(grad_out[0]);
  for (int i = 0; i < a.v.ints.n; i++) a.v.ints.v[perm[i]] = i;
  nb_tensor *g = grad_out[0];
  grad_in[0] = nb_call1("permute", 1, &g, 1, &a);
  return grad_in[0] ? 0 : nb_last_status();
}

static int permute_samples(nb_sample_sink *sink) {
  nb_generator *g = nb_sample_generator(sink);
  int rc;
  if ((rc = shp_add_sample(sink, "[2,3,4] dims [2,0,1]",
                           nb_rand_range(3, (int64_t[]){2, 3, 4}, -2, 2, NB_F64, g), 1,
                           (nb_attr[]){NB_A_INTS("dims", 2, 0, 1)}, 0)) < 0)
    return rc;
  if ((rc = shp_add_sample(sink, "[2,3,4,2] dims [-1,1,0,2]",
                           nb_rand_range(4, (int64_t[]){2, 3, 4, 2}, -2, 2, NB_F64, g), 1,
                           (nb_attr[]){NB_A_INTS("dims", -1, 1, 0, 2)}, 0)) < 0)
    return rc;
  return shp_add_sample(sink, "transposed [4,3] dims [1,0]", shp_transposed_sample(g, 3, 4), 1,
                        (nb_attr[]){NB_A_INTS("dims", 1, 0)}, 0);
}

static const nb_input_spec permute_inputs[] = {{"input", NB_DT_ANY, 0, "tensor"}};
static const nb_output_spec permute_outputs[] = {
    {"out", 0, "view whose dim i is the input's dim dims[i]"}};
static const nb_attr_spec permute_attrs[] = {
    {.name = "dims",
     .type = NB_ATTR_INTS,
     .flags = NB_ATTR_REQUIRED,
     .doc = "a permutation of the input's dims (negative count from the end)"},
};

const nb_op_desc op_permute = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "permute",
    .doc = "Reorder the dims, like torch.permute: a view sharing storage and version counter. "
           "dims must name every dim exactly once. Gradient: the output gradient under the "
           "inverse permutation (a view of it).",
    .flags = NB_OP_VIEW,
    .n_inputs = 1,
    .inputs = permute_inputs,
    .n_outputs = 1,
    .outputs = permute_outputs,
    .n_attrs = 1,
    .attrs = permute_attrs,
    .forward = permute_forward,
    .backward = permute_backward,
    .backward_graph = permute_backward_graph,
    .samples = permute_samples,
    .saves = "nothing",
};
