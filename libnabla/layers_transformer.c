/* libnabla/layers_transformer.c — the layers of a Transformer: Embedding, LayerNorm,
 * GELU, MultiheadAttention (batch_first) and a pre-LN GPT block, with PyTorch's
 * parameter names, initialisation and printouts. Forwards call the typed wrappers of
 * functional.h; nothing here knows a kernel.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/nabla.h>
#include "layers_internal.h"

typedef struct tfm_cfg {
  int64_t pad;                                         /* Embedding */
  int n_shape;                                         /* LayerNorm */
  int64_t shape[NB_MAX_DIMS];
  double eps;
  bool affine;
  bool tanh_;                                          /* GELU */
  int64_t embed_dim, num_heads;                        /* MultiheadAttention, block */
  bool bias, causal;
} tfm_cfg;

static tfm_cfg *cfg_of(const nb_module *m) { return nb_module_user(m); }

static nb_module *cfg_module(const char *type, nb_module_forward_fn fwd, tfm_cfg **cfg) {
  *cfg = calloc(1, sizeof **cfg);
  if (!*cfg) {
    nb_set_error(NB_ENOMEM, "%s: out of memory", type);
    return NULL;
  }
  return nb_module_new(type, fwd, *cfg, free);
}

static nb_module *fail(nb_module *m) {
  nb_module_free(m);
  return NULL;
}

/* Register a parameter made in the current scope (NULL t: keep the maker's error). */
static int param(nb_module *m, const char *name, nb_tensor *t) {
  return t ? nb_module_register_parameter(m, name, t) : nb_last_status();
}

/* ---- Embedding ----------------------------------------------------------------------- */

static nb_tensor *embedding_forward(nb_module *self, nb_tensor *x) {
  nb_tensor *w = nb_module_get(self, "weight");
  return w ? nb_embedding(x, w, cfg_of(self)->pad) : NULL;
}

nb_module *nb_embedding_new(int64_t num_embeddings, int64_t embedding_dim, int64_t padding_idx,
                            nb_generator *g) {
  bool has_pad = padding_idx != NB_NO_PADDING;
  if (num_embeddings <= 0 || embedding_dim <= 0 ||
      (has_pad && (padding_idx < -num_embeddings || padding_idx >= num_embeddings))) {
    nb_set_error(NB_EINVAL, "Embedding: need num_embeddings > 0, embedding_dim > 0 and padding_idx "
                 "in [-num_embeddings, num_embeddings) (got %lld, %lld, %lld)",
                 (long long)num_embeddings, (long long)embedding_dim, (long long)padding_idx);
    return NULL;
  }
  if (has_pad && padding_idx < 0) padding_idx += num_embeddings;
  tfm_cfg *c;
  nb_module *m = cfg_module("Embedding", embedding_forward, &c);
  if (!m) return NULL;
  c->pad = padding_idx;
  char extra[96];
  int n = snprintf(extra, sizeof extra, "%lld, %lld", (long long)num_embeddings, (long long)embedding_dim);
  if (has_pad) snprintf(extra + n, sizeof extra - (size_t)n, ", padding_idx=%lld", (long long)padding_idx);
  if (nb_scope_begin() < 0) return fail(m);
  /* N(0, 1), the padding row zeroed (nn.Embedding.reset_parameters) */
  nb_tensor *w = nb_randn(2, (int64_t[]){num_embeddings, embedding_dim}, NB_F32, g);
  if (w && has_pad) memset((float *)nb_data(w) + padding_idx * embedding_dim, 0, (size_t)embedding_dim * sizeof(float));
  int rc = param(m, "weight", w);
  nb_scope_end();
  if (rc < 0 || nb_module_set_extra_repr(m, extra) < 0) return fail(m);
  return m;
}

/* ---- LayerNorm ----------------------------------------------------------------------- */

static nb_tensor *layer_norm_forward(nb_module *self, nb_tensor *x) {
  const tfm_cfg *c = cfg_of(self);
  nb_tensor *w = c->affine ? nb_module_get(self, "weight") : NULL;
  nb_tensor *b = c->affine ? nb_module_get(self, "bias") : NULL;
  if (c->affine && (!w || !b)) return NULL;
  return nb_layer_norm(x, c->n_shape, c->shape, w, b, c->eps);
}

nb_module *nb_layer_norm_new(int n, const int64_t *normalized_shape, double eps, bool elementwise_affine) {
  bool ok = n >= 1 && n <= NB_MAX_DIMS && normalized_shape && eps >= 0;
  for (int i = 0; ok && i < n; i++) ok = normalized_shape[i] > 0;
  if (!ok) {
    nb_set_error(NB_EINVAL, "LayerNorm: need 1 to %d positive sizes in normalized_shape and eps >= 0 "
                 "(got %d sizes, eps %g)", NB_MAX_DIMS, n, eps);
    return NULL;
  }
  tfm_cfg *c;
  nb_module *m = cfg_module("LayerNorm", layer_norm_forward, &c);
  if (!m) return NULL;
  c->n_shape = n;
  memcpy(c->shape, normalized_shape, (size_t)n * sizeof c->shape[0]);
  c->eps = eps;
  c->affine = elementwise_affine;
  char extra[320], e[40];
  int k = snprintf(extra, sizeof extra, "(");
  for (int i = 0; i < n; i++)
    k += snprintf(extra + k, sizeof extra - (size_t)k, i ? ", %lld" : "%lld", (long long)normalized_shape[i]);
  snprintf(extra + k, sizeof extra - (size_t)k, "%s), eps=%s, elementwise_affine=%s", n == 1 ? "," : "",
           nb__py_float(eps, e, sizeof e), elementwise_affine ? "True" : "False");
  if (nb_scope_begin() < 0) return fail(m);
  int rc = 0;
  if (elementwise_affine) {
    rc = param(m, "weight", nb_ones(n, normalized_shape, NB_F32));
    if (rc >= 0) rc = param(m, "bias", nb_zeros(n, normalized_shape, NB_F32));
  }
  nb_scope_end();
  if (rc < 0 || nb_module_set_extra_repr(m, extra) < 0) return fail(m);
  return m;
}

/* ---- GELU ---------------------------------------------------------------------------- */

static nb_tensor *gelu_forward(nb_module *self, nb_tensor *x) {
  return nb_gelu(x, cfg_of(self)->tanh_ ? "tanh" : "none");
}

nb_module *nb_gelu_new(const char *approximate) {
  if (approximate && strcmp(approximate, "none") && strcmp(approximate, "tanh")) {
    nb_set_error(NB_EINVAL, "GELU: approximate must be \"none\" or \"tanh\" (got \"%s\")", approximate);
    return NULL;
  }
  tfm_cfg *c;
  nb_module *m = cfg_module("GELU", gelu_forward, &c);
  if (!m) return NULL;
  c->tanh_ = approximate && !strcmp(approximate, "tanh");
  if (nb_module_set_extra_repr(m, c->tanh_ ? "approximate='tanh'" : "approximate='none'") < 0) return fail(m);
  return m;
}

/* ---- MultiheadAttention ------------------------------------------------------------------ */

/* Block i of 3 along dim 0 of t (in_proj_weight (3E, E) or in_proj_bias (3E)): a narrow
 * view, so the gradient lands in that block. */
static nb_tensor *third(nb_tensor *t, int i) {
  int64_t E = nb_shape(t)[0] / 3;
  return nb_narrow(t, 0, i * E, E);
}

/* y (B, T, E), one projection → (B, H, T, D). */
static nb_tensor *heads(const tfm_cfg *c, nb_tensor *y) {
  if (!y) return NULL;
  int64_t B = nb_shape(y)[0], T = nb_shape(y)[1], H = c->num_heads;
  return nb_transpose(nb_reshape(y, 4, (int64_t[]){B, T, H, c->embed_dim / H}), 1, 2);
}

/* (B, T, E) → (B, H, T, D) with x's projection i. */
static nb_tensor *project_heads(nb_module *self, nb_tensor *x, int i) {
  const tfm_cfg *c = cfg_of(self);
  nb_tensor *w = nb_module_get(self, "in_proj_weight");
  nb_tensor *b = c->bias ? nb_module_get(self, "in_proj_bias") : NULL;
  if (!w || (c->bias && !b)) return NULL;
  nb_tensor *wi = third(w, i), *bi = b ? third(b, i) : NULL;
  if (!wi || (b && !bi)) return NULL;
  return heads(c, nb_linear(x, wi, bi));
}

/* Self-attention's q, k and v from one product with the whole in_proj_weight (one GEMM
 * of (B·T, E) by (E, 3E) instead of three), then narrow views of its last dim. */
static int project_self(nb_module *self, nb_tensor *x, nb_tensor **qkv) {
  const tfm_cfg *c = cfg_of(self);
  nb_tensor *w = nb_module_get(self, "in_proj_weight");
  nb_tensor *b = c->bias ? nb_module_get(self, "in_proj_bias") : NULL;
  nb_tensor *y = w && (b || !c->bias) ? nb_linear(x, w, b) : NULL; /* (B, T, 3E) */
  for (int i = 0; i < 3; i++)
    if (!(qkv[i] = heads(c, y ? nb_narrow(y, 2, i * c->embed_dim, c->embed_dim) : NULL))) return -1;
  return 0;
}

nb_tensor *nb_multihead_attention(nb_module *m, nb_tensor *query, nb_tensor *key, nb_tensor *value,
                                  bool is_causal) {
  if (!m || !query || !key || !value || strcmp(nb_module_type(m), "MultiheadAttention")) {
    nb_set_error(NB_EINVAL, "nb_multihead_attention: needs a MultiheadAttention module and three tensors");
    return NULL;
  }
  const tfm_cfg *c = cfg_of(m);
  nb_tensor *in[3] = {query, key, value};
  for (int i = 0; i < 3; i++)
    if (nb_ndim(in[i]) != 3 || nb_shape(in[i])[2] != c->embed_dim || nb_shape(in[i])[0] != nb_shape(query)[0]) {
      nb_set_error(NB_ESHAPE, "MultiheadAttention: query %s, key and value must be (batch, seq, %lld) "
                   "(batch_first); got %s for input %d", nb_shape_of(query), (long long)c->embed_dim,
                   nb_shape_of(in[i]), i);
      return NULL;
    }
  nb_tensor *qkv[3] = {NULL, NULL, NULL};
  if (query == key && key == value) project_self(m, query, qkv);
  else if ((qkv[0] = project_heads(m, query, 0)) && (qkv[1] = project_heads(m, key, 1)))
    qkv[2] = project_heads(m, value, 2);
  nb_tensor *q = qkv[0], *k = qkv[1], *v = qkv[2];
  nb_tensor *a = v ? nb_scaled_dot_product_attention(q, k, v, is_causal, NAN) : NULL;
  if (!a) return NULL;
  int64_t B = nb_shape(query)[0], T = nb_shape(query)[1];
  nb_tensor *y = nb_reshape(nb_transpose(a, 1, 2), 3, (int64_t[]){B, T, c->embed_dim});
  return y ? nb_module_forward(nb_module_child(m, "out_proj"), y) : NULL;
}

static nb_tensor *mha_forward(nb_module *self, nb_tensor *x) {
  return nb_multihead_attention(self, x, x, x, false);
}

static nb_tensor *out_proj_forward(nb_module *self, nb_tensor *x) {
  nb_tensor *w = nb_module_get(self, "weight");
  nb_tensor *b = cfg_of(self)->bias ? nb_module_get(self, "bias") : NULL;
  if (!w || (cfg_of(self)->bias && !b)) return NULL;
  return nb_linear(x, w, b);
}

/* PyTorch's out_proj: a Linear (its default init) named NonDynamicallyQuantizableLinear,
 * bias then zeroed by MultiheadAttention._reset_parameters. */
static nb_module *out_proj_new(int64_t E, bool bias, nb_generator *g) {
  nb_module *lin = nb_linear_new(E, E, bias, g);
  tfm_cfg *c;
  nb_module *m = lin ? cfg_module("NonDynamicallyQuantizableLinear", out_proj_forward, &c) : NULL;
  if (!m) {
    nb_module_free(lin);
    return NULL;
  }
  c->bias = bias;
  char extra[128];
  snprintf(extra, sizeof extra, "in_features=%lld, out_features=%lld, bias=%s", (long long)E, (long long)E,
           bias ? "True" : "False");
  int rc = nb_module_register_parameter(m, "weight", nb_module_get(lin, "weight"));
  if (rc >= 0 && bias) {
    nb_tensor *b = nb_module_get(lin, "bias");
    rc = b ? nb_fill(b, 0) : nb_last_status();
    if (rc >= 0) rc = nb_module_register_parameter(m, "bias", b);
  }
  nb_module_free(lin);
  if (rc < 0 || nb_module_set_extra_repr(m, extra) < 0) return fail(m);
  return m;
}

nb_module *nb_multihead_attention_new(int64_t embed_dim, int64_t num_heads, bool bias, nb_generator *g) {
  if (embed_dim <= 0 || num_heads <= 0 || embed_dim % num_heads) {
    nb_set_error(NB_EINVAL, "MultiheadAttention: embed_dim %lld must be positive and divisible by "
                 "num_heads %lld", (long long)embed_dim, (long long)num_heads);
    return NULL;
  }
  tfm_cfg *c;
  nb_module *m = cfg_module("MultiheadAttention", mha_forward, &c);
  if (!m) return NULL;
  c->embed_dim = embed_dim, c->num_heads = num_heads, c->bias = bias;
  if (nb_scope_begin() < 0) return fail(m);
  /* xavier_uniform_ over (3E, E): U(±√(6/(E + 3E))) */
  double a = sqrt(6.0 / (double)(embed_dim + 3 * embed_dim));
  int rc = param(m, "in_proj_weight", nb_rand_range(2, (int64_t[]){3 * embed_dim, embed_dim}, -a, a, NB_F32, g));
  if (rc >= 0 && bias) rc = param(m, "in_proj_bias", nb_zeros(1, (int64_t[]){3 * embed_dim}, NB_F32));
  nb_scope_end();
  if (rc < 0 || nb_module_add(m, "out_proj", out_proj_new(embed_dim, bias, g)) < 0) return fail(m);
  return m;
}

/* ---- the pre-LN Transformer block (GPT-2) ---------------------------------------------- */

static nb_tensor *block_forward(nb_module *self, nb_tensor *x) {
  nb_module *attn = nb_module_child(self, "attn");
  nb_tensor *h = nb_module_forward(nb_module_child(self, "ln_1"), x);
  nb_tensor *a = h && attn ? nb_multihead_attention(attn, h, h, h, cfg_of(self)->causal) : NULL;
  nb_tensor *x1 = a ? nb_add(x, a) : NULL;
  nb_tensor *m = x1 ? nb_module_forward(nb_module_child(self, "mlp"),
                                        nb_module_forward(nb_module_child(self, "ln_2"), x1))
                    : NULL;
  return m ? nb_add(x1, m) : NULL;
}

nb_module *nb_transformer_block_new(int64_t embed_dim, int64_t num_heads, int64_t mlp_hidden, bool causal,
                                    nb_generator *g) {
  if (mlp_hidden <= 0) {
    nb_set_error(NB_EINVAL, "TransformerBlock: mlp_hidden must be positive (got %lld)", (long long)mlp_hidden);
    return NULL;
  }
  tfm_cfg *c;
  nb_module *m = cfg_module("TransformerBlock", block_forward, &c);
  if (!m) return NULL;
  c->causal = causal;
  int64_t ns[1] = {embed_dim};
  /* children in PyTorch's registration order, so parameters list (and draw) the same way */
  if (nb_module_add(m, "ln_1", nb_layer_norm_new(1, ns, 1e-5, true)) < 0 ||
      nb_module_add(m, "attn", nb_multihead_attention_new(embed_dim, num_heads, true, g)) < 0 ||
      nb_module_add(m, "ln_2", nb_layer_norm_new(1, ns, 1e-5, true)) < 0)
    return fail(m);
  nb_module *mlp[3] = {nb_linear_new(embed_dim, mlp_hidden, true, g), nb_gelu_new("none"), NULL};
  mlp[2] = nb_linear_new(mlp_hidden, embed_dim, true, g);
  if (nb_module_add(m, "mlp", nb_sequential_new(3, mlp)) < 0) return fail(m);
  return m;
}
