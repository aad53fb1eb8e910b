/* libcore/internal.h — structures and helpers shared by the core's own files.
 * Not installed; plugins see only the opaque types and accessors of the public headers.
 * Names with a double underscore (nb__) are core-internal.
 */
#ifndef NABLA_INTERNAL_H
#define NABLA_INTERNAL_H

#include "nabla/sdk.h"
#include "nabla/loader.h"
#include "nabla/harness.h"
#include "nabla/text.h"

#if defined(__GNUC__)
#define NB_INTERNAL __attribute__((visibility("hidden")))
#define NB_LIKELY(x) __builtin_expect(!!(x), 1)
#define NB_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define NB_INTERNAL
#define NB_LIKELY(x) (x)
#define NB_UNLIKELY(x) (x)
#endif

/* Hot thread-locals. Not initial-exec: that would force the library's whole TLS block
 * (several KB with the error buffers) into the static TLS surplus, and dlopen (Python
 * ctypes, FFI users) fails with "cannot allocate memory in static TLS block". The build
 * uses TLS descriptors (-mtls-dialect=gnu2) where available instead, which read a
 * variable without calling __tls_get_addr and still allow dlopen. */
#define NB_TLS _Thread_local
/* The address of thread-local `var`, computed once: the empty asm hides where it came
 * from, so the compiler keeps it in a register instead of recomputing it (with TLS
 * descriptors, an indirect call) at every use. Hot functions take it once at the top. */
#define NB_TLS_ADDR(var)                                                                   \
  __extension__({                                                                          \
    __typeof__(&(var)) nb_tls_p_ = &(var);                                                 \
    __asm__("" : "+r"(nb_tls_p_));                                                         \
    nb_tls_p_;                                                                             \
  })

/* Public functions taking a tensor fail on NULL with a message naming the function. */
#define NB_CHECK_T(what, t, ret)                                      \
  do {                                                               \
    if (NB_UNLIKELY(!(t))) {                                         \
      nb_set_null_error("%s: tensor argument is NULL", (what)); \
      return ret;                                                    \
    }                                                                \
  } while (0)

/* ---- dtypes: inline forms of nb_dtype_size / nb_dtype_is_floating for the core's hot
 * paths (dtype.c exports the same functions for plugins and users) ---------------------- */

static inline size_t nb__dtype_size(int dt) {
  switch (dt) {
  case NB_F32: return 4;
  case NB_F64: return 8;
  case NB_I64: return 8;
  case NB_BOOL: return 1;
  default: return 0;
  }
}
static inline bool nb__is_floating(int dt) { return dt == NB_F32 || dt == NB_F64; }

/* ---- storage and tensors ---------------------------------------------------------- */

typedef struct nb_storage {
  int32_t refcount;
  uint32_t version; /* the version counter: shared by every view and detach */
  size_t nbytes;
  void *data; /* 64-byte aligned; may point inside this allocation for small sizes */
} nb_storage;

typedef struct nb_hook {
  int64_t id;
  union {
    nb_hook_fn fn;                     /* tensor hooks */
    nb_post_accumulate_hook_fn post;   /* post-accumulate-grad hooks */
  };
  void *user;
  struct nb_hook *next;
} nb_hook;

struct nb_tensor {
  int32_t refcount;
  uint8_t dtype; /* nb_dtype */
  int8_t ndim;
  bool requires_grad; /* for non-leaves: always true */
  bool retains_grad;
  int32_t output_nr; /* which output of grad_fn this is */
  bool wrapped; /* a scalar operand made by functional.c: never seen by users or written,
                   so nodes save it directly instead of through an alias */
  int64_t numel;
  int64_t offset; /* storage offset in elements */
  int64_t shape[NB_MAX_DIMS];
  int64_t strides[NB_MAX_DIMS]; /* in elements */
  nb_storage *storage;
  nb_node *grad_fn;  /* strong */
  nb_tensor *grad;   /* strong */
  nb_node *grad_acc; /* weak: the leaf's AccumulateGrad node, if one is alive */
  nb_hook *hooks;    /* leaf hooks (hooks of non-leaves live on grad_fn) */
  nb_hook *post_hooks; /* leaf post-accumulate-grad hooks (run after .grad is updated) */
  nb_tensor *view_base; /* strong: the tensor this one is a view of (set by dispatch for op
                           outputs sharing an input's storage), NULL otherwise */
};

/* Bump the version counter every view and detach of t shares (after a write). */
static inline void nb__bump_version(nb_tensor *t) {
  __atomic_add_fetch(&t->storage->version, 1, __ATOMIC_RELAXED);
}

/* Allocate a zeroed tensor struct with refcount 1 (not registered in any scope), counted
 * in nb_live_tensors(). NULL with NB_ENOMEM. */
NB_INTERNAL nb_tensor *nb__tensor_alloc(void);
/* Allocate storage of nbytes (refcount 1, version 0). */
NB_INTERNAL nb_storage *nb__storage_new(size_t nbytes);
NB_INTERNAL void nb__storage_release(nb_storage *s);
/* New contiguous tensor with fresh storage, not registered in a scope (rc 1). The shape
 * must be valid: checked by nb__check_shape, or an existing tensor's (not re-checked). */
NB_INTERNAL nb_tensor *nb__tensor_new(int ndim, const int64_t *shape, nb_dtype dt);
/* New tensor struct viewing t's storage (shares version), not registered; rc 1. */
NB_INTERNAL nb_tensor *nb__alias(const nb_tensor *t, int ndim, const int64_t *shape,
                                 const int64_t *strides, int64_t offset);
/* Register t (a reference the caller owns) in the innermost scope, if any; returns t. */
NB_INTERNAL nb_tensor *nb__scope_register(nb_tensor *t);
/* Close the innermost scope (which must be open) but keep one reference to each of
 * t[0..n): the caller owns those afterwards. When the scope holds exactly t in order (an
 * op's forward that made only its outputs) the references move without refcount traffic. */
NB_INTERNAL void nb__scope_end_keep(int n, nb_tensor *const *t);
/* Around user code the core calls (hooks): scopes open now cannot be ended by it.
 * Returns the previous floor, for nb__scope_unprotect. */
NB_INTERNAL int nb__scope_protect(void);
NB_INTERNAL void nb__scope_unprotect(int old_floor);
/* New 0-d tensor holding value (converted to dt), not registered in a scope; rc 1. */
NB_INTERNAL nb_tensor *nb__scalar_new(double value, nb_dtype dt);
/* Check ndim/shape arguments: ndim in [0, NB_MAX_DIMS], shape non-NULL when ndim > 0, sizes
 * >= 0. Returns 0 or sets an error prefixed with `what`. */
NB_INTERNAL int nb__check_shape(const char *what, int ndim, const int64_t *shape);
/* Fill contiguous strides for shape; returns numel. */
NB_INTERNAL int64_t nb__contiguous_strides(int ndim, const int64_t *shape, int64_t *strides);

/* ---- graph nodes --------------------------------------------------------------------- */

typedef struct nb_edge {
  nb_node *node; /* strong; NULL: the input does not require grad */
  int32_t input_nr;
} nb_edge;

typedef struct nb_meta {
  uint8_t dtype;
  int8_t ndim;
  int64_t shape[NB_MAX_DIMS];
} nb_meta;

typedef struct nb_saved {
  nb_tensor *t;     /* an alias without grad_fn (breaks reference cycles), or a wrapped
                       scalar operand itself (it never gets a grad_fn) */
  const char *producer; /* name of the node that produced the saved tensor, or NULL */
  uint32_t version; /* version of the storage when saved */
  int32_t producer_out; /* which output of that node */
  /* Autograd identity of what was saved, so a recording backward (NB_CREATE_GRAPH) can
   * connect the saved value to the forward graph (PyTorch's SavedVariable unpacking),
   * without a reference (no cost on the first-order path): src_in >= 0, the node's input
   * src_in (its edge next[src_in] leads to the value's grad_fn or leaf); self_out >= 0,
   * output self_out of this very node; both -1: a constant. */
  int32_t src_in;
  int32_t self_out;
} nb_saved;

struct nb_node {
  int32_t refcount;
  int32_t n_in, n_out;
  const nb_op *op;  /* NULL for AccumulateGrad */
  const char *name; /* "MulBackward", "AccumulateGrad" */
  nb_edge *next;    /* [n_in] */
  nb_meta *in_meta; /* [n_in] */
  nb_meta *out_meta; /* [n_out] */
  nb_attr_value *attrs; /* [op's n_attrs] */
  nb_saved *saved;
  int32_t n_saved, cap_saved;
  bool saved_released; /* saved tensors freed by a backward without retain_graph */
  bool saved_heap;     /* saved[] was moved out of the node's own allocation */
  int8_t size_class;   /* node.c's free-list class, -1 when malloc'ed directly */
  bool ran;            /* backward ran in the current run (only those free saved tensors) */
  char *strs;          /* copies of STRING attribute values, owned */
  void *blob;
  size_t blob_size;
  nb_hook **out_hooks; /* [n_out] or NULL: hooks of the non-leaf outputs */
  nb_tensor **retain;  /* [n_out] or NULL: weak pointers to outputs that retain grad */
  nb_tensor *variable; /* AccumulateGrad: the leaf (strong) */
  const char *origin;  /* anomaly detection: where the node was created (caller's label) */
  /* engine scratch, valid during one backward */
  uint64_t run_id;
  int32_t deps;
  bool needed;
  nb_tensor **buf; /* [n_out] gradient sums */
};

struct nb_ctx {
  nb_node *node; /* NULL when the call does not record */
  const nb_op *op;
  const nb_attr_value *attrs;
  uint64_t needs_grad; /* bit i: input i needs a gradient */
  const nb_storage *updated; /* an in-place op's self storage (bumped before forward) */
  bool graph; /* backward under NB_CREATE_GRAPH: nb_ctx_saved returns connected tensors */
  nb_tensor *const *in; /* forward: the inputs (nb_ctx_save finds a saved input's edge) */
  int n_in;
};

/* Maximum inputs / outputs an op may declare. */
#define NB_MAX_OP_INPUTS 16
#define NB_MAX_OP_OUTPUTS 8

NB_INTERNAL nb_node *nb__node_new(const nb_op *op, const char *name, int n_in, int n_out);
NB_INTERNAL void nb__node_retain(nb_node *n);
/* Iterative release: a long chain does not recurse. */
NB_INTERNAL void nb__node_release(nb_node *n);
/* Drop the node's saved tensors (after backward without retain_graph). */
NB_INTERNAL void nb__node_release_saved(nb_node *n);
/* The leaf's AccumulateGrad node, created on demand: returns a NEW reference. */
NB_INTERNAL nb_node *nb__grad_accumulator(nb_tensor *leaf);
/* After forward: mark saved tensors that are outputs of n (their identity is n itself). */
NB_INTERNAL void nb__node_mark_saved_outputs(nb_node *n, int n_out, nb_tensor *const *out);
/* Check every saved tensor of n is still usable (not freed, version unchanged). */
NB_INTERNAL int nb__node_check_saved(nb_node *n);
/* Copy the node's STRING attribute values into memory it owns (attrs must be set). */
NB_INTERNAL int nb__node_own_strings(nb_node *n);
/* Append a hook to a list; returns its handle or a negative status. Post-accumulate-grad
 * hooks share the handle numbering (nb__post_hook_append). */
NB_INTERNAL int64_t nb__hook_append(nb_hook **list, nb_hook_fn fn, void *user);
NB_INTERNAL int64_t nb__post_hook_append(nb_hook **list, nb_post_accumulate_hook_fn fn, void *user);
/* Free a hook list. */
NB_INTERNAL void nb__hooks_free(nb_hook *h);
/* Record a node: input edges (grad_fn or the leaf's accumulator) and metadata of inputs
 * for those marked in `needs`. */
NB_INTERNAL int nb__node_record_inputs(nb_node *node, int n_in, nb_tensor *const *in,
                                       uint64_t needs);
/* Attach op's outputs to node (NULL: no history), with the history rules: aliases for
 * handed-back inputs, view bases, in-place rebasing. May replace out[j] by an alias. */
NB_INTERNAL int nb__node_attach_outputs(const nb_op *op, nb_node *node, int n_in,
                                        nb_tensor *const *in, int n_out, nb_tensor **out);

/* ---- anomaly detection (anomaly.c) ---- */

/* This thread's anomaly mode (nb_set_detect_anomaly), read directly on the hot paths. */
extern NB_INTERNAL NB_TLS bool nb__anomaly_on;
/* Record the current label on a node created while anomaly detection is on. */
NB_INTERNAL void nb__anomaly_record(nb_node *n);
/* NB_OK, or an error naming n, its forward call and origin when g (the gradient n's
 * backward returned for `input`) holds a NaN or Inf. */
NB_INTERNAL int nb__anomaly_check(const nb_node *n, int input, nb_tensor *g);

/* ---- GEMM micro-kernels (gemm_kernels.c) and the packed GEMM (gemm_native.c) ---------- */

/* C (mr x nr, rows at unit stride, columns ldc apart) = alpha·A·B + beta·C from packed
 * panels: A column by column (mr per k step), B row by row (nr per k step); only C's
 * first mi rows and nj columns are read and written. beta == 0 does not read C. */
typedef void (*nb__ukernel_fn)(int64_t k, const void *a, const void *b, void *c, int64_t ldc, double alpha,
                               double beta, int mi, int nj);
typedef struct nb__ukernel {
  const char *isa;            /* "avx512", "avx2" */
  int mr, nr, kc, mc, nc;     /* tile and block sizes, in elements; mr·nr <= 256 */
  nb__ukernel_fn fn;
  /* Transposing pack: dst[p·r + i] = src[i·ld + p], i < valid, zero up to r; p < kc. */
  void (*pack_t)(int64_t kc, int r, int64_t valid, const void *src, int64_t ld, void *dst);
  /* Skinny products (NULL: none): C (m x n, n <= dot_max) = alpha·A·B + beta·C with
   * A(i,p) at a[i·ra + p] and B by columns, bt[j·k + p]; C(i,j) at c[i·rc + j·cc]. */
  void (*dot)(int64_t m, int n, int64_t k, const void *a, int64_t ra, const void *bt, void *c, int64_t rc,
              int64_t cc, double alpha, double beta);
  int dot_max; /* the widest n (or m) the skinny path takes: where it beats packing */
} nb__ukernel;
/* The micro-kernel for dt (float32 or float64) this CPU runs, or NULL: use BLIS. */
NB_INTERNAL const nb__ukernel *nb__gemm_ukernel(nb_dtype dt);
/* Whether nb__gemm_packed takes an m x n x k product with these strides to the skinny
 * path (no packing of the big operand): then even m or n of 1 should come here. */
NB_INTERNAL bool nb__gemm_skinny(const nb__ukernel *uk, int64_t m, int64_t n, int64_t k, int64_t ca,
                                 int64_t rb);
/* One product on the calling thread with kernel uk (strides as nb_gemm's, op() already
 * applied: A(i,p) at a[i·ra + p·ca], B(p,j) at b[p·rb + j·cb]; k > 0). Returns false
 * without touching C when its packing scratch cannot be allocated. */
NB_INTERNAL bool nb__gemm_packed(const nb__ukernel *uk, nb_dtype dt, int64_t m, int64_t n, int64_t k,
                                 double alpha, const void *a, int64_t ra, int64_t ca, const void *b, int64_t rb,
                                 int64_t cb, double beta, void *c, int64_t rc, int64_t cc);

/* ---- scratch (parallel.c) ----------------------------------------------------------- */

/* Slots past the public nb_scratch ones, for the core's own kernels (the GEMM packs its
 * panels there while a plugin's kernel holds its own scratch around the call). */
#define NB_SCRATCH_CORE_SLOTS 2
#define NB_SCRATCH_GEMM_A 4
#define NB_SCRATCH_GEMM_B 5
/* nb_scratch without the public slot check: slot < 4 + NB_SCRATCH_CORE_SLOTS. */
NB_INTERNAL void *nb__scratch(int slot, size_t size);

/* ---- per-thread cleanup (thread_exit.c) ----------------------------------------------- */

/* Run fn(arg) when the calling thread exits (newest first). Call once per thread, when a
 * thread-local cache first takes memory. False only past the fixed capacity (a bug). */
NB_INTERNAL bool nb__at_thread_exit(void (*fn)(void *), void *arg);

/* ---- the tensor finalizer (storage.c) ----------------------------------------------------- */

/* Storage knows nothing of autograd: the layer above installs, once, a function that
 * nb_release calls on a tensor about to be freed (autograd.c: drop grad_fn, grad, hooks
 * and weak references). */
typedef void (*nb_tensor_finalizer)(nb_tensor *t);
NB_INTERNAL void nb__set_tensor_finalizer(nb_tensor_finalizer fn);

/* ---- the registry (registry.c): a store that knows nothing of loading ---------------- */

/* Who registered an entry: for a plugin, its name and file, owned by the loader's record
 * (which lives as long as the process); the registry only names and compares it. */
typedef struct nb_provider {
  const char *name;
  const char *path;
} nb_provider;

struct nb_op {
  nb_op_desc d;        /* normalised copy: fields past the plugin's struct_size are zero */
  char node_name[64];  /* d.node_name or derived from d.name */
  const nb_provider *provider; /* NULL for ops registered by the core itself */
  int index;
};

struct nb_optim_kind {
  nb_optim_desc d;
  const nb_provider *provider;
  int index;
};

struct nb_comm_kind {
  nb_comm_desc d;
  const nb_provider *provider; /* NULL for the core's built-in backends */
  int index;
};

/* A registrar for one provider's init (skip_duplicates: during discovery a duplicate op
 * is skipped with a warning instead of failing the plugin). */
NB_INTERNAL nb_registrar *nb__registrar_new(const nb_provider *provider, bool skip_duplicates);
/* Publish what init registered (init_status >= 0) or roll it all back; *message receives a
 * malloc'ed report line (or NULL), *n_ops / *n_optims / *n_comms the counts published.
 * Frees r. */
NB_INTERNAL int nb__registrar_finish(nb_registrar *r, int init_status, char **message,
                                     int *n_ops, int *n_optims, int *n_comms);
/* Exact lookups in the store (no loading), and the registered op name closest to `name`
 * (edit distance at most 2), or NULL. */
NB_INTERNAL const nb_op *nb__op_get(const char *name);
NB_INTERNAL const nb_optim_kind *nb__optim_get(const char *name);
NB_INTERNAL const nb_comm_kind *nb__comm_get(const char *name);
/* The store's communication backends without loading anything (lookup.c's nb_comm_count
 * and nb_comm_at load first), and a backend's file ("(built in)" for the core's). */
NB_INTERNAL int nb__comm_count(void);
NB_INTERNAL const nb_comm_kind *nb__comm_at(int i);
NB_INTERNAL const char *nb__comm_plugin_path(const nb_comm_kind *k);
NB_INTERNAL const char *nb__op_suggest(const char *name);

/* ---- built-in communication backends (comm_single.c) ----------------------------------- */

/* Register the core's own backends ("single", provider NULL) once per process. Plugin
 * discovery calls it before loading anything, so no plugin can take their names. */
NB_INTERNAL void nb__register_builtin_comms(void);

/* ---- the loader (plugin.c) --------------------------------------------------------------- */

/* Why lookups may fail: a sentence listing plugins that failed to load ("" if none). */
NB_INTERNAL const char *nb__plugin_failures_summary(void);

/* ---- attribute schemas (attrs.c) ------------------------------------------------------- */

/* Most attributes (or hyperparameters) one schema may declare. */
#define NB_MAX_ATTRS 64
/* Check an attribute schema at registration; `kind` is "attribute" or "hyperparameter".
 * Returns 0, or -1 with a message in err. */
NB_INTERNAL int nb__check_attr_specs(int n, const nb_attr_spec *a, const char *kind, char *err,
                                     size_t errsz);


/* ---- misc ------------------------------------------------------------------------------ */

/* Thread-local ring of small buffers for formatting in messages. */
NB_INTERNAL char *nb__tmpbuf(size_t *size);

/* Threads for work started here (parallel.c): the thread count, or 1 inside a parallel
 * loop's body (parallel regions do not nest). */
NB_INTERNAL int nb__threads_here(void);
/* Run tasks 0..ntasks-1 (fn(i, i + 1, user) each) on the core's threads, each task on
 * whichever thread is free first: for work split finer than the thread count so a
 * descheduled thread's share moves to the others (parallel.c). */
NB_INTERNAL void nb__parallel_tasks(int64_t ntasks, nb_range_fn fn, void *user);

/* ---- worker threads (pool.c) ------------------------------------------------------------ */

/* Run fn over chunks [c·size, min((c+1)·size, n)) for c in [0, chunks) on up to `threads`
 * threads (the caller and pool workers), each chunk once, returning when all are done.
 * Runs them in order on the calling thread when threads or chunks is 1, inside a loop,
 * or while another thread's loop runs. */
NB_INTERNAL void nb__pool_run(int threads, int64_t n, int64_t size, int64_t chunks, nb_range_fn fn,
                              void *user);
/* True on a pool worker and on a caller inside its loop (loops do not nest). */
NB_INTERNAL bool nb__pool_in_loop(void);

#endif
