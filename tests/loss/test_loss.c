/* tests/loss/test_loss.c — the loss plugin: closed-form values and gradients worked by
 * hand, PyTorch reference values (tests/loss/reference.txt from tests/nn/gen_reference.py),
 * error messages and thread-count independence of the reductions. */
#include <string.h>

#include "refcase.h"
#include "testutil.h"

#define T1(...) nb_from_doubles((double[]){__VA_ARGS__}, sizeof((double[]){__VA_ARGS__}) / sizeof(double), NB_F64)
#define SHAPE(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}
#define I64(...) nb_from_data((int64_t[]){__VA_ARGS__}, 1, (int64_t[]){sizeof((int64_t[]){__VA_ARGS__}) / 8}, NB_I64)

static nb_tensor *mat(nb_tensor *t, int64_t r, int64_t c) {
  return nb_from_data(nb_data(t), 2, (int64_t[]){r, c}, nb_dtype_of(t));
}

START_TEST(test_cross_entropy_hand) {
  nb_scope_begin();
  /* row 0: uniform logits, target 0 → ln 3; row 1: exp = [1, 3, 1]/5, target 1 → ln(5/3).
   * mean = ln(5)/2, gradient (softmax − onehot)/N. */
  nb_tensor *z = nb_requires_grad_(mat(T1(0, 0, 0, 0, log(3.0), 0), 2, 3));
  nb_tensor *t = I64(0, 1);
  nb_tensor *l = nb_cross_entropy(z, t, NULL, "mean", -100, 0.0);
  ck_assert_msg(l != NULL, "%s", nb_last_error());
  ck_assert_int_eq(nb_ndim(l), 0);
  ck_assert_double_eq_tol(nb_item(l), log(5.0) / 2, 1e-14);
  ck_assert_int_eq(nb_backward(l, NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(z), ((double[]){-1.0 / 3, 1.0 / 6, 1.0 / 6, 0.1, -0.2, 0.1}), 6, 1e-14);
  /* sum and none */
  ck_assert_double_eq_tol(nb_item(nb_cross_entropy(z, t, NULL, "sum", -100, 0.0)), log(5.0), 1e-14);
  ck_assert_tensor_values(nb_cross_entropy(z, t, NULL, "none", -100, 0.0), ((double[]){log(3.0), log(5.0 / 3)}), 2, 1e-14);
  nb_scope_end();
}
END_TEST

START_TEST(test_cross_entropy_ignore_and_weight) {
  nb_scope_begin();
  nb_tensor *z = nb_requires_grad_(mat(T1(0, 0, 0, 0, log(3.0), 0), 2, 3));
  /* the ignored row contributes nothing: mean over the one remaining target */
  nb_tensor *l = nb_cross_entropy(z, I64(0, -100), NULL, "mean", -100, 0.0);
  ck_assert_double_eq_tol(nb_item(l), log(3.0), 1e-14);
  ck_assert_int_eq(nb_backward(l, NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(z), ((double[]){-2.0 / 3, 1.0 / 3, 1.0 / 3, 0, 0, 0}), 6, 1e-14);
  /* weights [2, 1, 1]: mean = (2 ln 3 + ln(5/3)) / (2 + 1) */
  nb_tensor *l2 = nb_cross_entropy(z, I64(0, 1), T1(2, 1, 1), "mean", -100, 0.0);
  ck_assert_double_eq_tol(nb_item(l2), (2 * log(3.0) + log(5.0 / 3)) / 3, 1e-14);
  /* label smoothing ε on uniform logits: loss stays ln 3 (every class has −log p = ln 3) */
  nb_tensor *l3 = nb_cross_entropy(mat(T1(0, 0, 0), 1, 3), I64(2), NULL, "mean", -100, 0.3);
  ck_assert_double_eq_tol(nb_item(l3), log(3.0), 1e-14);
  nb_scope_end();
}
END_TEST

START_TEST(test_nll_hand) {
  nb_scope_begin();
  nb_tensor *x = nb_requires_grad_(mat(T1(-1, -2, -3, -4), 2, 2));
  nb_tensor *l = nb_nll_loss(x, I64(1, 0), NULL, "mean", -100);
  ck_assert_double_eq_tol(nb_item(l), 2.5, 1e-15);
  ck_assert_int_eq(nb_backward(l, NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){0, -0.5, -0.5, 0}), 4, 1e-15);
  nb_scope_end();
}
END_TEST

START_TEST(test_mse_l1_hand) {
  nb_scope_begin();
  nb_tensor *x = nb_requires_grad_(T1(1, 2, 3)), *t = nb_requires_grad_(T1(1, 0, 0));
  ck_assert_tensor_values(nb_mse_loss(x, t, "none"), ((double[]){0, 4, 9}), 3, 0);
  ck_assert_double_eq_tol(nb_item(nb_mse_loss(x, t, "sum")), 13, 1e-15);
  nb_tensor *l = nb_mse_loss(x, t, "mean");
  ck_assert_double_eq_tol(nb_item(l), 13.0 / 3, 1e-15);
  ck_assert_int_eq(nb_backward(l, NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){0, 4.0 / 3, 2}), 3, 1e-15);
  ck_assert_tensor_values(nb_grad(t), ((double[]){0, -4.0 / 3, -2}), 3, 1e-15);
  nb_tensor *y = nb_requires_grad_(T1(1, 2, -3));
  nb_tensor *l1 = nb_l1_loss(y, T1(1, 0, 0), "sum");
  ck_assert_double_eq_tol(nb_item(l1), 5, 1e-15);
  ck_assert_int_eq(nb_backward(l1, NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(y), ((double[]){0, 1, -1}), 3, 0); /* sign(0) = 0 */
  nb_scope_end();
}
END_TEST

START_TEST(test_bce_hand) {
  nb_scope_begin();
  nb_tensor *x = nb_requires_grad_(T1(0.5, 0.25));
  nb_tensor *l = nb_binary_cross_entropy(x, T1(1, 0), NULL, "sum");
  ck_assert_double_eq_tol(nb_item(l), log(2.0) - log(0.75), 1e-15);
  ck_assert_int_eq(nb_backward(l, NULL, 0), 0);
  /* (x − t)/(x(1 − x)): −0.5/0.25 = −2, 0.25/0.1875 = 4/3 */
  ck_assert_tensor_values(nb_grad(x), ((double[]){-2, 4.0 / 3}), 2, 1e-15);
  /* log clamped at −100 */
  ck_assert_double_eq_tol(nb_item(nb_binary_cross_entropy(T1(0), T1(1), NULL, "mean")), 100, 1e-15);
  /* logits: stable for large |x|; gradient σ(x) − t */
  nb_tensor *z = nb_requires_grad_(T1(1000, -1000, 0));
  nb_tensor *lz = nb_binary_cross_entropy_with_logits(z, T1(0, 1, 1), NULL, NULL, "none");
  ck_assert_tensor_values(lz, ((double[]){1000, 1000, log(2.0)}), 3, 1e-12);
  ck_assert_int_eq(nb_backward(lz, nb_ones(SHAPE(3), NB_F64), 0), 0);
  ck_assert_tensor_values(nb_grad(z), ((double[]){1, -1, -0.5}), 3, 1e-15);
  /* pos_weight p multiplies the positive term: t = 1, x = 0 → p·ln 2 */
  nb_tensor *lp = nb_binary_cross_entropy_with_logits(T1(0), T1(1), NULL, T1(3), "mean");
  ck_assert_double_eq_tol(nb_item(lp), 3 * log(2.0), 1e-15);
  nb_scope_end();
}
END_TEST

START_TEST(test_errors) {
  nb_scope_begin();
  nb_tensor *z = nb_zeros(SHAPE(2, 3), NB_F32);
  ck_assert_ptr_null(nb_cross_entropy(z, I64(0, 3), NULL, "mean", -100, 0.0));
  ck_assert_error_contains("cross_entropy");
  ck_assert_error_contains("target 3");
  ck_assert_error_contains("out of bounds for 3 classes");
  ck_assert_ptr_null(nb_cross_entropy(z, I64(0, 1, 2), NULL, "mean", -100, 0.0));
  ck_assert_error_contains("cross_entropy");
  ck_assert_error_contains("[3]");
  ck_assert_ptr_null(nb_nll_loss(z, I64(0, -1), NULL, "mean", -100));
  ck_assert_error_contains("nll_loss");
  nb_tensor *p = nb_from_doubles((double[]){0.5, 1.5}, 2, NB_F32);
  ck_assert_ptr_null(nb_binary_cross_entropy(p, nb_zeros(SHAPE(2), NB_F32), NULL, "mean"));
  ck_assert_error_contains("binary_cross_entropy");
  ck_assert_error_contains("between 0 and 1");
  ck_assert_ptr_null(nb_binary_cross_entropy(nb_full(SHAPE(2), NAN, NB_F32), nb_zeros(SHAPE(2), NB_F32), NULL, "mean"));
  ck_assert_error_contains("between 0 and 1");
  ck_assert_ptr_null(nb_binary_cross_entropy_with_logits(z, nb_zeros(SHAPE(3, 2), NB_F32), NULL, NULL, "mean"));
  ck_assert_error_contains("binary_cross_entropy_with_logits");
  ck_assert_ptr_null(nb_mse_loss(z, z, "average"));
  ck_assert_ptr_null(nb_mse_loss(z, nb_zeros(SHAPE(2, 3), NB_F64), "mean"));
  ck_assert_error_contains("mse_loss");
  nb_scope_end();
}
END_TEST

/* Reductions sum fixed blocks and add block sums in order: any thread count gives the
 * same bits. */
START_TEST(test_thread_independent) {
  int prev = nb_get_num_threads();
  double r[2][4];
  for (int k = 0; k < 2; k++) {
    nb_set_num_threads(k == 0 ? 1 : 2);
    nb_scope_begin();
    nb_generator *g = nb_generator_new(11);
    nb_tensor *x = nb_randn(SHAPE(300000), NB_F32, g), *t = nb_rand(SHAPE(300000), NB_F32, g);
    nb_tensor *z = nb_randn(SHAPE(20000, 10), NB_F32, g), *c = nb_randint(SHAPE(20000), 0, 10, g);
    r[k][0] = nb_item(nb_mse_loss(x, t, "mean"));
    r[k][1] = nb_item(nb_l1_loss(x, t, "sum"));
    r[k][2] = nb_item(nb_binary_cross_entropy_with_logits(x, t, NULL, NULL, "mean"));
    r[k][3] = nb_item(nb_cross_entropy(z, c, NULL, "mean", -100, 0.1));
    nb_generator_free(g);
    nb_scope_end();
  }
  nb_set_num_threads(prev);
  for (int i = 0; i < 4; i++) ck_assert_msg(r[0][i] == r[1][i], "loss %d: %.17g vs %.17g", i, r[0][i], r[1][i]);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("loss");
  TCase *tc = tcase_create("closed form");
  tcase_add_test(tc, test_cross_entropy_hand);
  tcase_add_test(tc, test_cross_entropy_ignore_and_weight);
  tcase_add_test(tc, test_nll_hand);
  tcase_add_test(tc, test_mse_l1_hand);
  tcase_add_test(tc, test_bce_hand);
  tcase_add_test(tc, test_errors);
  tcase_add_test(tc, test_thread_independent);
  suite_add_tcase(s, tc);
  suite_add_tcase(s, ref_tcase());
  return s;
}

int main(void) {
  if (ref_suite_load("tests/loss/reference.txt") <= 0) return EXIT_FAILURE;
  int rc = nb_test_run(make_suite());
  ref_suite_free();
  return rc;
}
