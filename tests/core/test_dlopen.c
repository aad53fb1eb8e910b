/* tests/core/test_dlopen.c — libnabla loaded with dlopen at run time, as a Python (ctypes,
 * cffi) or other FFI user would load it, with nothing linked against it at build time.
 * The core's hot thread-locals use the initial-exec TLS model; this checks they still
 * work from a dlopen'ed library, in the main thread and in a thread started afterwards:
 * plugins load, a graph records and backward gives the closed-form gradient. */
#include <check.h>
#include <dlfcn.h>
#include <math.h>
#include <nabla/nabla.h>
#include <nabla/harness.h>
#include <nabla/sdk.h> /* descriptors and kernel services, read by the harness and the tests */
#include <pthread.h>
#include <stdio.h>

#ifndef LIBNABLA_PATH
#error "LIBNABLA_PATH must name the built libnabla shared library"
#endif

static void *lib;
#define SYM(name) __typeof__(name) *p_##name = (__typeof__(name) *)dlsym(lib, #name)

static void open_lib(void) {
  lib = dlopen(LIBNABLA_PATH, RTLD_NOW | RTLD_LOCAL);
  ck_assert_msg(lib != NULL, "dlopen %s: %s", LIBNABLA_PATH, dlerror());
}

/* d/da sum(3 * a**3) = 9 a**2 at a = [2, 3]: [36, 81]. Returns 0 on success. */
static int seed_gradient(void) {
  SYM(nb_plugins_load_all);
  SYM(nb_from_doubles);
  SYM(nb_requires_grad_);
  SYM(nb_pow_scalar);
  SYM(nb_mul_scalar);
  SYM(nb_sum);
  SYM(nb_backward);
  SYM(nb_grad);
  SYM(nb_to_doubles);
  SYM(nb_scope_begin);
  SYM(nb_scope_end);
  SYM(nb_release);
  SYM(nb_last_error);
  if (!p_nb_plugins_load_all || !p_nb_backward || !p_nb_last_error) return -1;
  if (p_nb_plugins_load_all() < 0) {
    fprintf(stderr, "load: %s\n", p_nb_last_error());
    return -1;
  }
  nb_tensor *a = p_nb_requires_grad_(p_nb_from_doubles((double[]){2, 3}, 2, NB_F64));
  int rc = -1;
  for (int it = 0; it < 3; it++) { /* repeated: exercises the free lists and caches */
    p_nb_scope_begin();
    nb_tensor *q = p_nb_sum(p_nb_mul_scalar(p_nb_pow_scalar(a, 3), 3));
    rc = q ? p_nb_backward(q, NULL, 0) : -1;
    p_nb_scope_end();
    if (rc < 0) break;
  }
  double g[2] = {0, 0};
  if (rc >= 0) rc = p_nb_to_doubles(p_nb_grad(a), g, 2);
  if (rc < 0) fprintf(stderr, "seed: %s\n", p_nb_last_error());
  p_nb_release(a);
  /* three backward calls accumulate: 3 * [36, 81] */
  return rc < 0 || fabs(g[0] - 108) > 1e-9 || fabs(g[1] - 243) > 1e-9 ? -1 : 0;
}

static void *thread_main(void *arg) {
  *(int *)arg = seed_gradient();
  return NULL;
}

START_TEST(test_dlopen_main_thread) {
  open_lib();
  ck_assert_int_eq(seed_gradient(), 0);
}
END_TEST

START_TEST(test_dlopen_new_thread) {
  open_lib();
  int rc = -1;
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, thread_main, &rc), 0);
  ck_assert_int_eq(pthread_join(th, NULL), 0);
  ck_assert_int_eq(rc, 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("core_dlopen");
  TCase *tc = tcase_create("dlopen");
  tcase_add_test(tc, test_dlopen_main_thread);
  tcase_add_test(tc, test_dlopen_new_thread);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
