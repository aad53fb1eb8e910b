/* test_autograd.c — spec/autograd.md items 1-27 and 31, one test (or more) per item.
 * Expected values are closed-form derivatives; messages are PyTorch's, worded for C. */
#include <string.h>

#include "testutil.h"

static nb_tensor *vec(int n, const double *v) { return nb_from_doubles(v, n, NB_F32); }
static nb_tensor *v2(double a, double b) { return vec(2, (double[]){a, b}); }
static nb_tensor *leaf2(double a, double b) { return nb_requires_grad_(v2(a, b)); }

static void setup(void) { ck_assert_int_ge(nb_scope_begin(), 1); }
static void teardown(void) { nb_scope_end(); }

/* 1. output requires grad iff grad mode is on and some input requires grad */
START_TEST(item01_requires_grad_rule) {
  nb_tensor *a = leaf2(1, 2), *b = v2(3, 4);
  ck_assert(nb_requires_grad(nb_mul(a, b)));
  ck_assert(nb_grad_fn(nb_mul(a, b)) != NULL);
  ck_assert(!nb_requires_grad(nb_mul(b, b)));
  ck_assert(nb_grad_fn(nb_mul(b, b)) == NULL);
  nb_no_grad_begin();
  nb_tensor *c = nb_mul(a, b);
  nb_no_grad_end();
  ck_assert(!nb_requires_grad(c) && nb_grad_fn(c) == NULL);
}
END_TEST

/* 2. leaf iff no grad_fn; every non-leaf requires grad */
START_TEST(item02_leaves) {
  nb_tensor *a = leaf2(1, 2), *b = v2(3, 4);
  ck_assert(nb_is_leaf(a) && nb_is_leaf(b));
  nb_tensor *c = nb_add(a, b);
  ck_assert(!nb_is_leaf(c) && nb_requires_grad(c));
  ck_assert(nb_is_leaf(nb_add(b, b)));
}
END_TEST

/* 3. requires_grad on a non-leaf is an error */
START_TEST(item03_nonleaf_requires_grad) {
  nb_tensor *c = nb_mul_scalar(leaf2(1, 2), 2);
  ck_assert_int_lt(nb_set_requires_grad(c, false), 0);
  ck_assert_error_contains("only leaf tensors can change requires_grad");
  ck_assert_int_lt(nb_set_requires_grad(c, true), 0);
}
END_TEST

/* 4. integer tensors cannot require grad */
START_TEST(item04_integer_requires_grad) {
  int64_t n = 3;
  nb_tensor *i = nb_zeros(1, &n, NB_I64);
  ck_assert_int_eq(nb_set_requires_grad(i, true), NB_EDTYPE);
  ck_assert_error_contains("only floating tensors can require gradients");
  ck_assert(!nb_requires_grad(i));
}
END_TEST

/* 5. next functions: one per input, in order */
START_TEST(item05_next_functions) {
  nb_tensor *a = leaf2(1, 2), *b = v2(3, 4);
  nb_tensor *c = nb_mul(a, b);
  nb_node *n = nb_grad_fn(c);
  ck_assert_str_eq(nb_node_name(n), "MulBackward");
  ck_assert_int_eq(nb_node_num_next(n), 2);
  int nr = -1;
  nb_node *acc = nb_node_next(n, 0, &nr);
  ck_assert_str_eq(nb_node_name(acc), "AccumulateGrad");
  ck_assert_ptr_eq(nb_node_variable(acc), a);
  ck_assert_int_eq(nr, 0);
  ck_assert_ptr_null(nb_node_next(n, 1, &nr));
  nb_tensor *d = nb_add(b, c);
  nb_node *m = nb_grad_fn(d);
  ck_assert_str_eq(nb_node_name(m), "AddBackward");
  ck_assert_ptr_null(nb_node_next(m, 0, NULL));
  ck_assert_ptr_eq(nb_node_next(m, 1, &nr), n);
  ck_assert_int_eq(nr, 0);
  /* the same accumulator is reached from every use of the leaf */
  ck_assert_ptr_eq(nb_node_next(nb_grad_fn(nb_mul(a, a)), 1, NULL), acc);
}
END_TEST

/* 6. only leaves that require grad get .grad; non-leaves only with retain_grad */
START_TEST(item06_only_leaves_get_grad) {
  nb_tensor *a = leaf2(1, 2), *b = v2(3, 4);
  nb_tensor *c = nb_mul(a, b), *d = nb_mul_scalar(c, 2), *e = nb_mul_scalar(c, 3);
  ck_assert_int_eq(nb_retain_grad(e), 0);
  nb_tensor *s = nb_add(nb_sum(d), nb_sum(e));
  ck_assert_int_eq(nb_backward(s, NULL, 0), 0);
  ck_assert_ptr_nonnull(nb_grad(a));
  ck_assert_ptr_null(nb_grad(b));
  ck_assert_ptr_null(nb_grad(c));
  ck_assert_ptr_null(nb_grad(d));
  ck_assert_tensor_values(nb_grad(e), ((double[]){1, 1}), 2, 0);
  ck_assert_tensor_values(nb_grad(a), ((double[]){15, 20}), 2, 1e-6); /* 5 * b */
}
END_TEST

/* 7. .grad has the leaf's exact shape and dtype: broadcast dims summed back */
START_TEST(item07_grad_shape_dtype) {
  int64_t s23[2] = {2, 3}, s21[2] = {2, 1};
  nb_tensor *a = nb_requires_grad_(nb_full(2, s23, 2.0, NB_F64));
  nb_tensor *b = nb_requires_grad_(nb_arange(1, 4, 1, NB_F64)); /* [1,2,3] */
  nb_tensor *c = nb_requires_grad_(nb_ones(2, s21, NB_F64));
  ck_assert_int_eq(nb_backward(nb_sum(nb_mul(nb_mul(a, b), c)), NULL, 0), 0);
  ck_assert(nb_ndim(nb_grad(b)) == 1 && nb_shape(nb_grad(b))[0] == 3);
  ck_assert_int_eq(nb_dtype_of(nb_grad(b)), NB_F64);
  ck_assert_tensor_values(nb_grad(b), ((double[]){4, 4, 4}), 3, 1e-12); /* sum over rows of a*c */
  ck_assert(nb_ndim(nb_grad(c)) == 2 && nb_shape(nb_grad(c))[0] == 2 && nb_shape(nb_grad(c))[1] == 1);
  ck_assert_tensor_values(nb_grad(c), ((double[]){12, 12}), 2, 1e-12); /* sum_j 2*b_j */
  ck_assert(nb_same_shape(nb_grad(a), a));
}
END_TEST

/* 8 and 14. a second backward with retain_graph accumulates into the same buffer */
START_TEST(item08_retain_graph_accumulates) {
  nb_tensor *a = leaf2(2, 3);
  nb_tensor *q = nb_sum(nb_pow_scalar(a, 3));
  ck_assert_int_eq(nb_backward(q, NULL, NB_RETAIN_GRAPH), 0);
  nb_tensor *g = nb_grad(a);
  void *buf = nb_data(g);
  ck_assert_tensor_values(g, ((double[]){12, 27}), 2, 1e-5);
  ck_assert_int_eq(nb_backward(q, NULL, NB_RETAIN_GRAPH), 0);
  ck_assert_ptr_eq(nb_grad(a), g);
  ck_assert_ptr_eq(nb_data(nb_grad(a)), buf);
  ck_assert_tensor_values(nb_grad(a), ((double[]){24, 54}), 2, 1e-5);
}
END_TEST

/* 9. .grad never aliases the caller's external gradient */
START_TEST(item09_no_alias_of_external_grad) {
  nb_tensor *a = leaf2(1, 2), *g = v2(5, 6);
  ck_assert_int_eq(nb_backward(a, g, 0), 0); /* backward on the leaf itself */
  ck_assert(!nb_shares_storage(nb_grad(a), g));
  ck_assert_tensor_values(nb_grad(a), ((double[]){5, 6}), 2, 0);
  nb_tensor *b = leaf2(1, 2);
  ck_assert_int_eq(nb_backward(nb_add(b, v2(0, 0)), g, 0), 0); /* add passes grad through */
  ck_assert(!nb_shares_storage(nb_grad(b), g));
  nb_fill(g, 0);
  ck_assert_tensor_values(nb_grad(b), ((double[]){5, 6}), 2, 0);
}
END_TEST

/* 10. implicit gradient only for scalar outputs */
START_TEST(item10_implicit_grad_scalar_only) {
  nb_tensor *z = nb_mul_scalar(leaf2(1, 2), 2);
  ck_assert_int_lt(nb_backward(z, NULL, 0), 0);
  ck_assert_error_contains("grad can be implicitly created only for scalar outputs");
}
END_TEST

/* 11. an external gradient of the wrong shape names both shapes */
START_TEST(item11_wrong_grad_shape) {
  nb_tensor *z = nb_mul_scalar(leaf2(1, 2), 2);
  ck_assert_int_lt(nb_backward(z, vec(3, (double[]){1, 1, 1}), 0), 0);
  ck_assert_error_contains("[3]");
  ck_assert_error_contains("[2]");
}
END_TEST

/* 12. backward on something without grad_fn that does not require grad */
START_TEST(item12_no_grad_fn) {
  ck_assert_int_lt(nb_backward(nb_sum(v2(1, 2)), NULL, 0), 0);
  ck_assert_error_contains("element 0 of tensors does not require grad and does not have a grad_fn");
}
END_TEST

/* 13. second backward after saved tensors were freed */
START_TEST(item13_second_backward_fails) {
  nb_tensor *a = leaf2(1, 2);
  nb_tensor *q = nb_sum(nb_mul(a, a)); /* mul saves its inputs */
  ck_assert_int_eq(nb_backward(q, NULL, 0), 0);
  ck_assert_int_lt(nb_backward(q, NULL, 0), 0);
  ck_assert_error_contains("Trying to backward through the graph a second time");
  ck_assert_error_contains("NB_RETAIN_GRAPH");
  ck_assert_tensor_values(nb_grad(a), ((double[]){2, 4}), 2, 1e-6); /* unchanged */
}
END_TEST

static int calls;
static double seen[4];
static int record_hook(nb_tensor *g, nb_tensor **replace, void *user) {
  (void)replace;
  (void)user;
  nb_to_doubles(g, seen, nb_numel(g));
  calls++;
  return 0;
}

/* 15. a diamond sums before the hook runs, once */
START_TEST(item15_diamond_hook_once) {
  nb_tensor *x = leaf2(1, 2);
  nb_tensor *y = nb_mul_scalar(x, 2);
  calls = 0;
  ck_assert_int_gt(nb_register_hook(y, record_hook, NULL), 0);
  nb_tensor *z = nb_add(nb_mul_scalar(y, 3), nb_mul_scalar(y, 4));
  ck_assert_int_eq(nb_backward(z, v2(1, 1), 0), 0);
  ck_assert_int_eq(calls, 1);
  ck_assert_close(seen[0], 7, 1e-6, 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){14, 14}), 2, 1e-5);
  /* the same for a leaf */
  nb_tensor *l = leaf2(1, 1);
  calls = 0;
  ck_assert_int_gt(nb_register_hook(l, record_hook, NULL), 0);
  ck_assert_int_eq(nb_backward(nb_add(nb_mul_scalar(l, 2), nb_mul_scalar(l, 5)), v2(1, 1), 0), 0);
  ck_assert_int_eq(calls, 1);
  ck_assert_close(seen[1], 7, 1e-6, 0);
}
END_TEST

/* 16. backward restricted to given inputs */
START_TEST(item16_backward_inputs) {
  nb_tensor *a = leaf2(1, 2), *b = leaf2(3, 4);
  nb_tensor *z = nb_sum(nb_mul(a, b));
  ck_assert_int_eq(nb_backward_inputs(z, NULL, &a, 1, 0), 0);
  ck_assert_tensor_values(nb_grad(a), ((double[]){3, 4}), 2, 1e-6);
  ck_assert_ptr_null(nb_grad(b));
  /* autograd.grad touches no .grad */
  nb_tensor *c = leaf2(1, 2), *r = NULL;
  ck_assert_int_eq(nb_autograd_grad(&(nb_tensor *){nb_sum(nb_mul(c, b))}, NULL, 1, &c, 1, &r, 0, false), 0);
  ck_assert_tensor_values(r, ((double[]){3, 4}), 2, 1e-6);
  ck_assert_ptr_null(nb_grad(c));
}
END_TEST

/* 17. in-place bumps the version by one; views and detach share it */
START_TEST(item17_versions) {
  int64_t s[2] = {2, 2};
  nb_tensor *a = nb_ones(2, s, NB_F32);
  nb_tensor *v = nb_transpose(a, 0, 1), *d = nb_detach(a), *r = nb_reshape(a, 1, (int64_t[]){4});
  uint32_t v0 = nb_version(a);
  ck_assert_ptr_nonnull(nb_add_scalar_(a, 1));
  ck_assert_uint_eq(nb_version(a), v0 + 1);
  ck_assert_uint_eq(nb_version(v), v0 + 1);
  ck_assert_uint_eq(nb_version(d), v0 + 1);
  ck_assert_uint_eq(nb_version(r), v0 + 1);
  ck_assert_ptr_nonnull(nb_mul_scalar_(d, 2));
  ck_assert_uint_eq(nb_version(a), v0 + 2);
  ck_assert_tensor_values(a, ((double[]){4, 4, 4, 4}), 4, 0);
}
END_TEST

/* 18. modifying a saved tensor in place, then backward */
START_TEST(item18_modified_saved_tensor) {
  nb_tensor *a = leaf2(1, 2);
  nb_tensor *b = nb_mul_scalar(a, 2);
  nb_tensor *c = nb_mul(b, b); /* saves b */
  ck_assert_ptr_nonnull(nb_add_scalar_(b, 1));
  ck_assert_int_lt(nb_backward(nb_sum(c), NULL, 0), 0);
  ck_assert_error_contains("one of the variables needed for gradient computation has been "
                           "modified by an inplace operation");
  ck_assert_error_contains("is at version 1; expected version 0");
}
END_TEST

/* 19. in-place on a tensor nobody saved is fine */
START_TEST(item19_unsaved_inplace_ok) {
  nb_tensor *x = leaf2(1, 2);
  nb_tensor *y = nb_add_scalar(x, 1); /* add saves nothing */
  ck_assert_ptr_nonnull(nb_mul_scalar_(y, 3));
  ck_assert_str_eq(nb_node_name(nb_grad_fn(y)), "MulBackward");
  ck_assert_int_eq(nb_backward(nb_sum(y), NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){3, 3}), 2, 1e-6);
  ck_assert_tensor_values(y, ((double[]){6, 9}), 2, 1e-6);
}
END_TEST

/* 20. in-place on a leaf that requires grad: error in grad mode, fine under no_grad */
START_TEST(item20_inplace_leaf) {
  nb_tensor *p = leaf2(1, 2);
  ck_assert_ptr_null(nb_mul_scalar_(p, 2));
  ck_assert_error_contains("leaf tensor that requires grad");
  ck_assert_tensor_values(p, ((double[]){1, 2}), 2, 0);
  nb_no_grad_begin();
  ck_assert_ptr_nonnull(nb_mul_scalar_(p, 2));
  nb_no_grad_end();
  ck_assert_tensor_values(p, ((double[]){2, 4}), 2, 0);
  ck_assert(nb_is_leaf(p) && nb_requires_grad(p));
}
END_TEST

static int plus_two(nb_tensor *g, nb_tensor **replace, void *user) {
  (void)user;
  *replace = nb_add_scalar(g, 2);
  return 0;
}
static int times_ten(nb_tensor *g, nb_tensor **replace, void *user) {
  (void)user;
  *replace = nb_mul_scalar(g, 10);
  return 0;
}
static int keep(nb_tensor *g, nb_tensor **replace, void *user) {
  (void)g;
  (void)replace;
  ++*(int *)user;
  return 0;
}

/* 21. a hook returning nothing keeps the gradient; returning a tensor replaces it */
START_TEST(item21_hook_replaces) {
  nb_tensor *x = leaf2(1, 2);
  int n = 0;
  ck_assert_int_gt(nb_register_hook(x, keep, &n), 0);
  ck_assert_int_eq(nb_backward(nb_sum(nb_mul_scalar(x, 3)), NULL, 0), 0);
  ck_assert_int_eq(n, 1);
  ck_assert_tensor_values(nb_grad(x), ((double[]){3, 3}), 2, 1e-6);
  /* on an intermediate: replaced downstream; on the leaf: replaced in .grad */
  nb_tensor *a = leaf2(1, 2);
  nb_tensor *b = nb_mul_scalar(a, 3);
  ck_assert_int_gt(nb_register_hook(b, plus_two, NULL), 0);
  ck_assert_int_eq(nb_backward(nb_sum(b), NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(a), ((double[]){9, 9}), 2, 1e-6); /* (1 + 2) * 3 */
  nb_tensor *c = leaf2(1, 2);
  ck_assert_int_gt(nb_register_hook(c, plus_two, NULL), 0);
  ck_assert_int_eq(nb_backward(nb_sum(nb_mul_scalar(c, 3)), NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(c), ((double[]){5, 5}), 2, 1e-6); /* 3 + 2 */
}
END_TEST

/* 22. several hooks run in registration order, each seeing the previous change */
START_TEST(item22_hook_order) {
  nb_tensor *x = leaf2(1, 2), *y = leaf2(1, 2);
  nb_register_hook(x, plus_two, NULL);
  nb_register_hook(x, times_ten, NULL);
  nb_register_hook(y, times_ten, NULL);
  nb_register_hook(y, plus_two, NULL);
  ck_assert_int_eq(nb_backward(nb_sum(nb_add(x, y)), NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){30, 30}), 2, 1e-6); /* (1+2)*10 */
  ck_assert_tensor_values(nb_grad(y), ((double[]){12, 12}), 2, 1e-6); /* 1*10+2 */
}
END_TEST

/* 23. retain_grad stores the gradient after all hooks and accumulates */
START_TEST(item23_retain_grad_after_hooks) {
  nb_tensor *x = leaf2(1, 2);
  nb_tensor *y = nb_mul_scalar(x, 3);
  ck_assert_int_eq(nb_retain_grad(y), 0); /* registered before the hook */
  nb_register_hook(y, times_ten, NULL);
  nb_tensor *s = nb_sum(y);
  ck_assert_int_eq(nb_backward(s, NULL, NB_RETAIN_GRAPH), 0);
  ck_assert_tensor_values(nb_grad(y), ((double[]){10, 10}), 2, 1e-6);
  ck_assert_int_eq(nb_backward(s, NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(y), ((double[]){20, 20}), 2, 1e-6);
  ck_assert_tensor_values(nb_grad(x), ((double[]){60, 60}), 2, 1e-6);
}
END_TEST

static int wrong_shape(nb_tensor *g, nb_tensor **replace, void *user) {
  (void)g;
  (void)user;
  *replace = nb_zeros(1, (int64_t[]){3}, NB_F32);
  return 0;
}

/* 24. a hook returning another shape is an error; a removed hook no longer runs */
START_TEST(item24_hook_shape_and_removal) {
  nb_tensor *x = leaf2(1, 2);
  nb_register_hook(x, wrong_shape, NULL);
  ck_assert_int_lt(nb_backward(nb_sum(nb_mul_scalar(x, 2)), NULL, 0), 0);
  ck_assert_error_contains("[3]");
  nb_tensor *y = leaf2(1, 2);
  int n = 0;
  int64_t h = nb_register_hook(y, keep, &n);
  ck_assert_int_eq(nb_remove_hook(y, h), 0);
  ck_assert_int_eq(nb_remove_hook(y, h), NB_ENOTFOUND);
  ck_assert_int_eq(nb_backward(nb_sum(nb_mul_scalar(y, 2)), NULL, 0), 0);
  ck_assert_int_eq(n, 0);
}
END_TEST

/* 25. hooks and retain_grad need requires_grad */
START_TEST(item25_hook_needs_requires_grad) {
  nb_tensor *t = v2(1, 2);
  ck_assert_int_lt(nb_register_hook(t, keep, NULL), 0);
  ck_assert_error_contains("doesn't require gradient");
  ck_assert_int_lt(nb_retain_grad(t), 0);
  ck_assert_error_contains("requires_grad=False");
}
END_TEST

/* 26. no_grad results; nested enable_grad records again */
START_TEST(item26_no_grad_nesting) {
  nb_tensor *x = leaf2(1, 2);
  ck_assert(nb_is_grad_enabled());
  nb_no_grad_begin();
  nb_tensor *y = nb_mul_scalar(x, 2);
  nb_enable_grad_begin();
  nb_tensor *z = nb_mul_scalar(x, 2);
  nb_grad_mode_end();
  ck_assert(!nb_is_grad_enabled());
  nb_no_grad_end();
  ck_assert(nb_is_grad_enabled());
  ck_assert_int_eq(nb_grad_mode_end(), NB_ESTATE);
  ck_assert(!nb_requires_grad(y) && nb_grad_fn(y) == NULL);
  ck_assert(nb_requires_grad(z) && nb_grad_fn(z) != NULL);
  nb_tensor *w = nb_mul(y, x); /* y used later in grad mode */
  ck_assert_int_eq(nb_backward(nb_sum(w), NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){2, 4}), 2, 1e-6);
}
END_TEST

/* 27. detach: a leaf sharing storage and version counter */
START_TEST(item27_detach) {
  nb_tensor *y = nb_mul_scalar(leaf2(1, 2), 2);
  nb_tensor *d = nb_detach(y);
  ck_assert(nb_is_leaf(d) && !nb_requires_grad(d));
  ck_assert(nb_shares_storage(d, y));
  nb_add_scalar_(d, 1);
  ck_assert_uint_eq(nb_version(y), nb_version(d));
  ck_assert_tensor_values(y, ((double[]){3, 5}), 2, 0);
}
END_TEST

/* 28 (autograd part). frozen parameters get no grad */
START_TEST(item28_frozen_no_grad) {
  nb_tensor *w = leaf2(1, 2), *f = leaf2(3, 4);
  ck_assert_int_eq(nb_set_requires_grad(f, false), 0);
  ck_assert_int_eq(nb_backward(nb_sum(nb_mul(w, f)), NULL, 0), 0);
  ck_assert_ptr_null(nb_grad(f));
  ck_assert_tensor_values(nb_grad(w), ((double[]){3, 4}), 2, 0);
}
END_TEST

/* 31. non-differentiable points */
START_TEST(item31_kinks) {
  nb_tensor *x = nb_requires_grad_(vec(3, (double[]){-1, 0, 2}));
  ck_assert_int_eq(nb_backward(nb_sum(nb_relu(x)), NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){0, 0, 1}), 3, 0);
  nb_tensor *y = nb_requires_grad_(vec(3, (double[]){-1, 0, 2}));
  ck_assert_int_eq(nb_backward(nb_sum(nb_abs(y)), NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(y), ((double[]){-1, 0, 1}), 3, 0);
  nb_tensor *z = nb_requires_grad_(vec(2, (double[]){0, 4}));
  ck_assert_int_eq(nb_backward(nb_sum(nb_sqrt(z)), NULL, 0), 0);
  double g[2];
  nb_to_doubles(nb_grad(z), g, 2);
  ck_assert(isinf(g[0]) && g[0] > 0);
  ck_assert_close(g[1], 0.25, 1e-7, 0);
  /* max over ties splits evenly; max along a dim picks one index */
  nb_tensor *m = nb_requires_grad_(vec(3, (double[]){1, 3, 3}));
  ck_assert_int_eq(nb_backward(nb_max(m), NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(m), ((double[]){0, 0.5, 0.5}), 3, 1e-7);
  nb_tensor *k = nb_requires_grad_(nb_reshape(vec(4, (double[]){1, 5, 7, 2}), 2, (int64_t[]){2, 2}));
  nb_tensor *idx = NULL;
  nb_tensor *mx = nb_max_dim(k, 1, false, &idx);
  ck_assert_tensor_values(mx, ((double[]){5, 7}), 2, 0);
  ck_assert_tensor_values(idx, ((double[]){1, 0}), 2, 0);
  ck_assert_int_eq(nb_backward(nb_sum(mx), NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(k), ((double[]){0, 1, 1, 0}), 4, 0);
}
END_TEST

/* A long chain frees iteratively and one scoped training-like step leaks nothing. */
START_TEST(long_chain_and_no_leak) {
  int64_t before = nb_live_tensors();
  nb_scope_begin();
  nb_tensor *x = leaf2(1, 2);
  nb_tensor *y = x;
  for (int i = 0; i < 20000; i++) y = nb_mul_scalar(y, 1.0);
  ck_assert_int_eq(nb_backward(nb_sum(y), NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){1, 1}), 2, 1e-6);
  nb_scope_end();
  ck_assert_int_eq(nb_live_tensors(), before);
}
END_TEST

/* A failing op reports op, shapes and dtypes and leaves no graph behind. */
START_TEST(errors_name_op_and_shapes) {
  nb_tensor *a = leaf2(1, 2);
  ck_assert_ptr_null(nb_mul(a, vec(3, (double[]){1, 2, 3})));
  ck_assert_error_contains("mul");
  ck_assert_error_contains("[2]");
  ck_assert_error_contains("[3]");
  ck_assert_ptr_null(nb_mul(a, NULL));
  ck_assert_error_contains("mul");
  ck_assert_int_lt(nb_call("no_such_op", 1, &a, 0, NULL, 1, &(nb_tensor *){NULL}), 0);
  ck_assert_error_contains("no_such_op");
  /* a fractional scalar on an integer tensor is refused rather than truncated */
  nb_tensor *i = nb_from_doubles((double[]){1, 2}, 2, NB_I64);
  ck_assert_ptr_null(nb_mul_scalar(i, 0.5));
  ck_assert_error_contains("not an integer");
  ck_assert_tensor_values(nb_mul_scalar(i, 3), ((double[]){3, 6}), 2, 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("autograd");
  TCase *tc = tcase_create("spec");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, item01_requires_grad_rule);
  tcase_add_test(tc, item02_leaves);
  tcase_add_test(tc, item03_nonleaf_requires_grad);
  tcase_add_test(tc, item04_integer_requires_grad);
  tcase_add_test(tc, item05_next_functions);
  tcase_add_test(tc, item06_only_leaves_get_grad);
  tcase_add_test(tc, item07_grad_shape_dtype);
  tcase_add_test(tc, item08_retain_graph_accumulates);
  tcase_add_test(tc, item09_no_alias_of_external_grad);
  tcase_add_test(tc, item10_implicit_grad_scalar_only);
  tcase_add_test(tc, item11_wrong_grad_shape);
  tcase_add_test(tc, item12_no_grad_fn);
  tcase_add_test(tc, item13_second_backward_fails);
  tcase_add_test(tc, item15_diamond_hook_once);
  tcase_add_test(tc, item16_backward_inputs);
  tcase_add_test(tc, item17_versions);
  tcase_add_test(tc, item18_modified_saved_tensor);
  tcase_add_test(tc, item19_unsaved_inplace_ok);
  tcase_add_test(tc, item20_inplace_leaf);
  tcase_add_test(tc, item21_hook_replaces);
  tcase_add_test(tc, item22_hook_order);
  tcase_add_test(tc, item23_retain_grad_after_hooks);
  tcase_add_test(tc, item24_hook_shape_and_removal);
  tcase_add_test(tc, item25_hook_needs_requires_grad);
  tcase_add_test(tc, item26_no_grad_nesting);
  tcase_add_test(tc, item27_detach);
  tcase_add_test(tc, item28_frozen_no_grad);
  tcase_add_test(tc, item31_kinks);
  tcase_add_test(tc, long_chain_and_no_leak);
  tcase_add_test(tc, errors_name_op_and_shapes);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(suite()); }
