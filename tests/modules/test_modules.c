/* tests/modules/test_modules.c — module trees: PyTorch's names and counts, printing (against
 * PyTorch's repr from gen_reference.py), train/eval, freezing, replacing a child, layers'
 * forward against PyTorch (blitz Net, BatchNorm2d), user modules and errors. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"
#include "testutil.h"

static char *read_ref(const char *name) {
  const char *root = getenv("NABLA_SOURCE_ROOT");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/modules/%s", root ? root : ".", name);
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  static char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  while (n > 0 && buf[n - 1] == '\n') n--;
  buf[n] = 0;
  return buf;
}

static nb_safetensors *golden(void) {
  const char *root = getenv("NABLA_SOURCE_ROOT");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/modules/modules_golden.safetensors", root ? root : ".");
  nb_safetensors *f = nb_safetensors_load(path);
  ck_assert_msg(f != NULL, "%s: %s", path, nb_last_error());
  return f;
}

static void assert_close_tensors(const nb_tensor *got, const nb_tensor *want, double tol,
                                 const char *what) {
  ck_assert_msg(got != NULL, "%s: %s", what, nb_last_error());
  int64_t n = nb_numel(want);
  ck_assert_int_eq(nb_numel(got), n);
  double *a = malloc(sizeof(double) * (size_t)n), *b = malloc(sizeof(double) * (size_t)n);
  nb_to_doubles(got, a, n);
  nb_to_doubles(want, b, n);
  for (int64_t i = 0; i < n; i++)
    ck_assert_msg(fabs(a[i] - b[i]) <= tol * (1 + fabs(b[i])), "%s[%lld]: %.9g vs torch %.9g",
                  what, (long long)i, a[i], b[i]);
  free(a);
  free(b);
}

START_TEST(test_toy_names_and_print) {
  nb_module *net = toy_net_new(NULL);
  ck_assert_ptr_nonnull(net);
  nb_named_tensors *ps = nb_module_named_parameters(net);
  static const char *const want[] = {"fc1.weight", "fc1.bias", "fc2.weight",
                                     "fc2.bias",   "fc3.weight", "fc3.bias"};
  ck_assert_int_eq(ps->n, 6);
  for (int i = 0; i < 6; i++) ck_assert_str_eq(ps->names[i], want[i]);
  ck_assert(nb_requires_grad(ps->tensors[0]));
  nb_named_tensors_free(ps);
  ck_assert_int_eq(nb_module_num_parameters(net, false), 91);
  char *s = nb_module_to_string(net);
  ck_assert_str_eq(s, read_ref("repr_toy.txt"));
  free(s);
  /* PyTorch's default init bounds: |w| <= 1/sqrt(fan_in) */
  nb_tensor *w = nb_module_get(net, "fc1.weight");
  ck_assert(nb_item(nb_max(nb_abs(w))) <= 1 / sqrt(10.0));
  ck_assert_ptr_null(nb_module_get(net, "fc4.weight"));
  ck_assert_error_contains("fc4");
  nb_module_free(net);
}
END_TEST

START_TEST(test_blitz_matches_torch) {
  nb_module *net = blitz_net_new(NULL);
  ck_assert_ptr_nonnull(net);
  ck_assert_int_eq(nb_module_num_parameters(net, false), 62006);
  char *s = nb_module_to_string(net);
  ck_assert_str_eq(s, read_ref("repr_blitz.txt"));
  free(s);
  const char *root = getenv("NABLA_SOURCE_ROOT");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/modules/blitz_torch.safetensors", root ? root : ".");
  ck_assert_msg(nb_module_load(net, path, true) == 10, "%s", nb_last_error());
  nb_safetensors *g = golden();
  nb_tensor *y = nb_module_forward(net, nb_safetensors_get(g, "blitz.x"));
  assert_close_tensors(y, nb_safetensors_get(g, "blitz.y"), 1e-5, "blitz y");
  nb_tensor *loss = nb_mse_loss(y, nb_safetensors_get(g, "blitz.t"), "mean");
  assert_close_tensors(loss, nb_safetensors_get(g, "blitz.loss"), 1e-5, "blitz loss");
  ck_assert_int_eq(nb_backward(loss, NULL, 0), 0);
  nb_named_tensors *ps = nb_module_named_parameters(net);
  for (int i = 0; i < ps->n; i++) {
    char key[128];
    snprintf(key, sizeof key, "blitz.grad.%s", ps->names[i]);
    assert_close_tensors(nb_grad(ps->tensors[i]), nb_safetensors_get(g, key), 1e-4, key);
  }
  nb_named_tensors_free(ps);
  ck_assert_int_eq(nb_module_zero_grad(net, true), 0);
  ck_assert_ptr_null(nb_grad(nb_module_get(net, "conv1.weight")));
  nb_safetensors_free(g);
  nb_module_free(net);
}
END_TEST

START_TEST(test_batch_norm_matches_torch) {
  nb_module *bn = nb_batch_norm2d_new(3, 1e-5, 0.1);
  ck_assert_ptr_nonnull(bn);
  nb_safetensors *g = golden();
  nb_no_grad_begin();
  nb_copy_into(nb_module_get(bn, "weight"), nb_from_doubles((double[]){1.0, 2.0, 0.5}, 3, NB_F32));
  nb_copy_into(nb_module_get(bn, "bias"), nb_from_doubles((double[]){0.0, -1.0, 0.25}, 3, NB_F32));
  nb_no_grad_end();
  ck_assert_ptr_nonnull(nb_module_forward(bn, nb_safetensors_get(g, "bn.x1")));
  nb_tensor *y2 = nb_module_forward(bn, nb_safetensors_get(g, "bn.x2"));
  assert_close_tensors(y2, nb_safetensors_get(g, "bn.y2"), 1e-5, "bn train y");
  assert_close_tensors(nb_module_get(bn, "running_mean"), nb_safetensors_get(g, "bn.running_mean"),
                       1e-6, "running_mean");
  assert_close_tensors(nb_module_get(bn, "running_var"), nb_safetensors_get(g, "bn.running_var"),
                       1e-6, "running_var");
  nb_tensor *nbt = nb_module_get(bn, "num_batches_tracked");
  ck_assert_int_eq(nb_dtype_of(nbt), NB_I64);
  ck_assert_double_eq(nb_item(nbt), 2);
  nb_module_train(bn, false);
  nb_tensor *ye = nb_module_forward(bn, nb_safetensors_get(g, "bn.x1"));
  assert_close_tensors(ye, nb_safetensors_get(g, "bn.eval_y"), 1e-5, "bn eval y");
  ck_assert_double_eq(nb_item(nbt), 2); /* eval leaves the statistics alone */
  char *s = nb_module_to_string(bn);
  ck_assert_str_eq(s, "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  free(s);
  nb_safetensors_free(g);
  nb_module_free(bn);
}
END_TEST

START_TEST(test_resnet18_structure) {
  nb_module *r = resnet18_new(1000, NULL);
  ck_assert_msg(r != NULL, "%s", nb_last_error());
  ck_assert_int_eq(nb_module_num_parameters(r, false), 11689512);
  nb_named_tensors *sd = nb_module_state_dict(r);
  ck_assert_int_eq(sd->n, 122);
  ck_assert_str_eq(sd->names[0], "conv1.weight");
  ck_assert_str_eq(sd->names[5], "bn1.num_batches_tracked");
  ck_assert_str_eq(sd->names[6], "layer1.0.conv1.weight");
  ck_assert_str_eq(sd->names[121], "fc.bias");
  nb_named_tensors_free(sd);
  ck_assert_ptr_nonnull(nb_module_get(r, "layer2.0.downsample.0.weight"));
  ck_assert_ptr_nonnull(nb_module_get(r, "layer2.0.downsample.1.running_var"));
  ck_assert_ptr_null(nb_module_get(r, "layer1.0.downsample.0.weight"));
  char *s = nb_module_to_string(r);
  ck_assert_str_eq(s, read_ref("repr_resnet18.txt"));
  free(s);
  /* a full training step's backward goes through the in-place ReLUs */
  nb_tensor *x0 = nb_randn(4, (int64_t[]){2, 3, 32, 32}, NB_F32, NULL);
  nb_tensor *y0 = nb_module_forward(r, x0);
  ck_assert_msg(y0 != NULL, "%s", nb_last_error());
  ck_assert_msg(nb_backward(nb_sum(y0), NULL, 0) == 0, "%s", nb_last_error());
  ck_assert_ptr_nonnull(nb_grad(nb_module_get(r, "conv1.weight")));
  ck_assert_ptr_nonnull(nb_grad(nb_module_get(r, "layer4.1.bn2.weight")));
  ck_assert_int_eq(nb_module_zero_grad(r, true), 0);
  /* the seed's finetuning: replace fc, freeze everything else */
  ck_assert_int_eq(nb_module_replace(r, "fc", nb_linear_new(512, 10, true, NULL)), 0);
  ck_assert_int_eq(nb_module_num_parameters(r, false), 11689512 - 513000 + 5130);
  ck_assert_int_eq(nb_module_set_requires_grad(r, false), 0);
  ck_assert_int_eq(nb_module_set_requires_grad(nb_module_child(r, "fc"), true), 0);
  ck_assert_int_eq(nb_module_num_parameters(r, true), 5130);
  ck_assert_int_lt(nb_module_replace(r, "layer9", nb_relu_new(false)), 0);
  ck_assert_error_contains("layer9");
  /* train/eval reach every submodule */
  nb_module_train(r, false);
  ck_assert(!nb_module_is_training(nb_module_child(r, "layer3.1.bn2")));
  nb_module_train(r, true);
  ck_assert(nb_module_is_training(nb_module_child(r, "layer3.1.bn2")));
  /* a forward on CIFAR-sized images gives [N,10]; BN statistics move */
  nb_tensor *x = nb_randn(4, (int64_t[]){2, 3, 32, 32}, NB_F32, NULL);
  nb_tensor *y = nb_module_forward(r, x);
  ck_assert_msg(y != NULL, "%s", nb_last_error());
  ck_assert_int_eq(nb_size(y, 0), 2);
  ck_assert_int_eq(nb_size(y, 1), 10);
  ck_assert_double_eq(nb_item(nb_module_get(r, "layer1.0.bn1.num_batches_tracked")), 2);
  ck_assert_int_eq(nb_backward(nb_sum(y), NULL, 0), 0);
  ck_assert_ptr_nonnull(nb_grad(nb_module_get(r, "fc.weight")));
  ck_assert_ptr_null(nb_grad(nb_module_get(r, "conv1.weight")));
  nb_module_free(r);
}
END_TEST

typedef struct scaler {
  double factor;
} scaler;

static nb_tensor *scaled_forward(nb_module *self, nb_tensor *x) {
  const scaler *s = nb_module_user(self);
  nb_tensor *h = nb_module_forward(nb_module_child(self, "body"), x);
  return h ? nb_mul_scalar(h, s->factor) : NULL;
}

START_TEST(test_user_module_and_sequential) {
  scaler *sc = malloc(sizeof *sc);
  sc->factor = 3.0;
  nb_module *m = nb_module_new("Scaled", scaled_forward, sc, free);
  nb_module *body = nb_sequential_new(3, (nb_module *[]){nb_linear_new(4, 3, true, NULL),
                                                         nb_relu_new(false), nb_flatten_new(1, -1)});
  ck_assert_int_eq(nb_module_add(m, "body", body), 0);
  ck_assert_int_eq(nb_sequential_append(body, nb_dropout_new(0.5)), 0);
  ck_assert_int_eq(nb_module_set_extra_repr(m, "factor=3.0"), 0);
  char *s = nb_module_to_string(m);
  ck_assert_str_eq(s, "Scaled(\n  factor=3.0\n  (body): Sequential(\n"
                      "    (0): Linear(in_features=4, out_features=3, bias=True)\n"
                      "    (1): ReLU()\n    (2): Flatten(start_dim=1, end_dim=-1)\n"
                      "    (3): Dropout(p=0.5, inplace=False)\n  )\n)");
  free(s);
  nb_module_train(m, false); /* dropout off */
  nb_tensor *x = nb_randn(2, (int64_t[]){5, 4}, NB_F32, NULL);
  nb_tensor *y = nb_module_forward(m, x);
  nb_tensor *w = nb_module_get(m, "body.0.weight"), *b = nb_module_get(m, "body.0.bias");
  nb_tensor *want = nb_mul_scalar(nb_relu(nb_linear(x, w, b)), 3.0);
  assert_close_tensors(y, want, 0, "user module");
  /* training dropout: every output is 0 or twice the eval value */
  nb_module_train(m, true);
  nb_tensor *yd = nb_module_forward(m, x);
  double a[15], e[15];
  nb_to_doubles(yd, a, 15);
  nb_to_doubles(want, e, 15);
  for (int i = 0; i < 15; i++) ck_assert(a[i] == 0 || fabs(a[i] - 2 * e[i]) <= 1e-6 * (1 + fabs(e[i])));
  /* names */
  ck_assert_int_lt(nb_module_add(m, "a.b", nb_relu_new(false)), 0);
  ck_assert_int_lt(nb_module_add(m, "body", nb_relu_new(false)), 0);
  ck_assert_error_contains("body");
  ck_assert_int_lt(nb_module_add(m, "bad", nb_linear_new(-1, 2, true, NULL)), 0);
  ck_assert_error_contains("Linear");
  ck_assert_int_lt(nb_module_register_buffer(m, "body", nb_zeros(0, NULL, NB_F32)), 0);
  ck_assert_ptr_null(nb_module_forward(m, NULL));
  nb_module *pure = nb_module_new("Container", NULL, NULL, NULL);
  ck_assert_ptr_null(nb_module_forward(pure, x));
  ck_assert_error_contains("Container");
  nb_module_free(pure);
  nb_module_free(m);
}
END_TEST

/* A module already in a tree cannot be added again (no double free), a module cannot
 * contain itself, and replacing a child by itself keeps it. */
START_TEST(test_module_ownership_rules) {
  nb_module *net = nb_sequential_new(0, NULL);
  nb_module *lin = nb_linear_new(3, 2, true, NULL);
  ck_assert_int_eq(nb_module_add(net, "a", lin), 0);
  ck_assert_int_lt(nb_module_add(net, "b", lin), 0);
  ck_assert_ptr_nonnull(strstr(nb_last_error(), "already belongs"));
  ck_assert_int_lt(nb_module_add(net, "self", net), 0);
  ck_assert_ptr_nonnull(strstr(nb_last_error(), "cannot contain itself"));
  ck_assert_int_eq(nb_module_replace(net, "a", nb_module_child(net, "a")), 0);
  ck_assert_ptr_eq(nb_module_child(net, "a"), lin);
  ck_assert_int_eq(nb_module_num_children(net), 1);
  /* a wrong path or no parent must not free a child another module owns */
  ck_assert_int_lt(nb_module_replace(net, "nosuch", lin), 0);
  ck_assert_int_lt(nb_module_add(NULL, "x", lin), 0);
  ck_assert_ptr_eq(nb_module_child(net, "a"), lin);
  nb_module_free(net);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("modules");
  TCase *tc = tcase_create("modules");
  tcase_add_checked_fixture(tc, nb_test_scope_setup, nb_test_scope_teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_toy_names_and_print);
  tcase_add_test(tc, test_blitz_matches_torch);
  tcase_add_test(tc, test_batch_norm_matches_torch);
  tcase_add_test(tc, test_resnet18_structure);
  tcase_add_test(tc, test_user_module_and_sequential);
  tcase_add_test(tc, test_module_ownership_rules);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(suite()); }
