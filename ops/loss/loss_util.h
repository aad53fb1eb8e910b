/* ops/loss/loss_util.h — helpers shared by the loss plugin's operators (hidden in the
 * module). Reductions are deterministic: elements are summed in fixed blocks (in
 * parallel) and the block sums added in order, so the thread count never changes a bit.
 */
#ifndef NABLA_OPS_LOSS_UTIL_H
#define NABLA_OPS_LOSS_UTIL_H

#include <nabla/sdk.h>

#include "../common/ops_util.h" /* ops_contig, ops_same_dtype */

extern const nb_op_desc op_mse_loss;
extern const nb_op_desc op_l1_loss;
extern const nb_op_desc op_cross_entropy;
extern const nb_op_desc op_nll_loss;
extern const nb_op_desc op_binary_cross_entropy;
extern const nb_op_desc op_binary_cross_entropy_with_logits;

/* Index of the "reduction" attribute's choice ("none,mean,sum"). */
enum { LOSS_NONE = 0, LOSS_MEAN = 1, LOSS_SUM = 2 };
#define LOSS_REDUCTION_CHOICES "none,mean,sum"
#define LOSS_REDUCTION_DOC "none: per-element losses; mean: their average; sum: their sum"

/* Elements per block of a deterministic reduction. */
#define LOSS_BLOCK 4096

/* Work on elements [i0, i1); return their loss sum (when reducing) through *acc. */
typedef void (*loss_block_fn)(int64_t i0, int64_t i1, void *user, double *acc);
/* Run fn over [0, n) in blocks of LOSS_BLOCK on the core's threads and return the sum
 * of the block sums, added in block order. NaN with an error set if scratch fails. */
double loss_blocks(int64_t n, loss_block_fn fn, void *user);

/* t when it is contiguous with exactly `shape`, else a contiguous scoped copy of t
 * broadcast to shape (NULL with an error naming op when it does not broadcast). */
nb_tensor *loss_expand(const char *op, nb_tensor *t, int nd, const int64_t *shape);

/* The loss output for reduction red: a 0-d tensor holding `total` (divided by `denom`
 * for mean), in dtype dt. */
nb_tensor *loss_scalar(double total, double denom, int red, nb_dtype dt);

/* Per-element scale of the incoming gradient: for none, g is elementwise (returns a
 * contiguous tensor through *gvec and 0); for mean/sum, returns g/denom or g. */
double loss_grad_scale(nb_tensor *grad_out, int red, double denom, nb_tensor **gvec);

/* Elementwise losses (l1, mse, binary_cross_entropy[_with_logits]): input and target
 * (differentiable) plus up to two optional non-differentiable tensors (weight,
 * pos_weight) that broadcast to the input. Kernels get a loss_pw_job over contiguous
 * tensors of the common shape; g is NULL for mean/sum (then gs scales every element). */
typedef struct loss_pw_job {
  const void *x, *t, *w, *pw, *g;
  void *out, *gx, *gt;
  double gs;
} loss_pw_job;
typedef struct loss_pw_op {
  const char *name;
  int n_extra;       /* optional inputs after input and target: 0, 1 or 2 */
  bool broadcast;    /* input and target broadcast together (else target must match input) */
  loss_block_fn fwd_f32, fwd_f64, bwd_f32, bwd_f64;
  int (*check)(nb_tensor *x, const nb_tensor *orig); /* forward-only input check, or NULL */
} loss_pw_op;
/* Forward and backward of an elementwise loss described by op (reduction red). Saves the
 * inputs and a blob saying which optional inputs were given. */
int loss_pw_forward(const loss_pw_op *op, nb_ctx *ctx, nb_tensor *const *in, int red, nb_tensor **out);
int loss_pw_backward(const loss_pw_op *op, nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in);
/* Kernels fwd_f32/f64, bwd_f32/f64 of a loss of d = input − target: LOSS(d) per element,
 * gradient DLOSS(d)·g to input and its negation to target (l1_loss, mse_loss). */
#define LOSS_DIFF_KERNELS(T, SUF, LOSS, DLOSS)                                               \
  static void fwd_##SUF(int64_t i0, int64_t i1, void *u, double *acc) {                     \
    const loss_pw_job *j = u;                                                                \
    const T *x = j->x, *t = j->t;                                                            \
    T *o = j->out;                                                                           \
    double s = 0;                                                                            \
    for (int64_t i = i0; i < i1; i++) {                                                      \
      T d = x[i] - t[i], l = LOSS;                                                           \
      if (o) o[i] = l;                                                                       \
      s += l;                                                                                \
    }                                                                                        \
    *acc = s;                                                                                \
  }                                                                                          \
  static void bwd_##SUF(int64_t i0, int64_t i1, void *u, double *acc) {                     \
    const loss_pw_job *j = u;                                                                \
    const T *x = j->x, *t = j->t, *g = j->g;                                                 \
    T *gx = j->gx, *gt = j->gt, gs = (T)j->gs;                                               \
    (void)acc;                                                                               \
    for (int64_t i = i0; i < i1; i++) {                                                      \
      T d = x[i] - t[i], v = DLOSS * (g ? g[i] : gs);                                        \
      if (gx) gx[i] = v;                                                                     \
      if (gt) gt[i] = -v;                                                                    \
    }                                                                                        \
  }
/* Static forward/backward functions PREFIX_forward, PREFIX_backward running loss_pw_op OP. */
#define LOSS_PW_ENTRIES(PREFIX, OP)                                                          \
  static int PREFIX##_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, \
                              nb_tensor **out) {                                             \
    return loss_pw_forward(&OP, ctx, in, (int)attrs[0].i, out);                              \
  }                                                                                          \
  static int PREFIX##_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) { \
    return loss_pw_backward(&OP, ctx, grad_out, grad_in);                                    \
  }
/* For backward_graph of an elementwise loss (create_graph): the saved input, target,
 * weight and pos_weight as connected tensors (absent ones NULL) and the output gradient
 * scaled for the reduction (g for none and sum, g / count for mean), all scoped. */
typedef struct loss_pw_graph {
  nb_tensor *x, *t, *w, *pw, *gs;
} loss_pw_graph;
int loss_pw_graph_prep(nb_ctx *ctx, nb_tensor *grad_out, loss_pw_graph *p);
/* grad_in[i] = v * w (when a weight was given), for i = 0, 1 where needed (v NULL: skip). */
int loss_pw_graph_set(nb_ctx *ctx, const loss_pw_graph *p, nb_tensor *vx, nb_tensor *vt,
                      nb_tensor **grad_in);
/* Inputs {input, target} and output of l1_loss and mse_loss. */
extern const nb_input_spec loss_pair_inputs[2];
extern const nb_output_spec loss_pair_outputs[1];
/* Samples of l1/mse: reduction none/mean/sum on (3, 4) pairs and a broadcast (3, 1) target. */
int loss_pair_samples(nb_sample_sink *s);
/* Samples "reduction none", "mean" and "sum" of an elementwise loss with nin inputs: a
 * (3, 4) input in [xlo, xhi) and target in [0, 1) or [-1, 1) (signed_target), the
 * optional inputs absent. Returns 0 or NB_EINVAL. */
int loss_reduction_samples(nb_sample_sink *s, int nin, double xlo, double xhi, bool signed_target);
/* The attribute list {reduction} of the elementwise losses. */
extern const nb_attr_spec loss_reduction_attr[1];

/* ---- class-index losses (cross_entropy, nll_loss) ------------------------------------ */

/* Input (C) with a 0-d target, or (N, C, d...) with target (N, d...); positions =
 * N·prod(d...), classes along a stride S. */
typedef struct loss_cls {
  int64_t N, C, S, npos;
  double wsum;   /* sum of the weights of the non-ignored targets (count without weight) */
} loss_cls;
/* Offset of position p's class-0 element in the (N, C, S) input. */
static inline int64_t loss_cls_off(const loss_cls *g, int64_t p) {
  return (p / g->S) * g->C * g->S + p % g->S;
}
/* What a class loss's kernels read (loss_blocks over positions). */
typedef struct loss_cls_job {
  const loss_cls *g;
  const void *x, *w, *gv; /* input (forward, and backward with logits), weight (C) or NULL,
                             the per-position output gradient (none) or NULL */
  const int64_t *t;       /* one target per position */
  int64_t ignore;         /* ignore_index */
  double gs;              /* every position's output gradient when gv is NULL */
  double eps, wall;       /* with logits: label_smoothing and Σ_c w_c (C without weight) */
  double *lse;            /* with logits: per-position log Σ e^(z − m), m the row max (0
                           * for an all -inf row): backward finds m again */
  void *out, *dx;         /* per-position losses (none) or NULL; the input gradient */
} loss_cls_job;
typedef struct loss_cls_op {
  const char *name;
  /* cross_entropy: the input holds logits, attribute 2 is label_smoothing, and the forward
   * keeps the input and a per-position logsumexp (j->lse) for backward. Else (nll_loss)
   * backward needs only the target and weight. */
  bool logits;
  loss_block_fn fwd_f32, fwd_f64, bwd_f32, bwd_f64;
} loss_cls_op;
/* Forward and backward of class loss op; attributes reduction and ignore_index (and
 * label_smoothing with logits). The mean divides by the sum of the targets' weights. */
int loss_cls_forward(const loss_cls_op *op, nb_ctx *ctx, nb_tensor *const *in,
                     const nb_attr_value *attrs, nb_tensor **out);
int loss_cls_backward(const loss_cls_op *op, nb_ctx *ctx, nb_tensor *const *grad_out,
                      nb_tensor **grad_in);
/* backward_graph of a class loss (create_graph): the gradient with dispatched ops, from
 * the constant target distribution A (one row per position: weights, smoothing and the
 * mean's division folded in): nll_loss -g A, cross_entropy g (softmax(x) rowsum(A) - A). */
int loss_cls_backward_graph(const loss_cls_op *op, nb_ctx *ctx, nb_tensor *const *grad_out,
                            nb_tensor **grad_in);
/* Static forward/backward functions PREFIX_forward, PREFIX_backward running loss_cls_op OP. */
#define LOSS_CLS_ENTRIES(PREFIX, OP)                                                         \
  static int PREFIX##_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs, \
                              nb_tensor **out) {                                             \
    return loss_cls_forward(&OP, ctx, in, attrs, out);                                       \
  }                                                                                          \
  static int PREFIX##_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) { \
    return loss_cls_backward(&OP, ctx, grad_out, grad_in);                                   \
  }
/* Forward kernel fwd_SUF of a class loss in dtype T: per position p with target t that is
 * not ignore_index, the statements after SUF set double l (0 before) from t, w (weight or
 * NULL) and x (the position's class-0 input element; classes g->S apart). An ignored
 * position's loss is 0 (and its j->lse too). Stores the losses for none, sums them. */
#define LOSS_CLS_FWD(T, SUF, ...)                                                            \
  static void fwd_##SUF(int64_t p0, int64_t p1, void *u, double *acc) {                     \
    const loss_cls_job *j = u;                                                               \
    const loss_cls *g = j->g;                                                                \
    const T *w = j->w;                                                                       \
    double s = 0;                                                                            \
    for (int64_t p = p0; p < p1; p++) {                                                      \
      int64_t t = j->t[p];                                                                   \
      const T *x = (const T *)j->x + loss_cls_off(g, p);                                     \
      double l = 0;                                                                          \
      if (t == j->ignore) {                                                                  \
        if (j->lse) j->lse[p] = 0;                                                           \
      } else {                                                                               \
        __VA_ARGS__                                                                          \
      }                                                                                      \
      if (j->out) ((T *)j->out)[p] = (T)l;                                                   \
      s += l;                                                                                \
    }                                                                                        \
    *acc = s;                                                                                \
  }
/* Backward kernel bwd_SUF: per position p with target t that is not ignore_index, the
 * statements after SUF write the position's input gradient from t, w, gp (the output
 * gradient of its loss), off (its class-0 offset) and dx (the class-0 gradient element;
 * classes g->S apart). An ignored position's gradient is 0. */
#define LOSS_CLS_BWD(T, SUF, ...)                                                            \
  static void bwd_##SUF(int64_t p0, int64_t p1, void *u, double *acc) {                     \
    const loss_cls_job *j = u;                                                               \
    const loss_cls *g = j->g;                                                                \
    const T *w = j->w;                                                                       \
    (void)acc;                                                                               \
    for (int64_t p = p0; p < p1; p++) {                                                      \
      int64_t t = j->t[p], off = loss_cls_off(g, p);                                         \
      T *dx = (T *)j->dx + off;                                                              \
      if (t == j->ignore) {                                                                  \
        for (int64_t c = 0; c < g->C; c++) dx[c * g->S] = 0;                                 \
        continue;                                                                            \
      }                                                                                      \
      double gp = j->gv ? (double)((const T *)j->gv)[p] : j->gs;                             \
      __VA_ARGS__                                                                            \
    }                                                                                        \
  }
/* The inputs after the input, the output and the reduction attribute of both. */
#define LOSS_CLS_TARGET_WEIGHT_INPUTS                                                        \
  {"target", NB_DT_I64, NB_IN_NONDIFF, "class indices (N), (N, d1, ...) or 0-d, in [0, C) or ignore_index"}, \
  {"weight", NB_DT_FLOAT, NB_IN_OPTIONAL | NB_IN_NONDIFF, "(C) per-class weight, optional"}
extern const nb_output_spec loss_cls_outputs[1];
#define LOSS_CLS_REDUCTION_ATTR                                                              \
  {"reduction", NB_ATTR_STRING, 0, {.s = "mean", .i = LOSS_MEAN}, 0, 0, LOSS_REDUCTION_CHOICES, \
   "none: per position; mean: sum divided by the sum of the targets' weights; sum"}

#endif
