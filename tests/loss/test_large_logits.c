/* test_large_logits.c — log_softmax and cross_entropy where the logits are large: the
 * shift m and log Σ e^(x − m) must stay apart (issues 15 and 16). Expected values are
 * closed form: equal logits give −log C and gradients (1/C − [c = t]); two logits one
 * apart give log(1 + e) and ±sigmoid(1). PyTorch 2.x gives the same within float
 * rounding. */
#include "testutil.h"

static const double LOG3 = 1.0986122886681098;
static const double LOG1PE = 1.3132616875182228;  /* log(1 + e) */
static const double SIGMOID1 = 0.7310585786300049; /* e / (1 + e) */

static void setup(void) {
  nb_clear_error();
  nb_scope_begin();
}
static void teardown(void) { nb_scope_end(); }

static nb_tensor *row(const double *v, int64_t n, nb_dtype dt) {
  return nb_reshape(nb_from_doubles(v, n, dt), 2, (int64_t[]){1, n});
}

START_TEST(log_softmax_equal_large_logits) {
  const double ms[] = {1e5, 1e6, 1e8, 1e30};
  for (int dt = NB_F32; dt <= NB_F64; dt++)
    for (int k = 0; k < 4; k++) {
      if (dt == NB_F32 && ms[k] > 1e38) continue;
      double m = ms[k];
      nb_tensor *y = nb_log_softmax(row((double[]){m, m, m}, 3, (nb_dtype)dt), 1);
      ck_assert_tensor_values(y, ((double[]){-LOG3, -LOG3, -LOG3}), 3, 1e-6);
    }
}
END_TEST

START_TEST(log_softmax_far_apart) { /* issue 15's case: PyTorch gives -1.3132616 */
  for (int dt = NB_F32; dt <= NB_F64; dt++) {
    nb_tensor *y = nb_log_softmax(row((double[]){1000, 1001, -1000}, 3, (nb_dtype)dt), 1);
    ck_assert_tensor_values(y, ((double[]){-LOG1PE, 1 - LOG1PE, -2000 - LOG1PE}), 3,
                            dt == NB_F32 ? 2e-4 : 1e-9); /* -2001.31 is 1.2e-4 per float step */
    double v[3];
    ck_assert_int_eq(nb_to_doubles(y, v, 3), 0);
    double tol = dt == NB_F32 ? 2e-7 : 1e-12; /* Check's macro does not parenthesise it */
    ck_assert_double_eq_tol(v[0], -LOG1PE, tol);
  }
}
END_TEST

/* loss and gradient of mean cross-entropy over one row, target t */
static void ce_case(const double *z, int64_t n, int64_t t, nb_dtype dt, double want_loss,
                    const double *want_grad, double tol) {
  nb_tensor *x = nb_requires_grad_(row(z, n, dt));
  nb_tensor *target = nb_from_data(&t, 1, (int64_t[]){1}, NB_I64);
  nb_tensor *loss = nb_cross_entropy(x, target, NULL, "mean", -100, 0);
  ck_assert_msg(loss != NULL, "%s", nb_last_error());
  ck_assert_double_eq_tol(nb_item(loss), want_loss, tol);
  ck_assert_int_eq(nb_backward(loss, NULL, 0), 0);
  double g[8], sum = 0;
  ck_assert_int_eq(nb_to_doubles(nb_grad(x), g, n), 0);
  for (int64_t c = 0; c < n; c++) {
    ck_assert_msg(fabs(g[c] - want_grad[c]) <= tol, "grad[%lld] = %.9g, expected %.9g",
                  (long long)c, g[c], want_grad[c]);
    sum += g[c];
  }
  ck_assert_double_eq_tol(sum, 0, tol); /* softmax − onehot sums to 0 */
}

START_TEST(cross_entropy_equal_large_logits) {
  const double third[] = {-2.0 / 3, 1.0 / 3, 1.0 / 3};
  for (int dt = NB_F32; dt <= NB_F64; dt++)
    for (double m = 1e5; m <= 1e30; m *= 1e5) {
      if (dt == NB_F32 && m > 1e20) continue;
      ce_case((double[]){m, m, m}, 3, 0, (nb_dtype)dt, LOG3, third, 1e-6);
    }
}
END_TEST

START_TEST(cross_entropy_one_apart) { /* issue 15: the gradient did not sum to 0 */
  const double g[] = {-SIGMOID1, SIGMOID1};
  for (int dt = NB_F32; dt <= NB_F64; dt++)
    for (double m = 0; m <= 1e6; m = m ? m * 1000 : 1000)
      ce_case((double[]){m, m + 1}, 2, 0, (nb_dtype)dt, LOG1PE, g, dt == NB_F32 ? 2e-7 : 1e-12);
}
END_TEST

int main(void) {
  Suite *s = suite_create("large_logits");
  TCase *tc = tcase_create("large_logits");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, log_softmax_equal_large_logits);
  tcase_add_test(tc, log_softmax_far_apart);
  tcase_add_test(tc, cross_entropy_equal_large_logits);
  tcase_add_test(tc, cross_entropy_one_apart);
  suite_add_tcase(s, tc);
  return nb_test_run(s);
}
