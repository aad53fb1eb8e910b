/* tests/modules/test_state_dict.c — state_dict save/load in safetensors: a fresh net loaded
 * from a file gives identical outputs (toy net, ResNet-18 with BN buffers), strict loads
 * name missing / unexpected / mis-shaped keys and load nothing, non-strict loads what
 * matches, and a load that fails half-way (an injected out-of-memory) changes nothing. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "models.h"
#include "testing.h"
#include "testutil.h"

static char path[64];

/* The leak-checking fixture of testutil.h plus a per-process file name. */
static void setup(void) {
  snprintf(path, sizeof path, "state_dict_%d.safetensors", (int)getpid());
  nb_test_scope_setup();
}
static void teardown(void) {
  unlink(path);
  nb_test_scope_teardown();
}

static void assert_same(const nb_tensor *a, const nb_tensor *b) {
  ck_assert_msg(a && b, "%s", nb_last_error());
  ck_assert(nb_same_shape(a, b));
  ck_assert_int_eq(nb_dtype_of(a), nb_dtype_of(b));
  ck_assert_mem_eq(nb_data(a), nb_data(b), (size_t)nb_numel(a) * nb_dtype_size(nb_dtype_of(a)));
}

START_TEST(test_toy_round_trip) {
  nb_generator *g1 = nb_generator_new(1), *g2 = nb_generator_new(2);
  nb_module *a = toy_net_new(g1), *b = toy_net_new(g2);
  nb_tensor *x = nb_randn(2, (int64_t[]){7, 10}, NB_F32, g1);
  ck_assert_msg(nb_module_save(a, path) == 0, "%s", nb_last_error());
  ck_assert_int_ne(memcmp(nb_data(nb_module_get(a, "fc1.weight")),
                          nb_data(nb_module_get(b, "fc1.weight")), 50 * sizeof(float)), 0);
  uint32_t v = nb_version(nb_module_get(b, "fc1.weight"));
  ck_assert_int_eq(nb_module_load(b, path, true), 6);
  ck_assert_uint_gt(nb_version(nb_module_get(b, "fc1.weight")), v);
  assert_same(nb_module_forward(a, x), nb_module_forward(b, x));
  /* the file holds PyTorch's keys */
  nb_safetensors *f = nb_safetensors_load(path);
  ck_assert_int_eq(nb_safetensors_count(f), 6);
  ck_assert_str_eq(nb_safetensors_name(f, 0), "fc1.weight");
  nb_safetensors_free(f);
  nb_module_free(a);
  nb_module_free(b);
  nb_generator_free(g1);
  nb_generator_free(g2);
}
END_TEST

START_TEST(test_resnet_round_trip_with_buffers) {
  nb_module *a = resnet18_new(10, NULL), *b = resnet18_new(10, NULL);
  nb_tensor *x = nb_randn(4, (int64_t[]){2, 3, 32, 32}, NB_F32, NULL);
  ck_assert_ptr_nonnull(nb_module_forward(a, x)); /* moves running stats, counts a batch */
  ck_assert_msg(nb_module_save(a, path) == 0, "%s", nb_last_error());
  ck_assert_int_eq(nb_module_load(b, path, true), 122);
  ck_assert_double_eq(nb_item(nb_module_get(b, "layer4.1.bn2.num_batches_tracked")), 1);
  assert_same(nb_module_get(a, "layer3.0.downsample.1.running_mean"),
              nb_module_get(b, "layer3.0.downsample.1.running_mean"));
  nb_module_train(a, false);
  nb_module_train(b, false);
  assert_same(nb_module_forward(a, x), nb_module_forward(b, x));
  nb_module_free(a);
  nb_module_free(b);
}
END_TEST

START_TEST(test_strict_reports_by_name) {
  nb_module *toy = toy_net_new(NULL), *blitz = blitz_net_new(NULL);
  ck_assert_int_eq(nb_module_save(toy, path), 0);
  nb_tensor *before = nb_copy_data(nb_module_get(blitz, "fc2.bias"));
  ck_assert_int_eq(nb_module_load(blitz, path, true), NB_ESHAPE);
  ck_assert_error_contains("missing keys: \"conv1.weight\", \"conv1.bias\", \"conv2.weight\"");
  ck_assert_error_contains("size mismatch for: \"fc1.weight\" (file [5,10], model [120,400])");
  ck_assert_error_contains(path);
  assert_same(before, nb_module_get(blitz, "fc2.bias")); /* nothing loaded */
  /* a model with fc1 as saved, fc2 mis-shaped, no fc3 but a head */
  nb_module *m = nb_module_new("Net", NULL, NULL, NULL);
  nb_module_add(m, "fc1", nb_linear_new(10, 5, true, NULL));
  nb_module_add(m, "fc2", nb_linear_new(4, 5, true, NULL));
  nb_module_add(m, "head", nb_linear_new(5, 1, true, NULL));
  ck_assert_int_eq(nb_module_load(m, path, true), NB_ESHAPE);
  ck_assert_error_contains("missing keys: \"head.weight\", \"head.bias\"; unexpected keys: "
                           "\"fc3.weight\", \"fc3.bias\"; size mismatch for: \"fc2.weight\" "
                           "(file [5,5], model [5,4])");
  nb_module_free(m);
  nb_module_free(toy);
  nb_module_free(blitz);
}
END_TEST

START_TEST(test_non_strict_loads_matching) {
  nb_module *toy = toy_net_new(NULL);
  ck_assert_int_eq(nb_module_save(toy, path), 0);
  /* same names, but fc3 has 2 outputs and there is an extra layer */
  nb_module *other = nb_module_new("Net", NULL, NULL, NULL);
  nb_module_add(other, "fc1", nb_linear_new(10, 5, true, NULL));
  nb_module_add(other, "fc2", nb_linear_new(5, 5, true, NULL));
  nb_module_add(other, "fc3", nb_linear_new(5, 2, true, NULL));
  nb_module_add(other, "head", nb_linear_new(2, 2, false, NULL));
  nb_set_log_callback(NULL, NULL);
  ck_assert_int_eq(nb_module_load(other, path, false), 4);
  assert_same(nb_module_get(toy, "fc2.weight"), nb_module_get(other, "fc2.weight"));
  ck_assert_int_lt(nb_module_load(other, path, true), 0);
  ck_assert_error_contains("missing keys: \"head.weight\"");
  ck_assert_error_contains("size mismatch for: \"fc3.weight\"");
  ck_assert_int_lt(nb_module_load(other, "/nonexistent/x.safetensors", false), 0);
  nb_module_free(toy);
  nb_module_free(other);
}
END_TEST

/* Issue 16: a load failing on its k-th tensor had already overwritten the first k-1. */
START_TEST(test_failed_load_changes_nothing) {
  nb_generator *g1 = nb_generator_new(1), *g2 = nb_generator_new(2);
  nb_module *a = toy_net_new(g1), *b = toy_net_new(g2);
  ck_assert_int_eq(nb_module_save(a, path), 0);
  nb_named_tensors *before = nb_module_state_dict(b);
  nb_tensor *copies[16];
  ck_assert_int_le(before->n, 16);
  for (int i = 0; i < before->n; i++) copies[i] = nb_copy_data(before->tensors[i]);
  for (int k = 0; k < before->n; k++)
    for (int strict = 0; strict < 2; strict++) {
      nb__module_load_fail_at(k);
      ck_assert_int_eq(nb_module_load(b, path, strict), NB_ENOMEM);
      nb__module_load_fail_at(-1);
      ck_assert_error_contains("injected");
      ck_assert_error_contains(before->names[k]);
      for (int i = 0; i < before->n; i++)
        ck_assert_msg(memcmp(nb_data(copies[i]), nb_data(before->tensors[i]),
                             (size_t)nb_numel(copies[i]) * sizeof(float)) == 0,
                      "%s changed by a load that failed on tensor %d (%s strict)", before->names[i], k,
                      strict ? "" : "not");
    }
  ck_assert_int_eq(nb_module_load(b, path, true), before->n); /* and without the fault it loads */
  /* a failure from the file itself: the last tensor does not convert */
  nb_module *bn = nb_module_new("Net", NULL, NULL, NULL);
  nb_module_add(bn, "fc", nb_linear_new(3, 2, true, g1));
  nb_module_add(bn, "bn", nb_batch_norm2d_new(2, 1e-5, 0.1)); /* num_batches_tracked: int64, last */
  nb_named_tensors *sd = nb_module_state_dict(bn);
  ck_assert_str_eq(sd->names[sd->n - 1], "bn.num_batches_tracked");
  nb_tensor *vals[16];
  for (int i = 0; i < sd->n; i++) vals[i] = nb_full(nb_ndim(sd->tensors[i]), nb_shape(sd->tensors[i]), 0.5, NB_F64);
  const double nonint[] = {NAN, INFINITY, 1e300, 2.5};
  for (int c = 0; c < 4; c++) {
    vals[sd->n - 1] = nb_scalar(nonint[c], NB_F64);
    ck_assert_int_eq(nb_safetensors_save(path, sd->n, (const char *const *)sd->names, vals, NULL), 0);
    nb_tensor *w = nb_copy_data(nb_module_get(bn, "fc.weight"));
    ck_assert_int_eq(nb_module_load(bn, path, true), NB_EINVAL);
    ck_assert_error_contains("bn.num_batches_tracked");
    ck_assert_error_contains("is not an integer int64 can hold");
    ck_assert_mem_eq(nb_data(w), nb_data(nb_module_get(bn, "fc.weight")), 6 * sizeof(float));
  }
  vals[sd->n - 1] = nb_scalar(41, NB_F64);
  ck_assert_int_eq(nb_safetensors_save(path, sd->n, (const char *const *)sd->names, vals, NULL), 0);
  ck_assert_int_eq(nb_module_load(bn, path, true), sd->n);
  ck_assert_double_eq(nb_item(nb_module_get(bn, "bn.num_batches_tracked")), 41);
  double bias[2];
  ck_assert_int_eq(nb_to_doubles(nb_module_get(bn, "fc.bias"), bias, 2), 0);
  ck_assert_double_eq(bias[1], 0.5);
  nb_named_tensors_free(sd);
  nb_module_free(bn);
  nb_named_tensors_free(before);
  nb_module_free(a);
  nb_module_free(b);
  nb_generator_free(g1);
  nb_generator_free(g2);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("state_dict");
  TCase *tc = tcase_create("state_dict");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_toy_round_trip);
  tcase_add_test(tc, test_resnet_round_trip_with_buffers);
  tcase_add_test(tc, test_strict_reports_by_name);
  tcase_add_test(tc, test_non_strict_loads_matching);
  tcase_add_test(tc, test_failed_load_changes_nothing);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(suite()); }
