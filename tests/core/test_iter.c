/* Core: broadcasting, nb_iter (coalescing, broadcast strides, 0-d, empty, seek),
 * nb_sum_to_shape and nb_axpy_into, against hand-computed values. */
#include <string.h>

#include "testutil.h"

static nb_tensor *mat(int ndim, const int64_t *shape, nb_dtype dt, double start) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++)
    n *= shape[d];
  nb_tensor *t = nb_arange(start, start + (double)n, 1, dt);
  int64_t st[NB_MAX_DIMS], s = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    st[d] = s;
    s *= shape[d];
  }
  return nb_as_strided(t, ndim, shape, st, 0);
}

START_TEST(test_broadcast_shapes) {
  int nd;
  int64_t out[NB_MAX_DIMS];
  nb_tensor *a = nb_zeros(2, (int64_t[]){2, 3}, NB_F32), *b = nb_zeros(1, (int64_t[]){3}, NB_F32);
  ck_assert_int_eq(nb_broadcast_shapes("add", 2, (const nb_tensor *[]){a, b}, &nd, out), 0);
  ck_assert_int_eq(nd, 2);
  ck_assert_int_eq(out[0], 2);
  ck_assert_int_eq(out[1], 3);
  nb_tensor *c = nb_zeros(2, (int64_t[]){4, 1}, NB_F32), *d = nb_zeros(3, (int64_t[]){2, 1, 5}, NB_F32);
  nb_tensor *s = nb_scalar(1, NB_F32);
  ck_assert_int_eq(nb_broadcast_shapes("add", 3, (const nb_tensor *[]){c, d, s}, &nd, out), 0);
  ck_assert_int_eq(nd, 3);
  ck_assert(out[0] == 2 && out[1] == 4 && out[2] == 5);
  ck_assert_int_eq(nb_broadcast_shapes("add", 1, (const nb_tensor *[]){s}, &nd, out), 0);
  ck_assert_int_eq(nd, 0);
  nb_tensor *e = nb_zeros(1, (int64_t[]){4}, NB_F32);
  ck_assert_int_eq(nb_broadcast_shapes("mul", 2, (const nb_tensor *[]){a, e}, &nd, out), NB_ESHAPE);
  ck_assert_str_eq(nb_last_error(), "mul: shapes [2,3] and [4] cannot be broadcast");
  ck_assert_int_eq(nb_broadcast_shapes("where", 3, (const nb_tensor *[]){a, b, e}, &nd, out), NB_ESHAPE);
  ck_assert_str_eq(nb_last_error(), "where: shapes [2,3], [3] and [4] cannot be broadcast");
  /* zero-size dims broadcast like any other size */
  nb_tensor *z = nb_zeros(2, (int64_t[]){0, 3}, NB_F32);
  ck_assert_int_eq(nb_broadcast_shapes("add", 2, (const nb_tensor *[]){z, b}, &nd, out), 0);
  ck_assert(nd == 2 && out[0] == 0 && out[1] == 3);
}
END_TEST

START_TEST(test_iter_contiguous_is_one_run) {
  nb_tensor *a = mat(3, (int64_t[]){2, 3, 4}, NB_F32, 0);
  nb_tensor *o = nb_empty(3, (int64_t[]){2, 3, 4}, NB_F64);
  nb_iter it;
  ck_assert_int_eq(nb_iter_init(&it, 2, (nb_tensor *[]){o, a}), 0);
  ck_assert_int_eq(it.ndim, 0);
  ck_assert_int_eq(it.n, 24);
  ck_assert_int_eq(it.step[0], 8);
  ck_assert_int_eq(it.step[1], 4);
  ck_assert_int_eq(nb_iter_runs(&it), 1);
  ck_assert(nb_iter_is_flat(&it));
  ck_assert(!nb_iter_next(&it));
}
END_TEST

START_TEST(test_iter_broadcast) {
  /* out[i][j] = a[i][j] + 10 * b[j] with a 2x3 and b [3] */
  nb_tensor *a = mat(2, (int64_t[]){2, 3}, NB_F64, 0), *b = mat(1, (int64_t[]){3}, NB_F64, 1);
  nb_tensor *o = nb_empty(2, (int64_t[]){2, 3}, NB_F64);
  nb_iter it;
  ck_assert_int_eq(nb_iter_init(&it, 3, (nb_tensor *[]){o, a, b}), 0);
  ck_assert_int_eq(it.ndim, 1);
  ck_assert_int_eq(it.n, 3);
  ck_assert_int_eq(it.step[2], 8);
  ck_assert_int_eq(nb_iter_runs(&it), 2);
  ck_assert(!nb_iter_is_flat(&it));
  int runs = 0;
  do {
    for (int64_t k = 0; k < it.n; k++)
      *(double *)(it.ptr[0] + k * it.step[0]) =
          *(double *)(it.ptr[1] + k * it.step[1]) + 10 * *(double *)(it.ptr[2] + k * it.step[2]);
    runs++;
  } while (nb_iter_next(&it));
  ck_assert_int_eq(runs, 2);
  double e[] = {10, 21, 32, 13, 24, 35};
  ck_assert_tensor_values(o, e, 6, 0);
  /* a column [2,1] broadcast over rows: inner step 0 */
  nb_tensor *col = mat(2, (int64_t[]){2, 1}, NB_F64, 5);
  ck_assert_int_eq(nb_iter_init(&it, 2, (nb_tensor *[]){o, col}), 0);
  ck_assert_int_eq(it.step[1], 0);
  ck_assert_int_eq(it.n, 3);
  /* not broadcastable */
  nb_tensor *bad = nb_zeros(1, (int64_t[]){4}, NB_F64);
  ck_assert_int_eq(nb_iter_init(&it, 2, (nb_tensor *[]){o, bad}), NB_ESHAPE);
  ck_assert_error_contains("[4]");
  ck_assert_error_contains("[2,3]");
}
END_TEST

START_TEST(test_iter_transposed_and_coalesce) {
  /* Output is a transposed view: the walk follows the output's logical order. */
  nb_tensor *base = nb_zeros(2, (int64_t[]){3, 2}, NB_F64);
  nb_tensor *ot = nb_as_strided(base, 2, (int64_t[]){2, 3}, (int64_t[]){1, 2}, 0);
  nb_tensor *src = mat(2, (int64_t[]){2, 3}, NB_F64, 0);
  ck_assert_int_eq(nb_copy_into(ot, src), 0);
  double e[] = {0, 3, 1, 4, 2, 5};
  ck_assert_tensor_values(base, e, 6, 0);
  /* [2,3,4] with a view that slices the last dim: the first two dims coalesce */
  nb_tensor *big = mat(3, (int64_t[]){2, 3, 8}, NB_F32, 0);
  nb_tensor *half = nb_as_strided(big, 3, (int64_t[]){2, 3, 4}, (int64_t[]){24, 8, 1}, 0);
  nb_tensor *o = nb_empty(3, (int64_t[]){2, 3, 4}, NB_F32);
  nb_iter it;
  ck_assert_int_eq(nb_iter_init(&it, 2, (nb_tensor *[]){o, half}), 0);
  ck_assert_int_eq(it.ndim, 1);
  ck_assert_int_eq(nb_iter_runs(&it), 6);
  ck_assert_int_eq(it.n, 4);
  /* size-1 dims vanish */
  nb_tensor *ones = mat(4, (int64_t[]){1, 5, 1, 1}, NB_F32, 0), *o2 = nb_empty(4, (int64_t[]){1, 5, 1, 1}, NB_F32);
  ck_assert_int_eq(nb_iter_init(&it, 2, (nb_tensor *[]){o2, ones}), 0);
  ck_assert_int_eq(it.ndim, 0);
  ck_assert_int_eq(it.n, 5);
  ck_assert(nb_iter_is_flat(&it));
}
END_TEST

START_TEST(test_iter_zero_d_and_empty) {
  nb_tensor *s = nb_scalar(2, NB_F32), *o = nb_empty(0, NULL, NB_F32);
  nb_iter it;
  ck_assert_int_eq(nb_iter_init(&it, 2, (nb_tensor *[]){o, s}), 0);
  ck_assert_int_eq(it.n, 1);
  ck_assert_int_eq(nb_iter_runs(&it), 1);
  ck_assert(nb_iter_is_flat(&it));
  nb_tensor *e = nb_empty(2, (int64_t[]){3, 0}, NB_F32), *eb = nb_empty(1, (int64_t[]){0}, NB_F32);
  ck_assert_int_eq(nb_iter_init(&it, 2, (nb_tensor *[]){e, eb}), 0);
  ck_assert_int_eq(it.n, 0);
  ck_assert_int_eq(nb_iter_runs(&it), 0);
  ck_assert(!nb_iter_next(&it));
  /* a scalar broadcast to a matrix */
  nb_tensor *m = nb_empty(2, (int64_t[]){2, 2}, NB_F32);
  ck_assert_int_eq(nb_iter_init(&it, 2, (nb_tensor *[]){m, s}), 0);
  ck_assert_int_eq(it.step[1], 0);
  ck_assert_int_eq(it.n, 4);
}
END_TEST

START_TEST(test_iter_seek) {
  /* out = a^T (3x4 over a 4x3) walked in pieces must visit what a full walk visits */
  nb_tensor *a = mat(2, (int64_t[]){4, 3}, NB_F64, 0);
  nb_tensor *at = nb_as_strided(a, 2, (int64_t[]){3, 4}, (int64_t[]){1, 3}, 0);
  nb_tensor *o = nb_empty(2, (int64_t[]){3, 4}, NB_F64);
  nb_iter it;
  ck_assert_int_eq(nb_iter_init(&it, 2, (nb_tensor *[]){o, at}), 0);
  int64_t runs = nb_iter_runs(&it);
  ck_assert_int_eq(runs, 3);
  for (int64_t r = runs - 1; r >= 0; r--) { /* backwards, one run each */
    nb_iter part = it;
    nb_iter_seek(&part, r);
    for (int64_t k = 0; k < part.n; k++)
      *(double *)(part.ptr[0] + k * part.step[0]) = *(double *)(part.ptr[1] + k * part.step[1]);
    ck_assert(nb_iter_next(&part) == (r < runs - 1));
  }
  double e[] = {0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11};
  ck_assert_tensor_values(o, e, 12, 0);
}
END_TEST

START_TEST(test_sum_to_shape) {
  nb_tensor *g = mat(2, (int64_t[]){2, 3}, NB_F32, 1); /* [[1,2,3],[4,5,6]] */
  ck_assert_ptr_eq(nb_sum_to_shape(g, 2, (int64_t[]){2, 3}), g);
  nb_tensor *r = nb_sum_to_shape(g, 1, (int64_t[]){3});
  double e1[] = {5, 7, 9};
  ck_assert_tensor_values(r, e1, 3, 0);
  ck_assert_int_eq(nb_ndim(r), 1);
  ck_assert_int_eq(nb_dtype_of(r), NB_F32);
  double e2[] = {6, 15};
  nb_tensor *c = nb_sum_to_shape(g, 2, (int64_t[]){2, 1});
  ck_assert_tensor_values(c, e2, 2, 0);
  ck_assert_int_eq(nb_shape(c)[1], 1);
  double e3[] = {21};
  ck_assert_tensor_values(nb_sum_to_shape(g, 0, NULL), e3, 1, 0);
  ck_assert_tensor_values(nb_sum_to_shape(g, 2, (int64_t[]){1, 1}), e3, 1, 0);
  ck_assert_tensor_values(nb_sum_to_shape(g, 2, (int64_t[]){1, 3}), e1, 3, 0);
  /* [2,3,4] float64 -> [3,1]: sums dim 0 and dim 2 */
  nb_tensor *g3 = mat(3, (int64_t[]){2, 3, 4}, NB_F64, 0);
  nb_tensor *r3 = nb_sum_to_shape(g3, 2, (int64_t[]){3, 1});
  /* row j: sum over i,k of 12i + 4j + k = 8*4j + (0+1+2+3)*2 + 12*4 = 32j + 60 */
  double e4[] = {60, 92, 124};
  ck_assert_tensor_values(r3, e4, 3, 0);
  /* a gradient with fewer dims than the target: [3] -> [1,3] */
  nb_tensor *up = nb_sum_to_shape(r, 2, (int64_t[]){1, 3});
  ck_assert_tensor_values(up, e1, 3, 0);
  ck_assert_int_eq(nb_ndim(up), 2);
  /* errors */
  ck_assert_ptr_null(nb_sum_to_shape(g, 1, (int64_t[]){2}));
  ck_assert_int_eq(nb_last_status(), NB_ESHAPE);
  ck_assert_str_eq(nb_last_error(), "sum_to_shape: gradient of shape [2,3] cannot be summed to shape [2]");
  ck_assert_ptr_null(nb_sum_to_shape(nb_zeros(1, (int64_t[]){3}, NB_I64), 0, NULL));
  ck_assert_int_eq(nb_last_status(), NB_EDTYPE);
}
END_TEST

START_TEST(test_sum_to_shape_accuracy) {
  /* 2^20 copies of 0.1f: a float accumulator drifts by ~1e-2 relative; double is exact
   * to ~1e-10 and the result is then rounded once to float. */
  int64_t n = 1 << 20;
  nb_tensor *g = nb_full(1, &n, 0.1, NB_F32);
  nb_tensor *s1 = nb_sum_to_shape(g, 0, NULL), *s2 = nb_sum_to_shape(g, 0, NULL);
  ck_assert(((float *)nb_data(s1))[0] == (float)((double)0.1f * (double)n));
  ck_assert_int_eq(memcmp(nb_data(s1), nb_data(s2), sizeof(float)), 0); /* deterministic */
}
END_TEST

START_TEST(test_axpy_into) {
  nb_tensor *d = mat(2, (int64_t[]){2, 3}, NB_F32, 0);
  nb_tensor *s = mat(1, (int64_t[]){3}, NB_F32, 1);
  uint32_t v = nb_version(d);
  ck_assert_int_eq(nb_axpy_into(d, 2.0, s), 0);
  double e[] = {2, 5, 8, 5, 8, 11};
  ck_assert_tensor_values(d, e, 6, 0);
  ck_assert_int_eq(nb_version(d), v + 1);
  nb_tensor *d64 = nb_zeros(1, (int64_t[]){3}, NB_F64);
  ck_assert_int_eq(nb_axpy_into(d64, -0.5, nb_convert(s, NB_F64)), 0);
  double e2[] = {-0.5, -1, -1.5};
  ck_assert_tensor_values(d64, e2, 3, 0);
  /* a long flat run takes the threaded path */
  int64_t big = 100003;
  nb_tensor *bd = nb_full(1, &big, 1.0, NB_F32), *bs = nb_arange(0, (double)big, 1, NB_F32);
  ck_assert_int_eq(nb_axpy_into(bd, 0.5, bs), 0);
  const float *pb = nb_data(bd);
  for (int64_t i = 0; i < big; i += 997)
    ck_assert(pb[i] == 1.0f + 0.5f * (float)i);
  ck_assert(pb[big - 1] == 1.0f + 0.5f * (float)(big - 1));
  ck_assert_int_eq(nb_axpy_into(d64, 1, s), NB_EDTYPE);
  ck_assert_error_contains("float64 and float32");
  ck_assert_int_eq(nb_axpy_into(s, 1, d), NB_ESHAPE);
  ck_assert_int_eq(nb_axpy_into(NULL, 1, d), NB_EINVAL);
}
END_TEST

static Suite *make(void) {
  Suite *s = suite_create("core_iter");
  TCase *tc = tcase_create("iter");
  tcase_add_checked_fixture(tc, nb_test_scope_setup, nb_test_scope_teardown);
  tcase_add_test(tc, test_broadcast_shapes);
  tcase_add_test(tc, test_iter_contiguous_is_one_run);
  tcase_add_test(tc, test_iter_broadcast);
  tcase_add_test(tc, test_iter_transposed_and_coalesce);
  tcase_add_test(tc, test_iter_zero_d_and_empty);
  tcase_add_test(tc, test_iter_seek);
  tcase_add_test(tc, test_sum_to_shape);
  tcase_add_test(tc, test_sum_to_shape_accuracy);
  tcase_add_test(tc, test_axpy_into);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(make()); }
