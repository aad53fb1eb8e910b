/* tests/optim/test_toy.c — the seed's toy net (10->5->5->1) trained from PyTorch's initial
 * weights and data, checked against PyTorch (toy_golden.safetensors, gen_golden.py):
 * A) SGD lr 0.1, 100 steps of MSELoss; B) fc2 frozen, Adam lr 0.1, 100 steps: fc2 unchanged
 * bit for bit, fc1/fc3 match; C) fc2 unfrozen, 100 more steps of the same Adam. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"
#include "testutil.h"

static nb_safetensors *golden;
static nb_module *net;
static nb_tensor *x, *y;
static int64_t live0;

static nb_tensor *gold(const char *prefix, const char *name) {
  char key[256];
  snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", name);
  nb_tensor *t = nb_safetensors_get(golden, key);
  ck_assert_msg(t != NULL, "%s: %s", key, nb_last_error());
  return t;
}

static void setup(void) {
  live0 = nb_live_tensors();
  const char *root = getenv("NABLA_SOURCE_ROOT");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/optim/toy_golden.safetensors", root ? root : ".");
  golden = nb_safetensors_load(path);
  ck_assert_msg(golden != NULL, "%s: %s", path, nb_last_error());
  net = toy_net_new(NULL);
  ck_assert_msg(net != NULL, "%s", nb_last_error());
  nb_scope_begin();
  /* PyTorch's initial weights, copied in by name */
  nb_named_tensors *sd = nb_module_state_dict(net);
  nb_no_grad_begin();
  for (int i = 0; i < sd->n; i++)
    ck_assert_int_eq(nb_copy_into(sd->tensors[i], gold("init", sd->names[i])), 0);
  nb_no_grad_end();
  nb_named_tensors_free(sd);
  x = gold("", "x");
  y = gold("", "y");
}

static void teardown(void) {
  nb_scope_end();
  nb_module_free(net);
  nb_safetensors_free(golden);
  ck_assert_int_eq(nb_live_tensors(), live0);
}

static void train(nb_optimizer *o, int steps, const char *tag) {
  nb_tensor *want_loss = gold(tag, "loss");
  for (int s = 0; s < steps; s++) {
    nb_scope_begin();
    ck_assert_int_eq(nb_optimizer_zero_grad(o, true), 0);
    nb_tensor *loss = nb_mse_loss(nb_module_forward(net, x), y, "mean");
    ck_assert_msg(loss != NULL, "%s", nb_last_error());
    double w;
    int64_t idx = s;
    nb_get(want_loss, &idx, &w);
    ck_assert_msg(fabs(nb_item(loss) - w) <= 1e-5 * (1 + fabs(w)), "%s step %d: loss %.9g vs torch %.9g",
                  tag, s, nb_item(loss), w);
    ck_assert_msg(nb_backward(loss, NULL, 0) == 0, "%s", nb_last_error());
    ck_assert_msg(nb_optimizer_step(o) == 0, "%s", nb_last_error());
    nb_scope_end();
  }
}

static double compare(const char *tag, const char *name) {
  nb_tensor *want = gold(tag, name), *got = nb_module_get(net, name);
  int64_t n = nb_numel(want);
  ck_assert_int_eq(nb_numel(got), n);
  double a[64], b[64], worst = 0;
  nb_to_doubles(got, a, n);
  nb_to_doubles(want, b, n);
  for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - b[i]));
  ck_assert_msg(worst <= 1e-5, "%s %s: max |nabla - torch| = %.3g", tag, name, worst);
  return worst;
}

static const char *const PARAMS[] = {"fc1.weight", "fc1.bias", "fc2.weight",
                                     "fc2.bias",   "fc3.weight", "fc3.bias"};

static nb_optimizer *over_all(const char *kind) {
  nb_named_tensors *ps = nb_module_named_parameters(net);
  nb_optimizer *o = nb_optimizer_new(kind, ps->n, ps->tensors, 1, (nb_attr[]){NB_A_FLOAT("lr", 0.1)});
  ck_assert_msg(o != NULL, "%s", nb_last_error());
  nb_named_tensors_free(ps);
  return o;
}

START_TEST(test_toy_sgd_adam_freeze) {
  nb_optimizer *sgd = over_all("sgd");
  train(sgd, 100, "A");
  for (int i = 0; i < 6; i++) compare("A", PARAMS[i]);
  nb_optimizer_free(sgd);

  /* B: freeze fc2; Adam over all parameters must leave it alone bit for bit */
  nb_module *fc2 = nb_module_child(net, "fc2");
  ck_assert_int_eq(nb_module_set_requires_grad(fc2, false), 0);
  ck_assert_int_eq(nb_module_num_parameters(net, true), 91 - 30);
  nb_tensor *w2 = nb_copy_data(nb_module_get(net, "fc2.weight"));
  nb_tensor *b2 = nb_copy_data(nb_module_get(net, "fc2.bias"));
  nb_optimizer *adam = over_all("adam");
  train(adam, 100, "B");
  ck_assert_mem_eq(nb_data(nb_module_get(net, "fc2.weight")), nb_data(w2), 25 * sizeof(float));
  ck_assert_mem_eq(nb_data(nb_module_get(net, "fc2.bias")), nb_data(b2), 5 * sizeof(float));
  ck_assert_ptr_null(nb_grad(nb_module_get(net, "fc2.weight")));
  for (int i = 0; i < 6; i++) compare("B", PARAMS[i]);

  /* C: unfreeze and continue with the same Adam (fc2 starts its own step count at 1) */
  ck_assert_int_eq(nb_module_set_requires_grad(fc2, true), 0);
  train(adam, 100, "C");
  for (int i = 0; i < 6; i++) compare("C", PARAMS[i]);
  ck_assert_int_eq(nb_optimizer_param_step(adam, 0, 0), 200);
  ck_assert_int_eq(nb_optimizer_param_step(adam, 0, 2), 100);
  nb_optimizer_free(adam);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("optim_toy");
  TCase *tc = tcase_create("toy");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_toy_sgd_adam_freeze);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(suite()); }
