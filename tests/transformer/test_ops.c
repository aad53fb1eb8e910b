/* tests/transformer/test_ops.c — the activation, norm and attention ops through their
 * typed wrappers: values from closed forms, gradients, the fused attention against the
 * composite matmul/softmax graph, batched matmul over broadcast leading dims, and the
 * error messages for bad input. (Gradients against finite differences and PyTorch are
 * nabla-gradcheck's job: tests/gradcheck and tests/reference.) */
#include <check.h>
#include <math.h>
#include <string.h>

#include "testutil.h"

static nb_tensor *vec(const double *v, int64_t n, nb_dtype dt) { return nb_from_doubles(v, n, dt); }

static nb_tensor *leaf(int ndim, const int64_t *shape, const double *v, nb_dtype dt) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  nb_tensor *t = nb_reshape(nb_from_doubles(v, n, dt), ndim, shape);
  t = nb_detach(t);
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(nb_set_requires_grad(t, true), 0);
  return t;
}

START_TEST(test_activations_closed_form) {
  for (int k = 0; k < 2; k++) {
    nb_dtype dt = k ? NB_F64 : NB_F32;
    double tol = k ? 1e-15 : 1e-6;
    const double x[3] = {-1, 0, 1};
    nb_tensor *t = vec(x, 3, dt);
    double g_exact[3] = {-0.15865525393145705, 0, 0.8413447460685429}; /* x·Φ(x) */
    ck_assert_tensor_values(nb_gelu(t, NULL), g_exact, 3, tol);
    double th = tanh(sqrt(2 / M_PI) * (1 + 0.044715));
    double g_tanh[3] = {-0.5 * (1 - th), 0, 0.5 * (1 + th)};
    ck_assert_tensor_values(nb_gelu(t, "tanh"), g_tanh, 3, tol);
    double s[3] = {-1 / (1 + exp(1)), 0, 1 / (1 + exp(-1))};
    ck_assert_tensor_values(nb_silu(t), s, 3, tol);
    double l[3] = {-0.2, 0, 1};
    ck_assert_tensor_values(nb_leaky_relu(t, 0.2), l, 3, tol);
    double e[3] = {0.5 * (exp(-1) - 1), 0, 1};
    ck_assert_tensor_values(nb_elu(t, 0.5), e, 3, tol);
    double sp[3] = {log1p(exp(-1)), log(2), log1p(exp(1))};
    ck_assert_tensor_values(nb_softplus(t, 1, 20), sp, 3, tol);
    double sp2[3] = {log1p(exp(-2)) / 2, log(2) / 2, 1}; /* β 2, threshold 1: x = 1 is linear */
    ck_assert_tensor_values(nb_softplus(t, 2, 1), sp2, 3, tol);
  }
}
END_TEST

START_TEST(test_activation_gradients) {
  const double x[3] = {-1, 0.5, 1};
  nb_tensor *t = leaf(1, (int64_t[]){3}, x, NB_F64);
  ck_assert_int_eq(nb_backward(nb_sum(nb_gelu(t, NULL)), NULL, 0), 0);
  double want[3];
  for (int i = 0; i < 3; i++)
    want[i] = 0.5 * (1 + erf(x[i] / sqrt(2))) + x[i] * exp(-x[i] * x[i] / 2) / sqrt(2 * M_PI);
  ck_assert_tensor_values(nb_grad(t), want, 3, 1e-15);
  /* leaky_relu and elu: slope / alpha·eˣ on the negative side */
  nb_tensor *u = leaf(1, (int64_t[]){3}, x, NB_F64);
  ck_assert_int_eq(nb_backward(nb_sum(nb_add(nb_leaky_relu(u, 0.1), nb_elu(u, 2))), NULL, 0), 0);
  double w2[3] = {0.1 + 2 * exp(-1), 2, 2};
  ck_assert_tensor_values(nb_grad(u), w2, 3, 1e-15);
}
END_TEST

START_TEST(test_var_std_logsumexp) {
  const double v[8] = {1, 2, 3, 4, 2, 2, 2, 2};
  nb_tensor *x = nb_reshape(vec(v, 8, NB_F64), 2, (int64_t[]){2, 4});
  double ub[2] = {5.0 / 3, 0}, b[2] = {1.25, 0};
  ck_assert_tensor_values(nb_var(x, 1, (int64_t[]){1}, true, false), ub, 2, 1e-15);
  ck_assert_tensor_values(nb_var(x, 1, (int64_t[]){-1}, false, false), b, 2, 1e-15);
  double sd[2] = {sqrt(5.0 / 3), 0};
  nb_tensor *s = nb_std(x, 1, (int64_t[]){1}, true, true);
  nb_test_assert_shape(s, 2, (int64_t[]){2, 1});
  ck_assert_tensor_values(s, sd, 2, 1e-15);
  double all = nb_item(nb_var(x, 0, NULL, true, false)); /* mean 2.25, Σ(x−m)² = 5.5 */
  ck_assert_close(all, 5.5 / 7, 1e-15, 0);
  double col[4] = {0.5, 0, 0.5, 2}; /* dim 0, unbiased: (a − b)²/2 */
  ck_assert_tensor_values(nb_var(x, 1, (int64_t[]){0}, true, false), col, 4, 1e-15);
  /* std of a constant row has gradient 0 there (PyTorch masks it), var's is 0 anyway */
  nb_tensor *xl = leaf(2, (int64_t[]){2, 4}, v, NB_F64);
  ck_assert_int_eq(nb_backward(nb_sum(nb_std(xl, 1, (int64_t[]){1}, true, false)), NULL, 0), 0);
  double g[8];
  for (int i = 0; i < 4; i++) g[i] = (v[i] - 2.5) / (3 * sqrt(5.0 / 3)), g[4 + i] = 0;
  ck_assert_tensor_values(nb_grad(xl), g, 8, 1e-15);
  /* logsumexp: stable at large values; all -inf gives -inf */
  const double big[4] = {1000, 1000, -INFINITY, -INFINITY};
  nb_tensor *l = nb_logsumexp(nb_reshape(vec(big, 4, NB_F32), 2, (int64_t[]){2, 2}), 1, (int64_t[]){1}, false);
  double want[2] = {1000 + log(2), -INFINITY};
  double got[2];
  ck_assert_int_eq(nb_to_doubles(l, got, 2), 0);
  ck_assert_close(got[0], want[0], 1e-4, 0);
  ck_assert(isinf(got[1]) && got[1] < 0);
}
END_TEST

START_TEST(test_layer_norm_closed_form) {
  const double v[6] = {1, 2, 3, 10, 10, 13};
  for (int k = 0; k < 2; k++) {
    nb_dtype dt = k ? NB_F64 : NB_F32;
    nb_tensor *x = nb_reshape(vec(v, 6, dt), 2, (int64_t[]){2, 3});
    const double wv[3] = {1, 2, 1}, bv[3] = {0, 0, 1};
    nb_tensor *y = nb_layer_norm(x, 1, (int64_t[]){3}, vec(wv, 3, dt), vec(bv, 3, dt), 0);
    double r = sqrt(1.5); /* row 0: mean 2, biased var 2/3; row 1: mean 11, var 2 */
    double want[6] = {-r, 0, 1 + r, -1 / sqrt(2), 2 * -1 / sqrt(2), 1 + 2 / sqrt(2)};
    ck_assert_tensor_values(y, want, 6, k ? 1e-15 : 1e-6);
  }
  /* d(sum y)/dx = 0 without weight (each row's outputs sum to 0 whatever x is) */
  nb_tensor *xl = leaf(2, (int64_t[]){2, 3}, v, NB_F64);
  ck_assert_int_eq(nb_backward(nb_sum(nb_layer_norm(xl, 1, (int64_t[]){3}, NULL, NULL, 1e-5)), NULL, 0), 0);
  double zero[6] = {0};
  ck_assert_tensor_values(nb_grad(xl), zero, 6, 1e-12);
}
END_TEST

START_TEST(test_group_norm_cumsum) {
  /* one sample, 4 channels in 2 groups: [1,3 | 0,4] and [5,5 | -1,1] (no spatial dims) */
  const double v[8] = {1, 3, 0, 4, 5, 5, -1, 1};
  nb_tensor *x = nb_reshape(vec(v, 8, NB_F64), 2, (int64_t[]){2, 4});
  const double wv[4] = {1, 2, 1, 1}, bv[4] = {0, 0, 0, 1};
  nb_tensor *y = nb_group_norm(x, 2, vec(wv, 4, NB_F64), vec(bv, 4, NB_F64), 0);
  double got[8];
  ck_assert_int_eq(nb_to_doubles(y, got, 8), 0);
  ck_assert_close(got[0], -1, 1e-15, 0);
  ck_assert_close(got[1], 2, 1e-15, 0);
  ck_assert_close(got[2], -1, 1e-15, 0);
  ck_assert_close(got[3], 2, 1e-15, 0);
  ck_assert(isnan(got[4])); /* a constant group with eps 0: 0·inf, as PyTorch */
  ck_assert_close(got[6], -1, 1e-15, 0);
  ck_assert_close(got[7], 2, 1e-15, 0);
  ck_assert_ptr_null(nb_group_norm(x, 3, NULL, NULL, 1e-5));
  ck_assert_error_contains("group_norm: 4 channels of input [2,4] do not split into 3 groups");
  /* cumsum and its gradient (the reversed running sum) */
  nb_tensor *c = leaf(2, (int64_t[]){2, 4}, v, NB_F64);
  nb_tensor *cs = nb_cumsum(c, 1);
  double run[8] = {1, 4, 4, 8, 5, 10, 9, 10};
  ck_assert_tensor_values(cs, run, 8, 0);
  const double w[4] = {1, 2, 3, 4};
  ck_assert_int_eq(nb_backward(nb_sum(nb_mul(cs, vec(w, 4, NB_F64))), NULL, 0), 0);
  double g[8] = {10, 9, 7, 4, 10, 9, 7, 4};
  ck_assert_tensor_values(nb_grad(c), g, 8, 0);
  ck_assert_ptr_null(nb_cumsum(c, 2));
  ck_assert_error_contains("cumsum: dim 2 is out of range");
}
END_TEST

START_TEST(test_embedding) {
  const double w[8] = {0, 1, 10, 11, 20, 21, 30, 31};
  nb_tensor *wt = leaf(2, (int64_t[]){4, 2}, w, NB_F64);
  int64_t ix[5] = {3, 1, 1, 0, 2};
  nb_tensor *idx = nb_from_data(ix, 2, (int64_t[]){1, 5}, NB_I64);
  nb_tensor *y = nb_embedding(idx, wt, 1);
  nb_test_assert_shape(y, 3, (int64_t[]){1, 5, 2});
  double want[10] = {30, 31, 10, 11, 10, 11, 0, 1, 20, 21};
  ck_assert_tensor_values(y, want, 10, 0);
  ck_assert_int_eq(nb_backward(nb_sum(y), NULL, 0), 0);
  double g[8] = {1, 1, 0, 0, 1, 1, 1, 1}; /* row 1 is padding: no gradient */
  ck_assert_tensor_values(nb_grad(wt), g, 8, 0);
  /* no padding: the repeated index gets both rows' gradients */
  nb_tensor *w2 = leaf(2, (int64_t[]){4, 2}, w, NB_F64);
  ck_assert_int_eq(nb_backward(nb_sum(nb_embedding(idx, w2, NB_NO_PADDING)), NULL, 0), 0);
  double g2[8] = {1, 1, 2, 2, 1, 1, 1, 1};
  ck_assert_tensor_values(nb_grad(w2), g2, 8, 0);
}
END_TEST

/* softmax(q·kᵀ·scale + mask)·v from the ops a user would write without the fused op. */
static nb_tensor *composite(nb_tensor *q, nb_tensor *k, nb_tensor *v, bool causal, double scale) {
  int nd = nb_ndim(q);
  int64_t L = nb_shape(q)[nd - 2], S = nb_shape(k)[nd - 2];
  nb_tensor *s = nb_mul_scalar(nb_matmul(q, nb_transpose(k, -2, -1)), scale);
  if (causal) {
    double *m = calloc((size_t)(L * S), sizeof *m);
    for (int64_t i = 0; i < L; i++)
      for (int64_t j = i + 1; j < S; j++) m[i * S + j] = -INFINITY;
    s = nb_add(s, nb_reshape(nb_from_doubles(m, L * S, nb_dtype_of(q)), 2, (int64_t[]){L, S}));
    free(m);
  }
  return nb_matmul(nb_softmax(s, -1), v);
}

static nb_tensor *rnd(int nd, const int64_t *sh, nb_dtype dt, nb_generator *g) {
  nb_tensor *t = nb_rand_range(nd, sh, -1, 1, dt, g);
  ck_assert_int_eq(nb_set_requires_grad(t, true), 0);
  return t;
}

static void assert_close(const nb_tensor *a, const nb_tensor *b, double tol, const char *what) {
  ck_assert_msg(a && b, "%s: %s", what, nb_last_error());
  int64_t n = nb_numel(a);
  ck_assert_int_eq(n, nb_numel(b));
  double *x = malloc(sizeof(double) * (size_t)n), *y = malloc(sizeof(double) * (size_t)n);
  nb_to_doubles(a, x, n);
  nb_to_doubles(b, y, n);
  for (int64_t i = 0; i < n; i++)
    ck_assert_msg(fabs(x[i] - y[i]) <= tol * (1 + fabs(y[i])), "%s[%lld]: %.17g vs %.17g", what,
                  (long long)i, x[i], y[i]);
  free(x);
  free(y);
}

START_TEST(test_sdpa_matches_composite) {
  nb_generator *g = nb_generator_new(7);
  for (int k = 0; k < 4; k++) {
    nb_dtype dt = k & 1 ? NB_F64 : NB_F32;
    bool causal = k >= 2;
    double tol = dt == NB_F64 ? 1e-12 : 1e-5;
    int64_t qs[4] = {2, 3, 5, 4}, ks[4] = {2, 3, 6, 4}, vs[4] = {2, 3, 6, 3};
    nb_tensor *q[2], *kk[2], *v[2], *y[2];
    q[0] = rnd(4, qs, dt, g), kk[0] = rnd(4, ks, dt, g), v[0] = rnd(4, vs, dt, g);
    for (int i = 0; i < 3; i++) {
      nb_tensor *src[3] = {q[0], kk[0], v[0]}, **dst[3] = {&q[1], &kk[1], &v[1]};
      *dst[i] = nb_detach(nb_clone(src[i]));
      ck_assert_int_eq(nb_set_requires_grad(*dst[i], true), 0);
    }
    double scale = 0.37;
    y[0] = nb_scaled_dot_product_attention(q[0], kk[0], v[0], causal, scale);
    y[1] = composite(q[1], kk[1], v[1], causal, scale);
    assert_close(y[0], y[1], tol, "out");
    nb_tensor *w = nb_rand_range(4, (int64_t[]){2, 3, 5, 3}, -1, 1, dt, g);
    for (int i = 0; i < 2; i++) ck_assert_int_eq(nb_backward(nb_sum(nb_mul(y[i], w)), NULL, 0), 0);
    assert_close(nb_grad(q[0]), nb_grad(q[1]), tol, "grad q");
    assert_close(nb_grad(kk[0]), nb_grad(kk[1]), tol, "grad k");
    assert_close(nb_grad(v[0]), nb_grad(v[1]), tol, "grad v");
  }
  /* default scale 1/√E */
  nb_tensor *q = rnd(3, (int64_t[]){2, 4, 9}, NB_F64, g), *v = rnd(3, (int64_t[]){2, 4, 2}, NB_F64, g);
  assert_close(nb_scaled_dot_product_attention(q, q, v, true, NAN), composite(q, q, v, true, 1.0 / 3), 1e-12,
               "default scale");
  nb_generator_free(g);
}
END_TEST

START_TEST(test_matmul_broadcasts_leading_dims) {
  /* nb_matmul already has torch.matmul's batch broadcasting: (2,1,3,4)·(3,4,5) → (2,3,3,5) */
  nb_generator *g = nb_generator_new(3);
  nb_tensor *a = nb_rand_range(4, (int64_t[]){2, 1, 3, 4}, -1, 1, NB_F64, g);
  nb_tensor *b = nb_rand_range(3, (int64_t[]){3, 4, 5}, -1, 1, NB_F64, g);
  nb_tensor *c = nb_matmul(a, b);
  nb_test_assert_shape(c, 4, (int64_t[]){2, 3, 3, 5});
  const double *pa = nb_data(a), *pb = nb_data(b), *pc = nb_data(c);
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++)
      for (int r = 0; r < 3; r++)
        for (int cc = 0; cc < 5; cc++) {
          double s = 0;
          for (int t = 0; t < 4; t++) s += pa[i * 12 + r * 4 + t] * pb[j * 20 + t * 5 + cc];
          ck_assert_close(pc[((i * 3 + j) * 3 + r) * 5 + cc], s, 1e-14, 0);
        }
  nb_generator_free(g);
}
END_TEST

START_TEST(test_errors) {
  nb_tensor *x = nb_zeros(2, (int64_t[]){2, 3}, NB_F32);
  ck_assert_ptr_null(nb_var(x, 1, (int64_t[]){2}, true, false));
  ck_assert_error_contains("var: dim 2 is out of range for input of shape [2,3]");
  ck_assert_ptr_null(nb_std(x, 2, (int64_t[]){1, -1}, true, false));
  ck_assert_error_contains("std: dim 1 appears twice");
  ck_assert_ptr_null(nb_layer_norm(x, 1, (int64_t[]){4}, NULL, NULL, 1e-5));
  ck_assert_error_contains("layer_norm: input of shape [2,3] does not end in normalized_shape [4]");
  ck_assert_ptr_null(nb_layer_norm(x, 1, (int64_t[]){3}, nb_ones(1, (int64_t[]){2}, NB_F32), NULL, 1e-5));
  ck_assert_error_contains("layer_norm: weight of shape [2] should have normalized_shape [3]");
  ck_assert_ptr_null(nb_layer_norm(x, 1, (int64_t[]){3}, nb_ones(1, (int64_t[]){3}, NB_F64), NULL, 1e-5));
  ck_assert_error_contains("layer_norm: weight dtype float64 does not match input dtype float32");
  nb_tensor *w = nb_zeros(2, (int64_t[]){4, 2}, NB_F32);
  int64_t bad[2] = {1, 4};
  ck_assert_ptr_null(nb_embedding(nb_from_data(bad, 1, (int64_t[]){2}, NB_I64), w, NB_NO_PADDING));
  ck_assert_error_contains("embedding: index 4 out of range for 4 embeddings");
  ck_assert_ptr_null(nb_embedding(nb_from_data(bad, 1, (int64_t[]){1}, NB_I64), w, 4));
  ck_assert_error_contains("embedding: padding_idx 4 out of range");
  ck_assert_ptr_null(nb_embedding(x, w, NB_NO_PADDING));
  ck_assert_error_contains("embedding");
  nb_tensor *q = nb_zeros(3, (int64_t[]){2, 4, 8}, NB_F32), *k = nb_zeros(3, (int64_t[]){2, 4, 7}, NB_F32);
  ck_assert_ptr_null(nb_scaled_dot_product_attention(q, k, k, false, NAN));
  ck_assert_error_contains("scaled_dot_product_attention: query [2,4,8], key [2,4,7] and value [2,4,7] do not fit");
  ck_assert_ptr_null(nb_gelu(x, "exact"));
  ck_assert_error_contains("approximate");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("transformer_ops");
  TCase *tc = tcase_create("ops");
  tcase_add_checked_fixture(tc, nb_test_scope_setup, nb_test_scope_teardown);
  tcase_add_test(tc, test_activations_closed_form);
  tcase_add_test(tc, test_activation_gradients);
  tcase_add_test(tc, test_var_std_logsumexp);
  tcase_add_test(tc, test_layer_norm_closed_form);
  tcase_add_test(tc, test_group_norm_cumsum);
  tcase_add_test(tc, test_embedding);
  tcase_add_test(tc, test_sdpa_matches_composite);
  tcase_add_test(tc, test_matmul_broadcasts_leading_dims);
  tcase_add_test(tc, test_errors);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(suite()); }
