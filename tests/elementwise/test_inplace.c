/* test_inplace.c — add_, sub_, mul_, div_, exp_, relu_, zero_, fill_: values, a version
 * bump of exactly one per call, broadcasting of `other` into self's fixed shape, the leaf
 * rule (spec item 20), node names, and gradients through in-place updates (mul_ keeps
 * self's original values for other's gradient). */
#include "ewtest.h"

typedef nb_tensor *(*binop)(nb_tensor *, nb_tensor *);

/* self op= other with other broadcast; returns self itself and bumps its version once. */
START_TEST(binary_values_and_version) {
  static const struct {
    binop op;
    double want[6];
  } cases[] = {
      {nb_add_, {11, 22, 33, 14, 25, 36}},
      {nb_sub_, {-9, -18, -27, -6, -15, -24}},
      {nb_mul_, {10, 40, 90, 40, 100, 180}},
      {nb_div_, {0.1, 0.1, 0.1, 0.4, 0.25, 0.2}},
  };
  for (int k = 0; k < 4; k++) {
    for (int dt = NB_F32; dt <= NB_F64; dt++) {
      nb_tensor *a = MK(dt, SHAPE(2, 3), 2, VALS(1, 2, 3, 4, 5, 6));
      nb_tensor *b = MK(dt, SHAPE(3), 1, VALS(10, 20, 30));
      uint32_t v0 = nb_version(a), vb = nb_version(b);
      nb_tensor *r = cases[k].op(a, b);
      ck_assert_msg(r != NULL, "case %d: %s", k, nb_last_error());
      ck_assert(nb_shares_storage(r, a));
      assert_shape(a, 2, SHAPE(2, 3));
      ck_assert_uint_eq(nb_version(a), v0 + 1);
      ck_assert_uint_eq(nb_version(b), vb);
      assert_vals(a, cases[k].want, 6, 0, dt == NB_F32 ? 1e-7 : 1e-16);
    }
  }
  /* scalar forms and int64 */
  nb_tensor *i = MK(NB_I64, SHAPE(3), 1, VALS(1, 2, 3));
  ck_assert(nb_add_scalar_(i, 5) != NULL);
  ck_assert(nb_mul_scalar_(i, -2) != NULL);
  assert_vals(i, VALS(-12, -14, -16), 3, 0, 0);
  ck_assert_uint_eq(nb_version(i), 2);
}
END_TEST

/* self's shape never changes: other must broadcast to it. */
START_TEST(binary_shape_errors) {
  nb_tensor *a = MK(NB_F32, SHAPE(3), 1, VALS(1, 2, 3));
  nb_tensor *b = MK(NB_F32, SHAPE(2, 3), 2, VALS(1, 2, 3, 4, 5, 6));
  ck_assert(nb_add_(a, b) == NULL);
  ck_assert_int_eq(nb_last_status(), NB_ESHAPE);
  ck_assert_error_contains("add_");
  ck_assert_error_contains("[3]");
  ck_assert_error_contains("[2,3]");
  assert_vals(a, VALS(1, 2, 3), 3, 0, 0);
  ck_assert(nb_mul_(b, MK(NB_F32, SHAPE(2), 1, VALS(1, 2))) == NULL);
  ck_assert_error_contains("mul_");
  ck_assert_error_contains("[2]");
  ck_assert(nb_sub_(a, MK(NB_F64, SHAPE(3), 1, VALS(1, 2, 3))) == NULL);
  ck_assert_int_eq(nb_last_status(), NB_EDTYPE);
  ck_assert_error_contains("float32");
  ck_assert_error_contains("float64");
}
END_TEST

/* Spec item 20: in place on a leaf that requires grad fails in grad mode, works under
 * no_grad (how optimizers update parameters). */
START_TEST(leaf_rule) {
  nb_tensor *w = leaf(MK(NB_F64, SHAPE(2), 1, VALS(1, 2)));
  ck_assert(nb_add_scalar_(w, 1) == NULL);
  ck_assert_error_contains("leaf");
  ck_assert(nb_exp_(w) == NULL);
  ck_assert(nb_zero_(w) == NULL);
  assert_vals(w, VALS(1, 2), 2, 0, 0);
  ck_assert_int_eq(nb_no_grad_begin(), 0);
  ck_assert(nb_mul_scalar_(w, 3) != NULL);
  ck_assert(nb_fill_(w, 7) != NULL);
  ck_assert_int_eq(nb_no_grad_end(), 0);
  assert_vals(w, VALS(7, 7), 2, 0, 0);
  ck_assert(nb_is_leaf(w) && nb_requires_grad(w));
}
END_TEST

/* add_/sub_ gradients: self gets G, other gets +-G summed over the broadcast rows. */
START_TEST(grad_add_sub) {
  for (int k = 0; k < 2; k++) {
    nb_tensor *x = leaf(MK(NB_F64, SHAPE(2, 3), 2, VALS(1, 2, 3, 4, 5, 6)));
    nb_tensor *o = leaf(MK(NB_F64, SHAPE(3), 1, VALS(1, 1, 1)));
    nb_tensor *y = nb_mul_scalar(x, 1);
    nb_tensor *r = k == 0 ? nb_add_(y, o) : nb_sub_(y, o);
    ck_assert(r != NULL);
    ck_assert_str_eq(nb_node_name(nb_grad_fn(y)), k == 0 ? "AddBackward" : "SubBackward");
    backward_with(y, MK(NB_F64, SHAPE(2, 3), 2, VALS(1, 2, 3, 4, 5, 6)));
    assert_vals(nb_grad(x), VALS(1, 2, 3, 4, 5, 6), 6, 0, 0);
    double s = k == 0 ? 1 : -1;
    assert_vals(nb_grad(o), VALS(5 * s, 7 * s, 9 * s), 3, 0, 0);
  }
}
END_TEST

/* mul_: self's gradient is G * other, other's is G * (self before the update). */
START_TEST(grad_mul) {
  nb_tensor *x = leaf(MK(NB_F64, SHAPE(3), 1, VALS(2, 3, 4)));
  nb_tensor *w = leaf(MK(NB_F64, SHAPE(3), 1, VALS(-1, 5, 0.5)));
  nb_tensor *y = nb_add_scalar(x, 1); /* 3, 4, 5 */
  ck_assert(nb_mul_(y, w) != NULL);
  ck_assert_str_eq(nb_node_name(nb_grad_fn(y)), "MulBackward");
  assert_vals(y, VALS(-3, 20, 2.5), 3, 0, 0);
  backward_with(y, MK(NB_F64, SHAPE(3), 1, VALS(1, 2, 3)));
  assert_vals(nb_grad(x), VALS(-1, 10, 1.5), 3, 0, 0);
  assert_vals(nb_grad(w), VALS(3, 8, 15), 3, 0, 0);

  /* other needs no gradient: only x's (restricted backward with fixed save slots too) */
  nb_tensor *x2 = leaf(MK(NB_F64, SHAPE(2), 1, VALS(1, 2)));
  nb_tensor *w2 = leaf(MK(NB_F64, SHAPE(2), 1, VALS(3, 4)));
  nb_tensor *y2 = nb_mul(nb_mul_scalar(x2, 1), w2);
  ck_assert_int_eq(nb_backward_inputs(y2, nb_ones(1, SHAPE(2), NB_F64), &w2, 1, 0), 0);
  assert_vals(nb_grad(w2), VALS(1, 2), 2, 0, 0);
  ck_assert(nb_grad(x2) == NULL);

  nb_tensor *x4 = leaf(MK(NB_F64, SHAPE(2), 1, VALS(1, 2)));
  nb_tensor *w4 = leaf(MK(NB_F64, SHAPE(2), 1, VALS(3, 4)));
  nb_tensor *y4 = nb_mul_scalar(x4, 1);
  ck_assert(nb_mul_(y4, w4) != NULL);
  ck_assert_int_eq(nb_backward_inputs(y4, nb_ones(1, SHAPE(2), NB_F64), &w4, 1, 0), 0);
  assert_vals(nb_grad(w4), VALS(1, 2), 2, 0, 0);
  ck_assert(nb_grad(x4) == NULL);

  /* y.mul_(y) (issue 15): the value saved as other was overwritten by the update, so
   * backward refuses with PyTorch's version error (the forward itself is fine) */
  nb_tensor *x3 = leaf(MK(NB_F64, SHAPE(2), 1, VALS(3, -1)));
  nb_tensor *y3 = nb_mul_scalar(x3, 1);
  ck_assert(nb_mul_(y3, y3) != NULL);
  assert_vals(y3, VALS(9, 1), 2, 0, 0);
  ck_assert_int_eq(nb_backward(y3, nb_ones(1, SHAPE(2), NB_F64), 0), NB_ESTATE);
  ck_assert_error_contains("modified by an inplace operation");
  ck_assert_error_contains("MulBackward");
  ck_assert(nb_grad(x3) == NULL);
  /* a view of y as other shares the version counter: refused too */
  nb_tensor *x5 = leaf(MK(NB_F64, SHAPE(2), 1, VALS(3, -1)));
  nb_tensor *y5 = nb_mul_scalar(x5, 1);
  ck_assert(nb_mul_(y5, nb_reshape(y5, 1, SHAPE(2))) != NULL);
  ck_assert_int_eq(nb_backward(y5, nb_ones(1, SHAPE(2), NB_F64), 0), NB_ESTATE);
  /* without grad mode nothing is saved and y.mul_(y) just squares */
  nb_tensor *y6 = MK(NB_F64, SHAPE(2), 1, VALS(3, -1));
  ck_assert(nb_mul_(y6, y6) != NULL);
  assert_vals(y6, VALS(9, 1), 2, 0, 0);
}
END_TEST

/* div_: self's gradient is G / other, other's is -G * self / other^2. */
START_TEST(grad_div) {
  nb_tensor *x = leaf(MK(NB_F32, SHAPE(2), 1, VALS(3, -4)));
  nb_tensor *w = leaf(MK(NB_F32, SHAPE(2), 1, VALS(2, 0.5)));
  nb_tensor *y = nb_mul_scalar(x, 1);
  ck_assert(nb_div_(y, w) != NULL);
  ck_assert_str_eq(nb_node_name(nb_grad_fn(y)), "DivBackward");
  backward_with(y, nb_ones(1, SHAPE(2), NB_F32));
  assert_vals(nb_grad(x), VALS(0.5, 2), 2, 0, 1e-7);
  assert_vals(nb_grad(w), VALS(-0.75, 16), 2, 0, 1e-7);
  /* y.div_(y): refused at backward like y.mul_(y) */
  nb_tensor *x2 = leaf(MK(NB_F32, SHAPE(2), 1, VALS(3, -4)));
  nb_tensor *y2 = nb_mul_scalar(x2, 1);
  ck_assert(nb_div_(y2, y2) != NULL);
  ck_assert_int_eq(nb_backward(y2, nb_ones(1, SHAPE(2), NB_F32), 0), NB_ESTATE);
  ck_assert_error_contains("DivBackward");
}
END_TEST

/* exp_ and relu_: values, node names, gradients from the saved result. */
START_TEST(grad_exp_relu) {
  nb_tensor *x = leaf(MK(NB_F64, SHAPE(3), 1, VALS(-1, 0, 2)));
  nb_tensor *y = nb_mul_scalar(x, 1);
  uint32_t v0 = nb_version(y);
  ck_assert(nb_exp_(y) != NULL);
  ck_assert_uint_eq(nb_version(y), v0 + 1);
  ck_assert_str_eq(nb_node_name(nb_grad_fn(y)), "ExpBackward");
  assert_vals(y, VALS(exp(-1), 1, exp(2)), 3, 0, 1e-15);
  backward_with(y, nb_ones(1, SHAPE(3), NB_F64));
  assert_vals(nb_grad(x), VALS(exp(-1), 1, exp(2)), 3, 0, 1e-15);

  nb_tensor *x2 = leaf(MK(NB_F32, SHAPE(4), 1, VALS(-1, 0, 2, 3)));
  nb_tensor *y2 = nb_mul_scalar(x2, 1);
  ck_assert(nb_relu_(y2) != NULL);
  ck_assert_str_eq(nb_node_name(nb_grad_fn(y2)), "ReluBackward");
  assert_vals(y2, VALS(0, 0, 2, 3), 4, 0, 0);
  backward_with(y2, MK(NB_F32, SHAPE(4), 1, VALS(5, 5, 5, 5)));
  assert_vals(nb_grad(x2), VALS(0, 0, 5, 5), 4, 0, 0); /* relu'(0) = 0 */

  /* the saved result is checked: another in-place change before backward fails */
  nb_tensor *x3 = leaf(MK(NB_F64, SHAPE(1), 1, VALS(1)));
  nb_tensor *y3 = nb_mul_scalar(x3, 1);
  ck_assert(nb_exp_(y3) != NULL);
  nb_tensor *z3 = nb_mul_scalar(y3, 2); /* uses y3 at its current version */
  ck_assert(nb_exp_(y3) != NULL);       /* bumps it again */
  ck_assert_int_lt(nb_backward(z3, NULL, 0), 0);
  ck_assert_error_contains("modified by an inplace operation");
}
END_TEST

/* zero_ and fill_: values (any dtype), version, zero gradient, node names. */
START_TEST(zero_fill) {
  nb_tensor *i = MK(NB_I64, SHAPE(3), 1, VALS(1, 2, 3));
  ck_assert(nb_fill_(i, -2.9) != NULL);
  assert_vals(i, VALS(-2, -2, -2), 3, 0, 0);
  ck_assert(nb_zero_(i) != NULL);
  assert_vals(i, VALS(0, 0, 0), 3, 0, 0);
  ck_assert_uint_eq(nb_version(i), 2);
  ck_assert(nb_fill_(i, 1e300) == NULL);
  ck_assert_error_contains("fill_");

  nb_tensor *x = leaf(MK(NB_F32, SHAPE(2), 1, VALS(1, 2)));
  nb_tensor *y = nb_mul_scalar(x, 3);
  ck_assert(nb_fill_(y, 0.5) != NULL);
  ck_assert_str_eq(nb_node_name(nb_grad_fn(y)), "FillBackward");
  assert_vals(y, VALS(0.5, 0.5), 2, 0, 0);
  nb_tensor *z = nb_mul(y, y);
  backward_with(z, nb_ones(1, SHAPE(2), NB_F32));
  assert_vals(nb_grad(x), VALS(0, 0), 2, 0, 0);

  nb_tensor *x2 = leaf(MK(NB_F64, SHAPE(2), 1, VALS(1, 2)));
  nb_tensor *y2 = nb_add_scalar(x2, 1);
  ck_assert(nb_zero_(y2) != NULL);
  ck_assert_str_eq(nb_node_name(nb_grad_fn(y2)), "ZeroBackward");
  backward_with(y2, nb_ones(1, SHAPE(2), NB_F64));
  assert_vals(nb_grad(x2), VALS(0, 0), 2, 0, 0);
  assert_shape(nb_grad(x2), 1, SHAPE(2));

  /* a strided view is filled in place, leaving the rest of its storage alone */
  nb_tensor *base = MK(NB_F64, SHAPE(2, 3), 2, VALS(1, 2, 3, 4, 5, 6));
  nb_tensor *col = nb_as_strided(base, 1, SHAPE(2), SHAPE(3), 1); /* base[:, 1] */
  ck_assert(nb_fill_(col, 9) != NULL);
  assert_vals(base, VALS(1, 9, 3, 4, 9, 6), 6, 0, 0);
  ck_assert_uint_eq(nb_version(base), 1); /* views share the counter */
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("elementwise_inplace");
  TCase *tc = tcase_create("inplace");
  tcase_add_checked_fixture(tc, ew_setup, ew_teardown);
  tcase_add_test(tc, binary_values_and_version);
  tcase_add_test(tc, binary_shape_errors);
  tcase_add_test(tc, leaf_rule);
  tcase_add_test(tc, grad_add_sub);
  tcase_add_test(tc, grad_mul);
  tcase_add_test(tc, grad_div);
  tcase_add_test(tc, grad_exp_relu);
  tcase_add_test(tc, zero_fill);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(suite()); }
