/* nabla/op.h — operators: schemas, attributes, the kernel context, dispatch and
 * sample inputs for the conformance harness.
 *
 * An operator is described by an nb_op_desc that a plugin registers (plugin.h). The
 * core validates every call against its schema before the kernel runs, records the
 * graph node when grad mode is on and some differentiable input requires grad, and
 * reduces gradients back to each input's shape after the op's backward.
 */
#ifndef NABLA_OP_H
#define NABLA_OP_H

#include "core.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- attributes ---------------------------------------------------------- */

typedef enum nb_attr_type {
  NB_ATTR_INT = 0,   /* int64 */
  NB_ATTR_FLOAT = 1, /* double */
  NB_ATTR_BOOL = 2,  /* stored in .i as 0/1 */
  NB_ATTR_INTS = 3,  /* up to NB_MAX_DIMS int64 values */
  NB_ATTR_STRING = 4 /* with choices: .i is the index of the choice */
} nb_attr_type;

typedef struct nb_ints {
  int n;
  int64_t v[NB_MAX_DIMS];
} nb_ints;

typedef struct nb_attr_value {
  int64_t i;
  double f;
  const char *s;
  nb_ints ints;
} nb_attr_value;

enum {
  NB_ATTR_REQUIRED = 1u << 0, /* no default: the caller must give it */
  NB_ATTR_HAS_MIN = 1u << 1,  /* value (each element for INTS) >= min */
  NB_ATTR_HAS_MAX = 1u << 2,  /* value (each element for INTS) <= max */
  NB_ATTR_OPTIONAL = 1u << 3  /* may be absent; then nb_attr_value.i == 0 and .ints.n == 0
                                 (e.g. "dim" of sum: absent means all dims). For a FLOAT
                                 that may be absent use a NaN default instead (clamp's
                                 min/max): an absent optional FLOAT reads as 0. */
};

/* One attribute of an op's (or optimizer's) schema. */
typedef struct nb_attr_spec {
  const char *name;
  nb_attr_type type;
  unsigned flags;
  nb_attr_value def; /* default when not given */
  double min, max;   /* with NB_ATTR_HAS_MIN / NB_ATTR_HAS_MAX */
  const char *choices; /* STRING: comma-separated accepted values ("none,mean,sum") */
  const char *doc;
} nb_attr_spec;

/* An attribute given by name at a call site. */
typedef struct nb_attr {
  const char *name;
  nb_attr_type type;
  nb_attr_value v;
} nb_attr;

#define NB_A_INT(nm, val) ((nb_attr){.name = (nm), .type = NB_ATTR_INT, .v = {.i = (val)}})
#define NB_A_FLOAT(nm, val) ((nb_attr){.name = (nm), .type = NB_ATTR_FLOAT, .v = {.f = (val)}})
#define NB_A_BOOL(nm, val) ((nb_attr){.name = (nm), .type = NB_ATTR_BOOL, .v = {.i = !!(val)}})
#define NB_A_STR(nm, val) ((nb_attr){.name = (nm), .type = NB_ATTR_STRING, .v = {.s = (val)}})
#define NB_A_INTS(nm, ...)                                                                      \
  ((nb_attr){.name = (nm),                                                                    \
             .type = NB_ATTR_INTS,                                                            \
             .v = {.ints = {.n = (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),   \
                            .v = {__VA_ARGS__}}}})

/* ---- schema --------------------------------------------------------------- */

enum {
  NB_IN_NONDIFF = 1u << 0,  /* never differentiated (class-index targets, masks) */
  NB_IN_OPTIONAL = 1u << 1  /* may be NULL (e.g. bias) */
};
typedef struct nb_input_spec {
  const char *name;
  unsigned dtypes; /* mask of NB_DT_* accepted */
  unsigned flags;
  const char *doc;
} nb_input_spec;

enum { NB_OUT_NONDIFF = 1u << 0 /* e.g. argmax indices: never requires grad */ };
typedef struct nb_output_spec {
  const char *name;
  unsigned flags;
  const char *doc;
} nb_output_spec;

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
 * Backward runs with grad mode off. */
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
} nb_op_desc;
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

/* ---- registry queries and dispatch ------------------------------------------ */

typedef struct nb_op nb_op; /* a registered operator */

/* Find an op by name, loading the discovered plugins first if not done yet. NULL
 * with an error naming the op (and failed plugins) when none provides it. */
const nb_op *nb_op_find(const char *name);
/* The descriptor as registered (fields the plugin did not know are zeroed). */
const nb_op_desc *nb_op_descriptor(const nb_op *op);
/* Name of the plugin that registered it, and that plugin's file. */
const char *nb_op_plugin_name(const nb_op *op);
const char *nb_op_plugin_path(const nb_op *op);
/* Number of registered ops and the i-th (in registration order). */
int nb_op_count(void);
const nb_op *nb_op_at(int i);

/* Run an op: validate inputs and attributes against its schema, run forward, record
 * the graph node when needed. out[] receives n_out tensors registered in the current
 * scope. Attributes are matched by name; missing ones take their default. */
int nb_op_call(const nb_op *op, int n_in, nb_tensor *const *in, int n_attrs, const nb_attr *attrs,
               int n_out, nb_tensor **out);
/* nb_op_find + nb_op_call. */
int nb_call(const char *name, int n_in, nb_tensor *const *in, int n_attrs, const nb_attr *attrs,
            int n_out, nb_tensor **out);
/* Single-output convenience: returns the output or NULL. */
nb_tensor *nb_call1(const char *name, int n_in, nb_tensor *const *in, int n_attrs,
                    const nb_attr *attrs);

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

/* For harnesses: collect an op's samples into a new sink (its generator seeded with
 * `seed`), read them back, free the sink. nb_sample_get's pointers stay valid until
 * nb_sample_sink_free. */
nb_sample_sink *nb_sample_sink_new(uint64_t seed);
void nb_sample_sink_free(nb_sample_sink *sink);
/* Run op's samples function into sink. NB_ENOTFOUND when the op has none. */
int nb_op_collect_samples(const nb_op *op, nb_sample_sink *sink);
int nb_sample_count(const nb_sample_sink *sink);
typedef struct nb_sample {
  const char *desc;
  int n_in;
  nb_tensor *const *in; /* NULL entries for absent optional inputs */
  int n_attrs;
  const nb_attr *attrs;
  unsigned flags;
} nb_sample;
int nb_sample_get(const nb_sample_sink *sink, int i, nb_sample *out);

#ifdef __cplusplus
}
#endif
#endif
