/* Core: creating tensors, dtypes, accessors, element access, copies, views and the
 * messages of argument errors. Expected values are closed-form. */
#include <string.h>

#include "testutil.h"

START_TEST(test_zeros_ones_full) {
  int64_t shape[] = {2, 3};
  nb_tensor *z = nb_zeros(2, shape, NB_F32), *o = nb_ones(2, shape, NB_F64);
  nb_tensor *f = nb_full(2, shape, -2.5, NB_F32), *fi = nb_full(1, shape, 7.9, NB_I64);
  double zero[6] = {0}, one[6] = {1, 1, 1, 1, 1, 1}, m25[6] = {-2.5, -2.5, -2.5, -2.5, -2.5, -2.5};
  ck_assert_tensor_values(z, zero, 6, 0);
  ck_assert_tensor_values(o, one, 6, 0);
  ck_assert_tensor_values(f, m25, 6, 0);
  double sev[2] = {7, 7};
  ck_assert_tensor_values(fi, sev, 2, 0); /* 7.9 truncates toward zero like a C cast */
  ck_assert_int_eq(nb_ndim(z), 2);
  ck_assert_int_eq(nb_numel(z), 6);
  ck_assert_int_eq(nb_shape(z)[1], 3);
  ck_assert_int_eq(nb_strides(z)[0], 3);
  ck_assert_int_eq(nb_strides(z)[1], 1);
  ck_assert_int_eq(nb_dtype_of(o), NB_F64);
  ck_assert(nb_is_contiguous(z));
  ck_assert_int_eq(nb_version(f), 0);
  ck_assert_int_eq((uintptr_t)nb_data(z) % 64, 0);
  nb_tensor *l = nb_ones_like(f);
  ck_assert(nb_same_shape(l, f));
  ck_assert_int_eq(nb_dtype_of(l), NB_F32);
  ck_assert_tensor_values(l, one, 6, 0);
  ck_assert_tensor_values(nb_zeros_like(o), zero, 6, 0);
  ck_assert(nb_same_shape(nb_empty_like(o), o));
  nb_tensor *b = nb_full(1, shape, 3.0, NB_BOOL);
  double t2[2] = {1, 1};
  ck_assert_tensor_values(b, t2, 2, 0);
  ck_assert_int_eq(*(uint8_t *)nb_data(b), 1);
}
END_TEST

START_TEST(test_scalar_and_zero_dim) {
  nb_tensor *s = nb_scalar(3.5, NB_F32);
  ck_assert_int_eq(nb_ndim(s), 0);
  ck_assert_int_eq(nb_numel(s), 1);
  ck_assert_double_eq(nb_item(s), 3.5);
  ck_assert(nb_is_contiguous(s));
  nb_tensor *e = nb_empty(0, NULL, NB_I64);
  ck_assert_int_eq(nb_numel(e), 1);
  int64_t zshape[] = {0, 4};
  nb_tensor *z = nb_zeros(2, zshape, NB_F32);
  ck_assert_int_eq(nb_numel(z), 0);
  ck_assert(nb_is_contiguous(z));
  ck_assert_int_eq(nb_to_doubles(z, NULL, 0), 0);
  ck_assert_int_eq(nb_fill(z, 1.0), 0);
}
END_TEST

START_TEST(test_arange) {
  /* PyTorch: torch.arange(0, 1, 0.3) has ceil(1 / 0.3) = 4 elements. */
  nb_tensor *a = nb_arange(0, 1, 0.3, NB_F64);
  double ea[] = {0, 0.3, 0.6, 0.3 * 3};
  ck_assert_tensor_values(a, ea, 4, 1e-15);
  nb_tensor *b = nb_arange(5, 0, -2, NB_I64);
  double eb[] = {5, 3, 1};
  ck_assert_tensor_values(b, eb, 3, 0);
  nb_tensor *c = nb_arange(0, 0, 1, NB_F32);
  ck_assert_int_eq(nb_numel(c), 0);
  nb_tensor *d = nb_arange(0.5, 3, 1, NB_F32);
  double ed[] = {0.5, 1.5, 2.5};
  ck_assert_tensor_values(d, ed, 3, 0);
}
END_TEST

START_TEST(test_arange_errors) {
  ck_assert_ptr_null(nb_arange(0, 5, 0, NB_F32));
  ck_assert_int_eq(nb_last_status(), NB_EINVAL);
  ck_assert_error_contains("nb_arange: step must be nonzero");
  ck_assert_ptr_null(nb_arange(0, INFINITY, 1, NB_F32));
  ck_assert_error_contains("nb_arange");
  ck_assert_error_contains("finite");
  ck_assert_ptr_null(nb_arange(0, NAN, 1, NB_F64));
  ck_assert_error_contains("finite");
  ck_assert_ptr_null(nb_arange(0, 5, -1, NB_F32));
  ck_assert_error_contains("inconsistent with step sign");
  ck_assert_ptr_null(nb_arange(0, 5, 1, NB_BOOL));
  ck_assert_int_eq(nb_last_status(), NB_EDTYPE);
}
END_TEST

START_TEST(test_from_data) {
  int64_t shape[] = {2, 2};
  int64_t iv[] = {1, -2, 3, 40};
  nb_tensor *t = nb_from_data(iv, 2, shape, NB_I64);
  double e[] = {1, -2, 3, 40};
  ck_assert_tensor_values(t, e, 4, 0);
  iv[0] = 99; /* copied, not referenced */
  ck_assert_tensor_values(t, e, 4, 0);
  nb_tensor *d = nb_from_doubles((double[]){0.1, 2.5, -3}, 3, NB_F32);
  double ed[] = {(float)0.1, 2.5, -3};
  ck_assert_tensor_values(d, ed, 3, 0);
  ck_assert_ptr_null(nb_from_data(NULL, 2, shape, NB_F32));
  ck_assert_error_contains("nb_from_data: data is NULL for shape [2,2]");
  ck_assert_ptr_null(nb_from_doubles(NULL, 3, NB_F32));
  ck_assert_error_contains("nb_from_doubles");
  ck_assert_ptr_nonnull(nb_from_doubles(NULL, 0, NB_F32));
}
END_TEST

START_TEST(test_shape_errors) {
  int64_t bad[] = {2, -1};
  ck_assert_ptr_null(nb_empty(2, NULL, NB_F32));
  ck_assert_int_eq(nb_last_status(), NB_EINVAL);
  ck_assert_str_eq(nb_last_error(), "nb_empty: shape is NULL with ndim 2");
  ck_assert_ptr_null(nb_zeros(2, bad, NB_F32));
  ck_assert_str_eq(nb_last_error(), "nb_zeros: negative size -1 in dimension 1 of shape [2,-1]");
  int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  ck_assert_ptr_null(nb_ones(9, nine, NB_F32));
  ck_assert_str_eq(nb_last_error(), "nb_ones: ndim 9 is out of range [0, 8]");
  ck_assert_ptr_null(nb_full(-1, nine, 1.0, NB_F32));
  ck_assert_error_contains("nb_full: ndim -1");
  ck_assert_ptr_null(nb_empty(1, nine, (nb_dtype)7));
  ck_assert_int_eq(nb_last_status(), NB_EDTYPE);
  ck_assert_str_eq(nb_last_error(), "nb_empty: invalid dtype 7");
  int64_t huge[] = {INT64_MAX / 2, 4};
  ck_assert_ptr_null(nb_empty(2, huge, NB_F32));
  ck_assert_int_eq(nb_last_status(), NB_ENOMEM);
  ck_assert_error_contains("nb_empty");
  ck_assert_error_contains("too large");
  ck_assert_ptr_null(nb_empty_like(NULL));
  ck_assert_error_contains("nb_empty_like: tensor argument is NULL");
}
END_TEST

START_TEST(test_dtype_api) {
  ck_assert_int_eq(nb_dtype_size(NB_F32), 4);
  ck_assert_int_eq(nb_dtype_size(NB_F64), 8);
  ck_assert_int_eq(nb_dtype_size(NB_I64), 8);
  ck_assert_int_eq(nb_dtype_size(NB_BOOL), 1);
  ck_assert_str_eq(nb_dtype_name(NB_F32), "float32");
  ck_assert_str_eq(nb_dtype_name(NB_F64), "float64");
  ck_assert_str_eq(nb_dtype_name(NB_I64), "int64");
  ck_assert_str_eq(nb_dtype_name(NB_BOOL), "bool");
  ck_assert_str_eq(nb_dtype_name((nb_dtype)42), "?");
  ck_assert(nb_dtype_is_floating(NB_F32) && nb_dtype_is_floating(NB_F64));
  ck_assert(!nb_dtype_is_floating(NB_I64) && !nb_dtype_is_floating(NB_BOOL));
}
END_TEST

START_TEST(test_element_access) {
  int64_t shape[] = {2, 3};
  nb_tensor *t = nb_arange(0, 6, 1, NB_F32);
  t = nb_as_strided(t, 2, shape, (int64_t[]){3, 1}, 0);
  double v;
  ck_assert_int_eq(nb_get(t, (int64_t[]){1, 2}, &v), 0);
  ck_assert_double_eq(v, 5);
  ck_assert_int_eq(nb_get(t, (int64_t[]){-1, -3}, &v), 0);
  ck_assert_double_eq(v, 3);
  ck_assert_int_eq(nb_get(t, (int64_t[]){0, 3}, &v), NB_EINVAL);
  ck_assert_str_eq(nb_last_error(), "nb_get: index 3 is out of bounds for dimension 1 with size 3");
  ck_assert_int_eq(nb_get(t, (int64_t[]){-3, 0}, &v), NB_EINVAL);
  ck_assert_error_contains("index -3 is out of bounds for dimension 0 with size 2");
  uint32_t v0 = nb_version(t);
  ck_assert_int_eq(nb_set(t, (int64_t[]){0, -1}, 42.0), 0);
  ck_assert_int_eq(nb_version(t), v0 + 1);
  ck_assert_int_eq(nb_get(t, (int64_t[]){0, 2}, &v), 0);
  ck_assert_double_eq(v, 42);
  ck_assert(isnan(nb_item(t)));
  ck_assert_int_eq(nb_last_status(), NB_ESHAPE);
  ck_assert_error_contains("nb_item: a tensor with 6 elements");
  ck_assert_int_eq(nb_item_checked(t, &v), NB_ESHAPE);
  nb_tensor *n = nb_scalar(NAN, NB_F64);
  nb_clear_error();
  ck_assert_int_eq(nb_item_checked(n, &v), 0);
  ck_assert(isnan(v));
  ck_assert_int_eq(nb_last_status(), NB_OK);
  ck_assert_int_eq(nb_size(t, -1), 3);
  ck_assert_int_eq(nb_size(t, 0), 2);
  ck_assert_int_eq(nb_size(t, 2), -1);
  ck_assert_error_contains("nb_size: dimension 2 out of range for a tensor of shape [2,3]");
  double small[2];
  ck_assert_int_eq(nb_to_doubles(t, small, 2), NB_EINVAL);
  ck_assert_error_contains("nb_to_doubles");
}
END_TEST

START_TEST(test_convert) {
  nb_tensor *f = nb_from_doubles((double[]){2.7, -2.7, 0, 0.5, NAN}, 5, NB_F32);
  nb_tensor *i = nb_convert(f, NB_I64);
  int64_t *pi = nb_data(i);
  ck_assert_int_eq(pi[0], 2);
  ck_assert_int_eq(pi[1], -2);
  ck_assert_int_eq(pi[2], 0);
  ck_assert_int_eq(pi[3], 0);
  ck_assert_int_eq(pi[4], INT64_MIN); /* NaN -> INT64_MIN as on x86 PyTorch */
  nb_tensor *b = nb_convert(f, NB_BOOL);
  uint8_t *pb = nb_data(b);
  ck_assert_int_eq(pb[0], 1);
  ck_assert_int_eq(pb[2], 0);
  ck_assert_int_eq(pb[3], 1);
  ck_assert_int_eq(pb[4], 1); /* bool(nan) is True */
  nb_tensor *d = nb_convert(nb_from_doubles((double[]){1.0 / 3}, 1, NB_F64), NB_F32);
  ck_assert(((float *)nb_data(d))[0] == (float)(1.0 / 3));
  nb_tensor *c = nb_copy_data(f);
  ck_assert(!nb_shares_storage(c, f));
  ck_assert_int_eq(nb_dtype_of(c), NB_F32);
  ((float *)nb_data(c))[0] = 9;
  ck_assert(((float *)nb_data(f))[0] == 2.7f);
}
END_TEST

START_TEST(test_flat_info) {
  nb_tensor *base = nb_arange(0, 6, 1, NB_F64);
  void *data = NULL;
  int64_t n = -1;
  size_t es = 0;
  ck_assert(nb_flat_info(base, &data, &n, &es));
  ck_assert_ptr_eq(data, nb_data(base));
  ck_assert_int_eq(n, 6);
  ck_assert_uint_eq(es, 8);
  /* an offset view: the pointer starts at its first element */
  nb_tensor *tail = nb_as_strided(base, 1, (int64_t[]){2}, (int64_t[]){1}, 4);
  ck_assert(nb_flat_info(tail, &data, &n, &es));
  ck_assert(*(double *)data == 4.0);
  ck_assert_int_eq(n, 2);
  /* a transposed view is not flat, but is still described */
  nb_tensor *tv = nb_as_strided(base, 2, (int64_t[]){3, 2}, (int64_t[]){1, 3}, 0);
  ck_assert(!nb_flat_info(tv, &data, &n, &es));
  ck_assert_int_eq(n, 6);
  /* outputs may be skipped; a float32 tensor has 4-byte elements */
  nb_tensor *f = nb_zeros(1, (int64_t[]){3}, NB_F32);
  ck_assert(nb_flat_info(f, NULL, NULL, &es));
  ck_assert_uint_eq(es, 4);
  /* NULL: false, and nothing written */
  n = 77;
  ck_assert(!nb_flat_info(NULL, &data, &n, &es));
  ck_assert_int_eq(n, 77);
}
END_TEST

START_TEST(test_as_strided) {
  nb_tensor *base = nb_arange(0, 6, 1, NB_F64);
  /* Transposed 3x2 view of the 2x3 matrix [[0,1,2],[3,4,5]]. */
  nb_tensor *tv = nb_as_strided(base, 2, (int64_t[]){3, 2}, (int64_t[]){1, 3}, 0);
  ck_assert_ptr_nonnull(tv);
  ck_assert(!nb_is_contiguous(tv));
  ck_assert(nb_shares_storage(tv, base));
  double e[] = {0, 3, 1, 4, 2, 5};
  ck_assert_tensor_values(tv, e, 6, 0);
  nb_tensor *c = nb_copy_data(tv);
  ck_assert(nb_is_contiguous(c));
  ck_assert_tensor_values(c, e, 6, 0);
  /* offset view and broadcast (stride 0) view */
  nb_tensor *tail = nb_as_strided(base, 1, (int64_t[]){2}, (int64_t[]){1}, 4);
  double et[] = {4, 5};
  ck_assert_tensor_values(tail, et, 2, 0);
  nb_tensor *rep = nb_as_strided(base, 2, (int64_t[]){2, 3}, (int64_t[]){0, 1}, 0);
  double er[] = {0, 1, 2, 0, 1, 2};
  ck_assert_tensor_values(rep, er, 6, 0);
  /* version is shared through the storage */
  nb_bump_version(base);
  ck_assert_int_eq(nb_version(tv), 1);
  ck_assert_int_eq(nb_version(tail), 1);
  /* bounds */
  ck_assert_ptr_null(nb_as_strided(base, 1, (int64_t[]){3}, (int64_t[]){1}, 4));
  ck_assert_int_eq(nb_last_status(), NB_ESHAPE);
  ck_assert_error_contains("nb_as_strided: view of shape [3] with strides [1] and offset 4 reaches element 6");
  ck_assert_error_contains("holds 6 elements");
  ck_assert_ptr_null(nb_as_strided(base, 1, (int64_t[]){2}, (int64_t[]){-1}, 4));
  ck_assert_error_contains("negative stride");
  ck_assert_ptr_null(nb_as_strided(base, 1, (int64_t[]){2}, (int64_t[]){1}, -1));
  ck_assert_error_contains("negative storage offset");
  ck_assert_ptr_null(nb_as_strided(base, 1, (int64_t[]){2}, NULL, 0));
  ck_assert_error_contains("strides is NULL");
  /* empty views may sit anywhere */
  ck_assert_ptr_nonnull(nb_as_strided(base, 1, (int64_t[]){0}, (int64_t[]){1}, 100));
}
END_TEST

START_TEST(test_copy_into_and_fill) {
  int64_t shape[] = {2, 3};
  nb_tensor *dst = nb_zeros(2, shape, NB_F64);
  nb_tensor *row = nb_from_doubles((double[]){1, 2, 3}, 3, NB_I64);
  ck_assert_int_eq(nb_copy_into(dst, row), 0); /* broadcast + int64 -> float64 */
  double e[] = {1, 2, 3, 1, 2, 3};
  ck_assert_tensor_values(dst, e, 6, 0);
  ck_assert_int_eq(nb_version(dst), 1);
  nb_tensor *col = nb_from_data((float[]){10, 20}, 2, (int64_t[]){2, 1}, NB_F32);
  ck_assert_int_eq(nb_copy_into(dst, col), 0);
  double e2[] = {10, 10, 10, 20, 20, 20};
  ck_assert_tensor_values(dst, e2, 6, 0);
  nb_tensor *bad = nb_zeros(1, (int64_t[]){4}, NB_F32);
  ck_assert_int_eq(nb_copy_into(dst, bad), NB_ESHAPE);
  ck_assert_str_eq(nb_last_error(),
                   "nb_copy_into: source shape [4] cannot be broadcast to destination shape [2,3]");
  /* overlapping views of one storage: shift [0,1,2,3] right by one */
  nb_tensor *base = nb_arange(0, 4, 1, NB_F32);
  nb_tensor *lo = nb_as_strided(base, 1, (int64_t[]){3}, (int64_t[]){1}, 0);
  nb_tensor *hi = nb_as_strided(base, 1, (int64_t[]){3}, (int64_t[]){1}, 1);
  ck_assert_int_eq(nb_copy_into(hi, lo), 0);
  double es[] = {0, 0, 1, 2};
  ck_assert_tensor_values(base, es, 4, 0);
  /* fill a strided view: only its elements change */
  nb_tensor *m = nb_zeros(2, shape, NB_I64);
  nb_tensor *c1 = nb_as_strided(m, 1, (int64_t[]){2}, (int64_t[]){3}, 1);
  ck_assert_int_eq(nb_fill(c1, -7.0), 0);
  double ef[] = {0, -7, 0, 0, -7, 0};
  ck_assert_tensor_values(m, ef, 6, 0);
  ck_assert_int_eq(nb_version(m), 1);
  nb_tensor *bb = nb_zeros(1, (int64_t[]){3}, NB_BOOL);
  ck_assert_int_eq(nb_fill(bb, 0.5), 0);
  double eb[] = {1, 1, 1};
  ck_assert_tensor_values(bb, eb, 3, 0);
}
END_TEST

START_TEST(test_shape_strings) {
  char buf[32];
  ck_assert_str_eq(nb_shape_str(2, (int64_t[]){2, 3}, buf, sizeof buf), "[2,3]");
  ck_assert_str_eq(nb_shape_str(0, NULL, buf, sizeof buf), "[]");
  ck_assert_str_eq(nb_shape_str(3, (int64_t[]){100000, 200000, 3}, buf, 8), "[100000");
  nb_tensor *t = nb_zeros(3, (int64_t[]){4, 1, 5}, NB_F32);
  const char *a = nb_shape_of(t), *b = nb_shape_of(nb_scalar(1, NB_F32));
  ck_assert_str_eq(a, "[4,1,5]"); /* ring buffer: a is still valid after b */
  ck_assert_str_eq(b, "[]");
  ck_assert(nb_same_shape(t, nb_ones(3, (int64_t[]){4, 1, 5}, NB_I64)));
  ck_assert(!nb_same_shape(t, nb_ones(2, (int64_t[]){4, 5}, NB_F32)));
  ck_assert(!nb_same_shape(t, NULL));
}
END_TEST

/* Element counts that overflow are refused instead of wrapping past the bounds check. */
START_TEST(test_overflowing_shapes) {
  nb_tensor *base = nb_zeros(1, (int64_t[]){10}, NB_F64);
  ck_assert_ptr_null(nb_as_strided(base, 2, (int64_t[]){100, INT64_C(1) << 62}, (int64_t[]){1, 0}, 0));
  ck_assert_ptr_nonnull(strstr(nb_last_error(), "too large"));
  ck_assert_ptr_null(nb_empty(2, (int64_t[]){INT64_C(1) << 40, INT64_C(1) << 40}, NB_F32));
  ck_assert_ptr_nonnull(strstr(nb_last_error(), "too large"));
  /* an empty view stays fine whatever its strides */
  ck_assert_ptr_nonnull(nb_as_strided(base, 2, (int64_t[]){0, INT64_C(1) << 62}, (int64_t[]){1, 1}, 0));
  /* an empty tensor whose other sizes multiply past 2^63 (the strides would; UBSan
   * flagged it): allowed, with no elements */
  nb_tensor *e = nb_empty(3, (int64_t[]){0, INT64_C(1) << 40, INT64_C(1) << 40}, NB_F32);
  ck_assert_ptr_nonnull(e);
  ck_assert_int_eq(nb_numel(e), 0);
  ck_assert(nb_is_contiguous(e));
}
END_TEST

/* Storage blocks of up to 32 MB are cached per thread and reused for the same size
 * (storage.c), so a training step does not make malloc shrink and regrow its heap. Not
 * under AddressSanitizer, where every block goes back to malloc. */
#if defined(__SANITIZE_ADDRESS__)
#define NB_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NB_TEST_ASAN 1
#endif
#endif
START_TEST(test_storage_reuse) {
#ifndef NB_TEST_ASAN
  nb_scope_begin();
  nb_tensor *a = nb_empty(1, (int64_t[]){100000}, NB_F32);
  void *pa = nb_data(a);
  nb_scope_end(); /* a's block goes to the cache */
  nb_scope_begin();
  nb_tensor *b = nb_empty(1, (int64_t[]){50000}, NB_F64); /* the same 400000 bytes */
  ck_assert_ptr_eq(nb_data(b), pa);
  nb_tensor *c = nb_zeros(1, (int64_t[]){100000}, NB_F32); /* a fresh block, zero-filled */
  ck_assert_ptr_ne(nb_data(c), pa);
  for (int64_t i = 0; i < 100000; i++) ck_assert(((float *)nb_data(c))[i] == 0);
  nb_scope_end();
  /* many sizes: the cache stays bounded and everything still works */
  for (int round = 0; round < 3; round++) {
    nb_scope_begin();
    for (int k = 1; k <= 200; k++) {
      nb_tensor *t = nb_full(1, (int64_t[]){1000 + 37 * k}, (double)k, NB_F32);
      ck_assert_double_eq(((float *)nb_data(t))[1000 + 37 * k - 1], k);
    }
    nb_scope_end();
  }
#endif
}
END_TEST

static Suite *make(void) {
  Suite *s = suite_create("core_tensor");
  TCase *tc = tcase_create("tensor");
  tcase_add_checked_fixture(tc, nb_test_scope_setup, nb_test_scope_teardown);
  tcase_add_test(tc, test_zeros_ones_full);
  tcase_add_test(tc, test_scalar_and_zero_dim);
  tcase_add_test(tc, test_arange);
  tcase_add_test(tc, test_arange_errors);
  tcase_add_test(tc, test_from_data);
  tcase_add_test(tc, test_shape_errors);
  tcase_add_test(tc, test_dtype_api);
  tcase_add_test(tc, test_element_access);
  tcase_add_test(tc, test_convert);
  tcase_add_test(tc, test_as_strided);
  tcase_add_test(tc, test_flat_info);
  tcase_add_test(tc, test_copy_into_and_fill);
  tcase_add_test(tc, test_shape_strings);
  tcase_add_test(tc, test_overflowing_shapes);
  tcase_add_test(tc, test_storage_reuse);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(make()); }
