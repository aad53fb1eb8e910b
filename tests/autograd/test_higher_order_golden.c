/* test_higher_order_golden.c — higher-order gradients against PyTorch (float64, 1e-10):
 * the Hessian of a small MLP's loss with respect to its weights (nb_hessian), a WGAN-GP
 * gradient-penalty step, the third derivative of x**4, and nb_hvp on a linear +
 * batch_norm + cross_entropy network, a conv2d one, and a conv2d + batch_norm + gelu +
 * adaptive pool + cross_entropy one. Goldens: higher_order_golden.txt, written by
 * higher_order_golden.py (committed next to this file; run with /usr/bin/python3). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define TOL 1e-10

static const char *golden_path;

static void setup(void) { ck_assert_int_ge(nb_scope_begin(), 1); }
static void teardown(void) { nb_scope_end(); }

/* The golden tensor `name` (float64, or int64 for the "*_target" ones), scoped. */
static nb_tensor *golden(const char *name) {
  FILE *f = fopen(golden_path, "r");
  ck_assert_msg(f != NULL, "cannot open %s", golden_path);
  char key[64];
  nb_tensor *t = NULL;
  int c;
  while (!t && fscanf(f, "%63s", key) == 1) {
    if (key[0] == '#' || strcmp(key, name) != 0) {
      while ((c = fgetc(f)) != '\n' && c != EOF) {
      }
      continue;
    }
    int nd;
    int64_t shape[NB_MAX_DIMS], n = 1;
    ck_assert_int_eq(fscanf(f, "%d", &nd), 1);
    for (int d = 0; d < nd; d++) {
      ck_assert_int_eq(fscanf(f, "%" SCNd64, &shape[d]), 1);
      n *= shape[d];
    }
    bool idx = strstr(name, "_target") != NULL;
    t = nb_zeros(nd, shape, idx ? NB_I64 : NB_F64);
    for (int64_t k = 0; k < n; k++) {
      double v;
      ck_assert_int_eq(fscanf(f, "%lf", &v), 1);
      if (idx)
        ((int64_t *)nb_data(t))[k] = (int64_t)v;
      else
        ((double *)nb_data(t))[k] = v;
    }
  }
  fclose(f);
  ck_assert_msg(t != NULL, "%s: no golden named %s", golden_path, name);
  return t;
}

static void assert_close(nb_tensor *got, const char *name) {
  nb_tensor *want = golden(name);
  ck_assert_msg(got != NULL, "%s: no result (%s)", name, nb_last_error());
  ck_assert_int_eq(nb_numel(got), nb_numel(want));
  int64_t n = nb_numel(want);
  double *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
  nb_to_doubles(got, a, n);
  nb_to_doubles(want, b, n);
  for (int64_t k = 0; k < n; k++)
    ck_assert_msg(fabs(a[k] - b[k]) <= TOL, "%s[%lld]: got %.17g, PyTorch %.17g", name, (long long)k,
                  a[k], b[k]);
  free(a);
  free(b);
}

/* ---- 1. MLP Hessian ---- */
static nb_tensor *mlp_loss(nb_tensor *const *p, void *user) {
  (void)user;
  nb_tensor *h = nb_tanh(nb_linear(golden("mlp_x"), p[0], p[1]));
  return nb_mse_loss(nb_linear(h, p[2], p[3]), golden("mlp_t"), "mean");
}

START_TEST(mlp_hessian) {
  nb_tensor *p[4] = {golden("mlp_W1"), golden("mlp_b1"), golden("mlp_W2"), golden("mlp_b2")}, *H[16];
  ck_assert_msg(nb_hessian(mlp_loss, NULL, 4, p, H) == 0, "%s", nb_last_error());
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) {
      char name[32];
      snprintf(name, sizeof name, "mlp_H_%d_%d", i, j);
      assert_close(H[i * 4 + j], name);
    }
}
END_TEST

/* ---- 2. gradient penalty ---- */
START_TEST(gradient_penalty_step) {
  nb_tensor *x = nb_requires_grad_(golden("gp_x"));
  nb_tensor *p[4] = {nb_requires_grad_(golden("gp_W1")), nb_requires_grad_(golden("gp_b1")),
                     nb_requires_grad_(golden("gp_W2")), nb_requires_grad_(golden("gp_b2"))};
  nb_tensor *out = nb_linear(nb_sigmoid(nb_linear(x, p[0], p[1])), p[2], p[3]), *s = nb_sum(out), *g;
  ck_assert_msg(nb_autograd_grad(&s, NULL, 1, &x, 1, &g, NB_CREATE_GRAPH, false) == 0, "%s",
                nb_last_error());
  nb_tensor *norm = nb_sqrt(nb_sum_dims(nb_mul(g, g), 1, (int64_t[]){1}, false));
  nb_tensor *gp = nb_mul_scalar(nb_mean(nb_pow_scalar(nb_sub_scalar(norm, 1), 2)), 10);
  ck_assert_int_eq(nb_backward(gp, NULL, 0), 0);
  assert_close(gp, "gp_value");
  const char *names[4] = {"gp_dW1", "gp_db1", "gp_dW2", "gp_db2"};
  for (int i = 0; i < 4; i++)
    assert_close(nb_grad(p[i]) ? nb_grad(p[i]) : nb_zeros_like(p[i]), names[i]);
}
END_TEST

/* ---- 3. third derivative of x**4 ---- */
START_TEST(third_derivative_of_x4) {
  nb_tensor *x = nb_requires_grad_(golden("x4_x")), *d1, *d2, *d3;
  nb_tensor *y = nb_sum(nb_pow_scalar(x, 4));
  ck_assert_int_eq(nb_autograd_grad(&y, NULL, 1, &x, 1, &d1, NB_CREATE_GRAPH, false), 0);
  nb_tensor *s1 = nb_sum(d1);
  ck_assert_int_eq(nb_autograd_grad(&s1, NULL, 1, &x, 1, &d2, NB_CREATE_GRAPH, false), 0);
  nb_tensor *s2 = nb_sum(d2);
  ck_assert_int_eq(nb_autograd_grad(&s2, NULL, 1, &x, 1, &d3, 0, false), 0);
  assert_close(d3, "x4_d3");
}
END_TEST

/* ---- 4. hvp through linear + batch_norm + cross_entropy ---- */
static nb_tensor *net_loss(nb_tensor *const *p, void *user) {
  (void)user;
  nb_tensor *h = nb_linear(golden("hvp_x"), p[0], p[1]);
  h = nb_batch_norm(h, NULL, NULL, p[2], p[3], true, 0.1, 1e-5);
  return nb_cross_entropy(h, golden("hvp_target"), NULL, "mean", -100, 0.0);
}

START_TEST(hvp_linear_batchnorm_cross_entropy) {
  nb_tensor *p[4] = {golden("hvp_W"), golden("hvp_b"), golden("hvp_gamma"), golden("hvp_beta")};
  nb_tensor *v[4] = {golden("hvp_vW"), golden("hvp_vb"), golden("hvp_vgamma"), golden("hvp_vbeta")};
  nb_tensor *hv[4], *out;
  ck_assert_msg(nb_hvp(net_loss, NULL, 4, p, v, 0, &out, hv) == 0, "%s", nb_last_error());
  assert_close(hv[0], "hvp_W_out");
  assert_close(hv[1], "hvp_b_out");
  assert_close(hv[2], "hvp_gamma_out");
  assert_close(hv[3], "hvp_beta_out");
}
END_TEST

/* ---- 5. hvp through conv2d + batch_norm + mean + cross_entropy ---- */
static nb_tensor *conv_loss(nb_tensor *const *p, void *user) {
  (void)user;
  nb_tensor *h = nb_conv2d(golden("chvp_x"), p[0], p[1], (int64_t[]){2, 2}, (int64_t[]){1, 1}, NULL, 1);
  h = nb_batch_norm(h, NULL, NULL, p[2], p[3], true, 0.1, 1e-5);
  h = nb_mean_dims(h, 2, (int64_t[]){2, 3}, false);
  return nb_cross_entropy(h, golden("chvp_target"), NULL, "mean", -100, 0.0);
}

START_TEST(hvp_conv2d_batchnorm_cross_entropy) {
  nb_tensor *p[4] = {golden("chvp_W"), golden("chvp_b"), golden("chvp_gamma"), golden("chvp_beta")};
  nb_tensor *v[4] = {golden("chvp_vW"), golden("chvp_vb"), golden("chvp_vgamma"), golden("chvp_vbeta")};
  nb_tensor *hv[4], *out;
  ck_assert_msg(nb_hvp(conv_loss, NULL, 4, p, v, 0, &out, hv) == 0, "%s", nb_last_error());
  assert_close(hv[0], "chvp_W_out");
  assert_close(hv[1], "chvp_b_out");
  assert_close(hv[2], "chvp_gamma_out");
  assert_close(hv[3], "chvp_beta_out");
}
END_TEST

/* ---- 6. hvp through conv2d + batch_norm + gelu + adaptive_avg_pool2d + cross_entropy ---- */
static nb_tensor *cnn_loss(nb_tensor *const *p, void *user) {
  (void)user;
  nb_tensor *h = nb_conv2d(golden("cnn_x"), p[0], p[1], NULL, (int64_t[]){1, 1}, NULL, 1);
  h = nb_batch_norm(h, NULL, NULL, p[2], p[3], true, 0.1, 1e-5);
  h = nb_flatten(nb_adaptive_avg_pool2d(nb_gelu(h, NULL), (int64_t[]){1, 1}), 1, -1);
  return nb_cross_entropy(h, golden("cnn_target"), NULL, "mean", -100, 0.0);
}

START_TEST(hvp_conv2d_batchnorm_gelu_pool_cross_entropy) {
  nb_tensor *p[4] = {golden("cnn_W"), golden("cnn_b"), golden("cnn_gamma"), golden("cnn_beta")};
  nb_tensor *v[4] = {golden("cnn_vW"), golden("cnn_vb"), golden("cnn_vgamma"), golden("cnn_vbeta")};
  nb_tensor *hv[4], *out;
  ck_assert_msg(nb_hvp(cnn_loss, NULL, 4, p, v, 0, &out, hv) == 0, "%s", nb_last_error());
  assert_close(hv[0], "cnn_W_out");
  assert_close(hv[1], "cnn_b_out");
  assert_close(hv[2], "cnn_gamma_out");
  assert_close(hv[3], "cnn_beta_out");
}
END_TEST

int main(int argc, char **argv) {
  golden_path = argc > 1 ? argv[1] : "higher_order_golden.txt";
  Suite *s = suite_create("higher_order_golden");
  TCase *tc = tcase_create("torch");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, mlp_hessian);
  tcase_add_test(tc, gradient_penalty_step);
  tcase_add_test(tc, third_derivative_of_x4);
  tcase_add_test(tc, hvp_linear_batchnorm_cross_entropy);
  tcase_add_test(tc, hvp_conv2d_batchnorm_cross_entropy);
  tcase_add_test(tc, hvp_conv2d_batchnorm_gelu_pool_cross_entropy);
  suite_add_tcase(s, tc);
  return nb_test_run(s);
}
