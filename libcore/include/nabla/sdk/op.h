/* nabla/sdk/op.h — what an operator plugin writes: the op descriptor (schema,
 * forward, backward, samples), the kernel context its forward and backward receive, and
 * nb_sample_add() for the conformance harness's inputs.
 *
 * The core validates every call against the schema before the kernel runs, records the
 * graph node when grad mode is on and some differentiable input requires grad, and
 * reduces gradients back to each input's shape after the op's backward. Register the
 * descriptor from the plugin's init (sdk/plugin.h).
 */
#ifndef NABLA_SDK_OP_H
#define NABLA_SDK_OP_H

#include "../core.h"
#include "../tensor.h"
#include "../schema.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  NB_OP_INPLACE = 1u << 0, /* writes into input 0 and returns it as output 0 */
  NB_OP_VIEW = 1u << 1,    /* output 0 shares input 0's storage */
  NB_OP_RANDOM = 1u << 2   /* uses random numbers (harness compares with a fixed seed) */
};

typedef struct nb_ctx nb_ctx; /* kernel context: the graph node being recorded */

/* Forward: read inputs (NULL for absent optional ones) and resolved attributes (in
 * schema order), create outputs (nb_empty & co.) and store them in out[]; the core takes
 * its own reference, so scoped tensors are fine. An NB_OP_INPLACE op writes into in[0]
 * and sets out[0] = in[0] (the core bumps the version before forward runs); an NB_OP_VIEW
 * op returns nb_as_strided(in[0], ...). Save what backward needs with nb_ctx_save().
 * Forward runs inside its own scope, so temporaries are freed on return. Return 0 or a
 * negative status with an error set ("opname: what was wrong"). */
typedef int (*nb_forward_fn)(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                             nb_tensor **out);
/* Backward: grad_out[j] is the gradient of output j (zeros if it received none; NULL
 * for non-differentiable outputs). Set grad_in[i] for every input i where
 * nb_ctx_needs_input_grad(ctx, i). A gradient may have the broadcast shape of the
 * computation: the core sums it back to the input's shape. A backward may pass
 * grad_out[j] through unchanged as grad_in[i] (even to several inputs) but must never
 * write into grad_out. Tensors created here are scoped; the engine keeps what it needs.
 * Backward runs with grad mode off; backward_graph (same signature) runs with it on, for
 * NB_CREATE_GRAPH (see "Higher-order gradients" below the descriptor). */
typedef int (*nb_backward_fn)(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in);

typedef struct nb_sample_sink nb_sample_sink;
/* Produce sample inputs for the conformance harness with nb_sample_add(). */
typedef int (*nb_samples_fn)(nb_sample_sink *sink);

typedef struct nb_op_desc {
  uint32_t struct_size; /* sizeof(nb_op_desc) as the plugin saw it: use NB_OP_DESC_SIZE */
  const char *name;     /* lower_snake_case, unique among loaded plugins */
  const char *doc;      /* one paragraph */
  const char *node_name; /* graph node name; NULL derives "MulBackward" from "mul" */
  unsigned flags;        /* NB_OP_* */
  int n_inputs;
  const nb_input_spec *inputs;
  int n_outputs;
  const nb_output_spec *outputs;
  int n_attrs;
  const nb_attr_spec *attrs;
  nb_forward_fn forward;
  nb_backward_fn backward; /* NULL: not differentiable; calling it on an input that
                              requires grad (in grad mode) is an error at call time */
  nb_samples_fn samples;   /* NULL: the harness skips the op */
  const char *saves;       /* doc: what forward saves for backward */
  /* ABI 1.1 (appended; older plugins read as NULL). The op's backward written with
   * dispatched ops, for NB_CREATE_GRAPH (higher-order gradients); see below. NULL: the
   * op cannot be differentiated twice, and a create_graph backward that reaches it fails
   * with an error naming it (never silent zeros). */
  nb_backward_fn backward_graph;
} nb_op_desc;

/* Higher-order gradients: how an op supports NB_CREATE_GRAPH.
 *
 * One design: `backward` stays the plain C kernel (the first-order fast path, run with
 * grad mode off), and `backward_graph` computes the same gradients with dispatched ops
 * (nb_call1 / NB_CALL below, by op name), which record graph nodes by themselves because
 * a create_graph backward runs it with grad mode on. In it, nb_ctx_saved() returns the
 * saved values connected to the forward graph (a leaf itself, or a tensor whose grad_fn
 * is the node that produced it, this node for a saved output), and grad_out may require
 * grad too; so its result is differentiable again, and again (each op it calls has its
 * own backward_graph). An op whose backward is already written with dispatched ops sets
 * both fields to the same function. The harness (nabla-gradcheck) checks backward_graph
 * of every op that sets it with finite differences of the vector-Jacobian product
 * (PyTorch's gradgradcheck). */

/* Call op `name` on the listed tensors with no attributes (NULL on error), for
 * backward_graph: NB_CALL("mul", g, b). */
#define NB_CALL(name, ...)                                                                 \
  nb_call1((name), (int)(sizeof((nb_tensor *const[]){__VA_ARGS__}) / sizeof(nb_tensor *)), \
           (nb_tensor *const[]){__VA_ARGS__}, 0, NULL)
#define NB_OP_DESC_SIZE ((uint32_t)sizeof(nb_op_desc))

/* ---- kernel context (for plugin forward/backward code) --------------------- */

/* True when the call records a graph node (saving for backward is useful). */
bool nb_ctx_recording(const nb_ctx *ctx);
/* True when input i needs a gradient (requires grad, differentiable, and the call
 * records). Valid in forward and backward. */
bool nb_ctx_needs_input_grad(const nb_ctx *ctx, int i);
/* Save a tensor for backward (an alias sharing storage; its version is checked before
 * backward runs). Returns its index, or a negative status. No-op returning 0 when the
 * call does not record. t may be NULL to keep a slot: backward may need fewer gradients
 * than forward did (nb_backward_inputs), so save at fixed indices. */
int nb_ctx_save(nb_ctx *ctx, nb_tensor *t);
/* nb_ctx_save for an operand whose value backward needs as it was at the call. In an
 * in-place op, an operand sharing self's storage (y.mul_(y)) was overwritten, so
 * backward refuses with the version error, as PyTorch's does; otherwise nb_ctx_save. */
int nb_ctx_save_operand(nb_ctx *ctx, nb_tensor *t);
/* Saved tensor i (borrowed). NULL with an error when freed after a backward without
 * NB_RETAIN_GRAPH or when its version changed. */
nb_tensor *nb_ctx_saved(nb_ctx *ctx, int i);
/* Copy `size` bytes of plain data for backward (e.g. a seed); one blob per node. */
int nb_ctx_save_blob(nb_ctx *ctx, const void *data, size_t size);
const void *nb_ctx_blob(const nb_ctx *ctx, size_t *size);
/* Resolved attributes in schema order (valid in backward). */
const nb_attr_value *nb_ctx_attrs(const nb_ctx *ctx);
/* Shape and dtype of input i / output j as they were at the forward call. */
const int64_t *nb_ctx_input_shape(const nb_ctx *ctx, int i, int *ndim);
nb_dtype nb_ctx_input_dtype(const nb_ctx *ctx, int i);
const int64_t *nb_ctx_output_shape(const nb_ctx *ctx, int j, int *ndim);
/* Name of the op being run (for error messages). */
const char *nb_ctx_op_name(const nb_ctx *ctx);

/* ---- samples for the harness ------------------------------------------------ */

/* Sample flags */
enum {
  NB_SAMPLE_NO_GRAD_CHECK = 1u << 0, /* forward-only sample (e.g. an error-free edge case) */
  NB_SAMPLE_BROADCAST = 1u << 1      /* exercises broadcasting */
};
/* Add a sample: inputs (float64 for floating ones; created with nb_rand_range etc.),
 * attributes by name, and a short description ("stride 2, padding 1"). The sink keeps
 * references; the caller's may be scoped. Returns 0 or a negative status. */
int nb_sample_add(nb_sample_sink *sink, const char *desc, int n_in, nb_tensor *const *in,
                  int n_attrs, const nb_attr *attrs, unsigned flags);
/* A seeded generator owned by the sink (same numbers on every run). */
nb_generator *nb_sample_generator(nb_sample_sink *sink);

#ifdef __cplusplus
}
#endif
#endif
