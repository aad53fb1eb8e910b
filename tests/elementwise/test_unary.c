/* test_unary.c — neg, exp, log, sqrt, abs, relu, sigmoid, tanh and clamp: forward values
 * and gradients against closed-form derivatives in float32 and float64, spec item 31
 * (relu'(0) = 0, abs'(0) = 0, sqrt'(0) = inf), clamp's optional bounds and its mask, and
 * what the ops save (modifying a saved output in place makes backward fail). */
#include "ewtest.h"

typedef nb_tensor *(*unop)(nb_tensor *);
static double f_neg(double x) { return -x; }
static double d_neg(double x) {
  (void)x;
  return -1;
}
static double d_exp(double x) { return exp(x); }
static double d_log(double x) { return 1 / x; }
static double d_sqrt(double x) { return 0.5 / sqrt(x); }
static double d_abs(double x) { return x > 0 ? 1 : (x < 0 ? -1 : 0); }
static double f_relu(double x) { return x > 0 ? x : 0; }
static double d_relu(double x) { return x > 0 ? 1 : 0; }
static double f_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double d_sigmoid(double x) { return f_sigmoid(x) * (1 - f_sigmoid(x)); }
static double d_tanh(double x) { return 1 - tanh(x) * tanh(x); }

static const struct {
  const char *name, *node;
  unop op;
  double (*f)(double), (*d)(double);
  bool positive; /* domain (0, inf) */
} UN[] = {
    {"neg", "NegBackward", nb_neg, f_neg, d_neg, false},
    {"exp", "ExpBackward", nb_exp, exp, d_exp, false},
    {"log", "LogBackward", nb_log, log, d_log, true},
    {"sqrt", "SqrtBackward", nb_sqrt, sqrt, d_sqrt, true},
    {"abs", "AbsBackward", nb_abs, fabs, d_abs, false},
    {"relu", "ReluBackward", nb_relu, f_relu, d_relu, false},
    {"sigmoid", "SigmoidBackward", nb_sigmoid, f_sigmoid, d_sigmoid, false},
    {"tanh", "TanhBackward", nb_tanh, tanh, d_tanh, false},
};
#define N_UN ((int)(sizeof UN / sizeof UN[0]))

static const double XS[] = {-2.5, -0.75, 0.3, 1, 2.25, 4};
static const double XP[] = {0.1, 0.5, 1, 2, 3.5, 9};

/* Forward and gradient (output gradient G) for op _i, float64 and float32. */
START_TEST(unary_values_and_grads) {
  const double *x = UN[_i].positive ? XP : XS;
  const double G[] = {1, -2, 0.5, 3, -1, 2};
  for (int dt = NB_F32; dt <= NB_F64; dt++) {
    double tol = dt == NB_F32 ? 2e-6 : 1e-14;
    nb_tensor *a = leaf(MK(dt, SHAPE(2, 3), 2, x));
    nb_tensor *y = UN[_i].op(a);
    ck_assert_msg(y != NULL, "%s: %s", UN[_i].name, nb_last_error());
    ck_assert_int_eq(nb_dtype_of(y), dt);
    assert_shape(y, 2, SHAPE(2, 3));
    ck_assert_str_eq(nb_node_name(nb_grad_fn(y)), UN[_i].node);
    double want[6], dwant[6];
    for (int k = 0; k < 6; k++) {
      want[k] = UN[_i].f(x[k]);
      dwant[k] = G[k] * UN[_i].d(x[k]);
    }
    assert_vals(y, want, 6, tol, tol);
    backward_with(y, MK(dt, SHAPE(2, 3), 2, G));
    assert_vals(nb_grad(a), dwant, 6, tol, tol);
  }
}
END_TEST

/* Spec item 31: relu'(0) = 0, abs'(0) = 0, sqrt'(0) = inf. */
START_TEST(item31_kinks) {
  nb_tensor *z = leaf(nb_scalar(0, NB_F64));
  ck_assert_int_eq(nb_backward(nb_relu(z), NULL, 0), 0);
  ck_assert_double_eq(nb_item(nb_grad(z)), 0);
  nb_tensor *z2 = leaf(nb_scalar(0, NB_F32));
  ck_assert_int_eq(nb_backward(nb_abs(z2), NULL, 0), 0);
  ck_assert_double_eq(nb_item(nb_grad(z2)), 0);
  nb_tensor *z3 = leaf(nb_scalar(0, NB_F64));
  nb_tensor *s = nb_sqrt(z3);
  ck_assert_double_eq(nb_item(s), 0);
  ck_assert_int_eq(nb_backward(s, NULL, 0), 0);
  ck_assert(isinf(nb_item(nb_grad(z3))) && nb_item(nb_grad(z3)) > 0);
}
END_TEST

/* Edge values: nan stays nan in relu; log(0) = -inf, log(-1) and sqrt(-1) are nan. */
START_TEST(edge_values) {
  nb_tensor *x = MK(NB_F64, SHAPE(4), 1, VALS(NAN, -1, 0, 2));
  assert_vals(nb_relu(x), VALS(NAN, 0, 0, 2), 4, 0, 0);
  assert_vals(nb_log(x), VALS(NAN, NAN, -INFINITY, log(2)), 4, 0, 1e-15);
  assert_vals(nb_sqrt(x), VALS(NAN, NAN, 0, sqrt(2)), 4, 0, 1e-15);
  assert_vals(nb_sigmoid(MK(NB_F32, SHAPE(2), 1, VALS(-200, 200))), VALS(0, 1), 2, 0, 0);
  assert_vals(nb_tanh(MK(NB_F64, SHAPE(2), 1, VALS(-50, 50))), VALS(-1, 1), 2, 0, 0);
  /* int64 neg and abs */
  nb_tensor *i = MK(NB_I64, SHAPE(3), 1, VALS(-4, 0, 9));
  ck_assert_int_eq(nb_dtype_of(nb_abs(i)), NB_I64);
  assert_vals(nb_abs(i), VALS(4, 0, 9), 3, 0, 0);
  assert_vals(nb_neg(i), VALS(4, 0, -9), 3, 0, 0);
  /* floating-only ops reject int64, naming the dtype */
  ck_assert(nb_exp(i) == NULL);
  ck_assert_int_eq(nb_last_status(), NB_EDTYPE);
  ck_assert_error_contains("exp");
  ck_assert_error_contains("int64");
}
END_TEST

/* clamp: both bounds, one bound (nan = none), min > max, and no bound at all (error). */
START_TEST(clamp_bounds) {
  nb_tensor *x = MK(NB_F64, SHAPE(6), 1, VALS(-3, -1, -0.5, 0.5, 1, 3));
  assert_vals(nb_clamp(x, -1, 1), VALS(-1, -1, -0.5, 0.5, 1, 1), 6, 0, 0);
  assert_vals(nb_clamp(x, 0, NAN), VALS(0, 0, 0, 0.5, 1, 3), 6, 0, 0);
  assert_vals(nb_clamp(x, NAN, 0), VALS(-3, -1, -0.5, 0, 0, 0), 6, 0, 0);
  assert_vals(nb_clamp(x, 2, 1), VALS(1, 1, 1, 1, 1, 1), 6, 0, 0);
  assert_vals(nb_clamp(MK(NB_F32, SHAPE(2), 1, VALS(NAN, 5)), -1, 1), VALS(NAN, 1), 2, 0, 0);
  /* through nb_call: an explicit bound 0 is a bound, an absent one is not */
  nb_attr min0 = NB_A_FLOAT("min", 0.0);
  assert_vals(nb_call1("clamp", 1, &x, 1, &min0), VALS(0, 0, 0, 0.5, 1, 3), 6, 0, 0);
  ck_assert(nb_clamp(x, NAN, NAN) == NULL);
  ck_assert_error_contains("clamp");
  ck_assert_error_contains("min");
}
END_TEST

/* clamp's gradient passes where min <= x <= max, bounds included, as PyTorch. */
START_TEST(clamp_grad) {
  nb_tensor *x = leaf(MK(NB_F32, SHAPE(6), 1, VALS(-3, -1, -0.5, 0.5, 1, 3)));
  nb_tensor *y = nb_clamp(x, -1, 1);
  ck_assert_str_eq(nb_node_name(nb_grad_fn(y)), "ClampBackward");
  backward_with(y, nb_ones(1, SHAPE(6), NB_F32));
  assert_vals(nb_grad(x), VALS(0, 1, 1, 1, 1, 0), 6, 0, 0);
  nb_tensor *x2 = leaf(MK(NB_F64, SHAPE(4), 1, VALS(-1, 0, 1, 2)));
  backward_with(nb_clamp(x2, NAN, 1), nb_full(1, SHAPE(4), 2, NB_F64));
  assert_vals(nb_grad(x2), VALS(2, 2, 2, 0), 4, 0, 0);
}
END_TEST

/* exp saves its output: changing it in place makes backward fail with the version. */
START_TEST(saved_output_modified) {
  nb_tensor *x = leaf(MK(NB_F64, SHAPE(2), 1, VALS(0, 1)));
  nb_tensor *y = nb_exp(x);
  ck_assert(nb_add_scalar_(y, 1) != NULL);
  ck_assert_int_lt(nb_backward(y, nb_ones(1, SHAPE(2), NB_F64), 0), 0);
  ck_assert_error_contains("modified by an inplace operation");
  /* neg saves nothing: the same is fine */
  nb_tensor *x2 = leaf(MK(NB_F64, SHAPE(2), 1, VALS(0, 1)));
  nb_tensor *y2 = nb_neg(x2);
  ck_assert(nb_add_scalar_(y2, 1) != NULL);
  backward_with(y2, nb_ones(1, SHAPE(2), NB_F64));
  assert_vals(nb_grad(x2), VALS(-1, -1), 2, 0, 0);
}
END_TEST

/* Input does not require grad: no node, nothing saved, same values. */
START_TEST(no_grad_no_node) {
  nb_tensor *x = MK(NB_F64, SHAPE(3), 1, VALS(1, 2, 3));
  for (int k = 0; k < N_UN; k++) {
    nb_tensor *y = UN[k].op(x);
    ck_assert_msg(y != NULL, "%s: %s", UN[k].name, nb_last_error());
    ck_assert(nb_grad_fn(y) == NULL && !nb_requires_grad(y));
  }
  nb_tensor *l = leaf(MK(NB_F64, SHAPE(3), 1, VALS(1, 2, 3)));
  ck_assert_int_eq(nb_no_grad_begin(), 0);
  nb_tensor *y = nb_sqrt(l);
  ck_assert_int_eq(nb_no_grad_end(), 0);
  ck_assert(nb_grad_fn(y) == NULL && !nb_requires_grad(y));
}
END_TEST

/* Large and strided inputs agree with the scalar formula. */
START_TEST(large_and_strided) {
  int64_t n = 70001;
  nb_tensor *x = nb_rand_range(1, &n, -3, 3, NB_F64, NULL);
  nb_tensor *y = nb_tanh(x);
  const double *px = nb_data(x), *py = nb_data(y);
  for (int64_t k = 0; k < n; k += 101) ck_assert_double_eq_tol(py[k], tanh(px[k]), 1e-15);
  nb_tensor *base = MK(NB_F32, SHAPE(2, 3), 2, VALS(1, 4, 9, 16, 25, 36));
  nb_tensor *t = nb_as_strided(base, 2, SHAPE(3, 2), SHAPE(1, 3), 0);
  assert_vals(nb_sqrt(t), VALS(1, 4, 2, 5, 3, 6), 6, 0, 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("elementwise_unary");
  TCase *tc = tcase_create("unary");
  tcase_add_checked_fixture(tc, ew_setup, ew_teardown);
  tcase_add_loop_test(tc, unary_values_and_grads, 0, N_UN);
  tcase_add_test(tc, item31_kinks);
  tcase_add_test(tc, edge_values);
  tcase_add_test(tc, clamp_bounds);
  tcase_add_test(tc, clamp_grad);
  tcase_add_test(tc, saved_output_modified);
  tcase_add_test(tc, no_grad_no_node);
  tcase_add_test(tc, large_and_strided);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(suite()); }
