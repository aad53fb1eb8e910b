/* functional_transformer.c — typed wrappers for the activation, norm and attention
 * plugins (issue 15): what a Transformer's forward calls. Each resolves its op once. */
#include <math.h>

#include "functional_internal.h"

nb_tensor *nb_gelu(nb_tensor *x, const char *approximate) {
  OP("gelu");
  nb_attr at = NB_A_STR("approximate", approximate ? approximate : "none");
  return call(op, 1, &x, 1, &at);
}
nb_tensor *nb_silu(nb_tensor *x) {
  OP("silu");
  return call(op, 1, &x, 0, NULL);
}
nb_tensor *nb_leaky_relu(nb_tensor *x, double negative_slope) {
  OP("leaky_relu");
  nb_attr at = NB_A_FLOAT("negative_slope", negative_slope);
  return call(op, 1, &x, 1, &at);
}
nb_tensor *nb_elu(nb_tensor *x, double alpha) {
  OP("elu");
  nb_attr at = NB_A_FLOAT("alpha", alpha);
  return call(op, 1, &x, 1, &at);
}
nb_tensor *nb_softplus(nb_tensor *x, double beta, double threshold) {
  OP("softplus");
  nb_attr at[2] = {NB_A_FLOAT("beta", beta), NB_A_FLOAT("threshold", threshold)};
  return call(op, 1, &x, 2, at);
}

/* op(x) over dims with keepdim and, for var/std, the unbiased flag (unbiased < 0: none). */
static nb_tensor *stat(const nb_op *op, const char *fn, nb_tensor *x, int n, const int64_t *dims,
                       int unbiased, bool keepdim) {
  nb_attr at[3];
  int k = 0;
  if (fn_ints_attr(fn, "dim", n, dims, &at[k++]) < 0) return NULL;
  if (unbiased >= 0) at[k++] = NB_A_BOOL("unbiased", unbiased);
  at[k++] = NB_A_BOOL("keepdim", keepdim);
  return call(op, 1, &x, k, at);
}
nb_tensor *nb_var(nb_tensor *x, int n, const int64_t *dims, bool unbiased, bool keepdim) {
  OP("var");
  return stat(op, "nb_var", x, n, dims, unbiased, keepdim);
}
nb_tensor *nb_std(nb_tensor *x, int n, const int64_t *dims, bool unbiased, bool keepdim) {
  OP("std");
  return stat(op, "nb_std", x, n, dims, unbiased, keepdim);
}
nb_tensor *nb_logsumexp(nb_tensor *x, int n, const int64_t *dims, bool keepdim) {
  OP("logsumexp");
  return stat(op, "nb_logsumexp", x, n, dims, -1, keepdim);
}

nb_tensor *nb_layer_norm(nb_tensor *x, int n, const int64_t *normalized_shape, nb_tensor *weight,
                         nb_tensor *bias, double eps) {
  OP("layer_norm");
  nb_attr at[2];
  if (fn_ints_attr("nb_layer_norm", "normalized_shape", n, normalized_shape, &at[0]) < 0) return NULL;
  at[1] = NB_A_FLOAT("eps", eps);
  nb_tensor *in[3] = {x, weight, bias};
  return call(op, 3, in, 2, at);
}

nb_tensor *nb_group_norm(nb_tensor *x, int64_t num_groups, nb_tensor *weight, nb_tensor *bias, double eps) {
  OP("group_norm");
  nb_attr at[2] = {NB_A_INT("num_groups", num_groups), NB_A_FLOAT("eps", eps)};
  nb_tensor *in[3] = {x, weight, bias};
  return call(op, 3, in, 2, at);
}
nb_tensor *nb_cumsum(nb_tensor *x, int64_t dim) {
  OP("cumsum");
  nb_attr at = NB_A_INT("dim", dim);
  return call(op, 1, &x, 1, &at);
}

nb_tensor *nb_embedding(nb_tensor *input, nb_tensor *weight, int64_t padding_idx) {
  OP("embedding");
  nb_attr at = NB_A_INT("padding_idx", padding_idx);
  nb_tensor *in[2] = {input, weight};
  return call(op, 2, in, padding_idx == NB_NO_PADDING ? 0 : 1, &at);
}

nb_tensor *nb_scaled_dot_product_attention(nb_tensor *q, nb_tensor *k, nb_tensor *v, bool is_causal,
                                           double scale) {
  OP("scaled_dot_product_attention");
  nb_attr at[2] = {NB_A_BOOL("is_causal", is_causal), NB_A_FLOAT("scale", scale)};
  nb_tensor *in[3] = {q, k, v};
  return call(op, 3, in, isnan(scale) ? 1 : 2, at);
}
