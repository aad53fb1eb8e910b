/* tests/shape/test_shape.c — the "shape" plugin: reshape, view, flatten, transpose,
 * permute, squeeze, unsqueeze, clone, contiguous, to_dtype. Checks values, strides,
 * storage sharing and the version counter of views, gradients routed back through the
 * views (closed form: the upstream gradient rearranged), and error messages. */
#include <string.h>

#include "testutil.h"

/* float64 [n] = 0, 1, ..., n-1, reshaped (not recorded) */
static nb_tensor *seq(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  nb_tensor *a = nb_arange(0, (double)n, 1, NB_F64);
  ck_assert_ptr_nonnull(a);
  int64_t st[NB_MAX_DIMS];
  for (int d = ndim - 1; d >= 0; d--) st[d] = d == ndim - 1 ? 1 : shape[d + 1] * st[d + 1];
  nb_tensor *t = nb_as_strided(a, ndim, shape, st, 0);
  ck_assert_ptr_nonnull(t);
  return nb_detach(t);
}

static void assert_strides(const nb_tensor *t, int ndim, const int64_t *strides) {
  for (int i = 0; i < ndim; i++) ck_assert_int_eq(nb_strides(t)[i], strides[i]);
}

/* In-place change of the base through the elementwise plugin when present. */
static void modify_in_place(nb_tensor *base) {
  nb_no_grad_begin();
  if (!nb_add_scalar_(base, 1.0)) {
    nb_clear_error();
    nb_bump_version(base);
  }
  nb_no_grad_end();
}

/* ---- reshape / view / flatten ----------------------------------------------------------- */

START_TEST(reshape_view_when_possible) {
  nb_tensor *x = seq(2, (int64_t[]){2, 6});
  nb_tensor *r = nb_reshape(x, 3, (int64_t[]){3, -1, 2});
  nb_test_assert_shape(r, 3, (int64_t[]){3, 2, 2});
  assert_strides(r, 3, (int64_t[]){4, 2, 1});
  ck_assert(nb_shares_storage(r, x));
  double e[12];
  for (int i = 0; i < 12; i++) e[i] = i;
  ck_assert_tensor_values(r, e, 12, 0.0);
  /* version counter shared with the base */
  uint32_t v0 = nb_version(x);
  modify_in_place(x);
  ck_assert_uint_eq(nb_version(x), v0 + 1);
  ck_assert_uint_eq(nb_version(r), nb_version(x));
}
END_TEST

START_TEST(reshape_copies_transposed) {
  nb_tensor *x = seq(2, (int64_t[]){2, 3});
  nb_tensor *xt = nb_transpose(x, 0, 1); /* [[0,3],[1,4],[2,5]] */
  nb_tensor *r = nb_reshape(xt, 1, (int64_t[]){6});
  nb_test_assert_shape(r, 1, (int64_t[]){6});
  ck_assert(!nb_shares_storage(r, x));
  ck_assert_tensor_values(r, ((double[]){0, 3, 1, 4, 2, 5}), 6, 0.0);
  /* splitting a dim of a transposed tensor is still a view */
  nb_tensor *r2 = nb_reshape(xt, 3, (int64_t[]){3, 1, 2});
  ck_assert(nb_shares_storage(r2, x));
  assert_strides(r2, 3, (int64_t[]){1, 6, 3}); /* as PyTorch: x.t().reshape(3,1,2) */
}
END_TEST

START_TEST(reshape_grad) {
  nb_tensor *x = nb_requires_grad_(seq(2, (int64_t[]){2, 3}));
  nb_tensor *xt = nb_transpose(x, 0, 1);
  nb_tensor *r = nb_reshape(xt, 1, (int64_t[]){6}); /* copy path */
  ck_assert_str_eq(nb_node_name(nb_grad_fn(r)), "ReshapeBackward");
  nb_tensor *g = nb_from_doubles((double[]){10, 11, 12, 13, 14, 15}, 6, NB_F64);
  ck_assert_int_eq(nb_backward(r, g, 0), 0);
  /* r[k] = xt.flat[k] = x[k%2][k/2]: x[i][j] gets g[2j+i] */
  ck_assert_tensor_values(nb_grad(x), ((double[]){10, 12, 14, 11, 13, 15}), 6, 0.0);
  nb_tensor *y = nb_requires_grad_(seq(2, (int64_t[]){2, 3}));
  nb_tensor *v = nb_view(y, 2, (int64_t[]){3, 2});
  ck_assert_int_eq(nb_backward(v, nb_reshape(g, 2, (int64_t[]){3, 2}), 0), 0);
  ck_assert_tensor_values(nb_grad(y), ((double[]){10, 11, 12, 13, 14, 15}), 6, 0.0);
}
END_TEST

START_TEST(reshape_errors) {
  nb_tensor *x = seq(2, (int64_t[]){2, 3});
  ck_assert_ptr_null(nb_reshape(x, 2, (int64_t[]){-1, -1}));
  ck_assert_error_contains("only one dimension can be inferred");
  ck_assert_ptr_null(nb_reshape(x, 2, (int64_t[]){-2, 3}));
  ck_assert_error_contains("invalid shape dimension -2");
  ck_assert_ptr_null(nb_reshape(x, 2, (int64_t[]){4, 2}));
  ck_assert_error_contains("[4,2] is invalid for input of size 6");
  ck_assert_ptr_null(nb_reshape(x, 2, (int64_t[]){4, -1}));
  ck_assert_error_contains("reshape");
  ck_assert_ptr_null(nb_view(x, 2, (int64_t[]){5, -1}));
  ck_assert_error_contains("view");
  nb_tensor *e = nb_zeros(2, (int64_t[]){0, 3}, NB_F64);
  ck_assert_ptr_null(nb_reshape(e, 2, (int64_t[]){0, -1}));
  ck_assert_error_contains("ambiguous");
  nb_test_assert_shape(nb_reshape(e, 2, (int64_t[]){3, 0}), 2, (int64_t[]){3, 0});
}
END_TEST

START_TEST(view_shares_or_fails) {
  nb_tensor *x = seq(2, (int64_t[]){3, 4});
  nb_tensor *v = nb_view(x, 1, (int64_t[]){-1});
  nb_test_assert_shape(v, 1, (int64_t[]){12});
  ck_assert(nb_shares_storage(v, x));
  uint32_t v0 = nb_version(v);
  modify_in_place(x);
  ck_assert_uint_eq(nb_version(v), v0 + 1);
  nb_tensor *xt = nb_transpose(x, 0, 1);
  ck_assert_ptr_null(nb_view(xt, 1, (int64_t[]){12}));
  ck_assert_int_eq(nb_last_status(), NB_ESHAPE);
  ck_assert_error_contains("view size is not compatible with input tensor's size and stride");
  ck_assert_error_contains("[4,3]");  /* input shape */
  ck_assert_error_contains("[1,4]");  /* its strides */
  ck_assert_error_contains("[12]");   /* requested */
  ck_assert_error_contains("reshape");
  /* 0-d views */
  nb_tensor *z = nb_scalar(3.0, NB_F64);
  nb_tensor *z1 = nb_view(z, 2, (int64_t[]){1, 1});
  nb_test_assert_shape(z1, 2, (int64_t[]){1, 1});
  nb_test_assert_shape(nb_view(z1, 0, NULL), 0, NULL);
}
END_TEST

START_TEST(flatten_shapes) {
  nb_tensor *x = seq(4, (int64_t[]){2, 3, 4, 5});
  nb_test_assert_shape(nb_flatten(x, 0, -1), 1, (int64_t[]){120});
  nb_tensor *f = nb_flatten(x, 1, 2);
  nb_test_assert_shape(f, 3, (int64_t[]){2, 12, 5});
  ck_assert(nb_shares_storage(f, x));
  nb_test_assert_shape(nb_flatten(x, -2, -1), 3, (int64_t[]){2, 3, 20});
  nb_test_assert_shape(nb_flatten(x, 2, 2), 4, (int64_t[]){2, 3, 4, 5});
  nb_test_assert_shape(nb_flatten(nb_scalar(1.0, NB_F64), 0, -1), 1, (int64_t[]){1});
  ck_assert_ptr_null(nb_flatten(x, 2, 1));
  ck_assert_error_contains("start_dim 2 cannot come after end_dim 1");
  ck_assert_ptr_null(nb_flatten(x, 0, 4));
  ck_assert_error_contains("out of range");
  /* transposed: flattening needs a copy */
  nb_tensor *y = nb_requires_grad_(seq(2, (int64_t[]){2, 3}));
  nb_tensor *ft = nb_flatten(nb_transpose(y, 0, 1), 0, -1);
  ck_assert_tensor_values(ft, ((double[]){0, 3, 1, 4, 2, 5}), 6, 0.0);
  ck_assert_int_eq(nb_backward(ft, nb_from_doubles((double[]){1, 2, 3, 4, 5, 6}, 6, NB_F64), 0), 0);
  ck_assert_tensor_values(nb_grad(y), ((double[]){1, 3, 5, 2, 4, 6}), 6, 0.0);
}
END_TEST

/* ---- transpose / permute -------------------------------------------------------------- */

START_TEST(transpose_view_and_grad) {
  nb_tensor *x = nb_requires_grad_(seq(3, (int64_t[]){2, 3, 4}));
  nb_tensor *t = nb_transpose(x, -1, 0);
  nb_test_assert_shape(t, 3, (int64_t[]){4, 3, 2});
  assert_strides(t, 3, (int64_t[]){1, 4, 12});
  ck_assert(nb_shares_storage(t, x));
  ck_assert_uint_eq(nb_version(t), nb_version(x));
  double v;
  ck_assert_int_eq(nb_get(t, (int64_t[]){3, 1, 1}, &v), 0);
  ck_assert_double_eq(v, 1 * 12 + 1 * 4 + 3);
  ck_assert_str_eq(nb_node_name(nb_grad_fn(t)), "TransposeBackward");
  /* gradient: g[k][j][i] = 100 k + 10 j + i must land on x[i][j][k] */
  nb_tensor *g = nb_empty(3, (int64_t[]){4, 3, 2}, NB_F64);
  for (int k = 0; k < 4; k++)
    for (int j = 0; j < 3; j++)
      for (int i = 0; i < 2; i++) nb_set(g, (int64_t[]){k, j, i}, 100 * k + 10 * j + i);
  ck_assert_int_eq(nb_backward(t, g, 0), 0);
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++)
      for (int k = 0; k < 4; k++) {
        ck_assert_int_eq(nb_get(nb_grad(x), (int64_t[]){i, j, k}, &v), 0);
        ck_assert_double_eq(v, 100 * k + 10 * j + i);
      }
  ck_assert_ptr_null(nb_transpose(x, 0, 3));
  ck_assert_error_contains("transpose: dim 3 is out of range");
}
END_TEST

START_TEST(permute_view_and_grad) {
  nb_tensor *x = nb_requires_grad_(seq(3, (int64_t[]){2, 3, 4}));
  nb_tensor *p = nb_permute(x, 3, (int64_t[]){2, 0, -2});
  nb_test_assert_shape(p, 3, (int64_t[]){4, 2, 3});
  assert_strides(p, 3, (int64_t[]){1, 12, 4});
  ck_assert(nb_shares_storage(p, x));
  nb_tensor *g = nb_empty(3, (int64_t[]){4, 2, 3}, NB_F64);
  for (int k = 0; k < 4; k++)
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++) nb_set(g, (int64_t[]){k, i, j}, 100 * k + 10 * j + i);
  ck_assert_int_eq(nb_backward(p, g, 0), 0);
  double v;
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++)
      for (int k = 0; k < 4; k++) {
        nb_get(nb_grad(x), (int64_t[]){i, j, k}, &v);
        ck_assert_double_eq(v, 100 * k + 10 * j + i);
      }
  ck_assert_ptr_null(nb_permute(x, 2, (int64_t[]){1, 0}));
  ck_assert_error_contains("number of dims don't match");
  ck_assert_ptr_null(nb_permute(x, 3, (int64_t[]){0, 1, -3}));
  ck_assert_error_contains("more than once");
  ck_assert_ptr_null(nb_permute(x, 3, (int64_t[]){0, 1, 3}));
  ck_assert_error_contains("out of range");
}
END_TEST

/* ---- squeeze / unsqueeze ----------------------------------------------------------------- */

START_TEST(squeeze_unsqueeze) {
  nb_tensor *x = nb_requires_grad_(seq(3, (int64_t[]){3, 1, 4}));
  nb_tensor *s = nb_squeeze(x, 1);
  nb_test_assert_shape(s, 2, (int64_t[]){3, 4});
  ck_assert(nb_shares_storage(s, x));
  nb_test_assert_shape(nb_squeeze(x, 0), 3, (int64_t[]){3, 1, 4}); /* size 3: unchanged */
  nb_test_assert_shape(nb_squeeze(x, -2), 2, (int64_t[]){3, 4});
  ck_assert_ptr_null(nb_squeeze(x, 3));
  ck_assert_error_contains("squeeze");
  nb_tensor *u = nb_unsqueeze(s, -1);
  nb_test_assert_shape(u, 3, (int64_t[]){3, 4, 1});
  assert_strides(u, 3, (int64_t[]){4, 1, 1});
  nb_tensor *u0 = nb_unsqueeze(s, 0);
  nb_test_assert_shape(u0, 3, (int64_t[]){1, 3, 4});
  assert_strides(u0, 3, (int64_t[]){12, 4, 1});
  ck_assert_ptr_null(nb_unsqueeze(s, 3));
  ck_assert_error_contains("expected in [-3, 2]");
  nb_test_assert_shape(nb_unsqueeze(nb_scalar(1.0, NB_F64), 0), 1, (int64_t[]){1});
  /* gradient through squeeze then unsqueeze */
  nb_tensor *g = nb_empty(3, (int64_t[]){1, 3, 4}, NB_F64);
  for (int i = 0; i < 12; i++) nb_set(g, (int64_t[]){0, i / 4, i % 4}, i * 2.0);
  ck_assert_int_eq(nb_backward(u0, g, 0), 0);
  nb_test_assert_shape(nb_grad(x), 3, (int64_t[]){3, 1, 4});
  double e[12];
  for (int i = 0; i < 12; i++) e[i] = i * 2.0;
  ck_assert_tensor_values(nb_grad(x), e, 12, 0.0);
}
END_TEST

/* A view of a view that starts inside its storage keeps its offset. */
START_TEST(views_of_offset_views) {
  nb_tensor *x = seq(2, (int64_t[]){4, 3});
  nb_tensor *row2 = nb_as_strided(x, 1, (int64_t[]){3}, (int64_t[]){1}, 6); /* x[2] */
  ck_assert_tensor_values(row2, ((double[]){6, 7, 8}), 3, 0.0);
  nb_tensor *u = nb_unsqueeze(row2, 0);
  ck_assert_tensor_values(u, ((double[]){6, 7, 8}), 3, 0.0);
  nb_tensor *t = nb_transpose(u, 0, 1);
  ck_assert_tensor_values(t, ((double[]){6, 7, 8}), 3, 0.0);
  ck_assert_tensor_values(nb_reshape(t, 1, (int64_t[]){3}), ((double[]){6, 7, 8}), 3, 0.0);
  ck_assert_tensor_values(nb_contiguous(row2), ((double[]){6, 7, 8}), 3, 0.0);
}
END_TEST

/* ---- clone / contiguous / to_dtype -------------------------------------------------------- */

START_TEST(clone_and_contiguous) {
  nb_tensor *x = nb_requires_grad_(seq(2, (int64_t[]){2, 3}));
  nb_tensor *c = nb_clone(x);
  ck_assert(!nb_shares_storage(c, x));
  ck_assert_str_eq(nb_node_name(nb_grad_fn(c)), "CloneBackward");
  ck_assert_tensor_values(c, ((double[]){0, 1, 2, 3, 4, 5}), 6, 0.0);
  nb_tensor *same = nb_contiguous(x);
  ck_assert(same != x);
  ck_assert(nb_shares_storage(same, x));
  nb_tensor *xt = nb_transpose(x, 0, 1);
  nb_tensor *ct = nb_contiguous(xt);
  ck_assert(nb_is_contiguous(ct));
  ck_assert(!nb_shares_storage(ct, x));
  ck_assert_tensor_values(ct, ((double[]){0, 3, 1, 4, 2, 5}), 6, 0.0);
  nb_tensor *ctc = nb_clone(xt);
  ck_assert_tensor_values(ctc, ((double[]){0, 3, 1, 4, 2, 5}), 6, 0.0);
  nb_tensor *g = nb_empty(2, (int64_t[]){3, 2}, NB_F64);
  for (int i = 0; i < 6; i++) nb_set(g, (int64_t[]){i / 2, i % 2}, i + 1);
  ck_assert_int_eq(nb_backward(ct, g, 0), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){1, 3, 5, 2, 4, 6}), 6, 0.0);
  ck_assert_int_eq(nb_backward(c, nb_ones(2, (int64_t[]){2, 3}, NB_F64), 0), 0);
  ck_assert_tensor_values(nb_grad(x), ((double[]){2, 4, 6, 3, 5, 7}), 6, 0.0);
}
END_TEST

START_TEST(to_dtype_convert_and_grad) {
  nb_tensor *x = nb_requires_grad_(nb_from_doubles((double[]){0.5, -1.25, 3}, 3, NB_F64));
  nb_tensor *f = nb_to_dtype(x, NB_F32);
  ck_assert_int_eq(nb_dtype_of(f), NB_F32);
  ck_assert_tensor_values(f, ((double[]){0.5, -1.25, 3}), 3, 0.0);
  ck_assert_str_eq(nb_node_name(nb_grad_fn(f)), "ToDtypeBackward");
  ck_assert_int_eq(nb_backward(f, nb_from_doubles((double[]){1, 2, 3}, 3, NB_F32), 0), 0);
  ck_assert_int_eq(nb_dtype_of(nb_grad(x)), NB_F64);
  ck_assert_tensor_values(nb_grad(x), ((double[]){1, 2, 3}), 3, 0.0);
  nb_tensor *same = nb_to_dtype(x, NB_F64);
  ck_assert(nb_shares_storage(same, x));
  nb_tensor *i = nb_to_dtype(x, NB_I64); /* truncates toward zero; no grad */
  ck_assert_ptr_nonnull(i);
  ck_assert_int_eq(nb_dtype_of(i), NB_I64);
  ck_assert(!nb_requires_grad(i));
  ck_assert_ptr_null(nb_grad_fn(i));
  ck_assert_tensor_values(i, ((double[]){0, -1, 3}), 3, 0.0);
  nb_tensor *back = nb_to_dtype(i, NB_F32);
  ck_assert_tensor_values(back, ((double[]){0, -1, 3}), 3, 0.0);
  ck_assert_ptr_null(nb_to_dtype(x, (nb_dtype)7));
  ck_assert_error_contains("dtype");
}
END_TEST

/* Every sample of every op runs forward and backward with gradients of the input's shape. */
START_TEST(samples_run) {
  const char *ops[] = {"reshape", "view",  "flatten",    "transpose", "permute",
                       "squeeze", "unsqueeze", "clone", "contiguous", "to_dtype"};
  for (int k = 0; k < 10; k++) {
    const nb_op *op = nb_op_find(ops[k]);
    ck_assert_msg(op != NULL, "%s", nb_last_error());
    ck_assert_str_eq(nb_op_plugin_name(op), "shape");
    ck_assert_ptr_nonnull(nb_op_descriptor(op)->doc);
    nb_sample_sink *sink = nb_sample_sink_new(3);
    ck_assert_int_eq(nb_op_collect_samples(op, sink), 0);
    ck_assert_int_ge(nb_sample_count(sink), 2);
    for (int i = 0; i < nb_sample_count(sink); i++) {
      nb_sample s;
      ck_assert_int_eq(nb_sample_get(sink, i, &s), 0);
      nb_tensor *in = nb_requires_grad_(nb_detach(s.in[0]));
      nb_tensor *out = NULL;
      ck_assert_msg(nb_op_call(op, 1, &in, s.n_attrs, s.attrs, 1, &out) == 0, "%s %s: %s",
                    ops[k], s.desc, nb_last_error());
      bool views = nb_op_descriptor(op)->flags & NB_OP_VIEW;
      if (views) ck_assert(nb_shares_storage(out, in));
      if (!(s.flags & NB_SAMPLE_NO_GRAD_CHECK)) {
        ck_assert_msg(nb_backward(out, nb_ones(nb_ndim(out), nb_shape(out), nb_dtype_of(out)), 0) == 0,
                      "%s %s: %s", ops[k], s.desc, nb_last_error());
        nb_test_assert_shape(nb_grad(in), nb_ndim(in), nb_shape(in));
        double ones[64];
        for (int q = 0; q < 64; q++) ones[q] = 1;
        ck_assert_int_le(nb_numel(in), 64);
        double got[64];
        ck_assert_int_eq(nb_to_doubles(nb_grad(in), got, 64), 0);
        for (int q = 0; q < nb_numel(in); q++) ck_assert_double_eq(got[q], ones[q]);
      }
    }
    nb_sample_sink_free(sink);
  }
}
END_TEST

static Suite *shape_suite(void) {
  Suite *s = suite_create("shape");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, nb_test_scope_setup, nb_test_scope_teardown);
  tcase_add_test(tc, reshape_view_when_possible);
  tcase_add_test(tc, reshape_copies_transposed);
  tcase_add_test(tc, reshape_grad);
  tcase_add_test(tc, reshape_errors);
  tcase_add_test(tc, view_shares_or_fails);
  tcase_add_test(tc, flatten_shapes);
  tcase_add_test(tc, transpose_view_and_grad);
  tcase_add_test(tc, permute_view_and_grad);
  tcase_add_test(tc, squeeze_unsqueeze);
  tcase_add_test(tc, views_of_offset_views);
  tcase_add_test(tc, clone_and_contiguous);
  tcase_add_test(tc, to_dtype_convert_and_grad);
  tcase_add_test(tc, samples_run);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(shape_suite()); }
