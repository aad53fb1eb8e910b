/* test_autograd_edges.c — regressions from the core review: hooks that change dtype,
 * restricted backward leaving other branches usable, failed in-place ops, in-place on
 * views, re-entrant backward, hook removal after in-place, freezing after forward,
 * duplicate inputs to autograd_grad, and graphs built from one leaf in two threads.
 * Expected values are closed-form; behaviours are PyTorch 2.x's. */
#include <pthread.h>

#include "testutil.h"

static nb_tensor *v2(double a, double b) { return nb_from_doubles((double[]){a, b}, 2, NB_F32); }
static nb_tensor *leaf2(double a, double b) { return nb_requires_grad_(v2(a, b)); }

static void setup(void) { nb_scope_begin(); }
static void teardown(void) { nb_scope_end(); }

static int to_f64(nb_tensor *g, nb_tensor **replace, void *user) {
  (void)user;
  *replace = nb_convert(g, NB_F64);
  return 0;
}

START_TEST(hook_cannot_change_dtype) {
  nb_tensor *x = leaf2(0.1, 0.2);
  nb_tensor *y = nb_exp(x);
  ck_assert_int_gt(nb_register_hook(y, to_f64, NULL), 0);
  ck_assert_int_eq(nb_backward(nb_sum(nb_mul(y, y)), NULL, 0), NB_EDTYPE);
  ck_assert_error_contains("dtype from float32 to float64");
}
END_TEST

/* y = sum(a*a) + sum(b*b): backward(inputs=a) must leave b's branch for a later call. */
START_TEST(restricted_backward_keeps_other_branch) {
  nb_tensor *a = leaf2(1, 2), *b = leaf2(3, 4);
  nb_tensor *y = nb_add(nb_sum(nb_mul(a, a)), nb_sum(nb_mul(b, b)));
  ck_assert_int_eq(nb_backward_inputs(y, NULL, &a, 1, 0), 0);
  ck_assert_int_eq(nb_backward_inputs(y, NULL, &b, 1, 0), 0);
  ck_assert_tensor_values(nb_grad(a), ((double[]){2, 4}), 2, 1e-6);
  ck_assert_tensor_values(nb_grad(b), ((double[]){6, 8}), 2, 1e-6);
}
END_TEST

START_TEST(failed_inplace_keeps_version) {
  nb_tensor *x = leaf2(1, 2);
  nb_tensor *y = nb_exp(x); /* saves y */
  uint32_t v = nb_version(y);
  ck_assert_ptr_null(nb_add_(y, nb_ones(1, (int64_t[]){3}, NB_F32)));
  ck_assert_uint_eq(nb_version(y), v);
  ck_assert_int_eq(nb_backward(nb_sum(y), NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){exp(1.0), exp(2.0)}), 2, 1e-5);
}
END_TEST

START_TEST(inplace_on_views) {
  int64_t s4[1] = {4}, s22[2] = {2, 2};
  nb_tensor *leaf = nb_requires_grad_(nb_ones(1, s4, NB_F32));
  ck_assert_ptr_null(nb_mul_scalar_(nb_view(leaf, 2, s22), 2));
  ck_assert_error_contains("view of a leaf tensor that requires grad");
  nb_tensor *b = nb_mul_scalar(leaf, 1.0);
  ck_assert_ptr_null(nb_mul_scalar_(nb_view(b, 2, s22), 3));
  ck_assert_int_eq(nb_last_status(), NB_EUNSUPPORTED);
  ck_assert_tensor_values(b, ((double[]){1, 1, 1, 1}), 4, 0); /* untouched */
  nb_no_grad_begin(); /* how optimizers write: allowed */
  ck_assert_ptr_nonnull(nb_mul_scalar_(nb_view(leaf, 2, s22), 2));
  nb_no_grad_end();
  ck_assert_tensor_values(leaf, ((double[]){2, 2, 2, 2}), 4, 0);
  /* views of tensors that need no grad stay writable in grad mode */
  nb_tensor *plain = nb_ones(1, s4, NB_F32);
  ck_assert_ptr_nonnull(nb_add_scalar_(nb_view(plain, 2, s22), 1));
  ck_assert_tensor_values(plain, ((double[]){2, 2, 2, 2}), 4, 0);
}
END_TEST

static nb_tensor *shared_w;
static int reenter(nb_tensor *g, nb_tensor **replace, void *user) {
  (void)g;
  (void)replace;
  nb_enable_grad_begin();
  int rc = nb_backward(nb_sum(nb_mul_scalar(shared_w, 3)), NULL, 0);
  nb_grad_mode_end();
  *(int *)user = rc;
  return 0;
}

START_TEST(reentrant_backward_refused) {
  shared_w = leaf2(1, 1);
  nb_tensor *y1 = nb_mul_scalar(shared_w, 2);
  int inner = 0;
  nb_register_hook(y1, reenter, &inner);
  ck_assert_int_eq(nb_backward(nb_sum(nb_add(y1, shared_w)), NULL, 0), 0);
  ck_assert_int_eq(inner, NB_EUNSUPPORTED); /* the nested run would share w's accumulator */
  ck_assert_tensor_values(nb_grad(shared_w), ((double[]){3, 3}), 2, 1e-6);
}
END_TEST

static int count_calls(nb_tensor *g, nb_tensor **replace, void *user) {
  (void)g;
  (void)replace;
  ++*(int *)user;
  return 0;
}

START_TEST(remove_hook_after_inplace) {
  nb_tensor *y = nb_mul_scalar(leaf2(1, 2), 2);
  int calls = 0;
  int64_t h = nb_register_hook(y, count_calls, &calls);
  ck_assert_ptr_nonnull(nb_add_scalar_(y, 1));
  ck_assert_int_eq(nb_remove_hook(y, h), 0);
  ck_assert_int_eq(nb_backward(nb_sum(y), NULL, 0), 0);
  ck_assert_int_eq(calls, 0);
}
END_TEST

START_TEST(frozen_after_forward_gets_no_grad) {
  nb_tensor *w = leaf2(1, 2), *f = leaf2(3, 4);
  nb_tensor *y = nb_sum(nb_mul(w, f));
  ck_assert_int_eq(nb_set_requires_grad(f, false), 0);
  ck_assert_int_eq(nb_backward(y, NULL, 0), 0);
  ck_assert_ptr_null(nb_grad(f));
  ck_assert_tensor_values(nb_grad(w), ((double[]){3, 4}), 2, 0);
}
END_TEST

START_TEST(autograd_grad_duplicate_inputs) {
  nb_tensor *x = leaf2(1, 2);
  nb_tensor *y = nb_sum(nb_mul(x, x));
  nb_tensor *in[2] = {x, x}, *r[2] = {NULL, NULL};
  ck_assert_int_eq(nb_autograd_grad(&y, NULL, 1, in, 2, r, 0, false), 0);
  ck_assert_tensor_values(r[0], ((double[]){2, 4}), 2, 1e-6);
  ck_assert_tensor_values(r[1], ((double[]){2, 4}), 2, 1e-6);
}
END_TEST

static void *build_graphs(void *arg) {
  nb_tensor *w = arg;
  for (int i = 0; i < 5000; i++) {
    nb_scope_begin();
    nb_sum(nb_mul_scalar(w, 2));
    nb_scope_end();
  }
  return NULL;
}

/* Forward graphs from one shared leaf in two threads (refcounts and the accumulator). */
START_TEST(graphs_from_shared_leaf_in_threads) {
  nb_tensor *w = nb_keep(leaf2(1, 2));
  pthread_t t1, t2;
  pthread_create(&t1, NULL, build_graphs, w);
  pthread_create(&t2, NULL, build_graphs, w);
  pthread_join(t1, NULL);
  pthread_join(t2, NULL);
  ck_assert_ptr_null(nb_grad_accumulator(w)); /* no graph left holding one */
  nb_release(w);
}
END_TEST

/* .grad may take an engine-owned gradient buffer, never one that is shared: add passes
 * one gradient to both inputs, and the two .grad must still be separate tensors. */
START_TEST(grads_never_share_buffers) {
  nb_tensor *a = leaf2(1, 2), *b = leaf2(3, 4), *g = v2(5, 6);
  ck_assert_int_eq(nb_backward(nb_add(a, b), g, 0), 0);
  ck_assert(!nb_shares_storage(nb_grad(a), nb_grad(b)));
  ck_assert(!nb_shares_storage(nb_grad(a), g) && !nb_shares_storage(nb_grad(b), g));
  nb_fill(nb_grad(a), 0);
  ck_assert_tensor_values(nb_grad(b), ((double[]){5, 6}), 2, 0);
  ck_assert_tensor_values(g, ((double[]){5, 6}), 2, 0);
}
END_TEST

/* Hooks that change the hook list while backward runs them (issue 16): PyTorch runs the
 * hooks present when the pass reached the tensor. */
typedef struct hook_state {
  nb_tensor *t;
  int64_t self, other; /* handles */
  int calls, other_calls, added;
} hook_state;

static int counting_hook(nb_tensor *g, nb_tensor **replace, void *user) {
  (void)g, (void)replace;
  ((hook_state *)user)->other_calls++;
  return 0;
}
static int remove_self_hook(nb_tensor *g, nb_tensor **replace, void *user) {
  (void)g, (void)replace;
  hook_state *s = user;
  s->calls++;
  return nb_remove_hook(s->t, s->self);
}
static int remove_other_hook(nb_tensor *g, nb_tensor **replace, void *user) {
  (void)g, (void)replace;
  hook_state *s = user;
  s->calls++;
  return s->other ? nb_remove_hook(s->t, s->other) : 0;
}
static int add_hook_hook(nb_tensor *g, nb_tensor **replace, void *user) {
  (void)g, (void)replace;
  hook_state *s = user;
  s->calls++;
  int64_t h = nb_register_hook(s->t, counting_hook, s);
  if (h > 0) s->added++;
  return h > 0 ? 0 : (int)h;
}

START_TEST(hook_removes_itself_during_backward) {
  for (int leaf = 0; leaf < 2; leaf++) { /* a leaf's hooks and a non-leaf's */
    nb_tensor *x = leaf2(1, 2);
    hook_state s = {.t = leaf ? x : nb_mul_scalar(x, 3.0)};
    s.self = nb_register_hook(s.t, remove_self_hook, &s);
    ck_assert_int_gt(s.self, 0);
    nb_tensor *y = nb_sum(nb_mul(s.t, s.t));
    ck_assert_int_eq(nb_backward(y, NULL, NB_RETAIN_GRAPH), 0);
    ck_assert_int_eq(nb_backward(y, NULL, 0), 0);
    ck_assert_int_eq(s.calls, 1); /* ran once, then was gone */
    double k = leaf ? 1 : 9;      /* d/dx sum((cx)^2) = 2c^2 x, twice */
    ck_assert_tensor_values(nb_grad(x), ((double[]){4 * k, 8 * k}), 2, 1e-4);
    ck_assert_int_eq(nb_remove_hook(s.t, s.self), NB_ENOTFOUND);
  }
}
END_TEST

START_TEST(hook_removes_a_later_hook) {
  nb_tensor *x = leaf2(1, 2);
  hook_state s = {.t = nb_exp(x)};
  ck_assert_int_gt(nb_register_hook(s.t, remove_other_hook, &s), 0);
  s.other = nb_register_hook(s.t, counting_hook, &s);
  ck_assert_int_eq(nb_backward(nb_sum(s.t), NULL, 0), 0);
  ck_assert_int_eq(s.calls, 1);
  ck_assert_int_eq(s.other_calls, 0); /* removed before the pass reached it */
}
END_TEST

START_TEST(hook_registers_a_hook_during_backward) {
  for (int leaf = 0; leaf < 2; leaf++) {
    nb_tensor *x = leaf2(1, 2);
    hook_state s = {.t = leaf ? x : nb_exp(x)};
    ck_assert_int_gt(nb_register_hook(s.t, add_hook_hook, &s), 0);
    nb_tensor *y = nb_sum(s.t);
    ck_assert_int_eq(nb_backward(y, NULL, NB_RETAIN_GRAPH), 0); /* terminates */
    ck_assert_int_eq(s.calls, 1);
    ck_assert_int_eq(s.other_calls, 0); /* the new hook waits for the next pass */
    ck_assert_int_eq(nb_backward(y, NULL, 0), 0);
    ck_assert_int_eq(s.calls, 2);
    ck_assert_int_eq(s.other_calls, 1); /* the first pass's addition; the second's waits */
    ck_assert_int_eq(s.added, 2);
  }
}
END_TEST

static int end_outer_scope_hook(nb_tensor *g, nb_tensor **replace, void *user) {
  (void)g, (void)replace;
  int *rc = user;
  *rc = nb_scope_end(); /* not the hook's scope */
  return 0;
}
static int leave_scope_open_hook(nb_tensor *g, nb_tensor **replace, void *user) {
  (void)replace, (void)user;
  nb_scope_begin();
  *replace = nb_mul_scalar(g, 2.0); /* in the scope left open */
  return 0;
}

START_TEST(hook_cannot_end_the_engines_scope) {
  nb_tensor *x = leaf2(1, 2);
  nb_tensor *y = nb_exp(x);
  int depth = nb_scope_depth(), rc = 0;
  ck_assert_int_gt(nb_register_hook(y, end_outer_scope_hook, &rc), 0);
  ck_assert_int_eq(nb_backward(nb_sum(y), NULL, 0), 0);
  ck_assert_int_eq(rc, NB_ESTATE);
  ck_assert_int_eq(nb_scope_depth(), depth);
  ck_assert_tensor_values(nb_grad(x), ((double[]){exp(1.0), exp(2.0)}), 2, 1e-5);
}
END_TEST

START_TEST(hook_leaving_a_scope_open_fails_backward) {
  nb_tensor *x = leaf2(1, 2);
  nb_tensor *y = nb_exp(x);
  int depth = nb_scope_depth();
  ck_assert_int_gt(nb_register_hook(y, leave_scope_open_hook, NULL), 0);
  ck_assert_int_eq(nb_backward(nb_sum(y), NULL, 0), NB_ESTATE);
  ck_assert_error_contains("left a scope open");
  ck_assert_int_eq(nb_scope_depth(), depth);
}
END_TEST

/* Post-accumulate-grad hooks (PyTorch's register_post_accumulate_grad_hook): they run
 * once per backward on a leaf after .grad holds the sum of every path, in registration
 * order, and see the updated .grad; not for autograd_grad or a leaf left out of inputs=. */
typedef struct post_log {
  int calls;
  double grad0[4]; /* .grad[0] seen at each call */
  int order[4];
} post_log;

static int post_record(nb_tensor *leaf, void *user) {
  post_log *log = user;
  double v = NAN;
  ck_assert_ptr_nonnull(nb_grad(leaf));
  nb_get(nb_grad(leaf), (int64_t[]){0}, &v);
  if (log->calls < 4) log->grad0[log->calls] = v;
  log->calls++;
  return 0;
}

static int post_first(nb_tensor *leaf, void *user) {
  (void)leaf;
  post_log *log = user;
  log->order[log->calls++ % 4] = 1;
  return 0;
}
static int post_second(nb_tensor *leaf, void *user) {
  (void)leaf;
  post_log *log = user;
  log->order[log->calls++ % 4] = 2;
  return 0;
}

START_TEST(post_accumulate_hook_sees_final_grad) {
  nb_tensor *x = leaf2(1, 2);
  post_log log = {0};
  ck_assert_int_gt(nb_register_post_accumulate_grad_hook(x, post_record, &log), 0);
  /* x reached along two paths: sum(3x) + sum(x*x) -> grad 3 + 2x = [5, 7], one call */
  nb_tensor *l = nb_add(nb_sum(nb_mul_scalar(x, 3)), nb_sum(nb_mul(x, x)));
  ck_assert_int_eq(nb_backward(l, NULL, 0), 0);
  ck_assert_int_eq(log.calls, 1);
  ck_assert_close(log.grad0[0], 5.0, 1e-6, 0);
  /* a second backward accumulates first, then calls the hook: 5 + 5 */
  l = nb_add(nb_sum(nb_mul_scalar(x, 3)), nb_sum(nb_mul(x, x)));
  ck_assert_int_eq(nb_backward(l, NULL, 0), 0);
  ck_assert_int_eq(log.calls, 2);
  ck_assert_close(log.grad0[1], 10.0, 1e-6, 0);
  /* autograd_grad does not touch .grad, so the hook does not run */
  nb_tensor *res[1];
  ck_assert_int_eq(nb_autograd_grad((nb_tensor *[]){nb_sum(nb_mul_scalar(x, 3))}, NULL, 1,
                                    (nb_tensor *[]){x}, 1, res, 0, false), 0);
  ck_assert_int_eq(log.calls, 2);
}
END_TEST

START_TEST(post_accumulate_hook_order_remove_and_errors) {
  nb_tensor *x = leaf2(1, 2), *w = leaf2(3, 4);
  post_log log = {0};
  int64_t h1 = nb_register_post_accumulate_grad_hook(x, post_first, &log);
  int64_t h2 = nb_register_post_accumulate_grad_hook(x, post_second, &log);
  ck_assert_int_gt(h1, 0);
  ck_assert_int_gt(h2, h1);
  ck_assert_int_eq(nb_backward(nb_sum(nb_mul(x, w)), NULL, 0), 0);
  ck_assert_int_eq(log.calls, 2);
  ck_assert_int_eq(log.order[0], 1);
  ck_assert_int_eq(log.order[1], 2);
  ck_assert_int_eq(nb_remove_hook(x, h1), 0);
  /* inputs= leaving x out: x's .grad is not touched, so its hooks do not run */
  ck_assert_int_eq(nb_backward_inputs(nb_sum(nb_mul(x, w)), NULL, (nb_tensor *[]){w}, 1, 0), 0);
  ck_assert_int_eq(log.calls, 2);
  ck_assert_int_eq(nb_backward(nb_sum(nb_mul(x, w)), NULL, 0), 0);
  ck_assert_int_eq(log.calls, 3);
  ck_assert_int_eq(log.order[2], 2);
  /* refused on non-leaves and on tensors without grad */
  nb_tensor *y = nb_mul(x, w);
  ck_assert_int_eq(nb_register_post_accumulate_grad_hook(y, post_first, &log), NB_ESTATE);
  ck_assert_error_contains("non-leaf");
  ck_assert_int_eq(nb_register_post_accumulate_grad_hook(v2(1, 2), post_first, &log), NB_ESTATE);
}
END_TEST

static int post_fail(nb_tensor *leaf, void *user) {
  (void)leaf;
  (void)user;
  return nb_set_error(NB_EINVAL, "post hook says no");
}

START_TEST(post_accumulate_hook_failure_aborts_backward) {
  nb_tensor *x = leaf2(1, 2);
  ck_assert_int_gt(nb_register_post_accumulate_grad_hook(x, post_fail, NULL), 0);
  ck_assert_int_eq(nb_backward(nb_sum(x), NULL, 0), NB_EINVAL);
  ck_assert_error_contains("post hook says no");
}
END_TEST

int main(void) {
  Suite *s = suite_create("autograd_edges");
  TCase *tc = tcase_create("edges");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, hook_cannot_change_dtype);
  tcase_add_test(tc, restricted_backward_keeps_other_branch);
  tcase_add_test(tc, failed_inplace_keeps_version);
  tcase_add_test(tc, inplace_on_views);
  tcase_add_test(tc, reentrant_backward_refused);
  tcase_add_test(tc, remove_hook_after_inplace);
  tcase_add_test(tc, frozen_after_forward_gets_no_grad);
  tcase_add_test(tc, autograd_grad_duplicate_inputs);
  tcase_add_test(tc, graphs_from_shared_leaf_in_threads);
  tcase_add_test(tc, grads_never_share_buffers);
  tcase_add_test(tc, hook_removes_itself_during_backward);
  tcase_add_test(tc, hook_removes_a_later_hook);
  tcase_add_test(tc, hook_registers_a_hook_during_backward);
  tcase_add_test(tc, hook_cannot_end_the_engines_scope);
  tcase_add_test(tc, hook_leaving_a_scope_open_fails_backward);
  tcase_add_test(tc, post_accumulate_hook_sees_final_grad);
  tcase_add_test(tc, post_accumulate_hook_order_remove_and_errors);
  tcase_add_test(tc, post_accumulate_hook_failure_aborts_backward);
  suite_add_tcase(s, tc);
  return nb_test_run(s);
}
