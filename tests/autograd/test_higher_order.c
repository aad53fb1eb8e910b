/* test_higher_order.c — NB_CREATE_GRAPH (spec/autograd.md item 30 and beyond): gradients
 * that require grad and differentiate again, to any order. Expected values are
 * closed-form derivatives. */
#include <math.h>
#include <string.h>

#include "testutil.h"

static void setup(void) { ck_assert_int_ge(nb_scope_begin(), 1); }
static void teardown(void) { nb_scope_end(); }

static nb_tensor *scalar_leaf(double v) {
  return nb_requires_grad_(nb_from_doubles((double[]){v}, 1, NB_F64));
}

/* d/dx of y (one element) w.r.t. x, recorded. */
static nb_tensor *d(nb_tensor *y, nb_tensor *x) {
  nb_tensor *g = NULL;
  ck_assert_msg(nb_autograd_grad(&y, NULL, 1, &x, 1, &g, NB_CREATE_GRAPH, false) == 0, "%s",
                nb_last_error());
  return g;
}

/* 30. y = x^3 at x = 3: dy/dx = 27 with a grad_fn, d2y/dx2 = 18 */
START_TEST(item30_cube) {
  nb_tensor *x = scalar_leaf(3);
  nb_tensor *y = nb_mul(nb_mul(x, x), x);
  nb_tensor *g = d(y, x);
  ck_assert(nb_grad_fn(g) != NULL && nb_requires_grad(g));
  ck_assert_double_eq_tol(nb_item(g), 27, 1e-12);
  ck_assert_int_eq(nb_backward(g, NULL, 0), 0);
  ck_assert_double_eq_tol(nb_item(nb_grad(x)), 18, 1e-12);
}
END_TEST

/* x^4 through pow with a scalar exponent: 4x^3, 12x^2, 24x, 24, then 0 */
START_TEST(pow_to_fourth_order) {
  for (double v = -1.5; v <= 2.0; v += 0.75) {
    nb_tensor *x = scalar_leaf(v);
    nb_tensor *y = nb_pow_scalar(x, 4);
    nb_tensor *g1 = d(y, x), *g2 = d(g1, x), *g3 = d(g2, x);
    ck_assert_double_eq_tol(nb_item(g1), 4 * v * v * v, 1e-12);
    ck_assert_double_eq_tol(nb_item(g2), 12 * v * v, 1e-12);
    ck_assert_double_eq_tol(nb_item(g3), 24 * v, 1e-12);
    ck_assert_double_eq_tol(nb_item(d(g3, x)), 24, 1e-12);
  }
}
END_TEST

/* nb_backward with NB_CREATE_GRAPH: .grad keeps its history; tanh(x)'' = -2 tanh (1 - tanh^2) */
START_TEST(backward_create_graph_grad_has_history) {
  nb_tensor *x = scalar_leaf(0.3);
  nb_tensor *y = nb_tanh(x);
  ck_assert_int_eq(nb_backward(y, NULL, NB_CREATE_GRAPH), 0);
  nb_tensor *g = nb_grad(x);
  ck_assert(nb_grad_fn(g) != NULL);
  double t = tanh(0.3);
  ck_assert_double_eq_tol(nb_item(g), 1 - t * t, 1e-12);
  nb_tensor *h = NULL;
  ck_assert_int_eq(nb_autograd_grad(&g, NULL, 1, &x, 1, &h, 0, false), 0);
  ck_assert_double_eq_tol(nb_item(h), -2 * t * (1 - t * t), 1e-12);
  nb_set_grad(x, NULL); /* .grad's graph reaches x: break the cycle, as in PyTorch */
}
END_TEST

/* Without the flag nothing records: the gradient is a plain tensor */
START_TEST(first_order_unchanged) {
  nb_tensor *x = scalar_leaf(2);
  nb_tensor *g = NULL, *y = nb_mul(x, x);
  ck_assert_int_eq(nb_autograd_grad(&y, NULL, 1, &x, 1, &g, 0, false), 0);
  ck_assert(!nb_requires_grad(g) && nb_grad_fn(g) == NULL);
}
END_TEST

/* Mixed partials and broadcasting: f = sum(a * b^2) with a [2,3], b [3];
 * df/db = sum_rows(2 a b), d/da of sum(df/db) = 2 b broadcast */
START_TEST(mixed_partials_with_broadcast) {
  nb_tensor *a = nb_requires_grad_(nb_from_doubles((double[]){1, 2, 3, 4, 5, 6}, 6, NB_F64));
  a = nb_reshape(a, 2, (int64_t[]){2, 3});
  nb_tensor *b = nb_requires_grad_(nb_from_doubles((double[]){0.5, -1, 2}, 3, NB_F64));
  nb_tensor *f = nb_sum(nb_mul(a, nb_mul(b, b)));
  nb_tensor *gb = d(f, b);
  double v[3];
  nb_to_doubles(gb, v, 3);
  ck_assert_double_eq_tol(v[0], 2 * 0.5 * (1 + 4), 1e-12);
  ck_assert_double_eq_tol(v[2], 2 * 2 * (3 + 6), 1e-12);
  nb_tensor *s = nb_sum(gb), *ga = NULL;
  ck_assert_int_eq(nb_autograd_grad(&s, NULL, 1, &a, 1, &ga, 0, false), 0);
  double w[6];
  nb_to_doubles(ga, w, 6);
  ck_assert_double_eq_tol(w[1], 2 * -1.0, 1e-12);
  ck_assert_double_eq_tol(w[5], 2 * 2.0, 1e-12);
}
END_TEST

/* An op without backward_graph reached under create_graph: an error naming it */
START_TEST(op_without_double_backward_is_named) {
  nb_tensor *x = nb_requires_grad_(nb_from_doubles((double[]){1, 2, 3}, 3, NB_F64));
  nb_tensor *y = nb_mul_scalar(x, 2);
  nb_tensor *z = nb_clone(y);
  nb_mul_scalar_(z, 3); /* in-place ops have no backward_graph */
  nb_tensor *s = nb_sum(z), *g = NULL;
  ck_assert_int_lt(nb_autograd_grad(&s, NULL, 1, &x, 1, &g, NB_CREATE_GRAPH, false), 0);
  ck_assert_error_contains("cannot be differentiated twice");
  ck_assert_error_contains("mul_");
}
END_TEST

/* linear and matmul save fixed slots: a backward restricted to the input, with the
 * weight also requiring grad, used to read the input where the weight belongs */
START_TEST(restricted_backward_reads_the_right_saved_tensor) {
  nb_tensor *x = nb_requires_grad_(nb_from_doubles((double[]){1, 2, 3, 4, 5, 6}, 6, NB_F64));
  x = nb_reshape(x, 2, (int64_t[]){2, 3});
  nb_tensor *w = nb_requires_grad_(nb_from_doubles((double[]){1, 0, -1}, 3, NB_F64));
  w = nb_reshape(w, 2, (int64_t[]){1, 3});
  nb_tensor *ys[2] = {nb_sum(nb_linear(x, w, NULL)), nb_sum(nb_matmul(x, nb_transpose(w, 0, 1)))};
  for (int k = 0; k < 2; k++) {
    nb_tensor *g = NULL;
    ck_assert_msg(nb_autograd_grad(&ys[k], NULL, 1, &x, 1, &g, 0, false) == 0, "%s", nb_last_error());
    double v[6];
    nb_to_doubles(g, v, 6);
    ck_assert_double_eq(v[0], 1);
    ck_assert_double_eq(v[2], -1);
    ck_assert_double_eq(v[5], -1);
  }
}
END_TEST

/* conv2d too: y = conv2d(x, [[2]]) with x = 1..6, restricted to x (dx = 2 everywhere),
 * then to w (dw = sum x = 21); both leaves require grad. */
START_TEST(restricted_conv2d_backward_reads_the_right_saved_tensor) {
  nb_tensor *x = nb_requires_grad_(nb_from_doubles((double[]){1, 2, 3, 4, 5, 6}, 6, NB_F64));
  nb_tensor *w = nb_requires_grad_(nb_from_doubles((double[]){2}, 1, NB_F64));
  nb_tensor *x4 = nb_reshape(x, 4, (int64_t[]){1, 1, 2, 3}), *w4 = nb_reshape(w, 4, (int64_t[]){1, 1, 1, 1});
  nb_tensor *y = nb_sum(nb_conv2d(x4, w4, NULL, NULL, NULL, NULL, 1)), *gx = NULL, *gw = NULL;
  ck_assert_msg(nb_autograd_grad(&y, NULL, 1, &x, 1, &gx, NB_RETAIN_GRAPH, false) == 0, "%s", nb_last_error());
  double v[6];
  nb_to_doubles(gx, v, 6);
  for (int i = 0; i < 6; i++) ck_assert_double_eq(v[i], 2);
  ck_assert_msg(nb_autograd_grad(&y, NULL, 1, &w, 1, &gw, 0, false) == 0, "%s", nb_last_error());
  nb_to_doubles(gw, v, 1);
  ck_assert_double_eq(v[0], 21);
}
END_TEST

/* embedding's double backward honours padding_idx: with L = sum(emb(idx, w) * c),
 * dL/dw = scatter of c's rows (none into the padding row), so
 * d(sum(dL/dw * r))/dc picks r's rows at idx, zero where idx is the padding index. */
START_TEST(embedding_double_backward_skips_the_padding_row) {
  nb_tensor *w = nb_requires_grad_(nb_reshape(nb_from_doubles((double[]){1, 2, 3, 4, 5, 6}, 6, NB_F64), 2,
                                              (int64_t[]){3, 2}));
  nb_tensor *c = nb_requires_grad_(nb_reshape(nb_from_doubles((double[]){1, 1, 1, 1, 1, 1}, 6, NB_F64), 2,
                                              (int64_t[]){3, 2}));
  nb_tensor *r = nb_reshape(nb_from_doubles((double[]){10, 20, 30, 40, 50, 60}, 6, NB_F64), 2, (int64_t[]){3, 2});
  nb_tensor *idx = nb_from_data((int64_t[]){2, 1, 2}, 1, (int64_t[]){3}, NB_I64);
  nb_tensor *L = nb_sum(nb_mul(nb_embedding(idx, w, 1), c)), *gw = NULL, *gc = NULL;
  ck_assert_msg(nb_autograd_grad(&L, NULL, 1, &w, 1, &gw, NB_CREATE_GRAPH, false) == 0, "%s", nb_last_error());
  nb_tensor *M = nb_sum(nb_mul(gw, r));
  ck_assert_msg(nb_autograd_grad(&M, NULL, 1, &c, 1, &gc, 0, false) == 0, "%s", nb_last_error());
  double v[6], want[6] = {50, 60, 0, 0, 50, 60};
  nb_to_doubles(gc, v, 6);
  for (int i = 0; i < 6; i++) ck_assert_double_eq(v[i], want[i]);
}
END_TEST

/* Autograd helpers on closed forms: f(a, b) = sum(a^2 b) with a, b of 2 elements */
static nb_tensor *f_a2b(nb_tensor *const *in, void *user) {
  (void)user;
  return nb_sum(nb_mul(nb_mul(in[0], in[0]), in[1]));
}

START_TEST(functional_helpers_closed_form) {
  nb_tensor *a = nb_from_doubles((double[]){1, 2}, 2, NB_F64);
  nb_tensor *b = nb_from_doubles((double[]){3, -1}, 2, NB_F64);
  nb_tensor *in[2] = {a, b}, *v[2] = {nb_from_doubles((double[]){1, 0}, 2, NB_F64),
                                       nb_from_doubles((double[]){0, 1}, 2, NB_F64)};
  nb_tensor *out, *r[4];
  double x[4];
  /* vjp: d/da = 2ab = [6, -4], d/db = a^2 = [1, 4] */
  ck_assert_int_eq(nb_vjp(f_a2b, NULL, 2, in, NULL, 0, &out, r), 0);
  ck_assert_double_eq(nb_item(out), 1 * 1 * 3 + 4 * -1);
  nb_to_doubles(r[0], x, 2);
  ck_assert_double_eq(x[0], 6);
  ck_assert_double_eq(x[1], -4);
  /* jvp: 2ab . va + a^2 . vb = 6 * 1 + 4 * 1 = 10 */
  ck_assert_msg(nb_jvp(f_a2b, NULL, 2, in, v, 0, &out, r) == 0, "%s", nb_last_error());
  ck_assert_double_eq_tol(nb_item(r[0]), 10, 1e-12);
  /* hvp: H = [[2b, 2a], [2a, 0]] (diagonal blocks); H v = [2b0 + 0, 0 + 2a1 ; 2a0 * 1, 0] */
  ck_assert_msg(nb_hvp(f_a2b, NULL, 2, in, v, 0, &out, r) == 0, "%s", nb_last_error());
  nb_to_doubles(r[0], x, 2);
  ck_assert_double_eq_tol(x[0], 6, 1e-12);
  ck_assert_double_eq_tol(x[1], 4, 1e-12);
  nb_to_doubles(r[1], x, 2);
  ck_assert_double_eq_tol(x[0], 2, 1e-12);
  ck_assert_double_eq_tol(x[1], 0, 1e-12);
  /* hessian block (a, b) = diag(2a) = [[2, 0], [0, 4]] */
  ck_assert_msg(nb_hessian(f_a2b, NULL, 2, in, r) == 0, "%s", nb_last_error());
  ck_assert_int_eq(nb_ndim(r[1]), 2);
  nb_to_doubles(r[1], x, 4);
  ck_assert_double_eq_tol(x[0], 2, 1e-12);
  ck_assert_double_eq_tol(x[1], 0, 1e-12);
  ck_assert_double_eq_tol(x[3], 4, 1e-12);
  /* jacobian of the sum is a row of 2ab and a^2 */
  ck_assert_msg(nb_jacobian(f_a2b, NULL, 2, in, r) == 0, "%s", nb_last_error());
  nb_to_doubles(r[1], x, 2);
  ck_assert_double_eq_tol(x[1], 4, 1e-12);
  /* the caller's tensors are left alone */
  ck_assert(!nb_requires_grad(a) && nb_grad(a) == NULL);
}
END_TEST

/* Anomaly detection: off, an Inf gradient passes silently (as in PyTorch); on, backward
 * stops at the node that produced it, naming its op, shapes and origin */
START_TEST(anomaly_detection_names_the_node) {
  nb_tensor *x = nb_requires_grad_(nb_from_doubles((double[]){0, 1}, 2, NB_F64));
  nb_tensor *y = nb_sum(nb_sqrt(x));
  ck_assert(nb_node_origin(nb_grad_fn(y)) == NULL);
  ck_assert_int_eq(nb_backward(y, NULL, 0), 0);
  ck_assert(isinf(nb_item(nb_sum(nb_grad(x)))));

  ck_assert(!nb_set_detect_anomaly(true));
  nb_tensor *z = nb_mul_scalar(x, 1);
  NB_ANOMALY_HERE();
  nb_tensor *r = nb_sqrt(z);
  nb_anomaly_label("the loss");
  y = nb_sum(r);
  ck_assert_str_eq(nb_node_origin(nb_grad_fn(y)), "the loss");
  ck_assert_int_lt(nb_backward(y, NULL, 0), 0);
  ck_assert_error_contains("anomaly detected: SqrtBackward returned Inf");
  ck_assert_error_contains("sqrt(input [2] float64)");
  ck_assert_error_contains("test_higher_order.c:");
  ck_assert_error_contains("1 of 2 elements, first at flat index 0");
  nb_anomaly_label(NULL);
  ck_assert(nb_set_detect_anomaly(false));
}
END_TEST

int main(void) {
  Suite *s = suite_create("higher_order");
  TCase *tc = tcase_create("create_graph");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, item30_cube);
  tcase_add_test(tc, pow_to_fourth_order);
  tcase_add_test(tc, backward_create_graph_grad_has_history);
  tcase_add_test(tc, first_order_unchanged);
  tcase_add_test(tc, mixed_partials_with_broadcast);
  tcase_add_test(tc, op_without_double_backward_is_named);
  tcase_add_test(tc, restricted_backward_reads_the_right_saved_tensor);
  tcase_add_test(tc, restricted_conv2d_backward_reads_the_right_saved_tensor);
  tcase_add_test(tc, embedding_double_backward_skips_the_padding_row);
  tcase_add_test(tc, functional_helpers_closed_form);
  tcase_add_test(tc, anomaly_detection_names_the_node);
  suite_add_tcase(s, tc);
  return nb_test_run(s);
}
