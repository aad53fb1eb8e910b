/* ops/norm/norm.h — shared pieces of the "norm" plugin (not installed): the op
 * descriptors, and "rows", the layout every op here computes in: the input viewed as a
 * contiguous (outer, R) matrix whose rows are the elements one output value (or one
 * normalisation) reduces over.
 */
#ifndef NB_OPS_NORM_H
#define NB_OPS_NORM_H

#include <nabla/sdk.h>

#include "../common/ops_util.h" /* ops_contig, ops_wrap_dim, ops_same_dtype */

extern const nb_op_desc op_var, op_std, op_logsumexp, op_layer_norm, op_group_norm, op_cumsum;

/* How a tensor of (ndim, shape) splits into rows for a reduction over some dims. */
typedef struct rows_plan {
  int ndim;
  int64_t shape[NB_MAX_DIMS];
  bool red[NB_MAX_DIMS]; /* dims reduced over */
  int64_t outer, R;      /* rows and row length */
  bool trailing;         /* reduced dims are the last ones: rows are the data as laid out */
  int out_ndim;          /* the reduction's output shape (keepdim or not) */
  int64_t out_shape[NB_MAX_DIMS];
} rows_plan;

/* Plan a reduction of x over `dims` (absent or empty: all dims), PyTorch's keepdim.
 * Errors name op, the dim and x's shape (out of range, repeated). Returns 0 or a status. */
int rows_plan_init(const char *op, const nb_tensor *x, const nb_ints *dims, bool keepdim,
                   rows_plan *p);
/* x as a contiguous (outer, R) row matrix: x itself when already laid out so, else a
 * permuted contiguous copy (scoped). NULL on error. */
nb_tensor *rows_gather(nb_tensor *x, const rows_plan *p);
/* `rows` (a fresh contiguous (outer, R) tensor, storage offset 0) put back in the plan's
 * input shape: a view of rows when the layout is trailing, else a new tensor. NULL on
 * error. */
nb_tensor *rows_scatter(nb_tensor *rows, const rows_plan *p);

/* For backward_graph: the plan of a reduction of x over `dims` with keepdim (so
 * p->out_shape is the output's shape with each reduced dim kept as 1), the reduced dims
 * in *red (their count returned, or a negative status), and t (an output or its
 * gradient) reshaped, recorded, to that shape in *kept (NULL t: skipped). */
int rows_graph_plan(const char *op, nb_tensor *x, const nb_ints *dims, rows_plan *p, int64_t *red,
                    nb_tensor *t, nb_tensor **kept);

/* layer_norm's and group_norm's backward_graph, recorded: x̂ = (x − mean)/sd with
 * sd = √(var + eps) (biased) over dims[0..n) of x, kept as size 1 (*sd set too); and
 * dx = (h − mean(h) − x̂·mean(h·x̂))/sd over the same dims, for h = g·weight. Scoped
 * results, NULL on error. */
nb_tensor *norm_graph_xhat(nb_tensor *x, int n, const int64_t *dims, double eps, nb_tensor **sd);
nb_tensor *norm_graph_dx(nb_tensor *h, nb_tensor *xh, nb_tensor *sd, int n, const int64_t *dims);

/* Attribute specs of var/std/logsumexp: dim (INTS, optional) and keepdim. */
#define NORM_DIM_ATTR                                                                        \
  {.name = "dim", .type = NB_ATTR_INTS, .flags = NB_ATTR_OPTIONAL,                           \
   .doc = "dims to reduce (negative counts from the end, no duplicates); absent or empty: " \
          "all dims"}
#define NORM_KEEPDIM_ATTR                                                                    \
  {.name = "keepdim", .type = NB_ATTR_BOOL, .def = {.i = 0}, .doc = "keep each reduced dim as size 1"}

/* The eps attribute of layer_norm and group_norm (PyTorch's default 1e-5). */
#define NORM_EPS_ATTR                                                                        \
  {.name = "eps", .type = NB_ATTR_FLOAT, .flags = NB_ATTR_HAS_MIN, .def = {.f = 1e-5}, .min = 0, \
   .doc = "added to the variance"}

/* Rows of a few threads' worth: the grain of a parallel loop over rows of length R. */
static inline int64_t rows_grain(int64_t R) { return 1 + NB_PARALLEL_GRAIN / (R > 0 ? R : 1); }

#endif
