/* nabla/module.h — modules (torch.nn.Module): a tree of named children, parameters and
 * buffers with PyTorch's dotted names, train/eval mode, freezing, printing, the usual
 * layers, the seed's networks (toy net, blitz Net, torchvision's ResNet-18) and
 * state_dict save/load in safetensors with PyTorch's key names.
 *
 * Ownership: a module owns its parameters, buffers and children; adding a child hands
 * it over (even when the call fails, so `nb_module_add(seq, "0", nb_linear_new(...))`
 * never leaks). Forward results are scoped tensors like every op result. Parameters are
 * float32 leaves that require grad; initialisation follows PyTorch's defaults, drawn from
 * the given generator (NULL: the default generator).
 */
#ifndef NABLA_MODULE_H
#define NABLA_MODULE_H

#include <stdio.h>

#include <nabla/core.h>
#include <nabla/safetensors.h>
#include <nabla/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_module nb_module;

/* Forward of a module: compute the output for x (return a scoped tensor, or NULL with an
 * error set). Children are reached with nb_module_child(self, "fc1"). */
typedef nb_tensor *(*nb_module_forward_fn)(nb_module *self, nb_tensor *x);

/* ---- building ----------------------------------------------------------------------- */

/* A module of type `type_name` (shown when printing, e.g. "Net") with its forward (NULL
 * for a pure container: calling it is then an error). `user` is private data handed back
 * by nb_module_user() and freed with free_user (may be NULL) when the module is freed. */
nb_module *nb_module_new(const char *type_name, nb_module_forward_fn forward, void *user,
                         void (*free_user)(void *));
/* Free a module with its children, parameters and buffers (NULL-safe). */
void nb_module_free(nb_module *m);
void *nb_module_user(const nb_module *m);
/* Type name ("Linear", "Sequential", ...). */
const char *nb_module_type(const nb_module *m);
/* Text shown inside the parentheses when printing (PyTorch's extra_repr); copied. */
int nb_module_set_extra_repr(nb_module *m, const char *text);

/* Add `child` under `name` (no '.'; unique among children, parameters and buffers). Takes
 * ownership of child (frees it on failure; a NULL child fails with the child
 * constructor's error kept) — except that a child already in a module tree, or the
 * parent itself, is refused and left alone. Returns 0 or a negative status. Walks of
 * the tree (forward of Sequential, printing, parameters, free) recurse once per level:
 * trees some ten thousand levels deep overflow the stack, which nabla does not check. */
int nb_module_add(nb_module *parent, const char *name, nb_module *child);
/* Child by dotted path ("layer1.0.conv1"); borrowed; NULL with an error if absent. */
nb_module *nb_module_child(const nb_module *m, const char *path);
/* Replace the module at dotted path by `child` (frees the old one; takes ownership of
 * child, freeing it on failure, except a child some module tree already owns, which is
 * refused and left alone), e.g. nb_module_replace(resnet, "fc", nb_linear_new(512, 10, ...)). */
int nb_module_replace(nb_module *m, const char *path, nb_module *child);
/* Direct children in order: count and the i-th (its name through *name). */
int nb_module_num_children(const nb_module *m);
nb_module *nb_module_child_at(const nb_module *m, int i, const char **name);

/* Register (or replace) a parameter: t must be a floating leaf; it is retained and made
 * to require grad. Returns 0 or a negative status. */
int nb_module_register_parameter(nb_module *m, const char *name, nb_tensor *t);
/* Register (or replace) a buffer (e.g. running_mean); retained, never requires grad. */
int nb_module_register_buffer(nb_module *m, const char *name, nb_tensor *t);
/* Parameter or buffer by dotted name ("layer1.0.bn1.running_mean"); borrowed; NULL with
 * an error naming the path when absent. */
nb_tensor *nb_module_get(const nb_module *m, const char *path);

/* ---- using ------------------------------------------------------------------------- */

/* Run the module's forward on x. */
nb_tensor *nb_module_forward(nb_module *m, nb_tensor *x);
/* Set training (true) or evaluation (false) mode on m and its whole subtree. */
void nb_module_train(nb_module *m, bool training);
bool nb_module_is_training(const nb_module *m);
/* Freeze (false) or unfreeze (true) every parameter of the subtree. Returns 0 or a status. */
int nb_module_set_requires_grad(nb_module *m, bool requires_grad);
/* Drop (set_to_none) or zero the gradients of every parameter of the subtree. */
int nb_module_zero_grad(nb_module *m, bool set_to_none);
/* PyTorch's model.double() (NB_F64) / model.float() (NB_F32): every floating parameter and
 * buffer of the subtree, and each parameter's .grad, takes dtype dt in place (nb_set_data),
 * so tensors keep their identity: an optimizer built before keeps working and converts
 * its state at its next step (optim.h). Integer buffers stay. Returns 0 or a status. */
int nb_module_to_dtype(nb_module *m, nb_dtype dt);
/* Number of parameter elements (each shared tensor once); only those that require grad
 * when trainable_only. */
int64_t nb_module_num_parameters(const nb_module *m, bool trainable_only);

/* A list of tensors with dotted names (tensors borrowed from the module). */
typedef struct nb_named_tensors {
  int n;
  char **names;
  nb_tensor **tensors;
} nb_named_tensors;
/* Parameters in PyTorch's named_parameters() order (pre-order, each tensor once). Pass
 * list->n, list->tensors to nb_optimizer_new. NULL on error. */
nb_named_tensors *nb_module_named_parameters(const nb_module *m);
/* Buffers in named_buffers() order. */
nb_named_tensors *nb_module_named_buffers(const nb_module *m);
/* Parameters and buffers in state_dict() order (each module's parameters, then its
 * buffers, then its children). */
nb_named_tensors *nb_module_state_dict(const nb_module *m);
void nb_named_tensors_free(nb_named_tensors *l);

/* The module tree as PyTorch prints a model ("Net(\n  (fc1): Linear(in_features=10, ...)");
 * malloc'ed, the caller frees. */
char *nb_module_to_string(const nb_module *m);
/* Print it with a trailing newline. Returns 0 or a negative status. */
int nb_module_print(const nb_module *m, FILE *out);

/* ---- layers (layers.c); each returns a new module or NULL with an error ------------- */

/* Linear(in, out): weight [out,in] kaiming-uniform (a = √5), bias U(±1/√in). */
nb_module *nb_linear_new(int64_t in_features, int64_t out_features, bool bias, nb_generator *g);
/* Conv2d options; a zeroed struct (or NULL) means stride 1, padding 0, dilation 1,
 * groups 1, with bias. */
typedef struct nb_conv2d_opts {
  int64_t stride[2], padding[2], dilation[2], groups;
  bool no_bias;
} nb_conv2d_opts;
/* Conv2d(in, out, (kh, kw)): weight [out, in/groups, kh, kw], PyTorch's default init. */
nb_module *nb_conv2d_new(int64_t in_channels, int64_t out_channels, int64_t kh, int64_t kw,
                         const nb_conv2d_opts *opts, nb_generator *g);
/* BatchNorm2d(C): weight 1, bias 0, buffers running_mean 0, running_var 1 and
 * num_batches_tracked (int64, counts training batches). Defaults eps 1e-5, momentum 0.1. */
nb_module *nb_batch_norm2d_new(int64_t num_features, double eps, double momentum);
/* ReLU (inplace: rectify the input tensor itself, as ReLU(inplace=True)). */
nb_module *nb_relu_new(bool inplace);
/* MaxPool2d / AvgPool2d with square kernel k, stride (0: k) and padding. */
nb_module *nb_max_pool2d_new(int64_t kernel_size, int64_t stride, int64_t padding);
nb_module *nb_avg_pool2d_new(int64_t kernel_size, int64_t stride, int64_t padding);
/* AdaptiveAvgPool2d((oh, ow)). */
nb_module *nb_adaptive_avg_pool2d_new(int64_t oh, int64_t ow);
/* Flatten(start_dim, end_dim) — nn.Flatten's defaults are (1, -1). */
nb_module *nb_flatten_new(int64_t start_dim, int64_t end_dim);
/* Dropout(p): zeroes with probability p and scales by 1/(1-p) in training; identity in eval. */
nb_module *nb_dropout_new(double p);
/* Sequential of n modules (taken over, NULL entries fail after freeing the others),
 * children named "0", "1", ...; forward chains them. n may be 0. */
nb_module *nb_sequential_new(int n, nb_module *const *mods);
/* Append a module to a Sequential under the next index; takes ownership. */
int nb_sequential_append(nb_module *seq, nb_module *m);

/* ---- Transformer layers (layers_transformer.c; issue 15) ------------------------------- */

/* Embedding(num, dim[, padding_idx]): weight [num, dim] N(0, 1), the padding row zeroed;
 * forward takes int64 indices. padding_idx NB_NO_PADDING (functional.h) for none. */
nb_module *nb_embedding_new(int64_t num_embeddings, int64_t embedding_dim, int64_t padding_idx,
                            nb_generator *g);
/* LayerNorm(normalized_shape): over the trailing n dims; weight 1 and bias 0 when
 * elementwise_affine. PyTorch's default eps is 1e-5. */
nb_module *nb_layer_norm_new(int n, const int64_t *normalized_shape, double eps, bool elementwise_affine);
/* GELU(approximate): "none" (NULL) or "tanh". */
nb_module *nb_gelu_new(const char *approximate);
/* MultiheadAttention(embed_dim, num_heads, bias, batch_first=True): in_proj_weight
 * [3E, E] xavier-uniform, in_proj_bias [3E] zeros, out_proj (a Linear, bias zeroed).
 * Inputs are (batch, seq, E). nb_module_forward(m, x) is self-attention without a mask. */
nb_module *nb_multihead_attention_new(int64_t embed_dim, int64_t num_heads, bool bias, nb_generator *g);
/* Attention of query over key/value with m's projections (batch_first), as
 * m(query, key, value, need_weights=False, is_causal=...)[0]; is_causal masks later keys. */
nb_tensor *nb_multihead_attention(nb_module *m, nb_tensor *query, nb_tensor *key, nb_tensor *value,
                                  bool is_causal);
/* GPT-2's pre-LN block: x + attn(ln_1(x)), then + mlp(ln_2(x)) with mlp = Sequential(Linear(E,
 * mlp_hidden), GELU, Linear(mlp_hidden, E)); attention causal when `causal`. Children ln_1,
 * attn, ln_2, mlp. */
nb_module *nb_transformer_block_new(int64_t embed_dim, int64_t num_heads, int64_t mlp_hidden, bool causal,
                                    nb_generator *g);

/* ---- state_dict in safetensors (state_dict.c) ------------------------------------------ */

/* Save parameters and buffers under their state_dict names (PyTorch's keys) to a
 * safetensors file (atomically, via nb_safetensors_save). Returns 0 or a status. */
int nb_module_save(const nb_module *m, const char *path);
/* Load a state_dict file. strict: every key must match a parameter/buffer of the same
 * shape, else nothing is loaded and the error lists the missing, unexpected and
 * mis-shaped keys by name. Not strict: load what matches (same name and shape; dtypes are
 * converted), skipping the rest with a warning. Returns the number of tensors loaded or
 * a negative status. Values are copied into the existing tensors (their version bumps). */
int nb_module_load(nb_module *m, const char *path, bool strict);
/* The same from an already loaded file. */
int nb_module_load_safetensors(nb_module *m, const nb_safetensors *f, bool strict);

#ifdef __cplusplus
}
#endif
#endif
