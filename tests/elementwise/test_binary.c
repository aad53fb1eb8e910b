/* test_binary.c — add, sub, mul, div, pow and the comparisons: forward values against
 * closed-form results in float32, float64 and int64, NumPy broadcasting of values and of
 * gradients (summed back to each input's shape), pow's three forms and PyTorch's masks,
 * and the error messages for mismatched dtypes and shapes. */
#include "ewtest.h"

static const double A6[] = {1.5, -2, 3, 0.25, -4, 5.5};
static const double B6[] = {0.5, 2, -1.25, 4, 3, -0.75};

typedef nb_tensor *(*binop)(nb_tensor *, nb_tensor *);
static double f_add(double a, double b) { return a + b; }
static double f_sub(double a, double b) { return a - b; }
static double f_mul(double a, double b) { return a * b; }
static double f_div(double a, double b) { return a / b; }
static double f_pow(double a, double b) { return pow(fabs(a), b); }

static const struct {
  const char *name;
  binop op;
  double (*f)(double, double);
} BIN[] = {{"add", nb_add, f_add},
           {"sub", nb_sub, f_sub},
           {"mul", nb_mul, f_mul},
           {"div", nb_div, f_div},
           {"pow", nb_pow, f_pow}};

/* Same-shape forward values, float64 and float32, for every binary op (loop index _i). */
START_TEST(forward_same_shape) {
  for (int dt = NB_F32; dt <= NB_F64; dt++) {
    double a6[6];
    for (int k = 0; k < 6; k++) a6[k] = BIN[_i].op == nb_pow ? fabs(A6[k]) : A6[k];
    nb_tensor *a = MK(dt, SHAPE(2, 3), 2, a6), *b = MK(dt, SHAPE(2, 3), 2, B6);
    nb_tensor *y = BIN[_i].op(a, b);
    ck_assert_msg(y != NULL, "%s: %s", BIN[_i].name, nb_last_error());
    assert_shape(y, 2, SHAPE(2, 3));
    ck_assert_int_eq(nb_dtype_of(y), dt);
    double want[6];
    for (int k = 0; k < 6; k++) want[k] = BIN[_i].f(A6[k], B6[k]);
    assert_vals(y, want, 6, 0, dt == NB_F32 ? 1e-6 : 1e-15);
  }
}
END_TEST

/* Broadcasting: [2,3] op [3], [2,1] op [1,3], 0-d op [4], [3] op 0-d. */
START_TEST(forward_broadcast) {
  nb_tensor *a = MK(NB_F64, SHAPE(2, 3), 2, VALS(1, 2, 3, 4, 5, 6));
  nb_tensor *r = MK(NB_F64, SHAPE(3), 1, VALS(10, 20, 30));
  nb_tensor *y = nb_mul(a, r);
  assert_shape(y, 2, SHAPE(2, 3));
  assert_vals(y, VALS(10, 40, 90, 40, 100, 180), 6, 0, 0);
  y = nb_sub(r, a); /* [3] - [2,3] */
  assert_shape(y, 2, SHAPE(2, 3));
  assert_vals(y, VALS(9, 18, 27, 6, 15, 24), 6, 0, 0);

  nb_tensor *col = MK(NB_F64, SHAPE(2, 1), 2, VALS(1, 2)),
            *row = MK(NB_F64, SHAPE(1, 3), 2, VALS(10, 20, 30));
  y = nb_add(col, row);
  assert_shape(y, 2, SHAPE(2, 3));
  assert_vals(y, VALS(11, 21, 31, 12, 22, 32), 6, 0, 0);

  nb_tensor *s = nb_scalar(2, NB_F64), *v = MK(NB_F64, SHAPE(4), 1, VALS(1, 2, 4, 8));
  y = nb_div(s, v);
  assert_shape(y, 1, SHAPE(4));
  assert_vals(y, VALS(2, 1, 0.5, 0.25), 4, 0, 0);
  y = nb_sub(v, s);
  assert_vals(y, VALS(-1, 0, 2, 6), 4, 0, 0);
  y = nb_mul(s, s);
  assert_shape(y, 0, NULL);
  ck_assert_double_eq(nb_item(y), 4);

  /* [2,3,4] with [3,1]: the strided iteration path */
  double big[24];
  for (int k = 0; k < 24; k++) big[k] = k;
  nb_tensor *t = MK(NB_F64, SHAPE(2, 3, 4), 3, big),
            *c = MK(NB_F64, SHAPE(3, 1), 2, VALS(1, 10, 100));
  y = nb_mul(t, c);
  assert_shape(y, 3, SHAPE(2, 3, 4));
  double want[24];
  for (int k = 0; k < 24; k++) want[k] = k * (double[]){1, 10, 100}[(k / 4) % 3];
  assert_vals(y, want, 24, 0, 0);
}
END_TEST

/* Scalar wrappers: a + s, a - s, s - a, a * s, a / s, s / a. */
START_TEST(forward_scalars) {
  nb_tensor *a = MK(NB_F32, SHAPE(3), 1, VALS(1, 2, 4));
  assert_vals(nb_add_scalar(a, 1), VALS(2, 3, 5), 3, 0, 0);
  assert_vals(nb_sub_scalar(a, 1), VALS(0, 1, 3), 3, 0, 0);
  assert_vals(nb_rsub_scalar(1, a), VALS(0, -1, -3), 3, 0, 0);
  assert_vals(nb_mul_scalar(a, -2), VALS(-2, -4, -8), 3, 0, 0);
  assert_vals(nb_div_scalar(a, 4), VALS(0.25, 0.5, 1), 3, 0, 0);
  assert_vals(nb_rdiv_scalar(4, a), VALS(4, 2, 1), 3, 0, 0);
  ck_assert_int_eq(nb_dtype_of(nb_mul_scalar(a, 2)), NB_F32);
}
END_TEST

/* int64: add, sub, mul exact (and wrap around like PyTorch on overflow). */
START_TEST(forward_int64) {
  nb_tensor *a = MK(NB_I64, SHAPE(3), 1, VALS(7, -3, 100)),
            *b = MK(NB_I64, SHAPE(3), 1, VALS(2, 5, -7));
  nb_tensor *y = nb_add(a, b);
  ck_assert_int_eq(nb_dtype_of(y), NB_I64);
  assert_vals(y, VALS(9, 2, 93), 3, 0, 0);
  assert_vals(nb_sub(a, b), VALS(5, -8, 107), 3, 0, 0);
  assert_vals(nb_mul(a, b), VALS(14, -15, -700), 3, 0, 0);
  int64_t big[] = {INT64_MAX};
  nb_tensor *m = nb_from_data(big, 1, SHAPE(1), NB_I64);
  nb_tensor *w = nb_add(m, nb_from_data((int64_t[]){1}, 1, SHAPE(1), NB_I64));
  ck_assert(w != NULL);
  ck_assert(*(int64_t *)nb_data(w) == INT64_MIN);
  /* div and pow are floating only: the schema names the accepted dtypes */
  ck_assert(nb_div(a, b) == NULL);
  ck_assert_int_eq(nb_last_status(), NB_EDTYPE);
  ck_assert_error_contains("int64");
}
END_TEST

/* Comparisons give bool tensors, broadcast, and accept inputs that require grad. */
START_TEST(comparisons) {
  nb_tensor *a = leaf(MK(NB_F32, SHAPE(2, 3), 2, VALS(1, 2, 3, 4, 5, 6)));
  nb_tensor *b = MK(NB_F32, SHAPE(3), 1, VALS(2, 2, 7));
  nb_tensor *e = nb_eq(a, b), *g = nb_gt(a, b), *l = nb_lt(a, b);
  ck_assert_msg(e && g && l, "%s", nb_last_error());
  ck_assert_int_eq(nb_dtype_of(e), NB_BOOL);
  assert_shape(g, 2, SHAPE(2, 3));
  assert_vals(e, VALS(0, 1, 0, 0, 0, 0), 6, 0, 0);
  assert_vals(g, VALS(0, 0, 0, 1, 1, 0), 6, 0, 0);
  assert_vals(l, VALS(1, 0, 1, 0, 0, 1), 6, 0, 0);
  ck_assert(!nb_requires_grad(e) && nb_grad_fn(g) == NULL);
  nb_tensor *i = MK(NB_I64, SHAPE(2), 1, VALS(3, -1));
  assert_vals(nb_gt(i, nb_scalar(0, NB_I64)), VALS(1, 0), 2, 0, 0);
  nb_tensor *n = MK(NB_F64, SHAPE(1), 1, VALS(NAN));
  assert_vals(nb_eq(n, n), VALS(0), 1, 0, 0);
}
END_TEST

/* Gradients with an external output gradient G, broadcasting [2,3] op [3]. */
START_TEST(grad_broadcast) {
  const double a6[] = {1, 2, 3, 4, 5, 6}, b3[] = {0.5, -2, 4}, g6[] = {1, -1, 2, 0.5, 3, -2};
  for (int op = 0; op < 4; op++) {
    nb_tensor *a = leaf(MK(NB_F64, SHAPE(2, 3), 2, a6)), *b = leaf(MK(NB_F64, SHAPE(3), 1, b3));
    nb_tensor *y = BIN[op].op(a, b);
    backward_with(y, MK(NB_F64, SHAPE(2, 3), 2, g6));
    nb_tensor *ga = nb_grad(a), *gb = nb_grad(b);
    assert_shape(ga, 2, SHAPE(2, 3));
    assert_shape(gb, 1, SHAPE(3));
    double wa[6], wb[3] = {0, 0, 0};
    for (int k = 0; k < 6; k++) {
      double A = a6[k], B = b3[k % 3], G = g6[k], da, db;
      switch (op) {
      case 0: da = G, db = G; break;
      case 1: da = G, db = -G; break;
      case 2: da = G * B, db = G * A; break;
      default: da = G / B, db = -G * A / (B * B); break;
      }
      wa[k] = da;
      wb[k % 3] += db;
    }
    assert_vals(ga, wa, 6, 1e-15, 1e-14);
    assert_vals(gb, wb, 3, 1e-15, 1e-14);
  }
}
END_TEST

/* [2,1] * [1,3]: both gradients are sums over the broadcast dimension. */
START_TEST(grad_broadcast_both) {
  nb_tensor *c = leaf(MK(NB_F64, SHAPE(2, 1), 2, VALS(2, 3)));
  nb_tensor *r = leaf(MK(NB_F64, SHAPE(1, 3), 2, VALS(1, 10, 100)));
  backward_with(nb_mul(c, r), nb_ones(2, SHAPE(2, 3), NB_F64));
  assert_shape(nb_grad(c), 2, SHAPE(2, 1));
  assert_shape(nb_grad(r), 2, SHAPE(1, 3));
  assert_vals(nb_grad(c), VALS(111, 111), 2, 0, 0);
  assert_vals(nb_grad(r), VALS(5, 5, 5), 3, 0, 0);
  /* a 0-d operand's gradient is the sum of everything */
  nb_tensor *s = leaf(nb_scalar(3, NB_F32)), *v = MK(NB_F32, SHAPE(4), 1, VALS(1, 2, 3, 4));
  backward_with(nb_mul(v, s), nb_ones(1, SHAPE(4), NB_F32));
  assert_shape(nb_grad(s), 0, NULL);
  ck_assert_double_eq(nb_item(nb_grad(s)), 10);
}
END_TEST

/* d(a*b)/da = b, d(a*b)/db = a at a chosen point; only requested gradients exist. */
START_TEST(grad_mul_point) {
  nb_tensor *a = leaf(nb_scalar(3, NB_F64)), *b = nb_scalar(-7, NB_F64);
  nb_tensor *y = nb_mul(a, b);
  ck_assert_str_eq(nb_node_name(nb_grad_fn(y)), "MulBackward");
  ck_assert(nb_node_next(nb_grad_fn(y), 1, NULL) == NULL);
  ck_assert_int_eq(nb_backward(y, NULL, 0), 0);
  ck_assert_double_eq(nb_item(nb_grad(a)), -7);
  ck_assert(nb_grad(b) == NULL);
}
END_TEST

/* pow: tensor ** tensor, tensor ** scalar and scalar ** tensor all record PowBackward. */
START_TEST(pow_three_forms) {
  /* d(a^3)/da = 3a^2 */
  nb_tensor *a = leaf(MK(NB_F64, SHAPE(3), 1, VALS(2, -1.5, 0.5)));
  nb_tensor *y = nb_pow_scalar(a, 3);
  ck_assert_str_eq(nb_node_name(nb_grad_fn(y)), "PowBackward");
  assert_vals(y, VALS(8, -3.375, 0.125), 3, 0, 1e-15);
  backward_with(y, nb_ones(1, SHAPE(3), NB_F64));
  assert_vals(nb_grad(a), VALS(12, 6.75, 0.75), 3, 0, 1e-15);

  /* x ** 2 (square path) */
  nb_tensor *x = leaf(MK(NB_F32, SHAPE(2), 1, VALS(3, -0.5)));
  y = nb_pow_scalar(x, 2);
  assert_vals(y, VALS(9, 0.25), 2, 0, 0);
  backward_with(y, nb_ones(1, SHAPE(2), NB_F32));
  assert_vals(nb_grad(x), VALS(6, -1), 2, 0, 1e-6);

  /* d(2^e)/de = 2^e ln 2 */
  nb_tensor *e = leaf(MK(NB_F64, SHAPE(3), 1, VALS(0, 1, -2)));
  y = nb_rpow_scalar(2, e);
  ck_assert_str_eq(nb_node_name(nb_grad_fn(y)), "PowBackward");
  assert_vals(y, VALS(1, 2, 0.25), 3, 0, 1e-15);
  backward_with(y, nb_ones(1, SHAPE(3), NB_F64));
  assert_vals(nb_grad(e), VALS(log(2), 2 * log(2), 0.25 * log(2)), 3, 0, 1e-14);

  /* tensor ** tensor with broadcasting: d/da = b a^(b-1), d/db = a^b ln a */
  nb_tensor *p = leaf(MK(NB_F64, SHAPE(2, 2), 2, VALS(0.5, 2, 1.5, 3)));
  nb_tensor *q = leaf(MK(NB_F64, SHAPE(2), 1, VALS(2, -0.5)));
  y = nb_pow(p, q);
  ck_assert_str_eq(nb_node_name(nb_grad_fn(y)), "PowBackward");
  backward_with(y, nb_ones(2, SHAPE(2, 2), NB_F64));
  const double P[] = {0.5, 2, 1.5, 3}, Q[] = {2, -0.5};
  double wp[4], wq[2] = {0, 0};
  for (int k = 0; k < 4; k++) {
    wp[k] = Q[k % 2] * pow(P[k], Q[k % 2] - 1);
    wq[k % 2] += pow(P[k], Q[k % 2]) * log(P[k]);
  }
  assert_vals(nb_grad(p), wp, 4, 0, 1e-14);
  assert_vals(nb_grad(q), wq, 2, 0, 1e-14);
}
END_TEST

/* PyTorch's masks: d/da = 0 where b == 0 (even at a == 0); d/db = 0 where a == 0, b >= 0. */
START_TEST(pow_masks) {
  nb_tensor *a = leaf(MK(NB_F64, SHAPE(3), 1, VALS(0, 0, 2)));
  nb_tensor *b = leaf(MK(NB_F64, SHAPE(3), 1, VALS(0, 2, 0)));
  nb_tensor *y = nb_pow(a, b);
  assert_vals(y, VALS(1, 0, 1), 3, 0, 0);
  backward_with(y, nb_ones(1, SHAPE(3), NB_F64));
  assert_vals(nb_grad(a), VALS(0, 0, 0), 3, 0, 0);
  assert_vals(nb_grad(b), VALS(0, 0, log(2)), 3, 0, 1e-15);
  /* a == 0 with a negative exponent is not masked: 0^-1 * log 0 = -inf * inf */
  nb_tensor *z = leaf(MK(NB_F64, SHAPE(1), 1, VALS(0)));
  nb_tensor *m = leaf(MK(NB_F64, SHAPE(1), 1, VALS(-1)));
  backward_with(nb_pow(z, m), nb_ones(1, SHAPE(1), NB_F64));
  ck_assert(isinf(nb_item(nb_grad(m))));
}
END_TEST

/* Operands must have the same dtype; the message names the op and both dtypes. */
START_TEST(error_dtype_mismatch) {
  nb_tensor *a = MK(NB_F32, SHAPE(2, 3), 2, A6), *b = MK(NB_F64, SHAPE(3), 1, B6);
  for (int op = 0; op < 5; op++) {
    nb_clear_error();
    ck_assert(BIN[op].op(a, b) == NULL);
    ck_assert_int_eq(nb_last_status(), NB_EDTYPE);
    ck_assert_error_contains(BIN[op].name);
    ck_assert_error_contains("float32");
    ck_assert_error_contains("float64");
  }
  ck_assert(nb_lt(a, b) == NULL);
  ck_assert_error_contains("lt");
  ck_assert_error_contains("float64");
}
END_TEST

/* Shapes that cannot be broadcast: the message names both shapes. */
START_TEST(error_shapes) {
  nb_tensor *a = MK(NB_F32, SHAPE(2, 3), 2, A6), *b = MK(NB_F32, SHAPE(4), 1, VALS(1, 2, 3, 4));
  ck_assert(nb_mul(a, b) == NULL);
  ck_assert_int_eq(nb_last_status(), NB_ESHAPE);
  ck_assert_error_contains("mul");
  ck_assert_error_contains("[2,3]");
  ck_assert_error_contains("[4]");
  ck_assert(nb_gt(b, a) == NULL);
  ck_assert_error_contains("gt");
  ck_assert_error_contains("[2,3]");
}
END_TEST

/* Strided inputs (a transposed view) and tensors large enough to run in parallel. */
START_TEST(strided_and_large) {
  nb_tensor *base = MK(NB_F64, SHAPE(2, 3), 2, VALS(1, 2, 3, 4, 5, 6));
  nb_tensor *t = nb_as_strided(base, 2, SHAPE(3, 2), SHAPE(1, 3), 0); /* base transposed */
  nb_tensor *y = nb_add(t, MK(NB_F64, SHAPE(3, 2), 2, VALS(10, 20, 30, 40, 50, 60)));
  assert_vals(y, VALS(11, 24, 32, 45, 53, 66), 6, 0, 0);

  int64_t n = 100003;
  nb_tensor *a = nb_arange(0, (double)n, 1, NB_F32), *b = nb_arange(0, (double)n, 1, NB_F32);
  y = nb_mul(a, nb_add_scalar(b, 1));
  ck_assert(y != NULL);
  const float *py = nb_data(y);
  for (int64_t k = 0; k < n; k += 997) ck_assert_float_eq(py[k], (float)k * (float)(k + 1));
  ck_assert_float_eq(py[n - 1], (float)(n - 1) * (float)n);

  /* [300,200] * [200] goes through nb_iter split over threads */
  nb_tensor *m =
      nb_as_strided(nb_arange(0, 60000, 1, NB_F64), 2, SHAPE(300, 200), SHAPE(200, 1), 0);
  nb_tensor *r = nb_arange(0, 200, 1, NB_F64);
  ck_assert_msg(m && r, "%s", nb_last_error());
  y = nb_sub(m, r);
  const double *pd = nb_data(y);
  for (int64_t k = 0; k < 60000; k += 611)
    ck_assert_double_eq(pd[k], (double)k - (double)(k % 200));
  /* the same through a transposed (non-contiguous) view */
  nb_tensor *mt = nb_as_strided(m, 2, SHAPE(200, 300), SHAPE(1, 200), 0);
  y = nb_mul(mt, nb_scalar(2, NB_F64));
  pd = nb_data(y);
  for (int64_t i = 0; i < 200; i += 7)
    for (int64_t j = 0; j < 300; j += 13) ck_assert_double_eq(pd[i * 300 + j], 2.0 * (j * 200 + i));
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("elementwise_binary");
  TCase *tc = tcase_create("binary");
  tcase_add_checked_fixture(tc, ew_setup, ew_teardown);
  tcase_add_loop_test(tc, forward_same_shape, 0, 5);
  tcase_add_test(tc, forward_broadcast);
  tcase_add_test(tc, forward_scalars);
  tcase_add_test(tc, forward_int64);
  tcase_add_test(tc, comparisons);
  tcase_add_test(tc, grad_broadcast);
  tcase_add_test(tc, grad_broadcast_both);
  tcase_add_test(tc, grad_mul_point);
  tcase_add_test(tc, pow_three_forms);
  tcase_add_test(tc, pow_masks);
  tcase_add_test(tc, error_dtype_mismatch);
  tcase_add_test(tc, error_shapes);
  tcase_add_test(tc, strided_and_large);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(suite()); }
