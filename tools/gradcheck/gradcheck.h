/* tools/gradcheck/gradcheck.h — shared declarations of nabla-gradcheck.
 *
 * The tool is split by concern: nabla-gradcheck.c (command line, plugin loading, the
 * table and JSON report), runner.c (one forked child per op, pipe, timeout, signals),
 * checks.c (the per-sample checks), jacobian.c (evaluating an op, numeric and analytic
 * Jacobians, comparisons) and reference.c (--dump-samples and --reference).
 */
#ifndef NABLA_GRADCHECK_H
#define NABLA_GRADCHECK_H

#include <cJSON.h>
#include <nabla/nabla.h>
#include <nabla/harness.h>
#include <nabla/sdk.h> /* descriptors and kernel services, read by the harness and the tests */

#define GC_MAX_IN 16
#define GC_MAX_OUT 8

typedef struct gc_opts {
  double eps, atol, rtol;     /* finite differences and the Jacobian comparison */
  double f32_atol, f32_rtol;  /* float32 forward against float64 */
  double ref64_atol, ref64_rtol, ref32_atol, ref32_rtol; /* against PyTorch */
  double timeout;             /* seconds per op (0: none) */
  uint64_t seed;              /* weights, and nb_manual_seed for NB_OP_RANDOM ops */
  int max_entries;            /* differing entries shown per failure */
  int64_t max_jacobian;       /* skip the Jacobian above this many entries */
  bool fork, verbose, gradcheck;
  bool gradgrad;              /* second-order check of ops with a backward_graph */
  const char *reference_dir;  /* --reference */
  const char *dump_dir;       /* --dump-samples */
} gc_opts;

/* What one op's checks found; `json` is the op's object in the report. */
typedef struct gc_result {
  cJSON *json, *failures, *notes;
  int samples, checks, n_failed;
  double worst_abs, worst_rel;
  bool not_diff; /* declared not differentiable */
  bool missing_backward; /* differentiable inputs and outputs but no backward */
  const nb_op_desc *d;
  const char *cur_desc; /* description of the sample being checked */
} gc_result;

/* ---- result building (result.c) ---- */
void gc_result_init(gc_result *r, const nb_op *op);
/* Record a failure of `check` in sample `sample` (-1: op-level); output/input -1 when
 * not applicable; `entries` (may be NULL) lists differing elements. Takes `entries`. */
void gc_fail(gc_result *r, int sample, const char *check, int output, int input, cJSON *entries,
             const char *fmt, ...) NB_PRINTF(7, 8);
void gc_note(gc_result *r, const char *fmt, ...) NB_PRINTF(2, 3);
/* Add a number to a JSON object; non-finite values as the strings "nan", "inf", "-inf"
 * (JSON has no such numbers). */
void gc_json_num(cJSON *obj, const char *key, double v);
/* Finalize counts and verdict into r->json and return it (r no longer owns it). */
cJSON *gc_result_finish(gc_result *r);
/* Run every check for one op into r (in the child process). */
void gc_check_op(const nb_op *op, const gc_opts *o, gc_result *r);

/* ---- evaluation (jacobian.c) ---- */
typedef struct gc_case {
  const nb_op *op;
  const nb_op_desc *d;
  const gc_opts *o;
  gc_result *r;
  int idx;              /* sample index */
  const char *desc;
  unsigned flags;       /* NB_SAMPLE_* */
  int n_in, n_out, n_attrs;
  const nb_attr *attrs;
  nb_tensor *base[GC_MAX_IN]; /* sample inputs, floating ones as float64 */
  bool diff_in[GC_MAX_IN];    /* differentiable: present, floating, not NONDIFF */
  bool diff_out[GC_MAX_OUT];  /* floating and not NONDIFF (from the first forward) */
  int64_t in_numel[GC_MAX_IN], out_numel[GC_MAX_OUT];
  int out_ndim[GC_MAX_OUT];
  int64_t out_shape[GC_MAX_OUT][NB_MAX_DIMS];
  double *y[GC_MAX_OUT];      /* float64 forward values */
  nb_tensor *w[GC_MAX_OUT];   /* fixed random output weights (float64) */
} gc_case;

/* A Jacobian: block (j, i) is out_numel[j] x in_numel[i], row-major; NULL blocks for
 * pairs that are not differentiable. */
typedef struct gc_jac {
  double *blk[GC_MAX_OUT][GC_MAX_IN];
} gc_jac;
void gc_jac_free(gc_jac *J);

/* Run the op (reseeding NB_OP_RANDOM ops first). Returns 0 or a negative status. */
int gc_forward(const gc_case *c, nb_tensor *const *in, nb_tensor **out);
/* Fresh contiguous copies of the inputs (floating ones converted to dt), with element m
 * of input `pi` shifted by delta (pi < 0: none). Scoped. */
int gc_fresh_inputs(const gc_case *c, nb_dtype dt, int pi, int64_t m, double delta, nb_tensor **in);
/* Values of t as a malloc'ed double array. */
double *gc_values(const nb_tensor *t);
/* Numeric Jacobian by central differences; 0 or -1 (failure recorded). */
int gc_numeric_jacobian(gc_case *c, gc_jac *J);
/* Analytic Jacobian, one backward per output element with one-hot gradients. */
int gc_analytic_jacobian(gc_case *c, gc_jac *J);
/* Compare blocks; records failures with the worst entries; returns the number of
 * mismatching blocks. */
int gc_compare_jacobians(gc_case *c, const gc_jac *A, const gc_jac *N);
/* Expected gradient of sum_j <w_j, out_j> for input i from an analytic Jacobian (malloc'ed). */
double *gc_vjp(const gc_case *c, const gc_jac *A, int i);
/* Element index m of a shape as "[1,2]" into buf. */
const char *gc_index_str(int ndim, const int64_t *shape, int64_t m, char *buf, size_t n);
/* Compare n values: returns the count outside atol + rtol*|b|, fills up to max entries
 * (JSON) and the worst abs/rel error. */
int64_t gc_compare_values(const double *a, const double *b, int64_t n, double atol, double rtol,
                          int ndim, const int64_t *shape, int max, cJSON **entries, double *worst_abs,
                          double *worst_rel);

/* ---- second order (gradgrad.c) ---- */
/* PyTorch's gradgradcheck for one sample of an op with a backward_graph: finite
 * differences of the vector-Jacobian product with respect to the inputs and the output
 * gradient against the double backward; failures recorded as "gradgrad". */
void gc_gradgrad_check(gc_case *c);

/* ---- reference data (reference.c) ---- */
/* Write the op's samples to DIR/<op>.safetensors. */
int gc_dump_samples(const nb_op *op, const gc_opts *o, gc_result *r);
/* Compare sample `c` with DIR/<op>.safetensors (loaded once per op into *ref). */
void gc_check_reference(gc_case *c, nb_safetensors *ref);

/* ---- child processes (runner.c) ---- */
typedef void (*gc_child_fn)(const nb_op *op, const gc_opts *o, gc_result *r);
/* Run fn for op in a forked child (or in-process with o->fork false); returns the op's
 * JSON object, with verdict "crashed"/"timeout" when the child died. */
cJSON *gc_run_isolated(const nb_op *op, const gc_opts *o, gc_child_fn fn);
/* ---- the child's lines to its parent (result.c) ---- */
/* Send progress and the result to fd from now on (in the child; -1: nowhere). */
void gc_progress_open(int fd);
/* Report progress from the child ("sample k"), so a crash names the sample. */
void gc_progress(int sample, const char *desc);
/* Send the op's result line ("R <json>"). */
void gc_report_result(const char *json);

#endif
