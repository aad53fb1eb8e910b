/* ops/elementwise/ew.h — shared pieces of the elementwise plugin (not installed).
 *
 * Every operator file builds its kernels from the run macros below: a "run" processes
 * n elements of up to four operands (p[0] the output) whose steps s[] are in bytes.
 * The generated function has a plain contiguous loop the compiler vectorises, loops for
 * a broadcast scalar operand (step 0), and a general strided loop. ew_apply() (apply.c)
 * drives a run over whole tensors: one flat call for contiguous operands, nb_iter for
 * strided or broadcast ones, nb_parallel_for (NB_PARALLEL_GRAIN) for large tensors. Every
 * run function is also compiled for AVX2 (NB_SIMD_CLONES).
 *
 * <tgmath.h> makes exp(a), log(a), pow(a, b), ... pick the float or double function
 * from the argument type, so one expression serves both dtypes (ew_exp.h has an exp the
 * compiler can vectorise).
 */
#ifndef NB_OPS_EW_H
#define NB_OPS_EW_H

#include <nabla/sdk.h>
#include <tgmath.h>

/* Per-call constants a kernel may read through X (clamp bounds, fill value). */
typedef struct ew_extra {
  double v0, v1;
  int has0, has1;
} ew_extra;

typedef void (*ew_run_fn)(int64_t n, char *const *p, const int64_t *s, const ew_extra *X);

/* One run function per dtype (index nb_dtype); NULL where a dtype is not supported. */
typedef ew_run_fn ew_fns[NB_NUM_DTYPES];

#define EW_SZ(T) ((int64_t)sizeof(T))

/* Output from no input: EXPR may use X. */
#define EW_NULLARY(name, TO, EXPR)                                                                 \
  NB_SIMD_CLONES static void name(int64_t n, char *const *p, const int64_t *s,                     \
                                  const ew_extra *X) {                                             \
    (void)X;                                                                                       \
    TO v_ = (TO)(EXPR);                                                                            \
    if (s[0] == EW_SZ(TO)) {                                                                       \
      TO *o_ = (TO *)p[0];                                                                         \
      for (int64_t i_ = 0; i_ < n; i_++) o_[i_] = v_;                                              \
    } else {                                                                                       \
      for (int64_t i_ = 0; i_ < n; i_++) *(TO *)(p[0] + i_ * s[0]) = v_;                           \
    }                                                                                              \
  }

/* o = EXPR(a) */
#define EW_UNARY(name, TO, TA, EXPR)                                                               \
  NB_SIMD_CLONES static void name(int64_t n, char *const *p, const int64_t *s,                     \
                                  const ew_extra *X) {                                             \
    (void)X;                                                                                       \
    if (s[0] == EW_SZ(TO) && s[1] == EW_SZ(TA)) {                                                  \
      TO *o_ = (TO *)p[0];                                                                         \
      const TA *a_ = (const TA *)p[1];                                                             \
      for (int64_t i_ = 0; i_ < n; i_++) {                                                         \
        TA a = a_[i_];                                                                             \
        o_[i_] = (TO)(EXPR);                                                                       \
      }                                                                                            \
    } else {                                                                                       \
      for (int64_t i_ = 0; i_ < n; i_++) {                                                         \
        TA a = *(const TA *)(p[1] + i_ * s[1]);                                                    \
        *(TO *)(p[0] + i_ * s[0]) = (TO)(EXPR);                                                    \
      }                                                                                            \
    }                                                                                              \
  }

/* o = EXPR(a, b) */
#define EW_BINARY(name, TO, TA, TB, EXPR)                                                          \
  NB_SIMD_CLONES static void name(int64_t n, char *const *p, const int64_t *s,                     \
                                  const ew_extra *X) {                                             \
    (void)X;                                                                                       \
    TO *o_ = (TO *)p[0];                                                                           \
    const TA *a_ = (const TA *)p[1];                                                               \
    const TB *b_ = (const TB *)p[2];                                                               \
    if (s[0] == EW_SZ(TO) && s[1] == EW_SZ(TA) && s[2] == EW_SZ(TB)) {                             \
      for (int64_t i_ = 0; i_ < n; i_++) {                                                         \
        TA a = a_[i_];                                                                             \
        TB b = b_[i_];                                                                             \
        o_[i_] = (TO)(EXPR);                                                                       \
      }                                                                                            \
    } else if (s[0] == EW_SZ(TO) && s[1] == EW_SZ(TA) && s[2] == 0) {                              \
      TB b = b_[0];                                                                                \
      for (int64_t i_ = 0; i_ < n; i_++) {                                                         \
        TA a = a_[i_];                                                                             \
        o_[i_] = (TO)(EXPR);                                                                       \
      }                                                                                            \
    } else if (s[0] == EW_SZ(TO) && s[1] == 0 && s[2] == EW_SZ(TB)) {                              \
      TA a = a_[0];                                                                                \
      for (int64_t i_ = 0; i_ < n; i_++) {                                                         \
        TB b = b_[i_];                                                                             \
        o_[i_] = (TO)(EXPR);                                                                       \
      }                                                                                            \
    } else {                                                                                       \
      for (int64_t i_ = 0; i_ < n; i_++) {                                                         \
        TA a = *(const TA *)(p[1] + i_ * s[1]);                                                    \
        TB b = *(const TB *)(p[2] + i_ * s[2]);                                                    \
        *(TO *)(p[0] + i_ * s[0]) = (TO)(EXPR);                                                    \
      }                                                                                            \
    }                                                                                              \
  }

/* o = EXPR(a, b, c) (backward formulas) */
#define EW_TERNARY(name, T, EXPR)                                                                  \
  NB_SIMD_CLONES static void name(int64_t n, char *const *p, const int64_t *s,                     \
                                  const ew_extra *X) {                                             \
    (void)X;                                                                                       \
    if (s[0] == EW_SZ(T) && s[1] == EW_SZ(T) && s[2] == EW_SZ(T) && s[3] == EW_SZ(T)) {            \
      T *o_ = (T *)p[0];                                                                           \
      const T *a_ = (const T *)p[1], *b_ = (const T *)p[2], *c_ = (const T *)p[3];                 \
      for (int64_t i_ = 0; i_ < n; i_++) {                                                         \
        T a = a_[i_], b = b_[i_], c = c_[i_];                                                      \
        o_[i_] = (T)(EXPR);                                                                        \
      }                                                                                            \
    } else {                                                                                       \
      for (int64_t i_ = 0; i_ < n; i_++) {                                                         \
        T a = *(const T *)(p[1] + i_ * s[1]);                                                      \
        T b = *(const T *)(p[2] + i_ * s[2]);                                                      \
        T c = *(const T *)(p[3] + i_ * s[3]);                                                      \
        *(T *)(p[0] + i_ * s[0]) = (T)(EXPR);                                                      \
      }                                                                                            \
    }                                                                                              \
  }

/* The float32 and float64 variants of one expression, named name_f32 / name_f64. */
#define EW_UNARY_F(name, EXPR)                                                                     \
  EW_UNARY(name##_f32, float, float, EXPR) EW_UNARY(name##_f64, double, double, EXPR)
#define EW_BINARY_F(name, EXPR)                                                                    \
  EW_BINARY(name##_f32, float, float, float, EXPR)                                                 \
  EW_BINARY(name##_f64, double, double, double, EXPR)
#define EW_TERNARY_F(name, EXPR)                                                                   \
  EW_TERNARY(name##_f32, float, EXPR) EW_TERNARY(name##_f64, double, EXPR)
/* Initialisers of an ew_fns table. */
#define EW_TABLE_F(name)                                                                           \
  { name##_f32, name##_f64, NULL, NULL }
#define EW_TABLE_FI(name)                                                                          \
  { name##_f32, name##_f64, name##_i64, NULL }

/* int64 arithmetic that wraps around like PyTorch's instead of overflowing (UB in C). */
#define EW_WRAP(expr) ((int64_t)(expr))
#define EW_U(x) ((uint64_t)(x))

/* ---- apply.c: drivers ------------------------------------------------------------- */

/* Run fn over t[0]'s shape with t[1..nops-1] broadcast to it (nops <= 4). t[0] is
 * written. Returns 0 or a negative status. */
int ew_apply(int nops, nb_tensor *const *t, ew_run_fn fn, const ew_extra *X);
/* Forward of a binary op: equal dtypes (error naming both), NumPy broadcasting, a new
 * output of dtype out_dt (or a's dtype when out_dt < 0). NULL with an error set. */
nb_tensor *ew_binary(nb_ctx *ctx, nb_tensor *a, nb_tensor *b, int out_dt, const ew_fns fns);
/* New tensor of in[0]'s shape and dtype = fns(in[0], ..., in[nin-1]), the others
 * broadcast to in[0] (unary forwards, and backward formulas on grad_out first). */
nb_tensor *ew_map(int nin, nb_tensor *const *in, const ew_fns fns, const ew_extra *X);
/* In-place binary update self = fns(self, other): equal dtypes, other broadcast to
 * self's shape (self's shape never changes). Returns 0 or a negative status. */
int ew_inplace_binary(nb_ctx *ctx, nb_tensor *self, nb_tensor *other, const ew_fns fns);
/* Save t for backward (no-op when not recording); returns 0 or a negative status. */
int ew_save(nb_ctx *ctx, nb_tensor *t);
/* Negation of g (for sub's and div's backward). NULL with an error set. */
nb_tensor *ew_neg_of(nb_tensor *g);
/* Tensor of zeros shaped like input i at the forward call (zero_/fill_ backward). */
nb_tensor *ew_zeros_like_input(nb_ctx *ctx, int i, nb_tensor *g);
/* Forward of a unary op whose backward needs one tensor: out[0] = fns(in[0]), saving
 * (when the input needs a gradient) the input or the output as `keep` says. */
typedef enum ew_keep { EW_KEEP_INPUT, EW_KEEP_OUTPUT } ew_keep;
int ew_unary_forward(nb_ctx *ctx, nb_tensor *const *in, const ew_fns fns, ew_keep keep,
                     nb_tensor **out);
/* Forward of an in-place unary op whose backward needs the result (exp_, relu_):
 * self = fns(self), saving self after the update when it needs a gradient. */
int ew_inplace_unary_forward(nb_ctx *ctx, nb_tensor *const *in, const ew_fns fns, nb_tensor **out);
/* Backward of such an op (and of exp_/relu_): grad_in[0] = grad_fns(g, saved tensor 0). */
int ew_saved_backward(nb_ctx *ctx, nb_tensor *const *grad_out, const ew_fns grad_fns,
                      nb_tensor **grad_in);

/* ---- samples.c: sample helpers for the harness ---------------------------------------- */

/* float64 tensor of the given shape, uniform in [lo, hi) from the sink's generator. */
nb_tensor *ew_rand(nb_sample_sink *sink, int ndim, const int64_t *shape, double lo, double hi);
/* Like ew_rand, but |value| in [lo, hi) with alternating signs (away from 0). */
nb_tensor *ew_rand_signed(nb_sample_sink *sink, int ndim, const int64_t *shape, double lo,
                          double hi);
/* A value range for samples; signed_: draw with ew_rand_signed. */
typedef struct ew_range {
  double lo, hi;
  int signed_;
} ew_range;
/* Standard binary samples: same shape, [2,3] with [3], [2,1] with [1,3], 0-d operands
 * on either side, a transposed (strided) operand. flags are added to every sample. */
int ew_binary_samples(nb_sample_sink *sink, ew_range ra, ew_range rb, unsigned flags);
/* Standard unary samples: [2,3], [5], 0-d, [2,3,4], a transposed view; attrs added to
 * each. */
int ew_unary_samples(nb_sample_sink *sink, ew_range r, int n_attrs, const nb_attr *attrs);
/* In-place binary samples: [2,3] with [2,3], [3] (broadcast) and a 0-d other. */
int ew_inplace_samples(nb_sample_sink *sink, ew_range rself, ew_range rother);
/* Comparison samples: integer-valued float64 data so ties occur and f32 agrees. */
int ew_compare_samples(nb_sample_sink *sink);
/* Logical-op samples for an op of n_in (1 or 2) inputs: integers 0..3 as float64 (so
 * zeros occur) in the shapes of the binary samples, and bool operands. */
int ew_logical_samples(nb_sample_sink *sink, int n_in);

/* ---- the ops (one file each) ------------------------------------------------------------ */

extern const nb_op_desc op_add, op_sub, op_mul, op_div, op_pow;
extern const nb_op_desc op_eq, op_gt, op_lt, op_ne, op_ge, op_le;
extern const nb_op_desc op_logical_and, op_logical_or, op_logical_not;
extern const nb_op_desc op_neg, op_exp, op_log, op_sqrt, op_abs, op_relu,
    op_sigmoid, op_tanh, op_erf, op_clamp;
extern const nb_op_desc op_add_, op_sub_, op_mul_, op_div_, op_exp_, op_relu_,
    op_zero_, op_fill_;

/* Kernels shared between an op and its in-place form or other backwards. */
extern const ew_fns ew_add_fns, ew_sub_fns, ew_mul_fns, ew_div_fns, ew_neg_fns, ew_exp_fns,
    ew_relu_fns, ew_fill_fns;
/* Backwards shared between an op and its in-place form: add/add_ (g, g), sub/sub_ (g, -g). */
int ew_add_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in);
int ew_sub_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in);
/* relu's backward on (g, y): g where y > 0, else 0 (exp's is ew_mul_fns on (g, y)). */
extern const ew_fns ew_relu_grad_fns;

#endif
