/* functional_index.c — typed wrappers for indexing, slicing, joining and masks (the
 * "index" plugin, argmax/argmin of "reduction", the comparisons and logical ops of
 * "elementwise"), and split/chunk, which are slices: PyTorch returns views for them too,
 * and a variable number of outputs is not something an op schema has.
 */
#include <stdlib.h>
#include <string.h>

#include <nabla/nabla.h>

#include "functional_internal.h" /* OP(), call() */

static nb_tensor *two(const nb_op *op, nb_tensor *a, nb_tensor *b) {
  return call(op, 2, (nb_tensor *const[]){a, b}, 0, NULL);
}

nb_tensor *nb_ne(nb_tensor *a, nb_tensor *b) { OP("ne"); return two(op, a, b); }
nb_tensor *nb_ge(nb_tensor *a, nb_tensor *b) { OP("ge"); return two(op, a, b); }
nb_tensor *nb_le(nb_tensor *a, nb_tensor *b) { OP("le"); return two(op, a, b); }
nb_tensor *nb_logical_and(nb_tensor *a, nb_tensor *b) { OP("logical_and"); return two(op, a, b); }
nb_tensor *nb_logical_or(nb_tensor *a, nb_tensor *b) { OP("logical_or"); return two(op, a, b); }
nb_tensor *nb_logical_not(nb_tensor *a) { OP("logical_not"); return call(op, 1, &a, 0, NULL); }

nb_tensor *nb_select(nb_tensor *x, int64_t dim, int64_t index) {
  OP("select");
  return call(op, 1, &x, 2, (nb_attr[]){NB_A_INT("dim", dim), NB_A_INT("index", index)});
}

nb_tensor *nb_slice(nb_tensor *x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  OP("slice");
  return call(op, 1, &x, 4,
              (nb_attr[]){NB_A_INT("dim", dim), NB_A_INT("start", start), NB_A_INT("end", end),
                          NB_A_INT("step", step)});
}

/* The size of dim `dim` of x (wrapped), or a negative status naming fn. */
static int64_t dim_size(const char *fn, nb_tensor *x, int64_t dim, int *wrapped) {
  if (!x) return nb_set_null_error("%s: tensor argument is NULL", fn);
  int nd = nb_ndim(x);
  if (nd == 0) return nb_set_error(NB_EINVAL, "%s: input is 0-d", fn);
  if (dim < -nd || dim >= nd)
    return nb_set_error(NB_EINVAL, "%s: dim %lld is out of range for input of shape %s "
                        "(expected in [%d, %d])", fn, (long long)dim, nb_shape_of(x), -nd, nd - 1);
  *wrapped = (int)(dim < 0 ? dim + nd : dim);
  return nb_shape(x)[*wrapped];
}

nb_tensor *nb_narrow(nb_tensor *x, int64_t dim, int64_t start, int64_t length) {
  int d;
  int64_t n = dim_size("nb_narrow", x, dim, &d);
  if (n < 0) return NULL;
  if (start < 0) start += n;
  if (start < 0 || start > n || length < 0 || start + length > n) {
    nb_set_error(NB_EINVAL, "nb_narrow: start %lld, length %lld is out of range for dim %d of "
                 "size %lld", (long long)start, (long long)length, d, (long long)n);
    return NULL;
  }
  return nb_slice(x, d, start, start + length, 1);
}

/* Pieces of `size` along dim (the last one shorter), at most max_out of them. */
static int pieces(const char *fn, nb_tensor *x, int64_t size, int64_t dim, int max_out,
                  nb_tensor **out) {
  int d;
  int64_t n = dim_size(fn, x, dim, &d);
  if (n < 0) return (int)n;
  if (size < 1 && n > 0)
    return nb_set_error(NB_EINVAL, "%s: piece size %lld must be at least 1", fn, (long long)size);
  int64_t count = n == 0 ? 1 : (n + size - 1) / size;
  if (count > max_out || !out)
    return nb_set_error(NB_EINVAL, "%s: %lld pieces of dim %d (size %lld) do not fit out[%d]", fn,
                        (long long)count, d, (long long)n, max_out);
  for (int64_t i = 0; i < count; i++) {
    out[i] = nb_slice(x, d, i * size, i * size + size, 1);
    if (!out[i]) return nb_last_status();
  }
  return (int)count;
}

int nb_split(nb_tensor *x, int64_t split_size, int64_t dim, int max_out, nb_tensor **out) {
  return pieces("nb_split", x, split_size, dim, max_out, out);
}

int nb_chunk(nb_tensor *x, int64_t chunks, int64_t dim, int max_out, nb_tensor **out) {
  int d;
  int64_t n = dim_size("nb_chunk", x, dim, &d);
  if (n < 0) return (int)n;
  if (chunks < 1) return nb_set_error(NB_EINVAL, "nb_chunk: chunks %lld must be at least 1",
                                      (long long)chunks);
  return pieces("nb_chunk", x, (n + chunks - 1) / chunks, d, max_out, out);
}

nb_tensor *nb_index_select(nb_tensor *x, int64_t dim, nb_tensor *index) {
  OP("index_select");
  return call(op, 2, (nb_tensor *const[]){x, index}, 1, (nb_attr[]){NB_A_INT("dim", dim)});
}

nb_tensor *nb_gather(nb_tensor *x, int64_t dim, nb_tensor *index) {
  OP("gather");
  return call(op, 2, (nb_tensor *const[]){x, index}, 1, (nb_attr[]){NB_A_INT("dim", dim)});
}

nb_tensor *nb_scatter_add(nb_tensor *x, int64_t dim, nb_tensor *index, nb_tensor *src) {
  OP("scatter_add");
  return call(op, 3, (nb_tensor *const[]){x, index, src}, 1, (nb_attr[]){NB_A_INT("dim", dim)});
}

nb_tensor *nb_masked_fill(nb_tensor *x, nb_tensor *mask, double value) {
  OP("masked_fill");
  return call(op, 2, (nb_tensor *const[]){x, mask}, 1, (nb_attr[]){NB_A_FLOAT("value", value)});
}

nb_tensor *nb_where(nb_tensor *cond, nb_tensor *x, nb_tensor *y) {
  OP("where");
  return call(op, 3, (nb_tensor *const[]){cond, x, y}, 0, NULL);
}

/* An INTS attribute from a C array (at most NB_MAX_DIMS values). */
static int ints_attr(const char *fn, const char *name, int n, const int64_t *v, nb_attr *a) {
  if (n < 0 || n > NB_MAX_DIMS || (n > 0 && !v))
    return nb_set_error(NB_EINVAL, "%s: %s needs 0..%d values, got %d%s", fn, name, NB_MAX_DIMS, n,
                        n > 0 && !v ? " and a NULL array" : "");
  *a = (nb_attr){.name = name, .type = NB_ATTR_INTS, .v = {.ints = {.n = n}}};
  if (n > 0) memcpy(a->v.ints.v, v, (size_t)n * sizeof v[0]);
  return 0;
}

nb_tensor *nb_expand(nb_tensor *x, int ndim, const int64_t *size) {
  OP("expand");
  nb_attr a;
  return ints_attr("nb_expand", "size", ndim, size, &a) < 0 ? NULL : call(op, 1, &x, 1, &a);
}

nb_tensor *nb_repeat(nb_tensor *x, int n, const int64_t *repeats) {
  OP("repeat");
  nb_attr a;
  return ints_attr("nb_repeat", "repeats", n, repeats, &a) < 0 ? NULL : call(op, 1, &x, 1, &a);
}

#define JOIN_SLOTS 16 /* input slots of the "cat" and "stack" ops */

/* op over up to JOIN_SLOTS tensors, the unused slots NULL. */
static nb_tensor *join(const nb_op *op, int n, nb_tensor *const *ts, int64_t dim) {
  nb_tensor *in[JOIN_SLOTS] = {0};
  memcpy(in, ts, (size_t)n * sizeof in[0]);
  return call(op, JOIN_SLOTS, in, 1, (nb_attr[]){NB_A_INT("dim", dim)});
}

/* Error unless 1 <= n and ts holds n tensors. */
static int check_list(const char *fn, int n, nb_tensor *const *ts) {
  if (n < 1 || !ts) return nb_set_error(NB_EINVAL, "%s: needs at least one tensor, got %d", fn, n);
  for (int i = 0; i < n; i++)
    if (!ts[i]) return nb_set_null_error("%s: tensor %d of %d is NULL", fn, i, n);
  return 0;
}

nb_tensor *nb_cat(int n, nb_tensor *const *ts, int64_t dim) {
  OP("cat");
  if (check_list("nb_cat", n, ts) < 0) return NULL;
  /* more than 16: join 16, then the result with the next 15, ... (same values and
   * gradients; a chain of CatBackward nodes) */
  nb_tensor *acc = join(op, n < JOIN_SLOTS ? n : JOIN_SLOTS, ts, dim);
  for (int i = JOIN_SLOTS; acc && i < n; i += JOIN_SLOTS - 1) {
    nb_tensor *in[JOIN_SLOTS] = {acc};
    int k = n - i < JOIN_SLOTS - 1 ? n - i : JOIN_SLOTS - 1;
    memcpy(in + 1, ts + i, (size_t)k * sizeof in[0]);
    acc = join(op, k + 1, in, dim);
  }
  return acc;
}

nb_tensor *nb_stack(int n, nb_tensor *const *ts, int64_t dim) {
  OP("stack");
  if (check_list("nb_stack", n, ts) < 0) return NULL;
  if (n <= JOIN_SLOTS) return join(op, n, ts, dim);
  /* more than 16: unsqueeze each, then cat (same values and gradients) */
  nb_tensor **u = calloc((size_t)n, sizeof *u);
  if (!u) {
    nb_set_error(NB_ENOMEM, "nb_stack: out of memory for %d tensors", n);
    return NULL;
  }
  nb_tensor *r = NULL;
  int i = 0;
  for (; i < n && (u[i] = nb_unsqueeze(ts[i], dim)); i++) {}
  if (i == n) r = nb_cat(n, u, dim);
  free(u);
  return r;
}

nb_tensor *nb_tril(nb_tensor *x, int64_t diagonal) {
  OP("tril");
  return call(op, 1, &x, 1, (nb_attr[]){NB_A_INT("diagonal", diagonal)});
}

nb_tensor *nb_triu(nb_tensor *x, int64_t diagonal) {
  OP("triu");
  return call(op, 1, &x, 1, (nb_attr[]){NB_A_INT("diagonal", diagonal)});
}

nb_tensor *nb_topk(nb_tensor *x, int64_t k, int64_t dim, bool largest, nb_tensor **indices) {
  OP("topk");
  nb_tensor *out[2] = {NULL, NULL};
  nb_attr a[] = {NB_A_INT("k", k), NB_A_INT("dim", dim), NB_A_BOOL("largest", largest)};
  if (nb_op_call(op, 1, &x, 3, a, 2, out) < 0) return NULL;
  if (indices) *indices = out[1];
  return out[0];
}

nb_tensor *nb_argmax(nb_tensor *x, int64_t dim, bool keepdim) {
  OP("argmax");
  return call(op, 1, &x, 2, (nb_attr[]){NB_A_INTS("dim", dim), NB_A_BOOL("keepdim", keepdim)});
}

nb_tensor *nb_argmin(nb_tensor *x, int64_t dim, bool keepdim) {
  OP("argmin");
  return call(op, 1, &x, 2, (nb_attr[]){NB_A_INTS("dim", dim), NB_A_BOOL("keepdim", keepdim)});
}

nb_tensor *nb_argmax_all(nb_tensor *x) {
  OP("argmax");
  return call(op, 1, &x, 0, NULL);
}

nb_tensor *nb_argmin_all(nb_tensor *x) {
  OP("argmin");
  return call(op, 1, &x, 0, NULL);
}
