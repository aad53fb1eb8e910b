/* Core: printing. Expected strings are PyTorch's documented output or come from
 * running torch 1.13 (/usr/bin/python3, `repr(<expression>)`), with the expression
 * quoted above each one. PyTorch names nodes "SubBackward0"; nabla drops the digit. */
#include <string.h>

#include "testutil.h"

#define EXPECT_STR(t, want)                                             \
  do {                                                                  \
    char *_s = nb_to_string(t);                                         \
    ck_assert_msg(_s != NULL, "nb_to_string failed: %s", nb_last_error()); \
    ck_assert_str_eq(_s, want);                                         \
    free(_s);                                                           \
  } while (0)

static nb_tensor *vec(nb_dtype dt, int n, const double *v) { return nb_from_doubles(v, n, dt); }
static nb_tensor *view(nb_tensor *t, int ndim, const int64_t *shape) {
  int64_t st[NB_MAX_DIMS], n = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    st[d] = n;
    n *= shape[d];
  }
  return nb_as_strided(t, ndim, shape, st, 0);
}

START_TEST(test_documented_examples) {
  EXPECT_STR(vec(NB_F32, 2, (double[]){0.1, 2.5}), "tensor([0.1000, 2.5000])");
  EXPECT_STR(nb_scalar(3, NB_F32), "tensor(3.)");
  EXPECT_STR(view(vec(NB_F32, 4, (double[]){1, 2, 3, 4}), 2, (int64_t[]){2, 2}),
             "tensor([[1., 2.],\n        [3., 4.]])");
  EXPECT_STR(vec(NB_BOOL, 2, (double[]){1, 1}), "tensor([True, True])");
  /* PyTorch's autograd tutorial shows "tensor([-12., 65.], grad_fn=<SubBackward0>)", but
   * torch 1.13 pads every column to the widest entry: repr(torch.tensor([-12., 65.])) */
  EXPECT_STR(vec(NB_F32, 2, (double[]){-12, 65}), "tensor([-12.,  65.])");
}
END_TEST

START_TEST(test_float_modes) {
  /* torch.tensor([1e-5, 1.0]) */
  EXPECT_STR(vec(NB_F32, 2, (double[]){1e-5, 1.0}), "tensor([1.0000e-05, 1.0000e+00])");
  /* torch.tensor([1.5, -2.25, 100.125]) */
  EXPECT_STR(vec(NB_F32, 3, (double[]){1.5, -2.25, 100.125}), "tensor([  1.5000,  -2.2500, 100.1250])");
  /* torch.tensor([1e9, 1.]) */
  EXPECT_STR(vec(NB_F32, 2, (double[]){1e9, 1}), "tensor([1.0000e+09, 1.0000e+00])");
  /* torch.tensor([1., float('nan'), float('inf'), -float('inf')]) */
  EXPECT_STR(vec(NB_F32, 4, (double[]){1, NAN, INFINITY, -INFINITY}), "tensor([1., nan, inf, -inf])");
  /* torch.tensor([0.5, float('nan')]) */
  EXPECT_STR(vec(NB_F32, 2, (double[]){0.5, NAN}), "tensor([0.5000,    nan])");
  /* torch.tensor([0., 0.]) */
  EXPECT_STR(vec(NB_F32, 2, (double[]){0, 0}), "tensor([0., 0.])");
  /* torch.tensor([-0., 1.]) */
  EXPECT_STR(vec(NB_F32, 2, (double[]){-0.0, 1}), "tensor([-0., 1.])");
  /* torch.tensor([123456.789, 0.001]) */
  EXPECT_STR(vec(NB_F32, 2, (double[]){123456.789, 0.001}), "tensor([1.2346e+05, 1.0000e-03])");
}
END_TEST

START_TEST(test_dtypes) {
  /* torch.tensor([[True, False], [False, True]]) */
  EXPECT_STR(view(vec(NB_BOOL, 4, (double[]){1, 0, 0, 1}), 2, (int64_t[]){2, 2}),
             "tensor([[ True, False],\n        [False,  True]])");
  /* torch.tensor([1, -20, 300]) */
  EXPECT_STR(vec(NB_I64, 3, (double[]){1, -20, 300}), "tensor([  1, -20, 300])");
  /* torch.tensor(7) */
  EXPECT_STR(nb_scalar(7, NB_I64), "tensor(7)");
  /* torch.tensor([1.5, 2.], dtype=torch.float64) */
  EXPECT_STR(vec(NB_F64, 2, (double[]){1.5, 2}), "tensor([1.5000, 2.0000], dtype=torch.float64)");
  /* torch.tensor([0.1], dtype=torch.float64) */
  EXPECT_STR(vec(NB_F64, 1, (double[]){0.1}), "tensor([0.1000], dtype=torch.float64)");
}
END_TEST

START_TEST(test_empty) {
  /* torch.zeros(0) / torch.zeros(0, 3) / torch.zeros(0, dtype=torch.int64) */
  EXPECT_STR(nb_zeros(1, (int64_t[]){0}, NB_F32), "tensor([])");
  EXPECT_STR(nb_zeros(2, (int64_t[]){0, 3}, NB_F32), "tensor([], size=(0, 3))");
  EXPECT_STR(nb_zeros(1, (int64_t[]){0}, NB_I64), "tensor([], dtype=torch.int64)");
}
END_TEST

START_TEST(test_layout) {
  /* torch.arange(24.).reshape(2, 3, 4) */
  EXPECT_STR(view(nb_arange(0, 24, 1, NB_F32), 3, (int64_t[]){2, 3, 4}),
             "tensor([[[ 0.,  1.,  2.,  3.],\n         [ 4.,  5.,  6.,  7.],\n         [ 8.,  9., 10., 11.]],\n\n"
             "        [[12., 13., 14., 15.],\n         [16., 17., 18., 19.],\n         [20., 21., 22., 23.]]])");
  /* torch.arange(30.) * 1.5 */
  EXPECT_STR(nb_arange(0, 45, 1.5, NB_F32),
             "tensor([ 0.0000,  1.5000,  3.0000,  4.5000,  6.0000,  7.5000,  9.0000, 10.5000,\n"
             "        12.0000, 13.5000, 15.0000, 16.5000, 18.0000, 19.5000, 21.0000, 22.5000,\n"
             "        24.0000, 25.5000, 27.0000, 28.5000, 30.0000, 31.5000, 33.0000, 34.5000,\n"
             "        36.0000, 37.5000, 39.0000, 40.5000, 42.0000, 43.5000])");
  /* a transposed view prints in its logical order: torch.tensor([[1., 2.], [3., 4.]]).t() */
  EXPECT_STR(nb_as_strided(vec(NB_F32, 4, (double[]){1, 2, 3, 4}), 2, (int64_t[]){2, 2},
                           (int64_t[]){1, 2}, 0),
             "tensor([[1., 3.],\n        [2., 4.]])");
}
END_TEST

START_TEST(test_summarised) {
  /* torch.arange(2000.) */
  EXPECT_STR(nb_arange(0, 2000, 1, NB_F32),
             "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])");
  /* torch.arange(1001) */
  EXPECT_STR(nb_arange(0, 1001, 1, NB_I64), "tensor([   0,    1,    2,  ...,  998,  999, 1000])");
  /* torch.arange(2000.).reshape(40, 50) */
  EXPECT_STR(view(nb_arange(0, 2000, 1, NB_F32), 2, (int64_t[]){40, 50}),
             "tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 4.7000e+01, 4.8000e+01,\n"
             "         4.9000e+01],\n"
             "        [5.0000e+01, 5.1000e+01, 5.2000e+01,  ..., 9.7000e+01, 9.8000e+01,\n"
             "         9.9000e+01],\n"
             "        [1.0000e+02, 1.0100e+02, 1.0200e+02,  ..., 1.4700e+02, 1.4800e+02,\n"
             "         1.4900e+02],\n"
             "        ...,\n"
             "        [1.8500e+03, 1.8510e+03, 1.8520e+03,  ..., 1.8970e+03, 1.8980e+03,\n"
             "         1.8990e+03],\n"
             "        [1.9000e+03, 1.9010e+03, 1.9020e+03,  ..., 1.9470e+03, 1.9480e+03,\n"
             "         1.9490e+03],\n"
             "        [1.9500e+03, 1.9510e+03, 1.9520e+03,  ..., 1.9970e+03, 1.9980e+03,\n"
             "         1.9990e+03]])");
  /* torch.arange(3000.).reshape(10, 10, 30) / 7 (float32 division, as here) */
  nb_tensor *t = nb_empty(3, (int64_t[]){10, 10, 30}, NB_F32);
  float *p = nb_data(t);
  for (int i = 0; i < 3000; i++)
    p[i] = (float)i / 7.0f;
  EXPECT_STR(t,
      "tensor([[[0.0000e+00, 1.4286e-01, 2.8571e-01,  ..., 3.8571e+00,\n"
      "          4.0000e+00, 4.1429e+00],\n"
      "         [4.2857e+00, 4.4286e+00, 4.5714e+00,  ..., 8.1429e+00,\n"
      "          8.2857e+00, 8.4286e+00],\n"
      "         [8.5714e+00, 8.7143e+00, 8.8571e+00,  ..., 1.2429e+01,\n"
      "          1.2571e+01, 1.2714e+01],\n"
      "         ...,\n"
      "         [3.0000e+01, 3.0143e+01, 3.0286e+01,  ..., 3.3857e+01,\n"
      "          3.4000e+01, 3.4143e+01],\n"
      "         [3.4286e+01, 3.4429e+01, 3.4571e+01,  ..., 3.8143e+01,\n"
      "          3.8286e+01, 3.8429e+01],\n"
      "         [3.8571e+01, 3.8714e+01, 3.8857e+01,  ..., 4.2429e+01,\n"
      "          4.2571e+01, 4.2714e+01]],\n"
      "\n"
      "        [[4.2857e+01, 4.3000e+01, 4.3143e+01,  ..., 4.6714e+01,\n"
      "          4.6857e+01, 4.7000e+01],\n"
      "         [4.7143e+01, 4.7286e+01, 4.7429e+01,  ..., 5.1000e+01,\n"
      "          5.1143e+01, 5.1286e+01],\n"
      "         [5.1429e+01, 5.1571e+01, 5.1714e+01,  ..., 5.5286e+01,\n"
      "          5.5429e+01, 5.5571e+01],\n"
      "         ...,\n"
      "         [7.2857e+01, 7.3000e+01, 7.3143e+01,  ..., 7.6714e+01,\n"
      "          7.6857e+01, 7.7000e+01],\n"
      "         [7.7143e+01, 7.7286e+01, 7.7429e+01,  ..., 8.1000e+01,\n"
      "          8.1143e+01, 8.1286e+01],\n"
      "         [8.1429e+01, 8.1571e+01, 8.1714e+01,  ..., 8.5286e+01,\n"
      "          8.5429e+01, 8.5571e+01]],\n"
      "\n"
      "        [[8.5714e+01, 8.5857e+01, 8.6000e+01,  ..., 8.9571e+01,\n"
      "          8.9714e+01, 8.9857e+01],\n"
      "         [9.0000e+01, 9.0143e+01, 9.0286e+01,  ..., 9.3857e+01,\n"
      "          9.4000e+01, 9.4143e+01],\n"
      "         [9.4286e+01, 9.4429e+01, 9.4571e+01,  ..., 9.8143e+01,\n"
      "          9.8286e+01, 9.8429e+01],\n"
      "         ...,\n"
      "         [1.1571e+02, 1.1586e+02, 1.1600e+02,  ..., 1.1957e+02,\n"
      "          1.1971e+02, 1.1986e+02],\n"
      "         [1.2000e+02, 1.2014e+02, 1.2029e+02,  ..., 1.2386e+02,\n"
      "          1.2400e+02, 1.2414e+02],\n"
      "         [1.2429e+02, 1.2443e+02, 1.2457e+02,  ..., 1.2814e+02,\n"
      "          1.2829e+02, 1.2843e+02]],\n"
      "\n"
      "        ...,\n"
      "\n"
      "        [[3.0000e+02, 3.0014e+02, 3.0029e+02,  ..., 3.0386e+02,\n"
      "          3.0400e+02, 3.0414e+02],\n"
      "         [3.0429e+02, 3.0443e+02, 3.0457e+02,  ..., 3.0814e+02,\n"
      "          3.0829e+02, 3.0843e+02],\n"
      "         [3.0857e+02, 3.0871e+02, 3.0886e+02,  ..., 3.1243e+02,\n"
      "          3.1257e+02, 3.1271e+02],\n"
      "         ...,\n"
      "         [3.3000e+02, 3.3014e+02, 3.3029e+02,  ..., 3.3386e+02,\n"
      "          3.3400e+02, 3.3414e+02],\n"
      "         [3.3429e+02, 3.3443e+02, 3.3457e+02,  ..., 3.3814e+02,\n"
      "          3.3829e+02, 3.3843e+02],\n"
      "         [3.3857e+02, 3.3871e+02, 3.3886e+02,  ..., 3.4243e+02,\n"
      "          3.4257e+02, 3.4271e+02]],\n"
      "\n"
      "        [[3.4286e+02, 3.4300e+02, 3.4314e+02,  ..., 3.4671e+02,\n"
      "          3.4686e+02, 3.4700e+02],\n"
      "         [3.4714e+02, 3.4729e+02, 3.4743e+02,  ..., 3.5100e+02,\n"
      "          3.5114e+02, 3.5129e+02],\n"
      "         [3.5143e+02, 3.5157e+02, 3.5171e+02,  ..., 3.5529e+02,\n"
      "          3.5543e+02, 3.5557e+02],\n"
      "         ...,\n"
      "         [3.7286e+02, 3.7300e+02, 3.7314e+02,  ..., 3.7671e+02,\n"
      "          3.7686e+02, 3.7700e+02],\n"
      "         [3.7714e+02, 3.7729e+02, 3.7743e+02,  ..., 3.8100e+02,\n"
      "          3.8114e+02, 3.8129e+02],\n"
      "         [3.8143e+02, 3.8157e+02, 3.8171e+02,  ..., 3.8529e+02,\n"
      "          3.8543e+02, 3.8557e+02]],\n"
      "\n"
      "        [[3.8571e+02, 3.8586e+02, 3.8600e+02,  ..., 3.8957e+02,\n"
      "          3.8971e+02, 3.8986e+02],\n"
      "         [3.9000e+02, 3.9014e+02, 3.9029e+02,  ..., 3.9386e+02,\n"
      "          3.9400e+02, 3.9414e+02],\n"
      "         [3.9429e+02, 3.9443e+02, 3.9457e+02,  ..., 3.9814e+02,\n"
      "          3.9829e+02, 3.9843e+02],\n"
      "         ...,\n"
      "         [4.1571e+02, 4.1586e+02, 4.1600e+02,  ..., 4.1957e+02,\n"
      "          4.1971e+02, 4.1986e+02],\n"
      "         [4.2000e+02, 4.2014e+02, 4.2029e+02,  ..., 4.2386e+02,\n"
      "          4.2400e+02, 4.2414e+02],\n"
      "         [4.2429e+02, 4.2443e+02, 4.2457e+02,  ..., 4.2814e+02,\n"
      "          4.2829e+02, 4.2843e+02]]])");
}
END_TEST

START_TEST(test_requires_grad_suffix) {
  /* torch.tensor([2., 3.], requires_grad=True) */
  nb_tensor *x = vec(NB_F32, 2, (double[]){2, 3});
  ck_assert_int_eq(nb_set_requires_grad(x, true), 0);
  EXPECT_STR(x, "tensor([2., 3.], requires_grad=True)");
  /* (torch.arange(12., dtype=torch.float64) * 1.125).requires_grad_(): suffixes wrap */
  nb_tensor *y = nb_arange(0, 13.5, 1.125, NB_F64);
  ck_assert_int_eq(nb_set_requires_grad(y, true), 0);
  EXPECT_STR(y, "tensor([ 0.0000,  1.1250,  2.2500,  3.3750,  4.5000,  5.6250,  6.7500,  7.8750,\n"
                "         9.0000, 10.1250, 11.2500, 12.3750], dtype=torch.float64,\n"
                "       requires_grad=True)");
}
END_TEST

START_TEST(test_grad_fn_suffix) {
  ck_assert_msg(nb_plugin_load(CORE_TEST_PLUGIN) == 0, "%s", nb_last_error());
  nb_tensor *a = vec(NB_F32, 2, (double[]){1, 70});
  nb_tensor *b = vec(NB_F32, 2, (double[]){13, 5});
  ck_assert_int_eq(nb_set_requires_grad(a, true), 0);
  nb_tensor *d = nb_call1("core_test_sub", 2, (nb_tensor *[]){a, b}, 0, NULL);
  ck_assert_msg(d != NULL, "%s", nb_last_error());
  /* a = torch.tensor([1., 70.], requires_grad=True); repr(a - torch.tensor([13., 5.]))
   * gives "tensor([-12.,  65.], grad_fn=<SubBackward0>)" */
  EXPECT_STR(d, "tensor([-12.,  65.], grad_fn=<SubBackward>)");
}
END_TEST

/* Every case of print_cases.txt (random tensors and torch 1.13's repr, generated by
 * gen_print_cases.py): dtypes, 0-3 dims, nan/inf, scientific and integer modes, column
 * widths, line wrapping, summarising and the requires_grad suffix. */
START_TEST(test_torch_generated_cases) {
  FILE *f = fopen(CORE_PRINT_CASES, "r");
  ck_assert_msg(f != NULL, "cannot open %s", CORE_PRINT_CASES);
  char *line = NULL, *want = NULL;
  size_t cap = 0, wcap = 0;
  int cases = 0;
  while (getline(&line, &cap, f) > 0) {
    ck_assert(getline(&want, &wcap, f) > 0);
    want[strcspn(want, "\n")] = '\0';
    /* "\n" in the file stands for a newline */
    char *w = want;
    for (char *r = want; *r; r++, w++) {
      if (r[0] == '\\' && r[1] == 'n') {
        *w = '\n';
        r++;
      } else {
        *w = *r;
      }
    }
    *w = '\0';
    char *save, *tok = strtok_r(line, " \n", &save);
    nb_dtype dt = !strcmp(tok, "f32") ? NB_F32 : !strcmp(tok, "f64") ? NB_F64 : !strcmp(tok, "i64") ? NB_I64 : NB_BOOL;
    int ndim = atoi(strtok_r(NULL, " \n", &save));
    int64_t shape[NB_MAX_DIMS], n = 1;
    for (int d = 0; d < ndim; d++)
      n *= shape[d] = atoll(strtok_r(NULL, " \n", &save));
    bool rg = atoi(strtok_r(NULL, " \n", &save)) != 0;
    nb_tensor *t = nb_empty(ndim, shape, dt);
    char *p = nb_data(t);
    for (int64_t i = 0; i < n; i++) {
      tok = strtok_r(NULL, " \n", &save);
      ck_assert_ptr_nonnull(tok);
      if (dt == NB_F32)
        ((float *)p)[i] = strtof(tok, NULL);
      else if (dt == NB_F64)
        ((double *)p)[i] = strtod(tok, NULL);
      else if (dt == NB_I64)
        ((int64_t *)p)[i] = strtoll(tok, NULL, 10);
      else
        ((uint8_t *)p)[i] = (uint8_t)atoi(tok);
    }
    if (rg)
      ck_assert_int_eq(nb_set_requires_grad(t, true), 0);
    char *got = nb_to_string(t);
    ck_assert_msg(got && strcmp(got, want) == 0, "case %d:\n got: %s\nwant: %s", cases, got, want);
    free(got);
    cases++;
  }
  ck_assert_int_ge(cases, 200);
  free(line);
  free(want);
  fclose(f);
}
END_TEST

START_TEST(test_print_to_file) {
  FILE *f = tmpfile();
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(nb_fprint(f, nb_scalar(3, NB_F32)), 0);
  rewind(f);
  char line[64] = {0};
  ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
  ck_assert_str_eq(line, "tensor(3.)\n");
  fclose(f);
  ck_assert_ptr_null(nb_to_string(NULL));
  ck_assert_error_contains("nb_to_string");
  ck_assert_int_eq(nb_fprint(NULL, nb_scalar(1, NB_F32)), NB_EINVAL);
}
END_TEST

static Suite *make(void) {
  Suite *s = suite_create("core_print");
  TCase *tc = tcase_create("print");
  tcase_add_checked_fixture(tc, nb_test_scope_setup, nb_test_scope_teardown);
  tcase_add_test(tc, test_documented_examples);
  tcase_add_test(tc, test_float_modes);
  tcase_add_test(tc, test_dtypes);
  tcase_add_test(tc, test_empty);
  tcase_add_test(tc, test_layout);
  tcase_add_test(tc, test_summarised);
  tcase_add_test(tc, test_requires_grad_suffix);
  tcase_add_test(tc, test_grad_fn_suffix);
  tcase_add_test(tc, test_torch_generated_cases);
  tcase_add_test(tc, test_print_to_file);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(make()); }
