/* tests/testutil.h — small helpers shared by the Check suites. */
#ifndef NABLA_TESTUTIL_H
#define NABLA_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <nabla/nabla.h>
#include <nabla/harness.h>
#include <nabla/sdk.h> /* descriptors and kernel services, read by the harness and the tests */
#include <stdio.h>
#include <stdlib.h>

/* Assert |a - b| <= atol + rtol * |b|. */
#define ck_assert_close(a, b, atol, rtol)                                                   \
  do {                                                                                      \
    double _a = (a), _b = (b);                                                              \
    ck_assert_msg(fabs(_a - _b) <= (atol) + (rtol)*fabs(_b), "%s = %.17g, expected %.17g", \
                  #a, _a, _b);                                                              \
  } while (0)

/* Assert a tensor's values (converted to double) equal expected[] within atol. */
#define ck_assert_tensor_values(t, expected, n, atol)                                      \
  do {                                                                                     \
    const nb_tensor *_t = (t);                                                             \
    ck_assert_msg(_t != NULL, "tensor is NULL: %s", nb_last_error());                      \
    ck_assert_int_eq(nb_numel(_t), (n));                                                   \
    double _buf[n];                                                                        \
    ck_assert_int_eq(nb_to_doubles(_t, _buf, (n)), 0);                                     \
    for (int _i = 0; _i < (n); _i++)                                                       \
      ck_assert_msg(fabs(_buf[_i] - (expected)[_i]) <= (atol), "%s[%d] = %.17g, expected %.17g", \
                    #t, _i, _buf[_i], (double)(expected)[_i]);                             \
  } while (0)

/* Assert the last error message contains `needle`. */
#define ck_assert_error_contains(needle)                                                   \
  ck_assert_msg(strstr(nb_last_error(), (needle)) != NULL, "error \"%s\" lacks \"%s\"",    \
                nb_last_error(), (needle))

/* Tensor `fmt` % name of a golden safetensors file (fails the test when missing). */
static inline nb_tensor *nb_test_golden(const nb_safetensors *f, const char *fmt, const char *name) {
  char key[512];
  snprintf(key, sizeof key, fmt, name);
  nb_tensor *t = nb_safetensors_get(f, key);
  ck_assert_msg(t != NULL, "%s: %s", key, nb_last_error());
  return t;
}

/* Run a suite made by `make` with CK_NORMAL output; returns the process exit status. */
static inline int nb_test_run(Suite *s) {
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Assert t is non-NULL (else report the last error) and has shape[0..ndim). A function,
 * not a macro, so a compound literal `(int64_t[]){2, 3}` can be passed as shape. */
static inline void nb_test_assert_shape(const nb_tensor *t, int ndim, const int64_t *shape) {
  ck_assert_msg(t != NULL, "NULL tensor: %s", nb_last_error());
  ck_assert_int_eq(nb_ndim(t), ndim);
  for (int i = 0; i < ndim; i++) ck_assert_int_eq(nb_shape(t)[i], shape[i]);
}

/* Assert got and want (any dtypes) have equal sizes and |got − want| <= tol·(1 + |want|)
 * element by element; `what` names the tensor in the failure message. */
static inline void nb_test_assert_close_tensors(const nb_tensor *got, const nb_tensor *want, double tol,
                                                const char *what) {
  ck_assert_msg(got && want, "%s: %s", what, nb_last_error());
  int64_t n = nb_numel(want);
  ck_assert_int_eq(nb_numel(got), n);
  double *a = malloc(sizeof(double) * (size_t)(n + 1)), *b = malloc(sizeof(double) * (size_t)(n + 1));
  ck_assert_int_eq(nb_to_doubles(got, a, n), 0);
  ck_assert_int_eq(nb_to_doubles(want, b, n), 0);
  for (int64_t i = 0; i < n; i++)
    ck_assert_msg(fabs(a[i] - b[i]) <= tol * (1 + fabs(b[i])), "%s[%lld]: %.17g, expected %.17g", what,
                  (long long)i, a[i], b[i]);
  free(a);
  free(b);
}

/* Checked fixture for suites whose tests must not leak tensors:
 *   tcase_add_checked_fixture(tc, nb_test_scope_setup, nb_test_scope_teardown);
 * setup clears the error and opens a scope; teardown closes it and fails the test when
 * more tensors are alive than before it. */
static int64_t nb_test_live_before_;
static inline void nb_test_scope_setup(void) {
  nb_clear_error();
  nb_test_live_before_ = nb_live_tensors();
  ck_assert_int_ge(nb_scope_begin(), 1);
}
static inline void nb_test_scope_teardown(void) {
  nb_scope_end();
  ck_assert_int_eq(nb_live_tensors(), nb_test_live_before_); /* nothing leaked */
}

/* Checked fixture for suites that write files: a fresh directory nb_test_tmpdir (removed
 * with everything in it at teardown) around nb_test_scope_setup/teardown. */
static char nb_test_tmpdir[256];
static inline void nb_test_tmpdir_setup(void) {
  snprintf(nb_test_tmpdir, sizeof nb_test_tmpdir, "/tmp/nabla-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(nb_test_tmpdir));
  nb_test_scope_setup();
}
static inline void nb_test_tmpdir_teardown(void) {
  nb_test_scope_teardown();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", nb_test_tmpdir);
  ck_assert_int_eq(system(cmd), 0);
}

#endif
