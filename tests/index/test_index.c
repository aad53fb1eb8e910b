/* tests/index/test_index.c — indexing, slicing, joining and masks: values (closed form,
 * on small ramps), views sharing storage where PyTorch gives views, gradients (closed
 * form: the upstream gradient routed back), error messages naming the op and the bad
 * value, and the ergonomics helpers (nb_from_array, nb_accuracy, sum of bool). */
#include <stdint.h>
#include <string.h>

#include "testutil.h"

/* float64 ramp 0, 1, ..., shaped (not recorded). */
static nb_tensor *ramp(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  double v[n > 0 ? n : 1];
  for (int64_t i = 0; i < n; i++) v[i] = (double)i;
  nb_tensor *t = nb_from_array(v, ndim, shape, NB_F64);
  ck_assert_msg(t != NULL, "%s", nb_last_error());
  return t;
}

static nb_tensor *longs(int ndim, const int64_t *shape, const double *v) {
  nb_tensor *t = nb_from_array(v, ndim, shape, NB_I64);
  ck_assert_msg(t != NULL, "%s", nb_last_error());
  return t;
}

/* Backward of sum(w * y) for a fixed weight w = 1, 2, 3, ... of y's shape. */
static void backward_weighted(nb_tensor *y) {
  nb_tensor *w = ramp(nb_ndim(y), nb_shape(y));
  w = nb_add_scalar(w, 1.0);
  ck_assert_int_eq(nb_backward(nb_sum(nb_mul(y, w)), NULL, 0), 0);
}

START_TEST(from_array_and_accuracy) {
  nb_tensor *t = nb_from_array((double[]){1, 2, 3, 4, 5, 6}, 2, (int64_t[]){2, 3}, NB_F32);
  nb_test_assert_shape(t, 2, (int64_t[]){2, 3});
  ck_assert_int_eq(nb_dtype_of(t), NB_F32);
  ck_assert_tensor_values(t, ((double[]){1, 2, 3, 4, 5, 6}), 6, 0.0);
  ck_assert_ptr_null(nb_from_array(NULL, 1, (int64_t[]){2}, NB_F64));
  ck_assert_error_contains("nb_from_array");
  ck_assert_ptr_null(nb_from_array((double[]){1e300}, 1, (int64_t[]){1}, NB_I64));
  ck_assert_error_contains("nb_from_array: element 0");
  /* rows 0 and 2 right, row 1 wrong (the first maximum on ties: row 3 predicts 0) */
  nb_tensor *logits = nb_from_array((double[]){0, 5, 1, 9, 0, 0, 1, 2, 7, 3, 3, 0}, 2,
                                    (int64_t[]){4, 3}, NB_F64);
  nb_tensor *labels = longs(1, (int64_t[]){4}, (double[]){1, 1, 2, 0});
  ck_assert_double_eq(nb_accuracy(logits, labels), 0.75);
  ck_assert_double_lt(nb_accuracy(logits, ramp(1, (int64_t[]){4})), 0.0);
  ck_assert_error_contains("nb_count_correct");
}
END_TEST

START_TEST(compare_and_logical) {
  nb_tensor *a = nb_from_array((double[]){1, 2, 3}, 1, (int64_t[]){3}, NB_F64);
  nb_tensor *b = nb_from_array((double[]){2, 2, 2}, 1, (int64_t[]){3}, NB_F64);
  ck_assert_tensor_values(nb_ne(a, b), ((double[]){1, 0, 1}), 3, 0.0);
  ck_assert_tensor_values(nb_ge(a, b), ((double[]){0, 1, 1}), 3, 0.0);
  ck_assert_tensor_values(nb_le(a, b), ((double[]){1, 1, 0}), 3, 0.0);
  ck_assert_int_eq(nb_dtype_of(nb_le(a, b)), NB_BOOL);
  nb_tensor *p = nb_from_array((double[]){0, 1, 0, 1}, 1, (int64_t[]){4}, NB_BOOL);
  nb_tensor *q = nb_from_array((double[]){0, 0, 1, 1}, 1, (int64_t[]){4}, NB_BOOL);
  ck_assert_tensor_values(nb_logical_and(p, q), ((double[]){0, 0, 0, 1}), 4, 0.0);
  ck_assert_tensor_values(nb_logical_or(p, q), ((double[]){0, 1, 1, 1}), 4, 0.0);
  ck_assert_tensor_values(nb_logical_not(p), ((double[]){1, 0, 1, 0}), 4, 0.0);
  nb_tensor *i = nb_from_array((double[]){0, -3, 7}, 1, (int64_t[]){3}, NB_I64);
  ck_assert_tensor_values(nb_logical_not(i), ((double[]){1, 0, 0}), 3, 0.0);
  /* callable on tensors that require grad; the result never does */
  nb_tensor *x = nb_requires_grad_(ramp(1, (int64_t[]){3}));
  nb_tensor *m = nb_ge(x, b);
  ck_assert(m && !nb_requires_grad(m));
}
END_TEST

START_TEST(sum_of_bool_mean_refuses) {
  nb_tensor *m = nb_from_array((double[]){1, 0, 1, 1, 0, 1}, 2, (int64_t[]){2, 3}, NB_BOOL);
  nb_tensor *s = nb_sum(m);
  ck_assert_int_eq(nb_dtype_of(s), NB_I64);
  ck_assert_double_eq(nb_item(s), 4);
  nb_tensor *s1 = nb_sum_dims(m, 1, (int64_t[]){1}, false);
  ck_assert_int_eq(nb_dtype_of(s1), NB_I64);
  ck_assert_tensor_values(s1, ((double[]){2, 2}), 2, 0.0);
  ck_assert_ptr_null(nb_mean(m)); /* PyTorch: mean of bool is an error */
  ck_assert_error_contains("mean: input 'input' has dtype bool");
}
END_TEST

START_TEST(select_and_slice_are_views) {
  nb_tensor *x = ramp(2, (int64_t[]){3, 4});
  nb_tensor *r = nb_select(x, 0, -1);
  nb_test_assert_shape(r, 1, (int64_t[]){4});
  ck_assert(nb_shares_storage(r, x));
  ck_assert_tensor_values(r, ((double[]){8, 9, 10, 11}), 4, 0.0);
  nb_tensor *c = nb_select(x, 1, 2);
  ck_assert_tensor_values(c, ((double[]){2, 6, 10}), 3, 0.0);
  nb_tensor *s = nb_slice(x, 1, 1, INT64_MAX, 2); /* x[:, 1::2] */
  nb_test_assert_shape(s, 2, (int64_t[]){3, 2});
  ck_assert(nb_shares_storage(s, x));
  ck_assert_tensor_values(s, ((double[]){1, 3, 5, 7, 9, 11}), 6, 0.0);
  ck_assert_tensor_values(nb_slice(x, 0, -2, 100, 1), ((double[]){4, 5, 6, 7, 8, 9, 10, 11}), 8, 0.0);
  nb_test_assert_shape(nb_slice(x, 0, 3, 1, 1), 2, (int64_t[]){0, 4});
  /* a slice of a slice keeps the offset */
  ck_assert_tensor_values(nb_select(nb_slice(x, 0, 1, 3, 1), 0, 1), ((double[]){8, 9, 10, 11}),
                          4, 0.0);
  ck_assert_tensor_values(nb_narrow(x, 1, 1, 2), ((double[]){1, 2, 5, 6, 9, 10}), 6, 0.0);
  /* the view shares the version counter */
  uint32_t v0 = nb_version(x);
  nb_no_grad_begin();
  nb_add_scalar_(s, 1.0);
  nb_no_grad_end();
  ck_assert_uint_eq(nb_version(x), v0 + 1);
  ck_assert_double_eq(nb_item(nb_select(nb_select(x, 0, 0), 0, 1)), 2.0);
}
END_TEST

START_TEST(select_slice_grads) {
  nb_tensor *x = nb_requires_grad_(ramp(2, (int64_t[]){3, 4}));
  backward_weighted(nb_slice(x, 1, 0, 4, 3)); /* columns 0 and 3, weights 1..6 */
  ck_assert_tensor_values(nb_grad(x), ((double[]){1, 0, 0, 2, 3, 0, 0, 4, 5, 0, 0, 6}), 12, 0.0);
  nb_tensor *y = nb_requires_grad_(ramp(2, (int64_t[]){2, 3}));
  backward_weighted(nb_select(y, 1, -1));
  ck_assert_tensor_values(nb_grad(y), ((double[]){0, 0, 1, 0, 0, 2}), 6, 0.0);
}
END_TEST

START_TEST(split_and_chunk) {
  nb_tensor *x = nb_requires_grad_(ramp(2, (int64_t[]){5, 2}));
  nb_tensor *p[4];
  ck_assert_int_eq(nb_split(x, 2, 0, 4, p), 3);
  nb_test_assert_shape(p[2], 2, (int64_t[]){1, 2});
  ck_assert(nb_shares_storage(p[1], x));
  ck_assert_tensor_values(p[1], ((double[]){4, 5, 6, 7}), 4, 0.0);
  /* chunk(4) of 5 rows: pieces of 2, so 3 of them (as torch.chunk) */
  ck_assert_int_eq(nb_chunk(x, 4, 0, 4, p), 3);
  ck_assert_int_eq(nb_chunk(x, 2, -1, 4, p), 2);
  ck_assert_tensor_values(p[1], ((double[]){1, 3, 5, 7, 9}), 5, 0.0);
  /* gradients of the pieces meet in x */
  nb_tensor *loss = nb_add(nb_sum(p[0]), nb_mul_scalar(nb_sum(p[1]), 3.0));
  ck_assert_int_eq(nb_backward(loss, NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){1, 3, 1, 3, 1, 3, 1, 3, 1, 3}), 10, 0.0);
  ck_assert_int_lt(nb_split(x, 1, 0, 4, p), 0);
  ck_assert_error_contains("nb_split: 5 pieces");
  ck_assert_int_lt(nb_chunk(x, 2, 2, 4, p), 0);
  ck_assert_error_contains("nb_chunk: dim 2 is out of range");
}
END_TEST

START_TEST(index_select_gather_scatter) {
  nb_tensor *x = nb_requires_grad_(ramp(2, (int64_t[]){3, 2}));
  nb_tensor *idx = longs(1, (int64_t[]){3}, (double[]){2, 0, 2});
  nb_tensor *y = nb_index_select(x, 0, idx);
  ck_assert_tensor_values(y, ((double[]){4, 5, 0, 1, 4, 5}), 6, 0.0);
  backward_weighted(y); /* row 2 gets weights (1,2) + (5,6) */
  ck_assert_tensor_values(nb_grad(x), ((double[]){3, 4, 0, 0, 6, 8}), 6, 0.0);

  nb_tensor *z = nb_requires_grad_(ramp(2, (int64_t[]){2, 3}));
  nb_tensor *gi = longs(2, (int64_t[]){2, 2}, (double[]){2, 2, 0, 1});
  nb_tensor *g = nb_gather(z, 1, gi);
  ck_assert_tensor_values(g, ((double[]){2, 2, 3, 4}), 4, 0.0);
  backward_weighted(g);
  ck_assert_tensor_values(nb_grad(z), ((double[]){0, 0, 3, 3, 4, 0}), 6, 0.0);

  nb_tensor *base = nb_requires_grad_(nb_zeros(2, (int64_t[]){2, 3}, NB_F64));
  nb_tensor *src = nb_requires_grad_(nb_add_scalar(ramp(2, (int64_t[]){2, 2}), 1.0));
  nb_tensor *sa = nb_scatter_add(base, 1, gi, src);
  ck_assert_tensor_values(sa, ((double[]){0, 0, 3, 3, 4, 0}), 6, 0.0);
  backward_weighted(sa);
  ck_assert_tensor_values(nb_grad(base), ((double[]){1, 2, 3, 4, 5, 6}), 6, 0.0);
  ck_assert_tensor_values(nb_grad(src), ((double[]){3, 3, 4, 5}), 4, 0.0);
}
END_TEST

START_TEST(masks_where_tril) {
  nb_tensor *ones = nb_ones(2, (int64_t[]){3, 3}, NB_BOOL);
  nb_tensor *causal = nb_logical_not(nb_tril(ones, 0)); /* true above the diagonal */
  ck_assert_tensor_values(causal, ((double[]){0, 1, 1, 0, 0, 1, 0, 0, 0}), 9, 0.0);
  ck_assert_tensor_values(nb_triu(ramp(2, (int64_t[]){3, 3}), 1),
                          ((double[]){0, 1, 2, 0, 0, 5, 0, 0, 0}), 9, 0.0);
  nb_tensor *s = nb_requires_grad_(ramp(2, (int64_t[]){3, 3}));
  nb_tensor *f = nb_masked_fill(s, causal, -INFINITY);
  double got[9];
  ck_assert_int_eq(nb_to_doubles(f, got, 9), 0);
  ck_assert(isinf(got[1]) && got[1] < 0 && got[3] == 3 && got[8] == 8);
  nb_tensor *sm = nb_softmax(f, -1); /* row 0 attends only to itself */
  ck_assert_double_eq(nb_item(nb_select(nb_select(sm, 0, 0), 0, 0)), 1.0);
  backward_weighted(nb_masked_fill(s, causal, 0.0));
  ck_assert_tensor_values(nb_grad(s), ((double[]){1, 0, 0, 4, 5, 0, 7, 8, 9}), 9, 0.0);

  nb_tensor *cond = nb_from_array((double[]){1, 0}, 2, (int64_t[]){2, 1}, NB_BOOL);
  nb_tensor *a = nb_requires_grad_(ramp(1, (int64_t[]){3}));
  nb_tensor *b = nb_requires_grad_(nb_full(0, NULL, -1.0, NB_F64));
  nb_tensor *w = nb_where(cond, a, b);
  nb_test_assert_shape(w, 2, (int64_t[]){2, 3});
  ck_assert_tensor_values(w, ((double[]){0, 1, 2, -1, -1, -1}), 6, 0.0);
  backward_weighted(w);
  ck_assert_tensor_values(nb_grad(a), ((double[]){1, 2, 3}), 3, 0.0);
  ck_assert_double_eq(nb_item(nb_grad(b)), 4 + 5 + 6);
}
END_TEST

START_TEST(join_expand_repeat) {
  nb_tensor *a = nb_requires_grad_(ramp(2, (int64_t[]){1, 2}));
  nb_tensor *b = nb_requires_grad_(nb_add_scalar(ramp(2, (int64_t[]){2, 2}), 10));
  nb_tensor *c = nb_cat(2, (nb_tensor *[]){a, b}, 0);
  ck_assert_tensor_values(c, ((double[]){0, 1, 10, 11, 12, 13}), 6, 0.0);
  backward_weighted(c);
  ck_assert_tensor_values(nb_grad(a), ((double[]){1, 2}), 2, 0.0);
  ck_assert_tensor_values(nb_grad(b), ((double[]){3, 4, 5, 6}), 4, 0.0);
  /* more tensors than the op's 16 slots */
  nb_tensor *many[20];
  for (int i = 0; i < 20; i++) many[i] = nb_full(1, (int64_t[]){1}, i, NB_F64);
  nb_tensor *all = nb_cat(20, many, 0);
  double want[20];
  for (int i = 0; i < 20; i++) want[i] = i;
  ck_assert_tensor_values(all, want, 20, 0.0);
  nb_tensor *st = nb_stack(20, many, -1);
  nb_test_assert_shape(st, 2, (int64_t[]){1, 20});
  ck_assert_tensor_values(st, want, 20, 0.0);
  nb_tensor *s2 = nb_stack(2, (nb_tensor *[]){b, b}, 1);
  nb_test_assert_shape(s2, 3, (int64_t[]){2, 2, 2});
  ck_assert_tensor_values(s2, ((double[]){10, 11, 10, 11, 12, 13, 12, 13}), 8, 0.0);

  nb_tensor *col = nb_requires_grad_(ramp(2, (int64_t[]){2, 1}));
  nb_tensor *e = nb_expand(col, 3, (int64_t[]){2, -1, 3});
  nb_test_assert_shape(e, 3, (int64_t[]){2, 2, 3});
  ck_assert(nb_shares_storage(e, col));
  ck_assert_int_eq(nb_strides(e)[2], 0);
  backward_weighted(e); /* row 0 gets 1+2+3+7+8+9, row 1 4+5+6+10+11+12 */
  ck_assert_tensor_values(nb_grad(col), ((double[]){30, 48}), 2, 0.0);

  nb_tensor *r = nb_requires_grad_(ramp(1, (int64_t[]){2}));
  nb_tensor *rr = nb_repeat(r, 2, (int64_t[]){2, 2});
  ck_assert_tensor_values(rr, ((double[]){0, 1, 0, 1, 0, 1, 0, 1}), 8, 0.0);
  backward_weighted(rr);
  ck_assert_tensor_values(nb_grad(r), ((double[]){1 + 3 + 5 + 7, 2 + 4 + 6 + 8}), 2, 0.0);
}
END_TEST

START_TEST(argmax_topk) {
  nb_tensor *x = nb_requires_grad_(
      nb_from_array((double[]){3, 1, 4, 1, 5, 9, 2, 6}, 2, (int64_t[]){2, 4}, NB_F64));
  nb_tensor *am = nb_argmax(x, 1, false);
  ck_assert_int_eq(nb_dtype_of(am), NB_I64);
  ck_assert(!nb_requires_grad(am));
  ck_assert_tensor_values(am, ((double[]){2, 1}), 2, 0.0);
  ck_assert_tensor_values(nb_argmin(x, 1, true), ((double[]){1, 2}), 2, 0.0);
  nb_test_assert_shape(nb_argmin(x, 1, true), 2, (int64_t[]){2, 1});
  ck_assert_double_eq(nb_item(nb_argmax_all(x)), 5);
  ck_assert_double_eq(nb_item(nb_argmin_all(x)), 1); /* first of the tied 1s */
  nb_tensor *ix = NULL;
  nb_tensor *v = nb_topk(x, 2, -1, true, &ix);
  ck_assert_tensor_values(v, ((double[]){4, 3, 9, 6}), 4, 0.0);
  ck_assert_tensor_values(ix, ((double[]){2, 0, 1, 3}), 4, 0.0);
  ck_assert(!nb_requires_grad(ix));
  backward_weighted(v);
  ck_assert_tensor_values(nb_grad(x), ((double[]){2, 0, 1, 0, 0, 3, 0, 4}), 8, 0.0);
  ck_assert_tensor_values(nb_topk(x, 1, 0, false, NULL), ((double[]){3, 1, 2, 1}), 4, 0.0);
}
END_TEST

START_TEST(errors_name_op_and_value) {
  nb_tensor *x = ramp(2, (int64_t[]){2, 3});
  ck_assert_ptr_null(nb_select(x, 2, 0));
  ck_assert_error_contains("select: dim 2 is out of range for input of shape [2,3]");
  ck_assert_ptr_null(nb_select(x, 1, 3));
  ck_assert_error_contains("select: index 3 is out of range for dim 1 of size 3");
  ck_assert_ptr_null(nb_slice(x, 0, 0, 1, 0));
  ck_assert_error_contains("step");
  ck_assert_ptr_null(nb_narrow(x, 1, 2, 2));
  ck_assert_error_contains("nb_narrow: start 2, length 2 is out of range for dim 1 of size 3");
  ck_assert_ptr_null(nb_index_select(x, 1, longs(1, (int64_t[]){2}, (double[]){0, 7})));
  ck_assert_error_contains("index_select: index 7 is out of bounds for dim 1 with size 3");
  ck_assert_ptr_null(nb_gather(x, 0, longs(2, (int64_t[]){1, 1}, (double[]){-1})));
  ck_assert_error_contains("gather: index -1 is out of bounds for dim 0 with size 2");
  ck_assert_ptr_null(nb_gather(x, 0, longs(2, (int64_t[]){1, 4}, (double[]){0, 0, 0, 0})));
  ck_assert_error_contains("gather: index of shape [1,4] does not fit input [2,3]");
  ck_assert_ptr_null(nb_index_select(x, -3, longs(1, (int64_t[]){1}, (double[]){0})));
  ck_assert_error_contains("index_select: dim -3 is out of range");
  ck_assert_ptr_null(nb_cat(2, (nb_tensor *[]){x, ramp(2, (int64_t[]){2, 2})}, 0));
  ck_assert_error_contains("cat: tensor 1 has shape [2,2], tensor 0 has [2,3]");
  ck_assert_ptr_null(nb_cat(2, (nb_tensor *[]){x, nb_convert(x, NB_F32)}, 0));
  ck_assert_error_contains("cat: tensor 1 has dtype float32, tensor 0 has float64");
  ck_assert_ptr_null(nb_stack(2, (nb_tensor *[]){x, ramp(2, (int64_t[]){3, 2})}, 0));
  ck_assert_error_contains("stack: tensor 1 has shape [3,2]");
  ck_assert_ptr_null(nb_expand(x, 2, (int64_t[]){4, 3}));
  ck_assert_error_contains("expand: cannot expand shape [2,3] to [4,3]");
  ck_assert_ptr_null(nb_repeat(x, 1, (int64_t[]){2}));
  ck_assert_error_contains("repeat: 1 repeats [2] for a tensor with 2 dims");
  ck_assert_ptr_null(nb_topk(x, 4, 1, true, NULL));
  ck_assert_error_contains("topk: k 4 is out of range for dim 1 of size 3");
  ck_assert_ptr_null(nb_tril(ramp(1, (int64_t[]){3}), 0));
  ck_assert_error_contains("tril: input must have at least 2 dims, got shape [3]");
  ck_assert_ptr_null(nb_argmax(x, 5, false));
  ck_assert_error_contains("argmax: dim 5 is out of range");
  ck_assert_ptr_null(nb_masked_fill(x, nb_ones(1, (int64_t[]){2}, NB_BOOL), 0));
  ck_assert_error_contains("masked_fill: shapes");
  ck_assert_ptr_null(nb_where(x, x, x));
  ck_assert_error_contains("where: input 'condition' has dtype float64");
}
END_TEST

static Suite *index_suite(void) {
  Suite *s = suite_create("index");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, nb_test_scope_setup, nb_test_scope_teardown);
  tcase_add_test(tc, from_array_and_accuracy);
  tcase_add_test(tc, compare_and_logical);
  tcase_add_test(tc, sum_of_bool_mean_refuses);
  tcase_add_test(tc, select_and_slice_are_views);
  tcase_add_test(tc, select_slice_grads);
  tcase_add_test(tc, split_and_chunk);
  tcase_add_test(tc, index_select_gather_scatter);
  tcase_add_test(tc, masks_where_tril);
  tcase_add_test(tc, join_expand_repeat);
  tcase_add_test(tc, argmax_topk);
  tcase_add_test(tc, errors_name_op_and_value);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(index_suite()); }
