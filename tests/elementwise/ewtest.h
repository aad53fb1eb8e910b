/* tests/elementwise/ewtest.h — helpers shared by the elementwise suites: tensors from
 * literal values, reading values back, and a fixture that checks every test leaves no
 * tensor alive once its scope closes. */
#ifndef EWTEST_H
#define EWTEST_H

#include <string.h>

#include "testutil.h"

/* Tensor of shape (ndim, shape) holding v[] converted to dt (scoped). */
static inline nb_tensor *mk(int ndim, const int64_t *shape, const double *v, nb_dtype dt) {
  nb_tensor *t = nb_from_data(v, ndim, shape, NB_F64);
  ck_assert_msg(t != NULL, "nb_from_data: %s", nb_last_error());
  if (dt != NB_F64) t = nb_convert(t, dt);
  ck_assert_msg(t != NULL, "nb_convert: %s", nb_last_error());
  return t;
}
#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})
#define VALS(...) ((const double[]){__VA_ARGS__})
/* MK(NB_F32, SHAPE(2, 3), 2, VALS(1, 2, 3, 4, 5, 6)) */
#define MK(dt, shape, ndim, vals) mk((ndim), (shape), (vals), (dt))
/* Leaf requiring grad. */
static inline nb_tensor *leaf(nb_tensor *t) {
  ck_assert_msg(nb_requires_grad_(t) != NULL, "requires_grad_: %s", nb_last_error());
  return t;
}
/* Values of t as doubles into out (at most n). */
static inline void vals(const nb_tensor *t, double *out, int64_t n) {
  ck_assert_msg(t != NULL, "tensor is NULL: %s", nb_last_error());
  ck_assert_int_eq(nb_numel(t), n);
  ck_assert_int_eq(nb_to_doubles(t, out, n), 0);
}
/* Assert t has exactly the given shape. */
static inline void assert_shape(const nb_tensor *t, int ndim, const int64_t *shape) {
  ck_assert_msg(t != NULL, "tensor is NULL: %s", nb_last_error());
  ck_assert_int_eq(nb_ndim(t), ndim);
  for (int d = 0; d < ndim; d++) ck_assert_int_eq(nb_shape(t)[d], shape[d]);
}
/* Compare values with closed-form expectations, relative tolerance rtol (+ atol). */
#define assert_vals(t, want, n, atol, rtol) assert_vals_at(__LINE__, t, want, n, atol, rtol)
static inline void assert_vals_at(int line, const nb_tensor *t, const double *want, int64_t n,
                                  double atol, double rtol) {
  double got[n > 0 ? n : 1];
  vals(t, got, n);
  for (int64_t i = 0; i < n; i++) {
    if (isnan(want[i])) {
      ck_assert_msg(isnan(got[i]), "line %d: [%lld] = %.17g, expected nan", line, (long long)i,
                    got[i]);
    } else if (isinf(want[i])) {
      ck_assert_msg(got[i] == want[i], "line %d: [%lld] = %.17g, expected %g", line, (long long)i,
                    got[i], want[i]);
    } else {
      ck_assert_msg(fabs(got[i] - want[i]) <= atol + rtol * fabs(want[i]),
                    "line %d: [%lld] = %.17g, expected %.17g", line, (long long)i, got[i], want[i]);
    }
  }
}
/* Backward from y with an explicit output gradient (same shape and dtype as y). */
static inline void backward_with(nb_tensor *y, nb_tensor *g) {
  ck_assert_msg(nb_backward(y, g, 0) == 0, "backward: %s", nb_last_error());
}

static int64_t ew_live_before;
static inline void ew_setup(void) {
  ew_live_before = nb_live_tensors();
  ck_assert_int_ge(nb_scope_begin(), 1);
}
static inline void ew_teardown(void) {
  ck_assert_int_eq(nb_scope_end(), 0);
  ck_assert_msg(nb_live_tensors() == ew_live_before, "%lld tensors leaked",
                (long long)(nb_live_tensors() - ew_live_before));
}

#endif
