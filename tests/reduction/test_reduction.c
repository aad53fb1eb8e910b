/* tests/reduction/test_reduction.c — the "reduction" plugin: sum, mean, max, min,
 * max_dim, min_dim. Expected values are closed-form (sums of arithmetic sequences,
 * derivatives 1, 1/n, evenly split ties, one-hot along a dim). */
#include <string.h>

#include "testutil.h"

/* float64 tensor from values */
static nb_tensor *T(int ndim, const int64_t *shape, const double *v) {
  nb_tensor *t = nb_from_data(v, ndim, shape, NB_F64);
  ck_assert_msg(t != NULL, "nb_from_data: %s", nb_last_error());
  return t;
}

/* [rows, cols] float64 with x[i][j] = i * 1000 + j */
static nb_tensor *grid(int64_t rows, int64_t cols, nb_dtype dt) {
  nb_tensor *t = nb_empty(2, (int64_t[]){rows, cols}, dt);
  ck_assert_ptr_nonnull(t);
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++)
      ck_assert_int_eq(nb_set(t, (int64_t[]){i, j}, (double)(i * 1000 + j)), 0);
  return t;
}

/* ---- sum -------------------------------------------------------------------------- */

START_TEST(sum_all_and_grad_ones) {
  nb_tensor *x = nb_requires_grad_(T(2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6}));
  nb_tensor *y = nb_sum(x);
  nb_test_assert_shape(y, 0, NULL);
  ck_assert_double_eq(nb_item(y), 21.0);
  ck_assert_str_eq(nb_node_name(nb_grad_fn(y)), "SumBackward");
  ck_assert_int_eq(nb_backward(y, NULL, 0), 0);
  double ones[6] = {1, 1, 1, 1, 1, 1};
  ck_assert_tensor_values(nb_grad(x), ones, 6, 0.0);
  nb_test_assert_shape(nb_grad(x), 2, (int64_t[]){2, 3});
}
END_TEST

START_TEST(sum_dims_keepdim_and_grad) {
  nb_tensor *x = nb_requires_grad_(T(2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6}));
  nb_tensor *r = nb_sum_dims(x, 1, (int64_t[]){1}, false);
  nb_test_assert_shape(r, 1, (int64_t[]){2});
  ck_assert_tensor_values(r, ((double[]){6, 15}), 2, 0.0);
  nb_tensor *k = nb_sum_dims(x, 1, (int64_t[]){-1}, true);
  nb_test_assert_shape(k, 2, (int64_t[]){2, 1});
  ck_assert_tensor_values(k, ((double[]){6, 15}), 2, 0.0);
  nb_tensor *c = nb_sum_dims(x, 1, (int64_t[]){0}, true);
  nb_test_assert_shape(c, 2, (int64_t[]){1, 3});
  ck_assert_tensor_values(c, ((double[]){5, 7, 9}), 3, 0.0);
  /* upstream gradient [10, 20] broadcast back along dim 1 */
  nb_tensor *g = T(2, (int64_t[]){2, 1}, (double[]){10, 20});
  ck_assert_int_eq(nb_backward(k, g, 0), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){10, 10, 10, 20, 20, 20}), 6, 0.0);
  /* keepdim false: gradient of shape [3] broadcast along dim 0 */
  nb_tensor *x2 = nb_requires_grad_(T(2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6}));
  nb_tensor *s0 = nb_sum_dims(x2, 1, (int64_t[]){0}, false);
  ck_assert_int_eq(nb_backward(s0, T(1, (int64_t[]){3}, (double[]){1, 2, 3}), 0), 0);
  ck_assert_tensor_values(nb_grad(x2), ((double[]){1, 2, 3, 1, 2, 3}), 6, 0.0);
}
END_TEST

START_TEST(sum_several_dims_3d) {
  nb_tensor *x = nb_requires_grad_(nb_arange(0, 24, 1, NB_F64));
  nb_tensor *x3 = nb_reshape(x, 3, (int64_t[]){2, 3, 4});
  ck_assert_ptr_nonnull(x3);
  nb_tensor *s = nb_sum_dims(x3, 2, (int64_t[]){-1, 0}, false); /* over dims 2 and 0 */
  nb_test_assert_shape(s, 1, (int64_t[]){3});
  /* sum over i,k of (12 i + 4 j + k) = 4*12 + 8*4 j ... computed directly: */
  double e[3];
  for (int j = 0; j < 3; j++) {
    e[j] = 0;
    for (int i = 0; i < 2; i++)
      for (int k = 0; k < 4; k++) e[j] += 12 * i + 4 * j + k;
  }
  ck_assert_tensor_values(s, e, 3, 0.0);
  nb_tensor *sk = nb_sum_dims(x3, 2, (int64_t[]){0, 2}, true);
  nb_test_assert_shape(sk, 3, (int64_t[]){1, 3, 1});
  ck_assert_tensor_values(sk, e, 3, 0.0);
  ck_assert_int_eq(nb_backward(s, T(1, (int64_t[]){3}, (double[]){1, 2, 3}), 0), 0);
  double ge[24];
  for (int i = 0; i < 24; i++) ge[i] = 1 + (i / 4) % 3;
  ck_assert_tensor_values(nb_grad(x), ge, 24, 0.0);
}
END_TEST

START_TEST(sum_errors) {
  nb_tensor *x = T(2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
  ck_assert_ptr_null(nb_sum_dims(x, 1, (int64_t[]){2}, false));
  ck_assert_int_eq(nb_last_status(), NB_EINVAL);
  ck_assert_error_contains("sum");
  ck_assert_error_contains("out of range");
  ck_assert_error_contains("[2,3]");
  ck_assert_ptr_null(nb_sum_dims(x, 1, (int64_t[]){-3}, false));
  ck_assert_error_contains("[-2, 1]");
  ck_assert_ptr_null(nb_sum_dims(x, 2, (int64_t[]){1, -1}, false));
  ck_assert_error_contains("multiple times");
  ck_assert_ptr_null(nb_mean_dims(x, 2, (int64_t[]){0, 0}, true));
  ck_assert_error_contains("mean");
  /* as PyTorch: a bool sum counts (int64), a bool mean is refused */
  nb_tensor *b = nb_ones(1, (int64_t[]){2}, NB_BOOL);
  ck_assert_double_eq(nb_item(nb_sum(b)), 2);
  ck_assert_ptr_null(nb_mean(b));
  ck_assert_int_eq(nb_last_status(), NB_EDTYPE);
}
END_TEST

START_TEST(sum_int64_exact) {
  nb_tensor *x = nb_arange(0, 100001, 1, NB_I64);
  nb_tensor *s = nb_sum(x);
  ck_assert_ptr_nonnull(s);
  ck_assert_int_eq(nb_dtype_of(s), NB_I64);
  ck_assert_int_eq(*(int64_t *)nb_data(s), (int64_t)100000 * 100001 / 2);
}
END_TEST

/* 1e6 copies of 0.1f: a float accumulator drifts by ~1%; double/pairwise does not. */
START_TEST(sum_f32_accuracy) {
  int64_t n = 1000000;
  nb_tensor *x = nb_full(1, &n, 0.1, NB_F32);
  nb_tensor *s = nb_sum(x);
  ck_assert_int_eq(nb_dtype_of(s), NB_F32);
  double exact = (double)n * (double)0.1f;
  ck_assert_close(nb_item(s), exact, 0.0, 1e-7);
  nb_tensor *m = nb_mean(x);
  ck_assert_close(nb_item(m), (double)0.1f, 0.0, 1e-7);
}
END_TEST

/* Same result bit for bit with 1 and 2 threads, full and per-dim reductions. */
START_TEST(sum_deterministic_across_threads) {
  nb_generator *g = nb_generator_new(7);
  nb_tensor *x = nb_randn(2, (int64_t[]){600, 500}, NB_F64, g);
  nb_tensor *xf = nb_randn(2, (int64_t[]){600, 500}, NB_F32, g);
  nb_generator_free(g);
  int saved = nb_get_num_threads();
  double r[2][4];
  for (int k = 0; k < 2; k++) {
    nb_set_num_threads(k + 1);
    r[k][0] = nb_item(nb_sum(x));
    r[k][1] = nb_item(nb_sum(xf));
    r[k][2] = nb_item(nb_sum(nb_sum_dims(x, 1, (int64_t[]){0}, false)));
    r[k][3] = nb_item(nb_sum(nb_sum_dims(nb_transpose(x, 0, 1), 1, (int64_t[]){1}, false)));
  }
  nb_set_num_threads(saved);
  for (int i = 0; i < 4; i++) ck_assert_msg(r[0][i] == r[1][i], "case %d: %.17g vs %.17g", i, r[0][i], r[1][i]);
}
END_TEST

START_TEST(sum_large_layouts) {
  /* x[i][j] = 1000 i + j, rows 700, cols 300: row sums 300*1000 i + 300*299/2,
   * column sums 1000 * 700*699/2 + 700 j. Contiguous and transposed inputs. */
  int64_t R = 700, C = 300;
  nb_tensor *x = grid(R, C, NB_F64);
  nb_tensor *rows = nb_sum_dims(x, 1, (int64_t[]){1}, false);
  nb_tensor *cols = nb_sum_dims(x, 1, (int64_t[]){0}, false);
  nb_tensor *xt = nb_transpose(x, 0, 1); /* [C, R] non-contiguous */
  ck_assert(!nb_is_contiguous(xt));
  nb_tensor *trow = nb_sum_dims(xt, 1, (int64_t[]){0}, false); /* = rows */
  nb_tensor *tcol = nb_sum_dims(xt, 1, (int64_t[]){1}, true);  /* = cols, [C,1] */
  nb_test_assert_shape(tcol, 2, (int64_t[]){C, 1});
  for (int64_t i = 0; i < R; i++) {
    double e = 300.0 * 1000 * i + 300.0 * 299 / 2, v1, v2;
    nb_get(rows, &i, &v1);
    nb_get(trow, &i, &v2);
    ck_assert_double_eq(v1, e);
    ck_assert_double_eq(v2, e);
  }
  for (int64_t j = 0; j < C; j++) {
    double e = 1000.0 * R * (R - 1) / 2 + (double)R * j, v1, v2;
    nb_get(cols, &j, &v1);
    nb_get(tcol, (int64_t[]){j, 0}, &v2);
    ck_assert_double_eq(v1, e);
    ck_assert_double_eq(v2, e);
  }
  double total = 1000.0 * C * R * (R - 1) / 2 + (double)R * C * (C - 1) / 2;
  ck_assert_double_eq(nb_item(nb_sum(xt)), total);
  ck_assert_double_eq(nb_item(nb_sum(x)), total);
  ck_assert_close(nb_item(nb_mean(xt)), total / (R * C), 0.0, 1e-15);
}
END_TEST

START_TEST(sum_transposed_grad) {
  nb_tensor *x = nb_requires_grad_(T(2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6}));
  nb_tensor *xt = nb_transpose(x, 0, 1); /* [3,2] */
  nb_tensor *s = nb_sum_dims(xt, 1, (int64_t[]){1}, false); /* [3]: column sums of x */
  ck_assert_tensor_values(s, ((double[]){5, 7, 9}), 3, 0.0);
  ck_assert_int_eq(nb_backward(s, T(1, (int64_t[]){3}, (double[]){1, 2, 3}), 0), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){1, 2, 3, 1, 2, 3}), 6, 0.0);
}
END_TEST

START_TEST(sum_edge_shapes) {
  nb_tensor *z = nb_scalar(2.5, NB_F64);
  ck_assert_double_eq(nb_item(nb_sum(z)), 2.5);
  ck_assert_double_eq(nb_item(nb_sum_dims(z, 1, (int64_t[]){-1}, true)), 2.5);
  ck_assert_ptr_null(nb_sum_dims(z, 1, (int64_t[]){1}, false));
  nb_tensor *e = nb_zeros(2, (int64_t[]){0, 3}, NB_F64);
  nb_tensor *se = nb_sum_dims(e, 1, (int64_t[]){0}, false);
  nb_test_assert_shape(se, 1, (int64_t[]){3});
  ck_assert_tensor_values(se, ((double[]){0, 0, 0}), 3, 0.0);
  ck_assert_double_eq(nb_item(nb_sum(e)), 0.0);
  ck_assert(isnan(nb_item(nb_mean(e))));
  nb_tensor *se1 = nb_sum_dims(e, 1, (int64_t[]){1}, false);
  nb_test_assert_shape(se1, 1, (int64_t[]){0});
}
END_TEST

/* ---- mean ------------------------------------------------------------------------- */

START_TEST(mean_values_and_grad) {
  nb_tensor *x = nb_requires_grad_(T(2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6}));
  nb_tensor *m = nb_mean(x);
  ck_assert_double_eq(nb_item(m), 3.5);
  ck_assert_str_eq(nb_node_name(nb_grad_fn(m)), "MeanBackward");
  ck_assert_int_eq(nb_backward(m, NULL, 0), 0);
  double e[6] = {1. / 6, 1. / 6, 1. / 6, 1. / 6, 1. / 6, 1. / 6};
  ck_assert_tensor_values(nb_grad(x), e, 6, 1e-15);
  nb_tensor *x2 = nb_requires_grad_(T(2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6}));
  nb_tensor *mk = nb_mean_dims(x2, 1, (int64_t[]){-1}, true);
  nb_test_assert_shape(mk, 2, (int64_t[]){2, 1});
  ck_assert_tensor_values(mk, ((double[]){2, 5}), 2, 1e-15);
  ck_assert_int_eq(nb_backward(mk, T(2, (int64_t[]){2, 1}, (double[]){3, 6}), 0), 0);
  ck_assert_tensor_values(nb_grad(x2), ((double[]){1, 1, 1, 2, 2, 2}), 6, 1e-15);
  nb_tensor *i = nb_arange(0, 3, 1, NB_I64);
  ck_assert_ptr_null(nb_mean(i));
  ck_assert_int_eq(nb_last_status(), NB_EDTYPE);
}
END_TEST

START_TEST(mean_f32) {
  nb_tensor *x = nb_convert(T(1, (int64_t[]){4}, (double[]){1, 2, 3, 4}), NB_F32);
  nb_requires_grad_(x);
  nb_tensor *m = nb_mean(x);
  ck_assert_int_eq(nb_dtype_of(m), NB_F32);
  ck_assert_double_eq(nb_item(m), 2.5);
  ck_assert_int_eq(nb_backward(m, NULL, 0), 0);
  ck_assert_int_eq(nb_dtype_of(nb_grad(x)), NB_F32);
  ck_assert_tensor_values(nb_grad(x), ((double[]){.25, .25, .25, .25}), 4, 0.0);
}
END_TEST

/* ---- max / min over all elements ------------------------------------------------------ */

START_TEST(max_ties_split_evenly) {
  nb_tensor *x = nb_requires_grad_(T(1, (int64_t[]){3}, (double[]){1, 3, 3}));
  nb_tensor *m = nb_max(x);
  nb_test_assert_shape(m, 0, NULL);
  ck_assert_double_eq(nb_item(m), 3.0);
  ck_assert_int_eq(nb_backward(m, NULL, 0), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){0, .5, .5}), 3, 0.0);
  nb_tensor *y = nb_requires_grad_(T(1, (int64_t[]){3}, (double[]){1, 1, 3}));
  nb_tensor *n = nb_min(y);
  ck_assert_double_eq(nb_item(n), 1.0);
  ck_assert_int_eq(nb_backward(n, nb_scalar(4.0, NB_F64), 0), 0);
  ck_assert_tensor_values(nb_grad(y), ((double[]){2, 2, 0}), 3, 0.0);
}
END_TEST

START_TEST(max_min_large_and_transposed) {
  /* unique maximum far from the start, in a tensor larger than one block */
  nb_tensor *x = grid(300, 200, NB_F32); /* max 299199 at [299,199], min 0 at [0,0] */
  nb_set(x, (int64_t[]){150, 7}, 1e7);
  nb_set(x, (int64_t[]){3, 100}, -5);
  nb_set(x, (int64_t[]){290, 1}, -5); /* tie for the minimum */
  nb_requires_grad_(x);
  nb_tensor *xt = nb_transpose(x, 0, 1);
  ck_assert_double_eq(nb_item(nb_max(xt)), 1e7);
  nb_tensor *mn = nb_min(xt);
  ck_assert_double_eq(nb_item(mn), -5.0);
  ck_assert_int_eq(nb_backward(mn, NULL, 0), 0);
  nb_tensor *gx = nb_grad(x);
  double v;
  nb_get(gx, (int64_t[]){3, 100}, &v);
  ck_assert_double_eq(v, 0.5);
  nb_get(gx, (int64_t[]){290, 1}, &v);
  ck_assert_double_eq(v, 0.5);
  ck_assert_double_eq(nb_item(nb_sum(gx)), 1.0);
}
END_TEST

START_TEST(max_nan_and_errors) {
  nb_tensor *x = T(1, (int64_t[]){3}, (double[]){1, NAN, 3});
  ck_assert(isnan(nb_item(nb_max(x))));
  ck_assert(isnan(nb_item(nb_min(x))));
  nb_tensor *e = nb_zeros(2, (int64_t[]){2, 0}, NB_F64);
  ck_assert_ptr_null(nb_max(e));
  ck_assert_error_contains("max");
  ck_assert_error_contains("[2,0]");
  ck_assert_ptr_null(nb_min(e));
  ck_assert_error_contains("min");
}
END_TEST

/* Long runs go through the 8-lane kernels: NaN deep inside, and infinities (which trip
 * the cheap NaN flag without being NaN). */
START_TEST(max_min_long_runs_inf_nan) {
  double v[37];
  for (int i = 0; i < 37; i++) v[i] = (i * 7) % 37 - 18.0; /* a permutation of -18..18 */
  nb_tensor *x = nb_from_doubles(v, 37, NB_F64);
  ck_assert_double_eq(nb_item(nb_max(x)), 18.0);
  ck_assert_double_eq(nb_item(nb_min(nb_convert(x, NB_F32))), -18.0);
  nb_set(x, (int64_t[]){20}, INFINITY);
  nb_set(x, (int64_t[]){30}, -INFINITY);
  ck_assert_double_eq(nb_item(nb_max(x)), INFINITY);
  ck_assert_double_eq(nb_item(nb_min(x)), -INFINITY);
  nb_tensor *idx;
  nb_tensor *m = nb_max_dim(x, 0, false, &idx);
  ck_assert_double_eq(nb_item(m), INFINITY);
  ck_assert_double_eq(nb_item(idx), 20.0);
  ck_assert_double_eq(nb_item(nb_min_dim(nb_convert(x, NB_F32), 0, false, &idx)), -INFINITY);
  ck_assert_double_eq(nb_item(idx), 30.0);
  nb_set(x, (int64_t[]){33}, NAN);
  nb_set(x, (int64_t[]){35}, NAN);
  ck_assert(isnan(nb_item(nb_max(x))));
  ck_assert(isnan(nb_item(nb_min(nb_convert(x, NB_F32)))));
  ck_assert(isnan(nb_item(nb_max_dim(x, 0, false, &idx))));
  ck_assert_double_eq(nb_item(idx), 33.0);
  /* all -inf: the maximum is -inf at index 0 */
  nb_tensor *ninf = nb_full(1, (int64_t[]){20}, -INFINITY, NB_F32);
  ck_assert_double_eq(nb_item(nb_max_dim(ninf, 0, false, &idx)), -INFINITY);
  ck_assert_double_eq(nb_item(idx), 0.0);
  /* ties over a long run split the gradient among all of them */
  nb_tensor *t = nb_requires_grad_(nb_full(1, (int64_t[]){40}, 2.0, NB_F64));
  nb_tensor *mt = nb_max(t);
  ck_assert_int_eq(nb_backward(mt, NULL, 0), 0);
  ck_assert_double_eq(nb_item(nb_sum(nb_grad(t))), 1.0);
  double g0;
  nb_get(nb_grad(t), (int64_t[]){39}, &g0);
  ck_assert_double_eq(g0, 1.0 / 40);
}
END_TEST

/* ---- max_dim / min_dim ------------------------------------------------------------------ */

START_TEST(max_dim_values_indices_grad) {
  nb_tensor *x = nb_requires_grad_(T(2, (int64_t[]){2, 3}, (double[]){1, 5, 2, 7, 0, 7}));
  nb_tensor *idx = NULL;
  nb_tensor *v = nb_max_dim(x, 1, false, &idx);
  nb_test_assert_shape(v, 1, (int64_t[]){2});
  nb_test_assert_shape(idx, 1, (int64_t[]){2});
  ck_assert_int_eq(nb_dtype_of(idx), NB_I64);
  ck_assert(!nb_requires_grad(idx));
  ck_assert_tensor_values(v, ((double[]){5, 7}), 2, 0.0);
  ck_assert_tensor_values(idx, ((double[]){1, 0}), 2, 0.0); /* first of the tied 7s */
  ck_assert_str_eq(nb_node_name(nb_grad_fn(v)), "MaxDimBackward");
  ck_assert_int_eq(nb_backward(v, T(1, (int64_t[]){2}, (double[]){10, 20}), 0), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){0, 10, 0, 20, 0, 0}), 6, 0.0);
}
END_TEST

START_TEST(max_dim_keepdim_negative_dim0) {
  nb_tensor *x = nb_requires_grad_(T(2, (int64_t[]){2, 3}, (double[]){1, 5, 2, 7, 0, 7}));
  nb_tensor *idx;
  nb_tensor *v = nb_max_dim(x, -2, true, &idx);
  nb_test_assert_shape(v, 2, (int64_t[]){1, 3});
  nb_test_assert_shape(idx, 2, (int64_t[]){1, 3});
  ck_assert_tensor_values(v, ((double[]){7, 5, 7}), 3, 0.0);
  ck_assert_tensor_values(idx, ((double[]){1, 0, 1}), 3, 0.0);
  ck_assert_int_eq(nb_backward(v, T(2, (int64_t[]){1, 3}, (double[]){1, 2, 3}), 0), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){0, 2, 0, 1, 0, 3}), 6, 0.0);
  nb_tensor *y = nb_requires_grad_(T(2, (int64_t[]){2, 3}, (double[]){1, 5, 2, 7, 0, 7}));
  nb_tensor *mi = nb_min_dim(y, 1, true, &idx);
  ck_assert_tensor_values(mi, ((double[]){1, 0}), 2, 0.0);
  ck_assert_tensor_values(idx, ((double[]){0, 1}), 2, 0.0);
  ck_assert_str_eq(nb_node_name(nb_grad_fn(mi)), "MinDimBackward");
  ck_assert_int_eq(nb_backward(mi, T(2, (int64_t[]){2, 1}, (double[]){4, 5}), 0), 0);
  ck_assert_tensor_values(nb_grad(y), ((double[]){4, 0, 0, 0, 5, 0}), 6, 0.0);
}
END_TEST

START_TEST(max_dim_transposed_and_large) {
  /* grid x[i][j] = 1000 i + j (f32): max over dim 0 is row R-1, over dim 1 column C-1 */
  int64_t R = 400, C = 300;
  nb_tensor *x = grid(R, C, NB_F32);
  nb_set(x, (int64_t[]){10, 20}, 1e8); /* column 20's max at row 10; row 10's max at 20 */
  nb_tensor *idx;
  nb_tensor *v0 = nb_max_dim(x, 0, false, &idx); /* outer-mode sweep */
  for (int64_t j = 0; j < C; j++) {
    double v, k;
    nb_get(v0, &j, &v);
    nb_get(idx, &j, &k);
    ck_assert_double_eq(v, j == 20 ? 1e8 : 1000.0 * (R - 1) + j);
    ck_assert_double_eq(k, j == 20 ? 10 : R - 1);
  }
  nb_tensor *xt = nb_transpose(x, 0, 1); /* [C, R] */
  nb_tensor *v1 = nb_min_dim(xt, 1, false, &idx); /* min over rows of each column: row 0 */
  for (int64_t j = 0; j < C; j++) {
    double v, k;
    nb_get(v1, &j, &v);
    nb_get(idx, &j, &k);
    ck_assert_double_eq(v, (double)j);
    ck_assert_double_eq(k, 0);
  }
  nb_tensor *v2 = nb_max_dim(xt, 0, true, &idx); /* max over columns of each row */
  nb_test_assert_shape(v2, 2, (int64_t[]){1, R});
  double v, k;
  nb_get(idx, (int64_t[]){0, 10}, &k);
  nb_get(v2, (int64_t[]){0, 10}, &v);
  ck_assert_double_eq(k, 20);
  ck_assert_double_eq(v, 1e8);
  nb_get(idx, (int64_t[]){0, 11}, &k);
  ck_assert_double_eq(k, C - 1);
}
END_TEST

START_TEST(max_dim_errors_and_0d) {
  nb_tensor *x = T(2, (int64_t[]){2, 3}, (double[]){1, 5, 2, 7, 0, 7});
  ck_assert_ptr_null(nb_max_dim(x, 2, false, NULL));
  ck_assert_error_contains("max_dim");
  ck_assert_error_contains("out of range");
  ck_assert_ptr_null(nb_min_dim(x, -3, false, NULL));
  ck_assert_error_contains("min_dim");
  nb_tensor *e = nb_zeros(2, (int64_t[]){2, 0}, NB_F64);
  ck_assert_ptr_null(nb_max_dim(e, 1, false, NULL));
  ck_assert_error_contains("size 0");
  nb_tensor *ok = nb_max_dim(e, 0, false, NULL); /* reducing the non-empty dim is fine */
  nb_test_assert_shape(ok, 1, (int64_t[]){0});
  nb_tensor *z = nb_requires_grad_(nb_scalar(4.0, NB_F64));
  nb_tensor *idx;
  nb_tensor *vz = nb_max_dim(z, 0, false, &idx);
  nb_test_assert_shape(vz, 0, NULL);
  ck_assert_double_eq(nb_item(vz), 4.0);
  ck_assert_double_eq(nb_item(idx), 0.0);
  ck_assert_int_eq(nb_backward(vz, NULL, 0), 0);
  ck_assert_double_eq(nb_item(nb_grad(z)), 1.0);
  /* NaN is selected, first occurrence */
  nb_tensor *n = T(1, (int64_t[]){4}, (double[]){1, NAN, 9, NAN});
  nb_tensor *vn = nb_max_dim(n, 0, false, &idx);
  ck_assert(isnan(nb_item(vn)));
  ck_assert_double_eq(nb_item(idx), 1.0);
}
END_TEST

/* The saved indices are checked against in-place changes (spec item 18). */
START_TEST(max_dim_saved_indices_version) {
  nb_tensor *x = nb_requires_grad_(T(1, (int64_t[]){3}, (double[]){1, 5, 2}));
  nb_tensor *idx;
  nb_tensor *v = nb_max_dim(x, 0, false, &idx);
  nb_bump_version(idx);
  ck_assert_int_lt(nb_backward(v, NULL, 0), 0);
  ck_assert_error_contains("modified by an inplace operation");
}
END_TEST

/* Every sample of every op in the plugin runs forward (and backward) without error. */
START_TEST(samples_run) {
  const char *ops[] = {"sum", "mean", "max", "min", "max_dim", "min_dim"};
  for (int k = 0; k < 6; k++) {
    const nb_op *op = nb_op_find(ops[k]);
    ck_assert_msg(op != NULL, "%s", nb_last_error());
    ck_assert_str_eq(nb_op_plugin_name(op), "reduction");
    nb_sample_sink *sink = nb_sample_sink_new(1);
    ck_assert_int_eq(nb_op_collect_samples(op, sink), 0);
    ck_assert_int_ge(nb_sample_count(sink), 3);
    for (int i = 0; i < nb_sample_count(sink); i++) {
      nb_sample s;
      ck_assert_int_eq(nb_sample_get(sink, i, &s), 0);
      nb_tensor *in = nb_requires_grad_(nb_detach(s.in[0]));
      nb_tensor *out[2] = {NULL, NULL};
      int n_out = nb_op_descriptor(op)->n_outputs;
      ck_assert_msg(nb_op_call(op, 1, &in, s.n_attrs, s.attrs, n_out, out) == 0, "%s %s: %s",
                    ops[k], s.desc, nb_last_error());
      ck_assert_msg(nb_backward(nb_sum(out[0]), NULL, 0) == 0, "%s", nb_last_error());
      nb_test_assert_shape(nb_grad(in), nb_ndim(in), nb_shape(in));
    }
    nb_sample_sink_free(sink);
  }
}
END_TEST

static Suite *reduction_suite(void) {
  Suite *s = suite_create("reduction");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, nb_test_scope_setup, nb_test_scope_teardown);
  tcase_add_test(tc, sum_all_and_grad_ones);
  tcase_add_test(tc, sum_dims_keepdim_and_grad);
  tcase_add_test(tc, sum_several_dims_3d);
  tcase_add_test(tc, sum_errors);
  tcase_add_test(tc, sum_int64_exact);
  tcase_add_test(tc, sum_f32_accuracy);
  tcase_add_test(tc, sum_deterministic_across_threads);
  tcase_add_test(tc, sum_large_layouts);
  tcase_add_test(tc, sum_transposed_grad);
  tcase_add_test(tc, sum_edge_shapes);
  tcase_add_test(tc, mean_values_and_grad);
  tcase_add_test(tc, mean_f32);
  tcase_add_test(tc, max_ties_split_evenly);
  tcase_add_test(tc, max_min_large_and_transposed);
  tcase_add_test(tc, max_nan_and_errors);
  tcase_add_test(tc, max_min_long_runs_inf_nan);
  tcase_add_test(tc, max_dim_values_indices_grad);
  tcase_add_test(tc, max_dim_keepdim_negative_dim0);
  tcase_add_test(tc, max_dim_transposed_and_large);
  tcase_add_test(tc, max_dim_errors_and_0d);
  tcase_add_test(tc, max_dim_saved_indices_version);
  tcase_add_test(tc, samples_run);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(reduction_suite()); }
