/* libnabla/dataset.c — the dataset interface and the in-memory tensor dataset.
 *
 * A dataset is a table of callbacks and a user pointer. Every callback runs inside a
 * scope of its own on the calling thread; the library keeps references to the tensors
 * it returns and closes that scope, so callbacks may return scoped tensors made with any
 * constructor, or borrowed ones. The results are checked (non-NULL, batch dimension of
 * the right size) before they are handed on. Batches of datasets without get_batch are
 * stacked from their items.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "nabla/tensor.h"

struct nb_dataset {
  nb_dataset_ops ops;
  void *user;
};

nb_dataset *nb_dataset_new(const nb_dataset_ops *ops, void *user) {
  if (!ops || !ops->len || (!ops->get_item && !ops->get_batch)) {
    nb_set_error(NB_EINVAL, "nb_dataset_new: ops needs len and get_item or get_batch");
    return NULL;
  }
  nb_dataset *ds = malloc(sizeof *ds);
  if (!ds) {
    nb_set_error(NB_ENOMEM, "nb_dataset_new: out of memory");
    return NULL;
  }
  ds->ops = *ops;
  ds->user = user;
  return ds;
}

void nb_dataset_free(nb_dataset *ds) {
  if (!ds) return;
  if (ds->ops.free) ds->ops.free(ds->user);
  free(ds);
}

int64_t nb_dataset_len(const nb_dataset *ds) {
  if (!ds) return nb_set_error(NB_EINVAL, "nb_dataset_len: NULL dataset");
  int64_t n = ds->ops.len(ds->user);
  if (n < 0 && !nb_last_error()[0]) return nb_set_error(NB_EINVAL, "dataset: len returned %" PRId64, n);
  return n;
}

/* Close the callback's scope keeping x and y (new references the caller owns), or
 * nothing on failure. */
static int end_keep(int rc, nb_tensor **x, nb_tensor **y) {
  if (rc == 0) {
    nb_retain(*x);
    nb_retain(*y);
  }
  nb_scope_end();
  if (rc < 0) *x = *y = NULL;
  return rc;
}

static int check_pair(int rc, const char *what, nb_tensor *x, nb_tensor *y) {
  if (rc < 0) {
    if (!nb_last_error()[0]) nb_set_error(rc, "dataset: %s failed without a message", what);
    return rc;
  }
  if (!x || !y) return nb_set_error(NB_EINVAL, "dataset: %s returned 0 but a NULL %s", what, x ? "y" : "x");
  return 0;
}

/* Item i, owned by the caller. */
static int fetch_item(nb_dataset *ds, int64_t i, nb_tensor **x, nb_tensor **y) {
  *x = *y = NULL;
  if (nb_scope_begin() < 0) return nb_last_status();
  int rc;
  if (ds->ops.get_item) {
    rc = ds->ops.get_item(ds->user, i, x, y);
    rc = check_pair(rc, "get_item", *x, *y);
  } else { /* through get_batch with one index, dropping the batch dimension */
    nb_tensor *bx = NULL, *by = NULL;
    rc = ds->ops.get_batch(ds->user, &i, 1, &bx, &by);
    rc = check_pair(rc, "get_batch", bx, by);
    for (int k = 0; k < 2 && rc == 0; k++) {
      nb_tensor *b = k ? by : bx;
      if (nb_ndim(b) < 1 || nb_shape(b)[0] != 1) {
        rc = nb_set_error(NB_ESHAPE, "dataset: get_batch of 1 index returned %s of shape %s", k ? "y" : "x",
                          nb_shape_of(b));
        break;
      }
      nb_tensor *c = nb_is_contiguous(b) ? b : nb_copy_data(b);
      nb_tensor *v = c ? nb_as_strided(c, nb_ndim(c) - 1, nb_shape(c) + 1, nb_strides(c) + 1, 0) : NULL;
      if (!v) rc = nb_last_status() < 0 ? nb_last_status() : NB_ENOMEM;
      *(k ? y : x) = v;
    }
  }
  return end_keep(rc, x, y);
}

/* Copy item tensor `it` into row r of the contiguous batch tensor `b`. */
static int put_row(nb_tensor *b, int64_t r, nb_tensor *it, const char *which, int64_t index) {
  int nd = nb_ndim(b) - 1;
  if (nb_ndim(it) != nd || memcmp(nb_shape(it), nb_shape(b) + 1, (size_t)nd * sizeof(int64_t)) != 0 ||
      nb_dtype_of(it) != nb_dtype_of(b))
    return nb_set_error(NB_ESHAPE, "dataset: item %" PRId64 " has %s %s %s, unlike the first item's %s %s",
                        index, which, nb_dtype_name(nb_dtype_of(it)), nb_shape_of(it),
                        nb_dtype_name(nb_dtype_of(b)), nb_shape_str(nd, nb_shape(b) + 1, (char[96]){0}, 96));
  nb_tensor *c = nb_is_contiguous(it) ? it : nb_copy_data(it);
  if (!c) return nb_last_status();
  size_t row = (size_t)nb_numel(c) * nb_dtype_size(nb_dtype_of(c));
  if (row) memcpy((char *)nb_data(b) + (size_t)r * row, nb_data(c), row);
  return 0;
}

/* Items idx[0..n-1] stacked, owned by the caller. */
static int stack_items(nb_dataset *ds, const int64_t *idx, int64_t n, nb_tensor **x, nb_tensor **y) {
  *x = *y = NULL;
  if (nb_scope_begin() < 0) return nb_last_status();
  int rc = 0;
  for (int64_t r = 0; r < n && rc == 0; r++) {
    nb_scope_begin();
    nb_tensor *ix = NULL, *iy = NULL;
    rc = ds->ops.get_item(ds->user, idx[r], &ix, &iy);
    rc = check_pair(rc, "get_item", ix, iy);
    if (rc == 0 && r == 0) {
      for (int k = 0; k < 2 && rc == 0; k++) {
        nb_tensor *it = k ? iy : ix;
        if (nb_ndim(it) >= NB_MAX_DIMS) {
          rc = nb_set_error(NB_ESHAPE, "dataset: item of %d dimensions cannot be batched", nb_ndim(it));
          break;
        }
        int64_t shape[NB_MAX_DIMS];
        shape[0] = n;
        memcpy(shape + 1, nb_shape(it), (size_t)nb_ndim(it) * sizeof(int64_t));
        nb_tensor *b = nb_keep(nb_empty(nb_ndim(it) + 1, shape, nb_dtype_of(it)));
        if (!b) rc = nb_last_status();
        *(k ? y : x) = b; /* our own reference: survives both scopes */
      }
    }
    if (rc == 0) rc = put_row(*x, r, ix, "x", idx[r]);
    if (rc == 0) rc = put_row(*y, r, iy, "y", idx[r]);
    nb_scope_end();
  }
  /* *x, *y already hold references of their own (nb_keep above) */
  nb_scope_end();
  if (rc < 0) {
    nb_release(*x);
    nb_release(*y);
    *x = *y = NULL;
  }
  return rc;
}

int nb__dataset_fetch(nb_dataset *ds, const int64_t *idx, int64_t n, nb_tensor **x, nb_tensor **y) {
  *x = *y = NULL;
  if (n < 1) return nb_set_error(NB_EINVAL, "dataset: batch of %" PRId64 " indices", n);
  int64_t len = nb_dataset_len(ds);
  if (len < 0) return (int)len;
  for (int64_t r = 0; r < n; r++)
    if (idx[r] < 0 || idx[r] >= len)
      return nb_set_error(NB_EINVAL, "dataset: index %" PRId64 " out of range [0, %" PRId64 ")", idx[r], len);
  if (!ds->ops.get_batch) return stack_items(ds, idx, n, x, y);
  if (nb_scope_begin() < 0) return nb_last_status();
  int rc = ds->ops.get_batch(ds->user, idx, n, x, y);
  rc = check_pair(rc, "get_batch", *x, *y);
  for (int k = 0; k < 2 && rc == 0; k++) {
    nb_tensor *b = k ? *y : *x;
    if (nb_ndim(b) < 1 || nb_shape(b)[0] != n)
      rc = nb_set_error(NB_ESHAPE, "dataset: get_batch of %" PRId64 " indices returned %s of shape %s", n,
                        k ? "y" : "x", nb_shape_of(b));
  }
  return end_keep(rc, x, y);
}

int nb_dataset_get(nb_dataset *ds, int64_t i, nb_tensor **x, nb_tensor **y) {
  if (!ds || !x || !y) return nb_set_error(NB_EINVAL, "nb_dataset_get: NULL argument");
  *x = *y = NULL;
  int64_t len = nb_dataset_len(ds);
  if (len < 0) return (int)len;
  if (i < 0 || i >= len)
    return nb_set_error(NB_EINVAL, "nb_dataset_get: index %" PRId64 " out of range [0, %" PRId64 ")", i, len);
  int rc = fetch_item(ds, i, x, y);
  if (rc < 0) return rc;
  nb_scope_adopt(*x);
  nb_scope_adopt(*y);
  return 0;
}

int nb_dataset_get_batch(nb_dataset *ds, const int64_t *idx, int64_t n, nb_tensor **x, nb_tensor **y) {
  if (!ds || !x || !y || (!idx && n)) return nb_set_error(NB_EINVAL, "nb_dataset_get_batch: NULL argument");
  int rc = nb__dataset_fetch(ds, idx, n, x, y);
  if (rc < 0) return rc;
  nb_scope_adopt(*x);
  nb_scope_adopt(*y);
  return 0;
}

/* ---- the in-memory tensor dataset ------------------------------------------------------ */

typedef struct tensor_ds {
  nb_tensor *x, *y; /* contiguous, owned */
} tensor_ds;

static int64_t tds_len(void *user) { return nb_shape(((tensor_ds *)user)->x)[0]; }

/* Rows idx[0..n-1] of t; batch: with a leading dimension of n (else n == 1, none). */
static nb_tensor *gather(nb_tensor *t, const int64_t *idx, int64_t n, bool batch) {
  int nd = nb_ndim(t);
  int64_t shape[NB_MAX_DIMS];
  memcpy(shape, nb_shape(t), (size_t)nd * sizeof(int64_t));
  shape[0] = n;
  nb_tensor *r = batch ? nb_empty(nd, shape, nb_dtype_of(t)) : nb_empty(nd - 1, shape + 1, nb_dtype_of(t));
  if (!r) return NULL;
  size_t row = (size_t)(nb_shape(t)[0] ? nb_numel(t) / nb_shape(t)[0] : 0) * nb_dtype_size(nb_dtype_of(t));
  const char *src = nb_data(t);
  char *dst = nb_data(r);
  for (int64_t k = 0; k < n; k++)
    if (row) memcpy(dst + (size_t)k * row, src + (size_t)idx[k] * row, row);
  return r;
}

static int tds_get_item(void *user, int64_t i, nb_tensor **x, nb_tensor **y) {
  tensor_ds *d = user;
  *x = gather(d->x, &i, 1, false);
  *y = gather(d->y, &i, 1, false);
  return *x && *y ? 0 : nb_last_status();
}

static int tds_get_batch(void *user, const int64_t *idx, int64_t n, nb_tensor **x, nb_tensor **y) {
  tensor_ds *d = user;
  *x = gather(d->x, idx, n, true);
  *y = gather(d->y, idx, n, true);
  return *x && *y ? 0 : nb_last_status();
}

static void tds_free(void *user) {
  tensor_ds *d = user;
  nb_release(d->x);
  nb_release(d->y);
  free(d);
}

nb_dataset *nb_tensor_dataset_new(nb_tensor *x, nb_tensor *y) {
  if (!x || !y) {
    nb_set_error(NB_EINVAL, "nb_tensor_dataset_new: NULL tensor");
    return NULL;
  }
  if (nb_ndim(x) < 1 || nb_ndim(y) < 1 || nb_shape(x)[0] != nb_shape(y)[0]) {
    nb_set_error(NB_ESHAPE, "nb_tensor_dataset_new: x %s and y %s need the same first dimension N",
                 nb_shape_of(x), nb_shape_of(y));
    return NULL;
  }
  tensor_ds *d = calloc(1, sizeof *d);
  if (!d) {
    nb_set_error(NB_ENOMEM, "nb_tensor_dataset_new: out of memory");
    return NULL;
  }
  /* Own contiguous tensors (a copy only when the input is a strided view). */
  nb_scope_begin();
  d->x = nb_keep(nb_is_contiguous(x) ? x : nb_copy_data(x));
  d->y = nb_keep(nb_is_contiguous(y) ? y : nb_copy_data(y));
  nb_scope_end();
  static const nb_dataset_ops ops = {.len = tds_len, .get_item = tds_get_item, .get_batch = tds_get_batch,
                                     .free = tds_free};
  nb_dataset *ds = d->x && d->y ? nb_dataset_new(&ops, d) : NULL;
  if (!ds) tds_free(d);
  return ds;
}
