/* test_probe.c — regressions for what an independent probe of the core broke (issue 16):
 * thread counts out of range, a tensor assigned as its own grad, values that do not fit
 * int64 stored through different paths, bool hyperparameters given other numbers, and
 * nested calls whose first error was lost behind "argument is NULL". Expected behaviours
 * are PyTorch's where it has one, else the documented rule. */
#include <limits.h>

#include "testutil.h"

static void setup(void) {
  nb_clear_error();
  nb_scope_begin();
}
static void teardown(void) { nb_scope_end(); }

START_TEST(thread_count_is_bounded) {
  int before = nb_get_num_threads();
  ck_assert_int_eq(nb_set_num_threads(0), NB_EINVAL);
  ck_assert_int_eq(nb_set_num_threads(NB_MAX_THREADS + 1), NB_EINVAL);
  ck_assert_error_contains("[1, 1024]");
  ck_assert_int_eq(nb_set_num_threads(100000), NB_EINVAL);
  ck_assert_int_eq(nb_set_num_threads(INT_MAX), NB_EINVAL);
  ck_assert_int_eq(nb_get_num_threads(), before); /* refused calls change nothing */
  /* a matmul after the refusals still works */
  nb_tensor *a = nb_ones(2, (int64_t[]){8, 8}, NB_F32);
  nb_tensor *p = nb_matmul(a, a);
  ck_assert_ptr_nonnull(p);
  ck_assert_double_eq(nb_item(nb_sum(p)), 8.0 * 64);
}
END_TEST

START_TEST(own_grad_refused) {
  nb_tensor *p = nb_requires_grad_(nb_ones(1, (int64_t[]){3}, NB_F32));
  int64_t live = nb_live_tensors();
  ck_assert_int_eq(nb_set_grad(p, p), NB_EINVAL);
  ck_assert_error_contains("its own grad");
  ck_assert_int_eq(nb_set_grad(p, nb_detach(p)), NB_EINVAL); /* shares p's memory */
  ck_assert_error_contains("shares memory");
  ck_assert_ptr_null(nb_grad(p));
  /* p is unchanged by a backward afterwards, and nothing leaked beyond the detach */
  ck_assert_int_eq(nb_backward(nb_sum(nb_mul_scalar(p, 2.0)), NULL, 0), 0);
  ck_assert_tensor_values(p, ((double[]){1, 1, 1}), 3, 0);
  ck_assert_tensor_values(nb_grad(p), ((double[]){2, 2, 2}), 3, 0);
  ck_assert_int_le(nb_live_tensors(), live + 8);
  /* a copy is fine */
  ck_assert_int_eq(nb_set_grad(p, nb_copy_data(p)), 0);
}
END_TEST

START_TEST(int64_values_one_rule) {
  int64_t s2[1] = {2};
  const double bad[] = {INFINITY, -INFINITY, NAN, 1e300, 9223372036854775808.0};
  for (int i = 0; i < 5; i++) {
    double v = bad[i];
    ck_assert_ptr_null(nb_full(1, s2, v, NB_I64));
    ck_assert_error_contains("does not fit int64");
    ck_assert_ptr_null(nb_scalar(v, NB_I64));
    ck_assert_ptr_null(nb_from_doubles(&v, 1, NB_I64));
    nb_tensor *t = nb_zeros(1, s2, NB_I64);
    ck_assert_int_eq(nb_fill(t, v), NB_EINVAL);
    ck_assert_int_eq(nb_set(t, (int64_t[]){0}, v), NB_EINVAL);
    ck_assert_ptr_null(nb_fill_(t, v));
    ck_assert_tensor_values(t, ((double[]){0, 0}), 2, 0); /* untouched */
    if (isfinite(v)) { /* integral but out of range: the functional scalar path */
      ck_assert_ptr_null(nb_add_scalar(t, v));
      ck_assert_error_contains("does not fit int64");
    }
  }
  /* the edges of the range, and truncation toward zero, still work */
  nb_tensor *lo = nb_scalar(-9223372036854775808.0, NB_I64);
  ck_assert_ptr_nonnull(lo);
  ck_assert(*(int64_t *)nb_data(lo) == INT64_MIN);
  nb_tensor *f = nb_full(1, s2, -2.7, NB_I64);
  ck_assert(((int64_t *)nb_data(f))[0] == -2);
  /* floats and bool take anything */
  ck_assert_ptr_nonnull(nb_full(1, s2, INFINITY, NB_F32));
  ck_assert_ptr_nonnull(nb_full(1, s2, NAN, NB_BOOL));
}
END_TEST

START_TEST(bool_hyperparameter_needs_0_or_1) {
  nb_tensor *p = nb_requires_grad_(nb_ones(1, (int64_t[]){2}, NB_F32));
  nb_optimizer *o = nb_optimizer_new("sgd", 1, &p, 1, (nb_attr[]){NB_A_FLOAT("momentum", 0.9)});
  ck_assert_ptr_nonnull(o);
  ck_assert_int_eq(nb_optimizer_set_hparam(o, 0, "nesterov", 0.5), NB_EINVAL);
  ck_assert_error_contains("is a bool");
  ck_assert_double_eq(nb_optimizer_get_hparam(o, 0, "nesterov"), 0);
  ck_assert_int_eq(nb_optimizer_set_hparam(o, 0, "nesterov", 1), 0);
  ck_assert_double_eq(nb_optimizer_get_hparam(o, 0, "nesterov"), 1);
  nb_optimizer_free(o);
  /* an INT given for a BOOL attribute or hyperparameter at creation */
  ck_assert_ptr_null(nb_optimizer_new("sgd", 1, &p, 1, (nb_attr[]){NB_A_INT("nesterov", 2)}));
  ck_assert_error_contains("give 0 or 1");
}
END_TEST

START_TEST(nested_calls_keep_the_first_error) {
  nb_tensor *a = nb_from_doubles((double[]){2, 3}, 2, NB_F32);
  nb_tensor *c = nb_from_doubles((double[]){1, 2, 3}, 3, NB_F32);
  ck_assert_ptr_null(nb_sub(nb_mul_scalar(nb_mul(a, c), 3), a));
  /* the outermost call that got a NULL, then the first failure, once, with its status */
  ck_assert_error_contains("sub: input 'input' (argument 0) is NULL, after an earlier failure: "
                           "mul: shapes [2] and [3] cannot be broadcast");
  ck_assert_int_eq(nb_last_status(), NB_ESHAPE);
  ck_assert_ptr_null(strstr(strstr(nb_last_error(), "earlier failure") + 1, "earlier failure"));
  /* without a pending error a NULL argument is still reported as such */
  nb_clear_error();
  ck_assert_ptr_null(nb_exp(NULL));
  ck_assert_error_contains("is NULL");
  ck_assert_int_eq(nb_last_status(), NB_EINVAL);
}
END_TEST

int main(void) {
  Suite *s = suite_create("core_probe");
  TCase *tc = tcase_create("probe");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, thread_count_is_bounded);
  tcase_add_test(tc, own_grad_refused);
  tcase_add_test(tc, int64_values_one_rule);
  tcase_add_test(tc, bool_hyperparameter_needs_0_or_1);
  tcase_add_test(tc, nested_calls_keep_the_first_error);
  suite_add_tcase(s, tc);
  return nb_test_run(s);
}
