/* Core: the Philox4x32-10 generator against the Random123 known-answer vectors, the
 * stream layout, determinism, saving and restoring the state, ranges and simple moments. */
#include <string.h>

#include "testutil.h"

/* The raw block function (exported by the core for this test; not in a header). */
void nb__philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

START_TEST(test_known_answers) {
  /* Random123 kat_vectors, "philox4x32 10" lines: counter, key -> output. */
  static const struct {
    uint32_t ctr[4], key[2], out[4];
  } kat[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
    uint32_t out[4];
    nb__philox4x32_10(kat[i].ctr, kat[i].key, out);
    for (int j = 0; j < 4; j++)
      ck_assert_msg(out[j] == kat[i].out[j], "vector %zu word %d: %08x != %08x", i, j, out[j],
                    kat[i].out[j]);
  }
}
END_TEST

START_TEST(test_stream_layout) {
  /* Seed 0: the stream is block 0 with key 0, i.e. the first known-answer vector. */
  nb_generator *g = nb_generator_new(0);
  ck_assert_uint_eq(nb_generator_u64(g), 0xe169c58d6627e8d5ull);
  ck_assert_uint_eq(nb_generator_u64(g), 0x9b00dbd8bc57ac4cull);
  /* Next block: counter 1 */
  uint32_t out[4];
  nb__philox4x32_10((uint32_t[]){1, 0, 0, 0}, (uint32_t[]){0, 0}, out);
  ck_assert_uint_eq(nb_generator_u64(g), (uint64_t)out[1] << 32 | out[0]);
  /* Uniform doubles use the top 53 bits of a u64; floats the top 24 bits of a word. */
  nb_manual_seed(g, 0);
  ck_assert(nb_generator_uniform(g) == (double)(0xe169c58d6627e8d5ull >> 11) * 0x1.0p-53);
  nb_manual_seed(g, 0);
  nb_tensor *f = nb_rand(1, (int64_t[]){2}, NB_F32, g);
  ck_assert(((float *)nb_data(f))[0] == (float)(0x6627e8d5u >> 8) * 0x1.0p-24f);
  ck_assert(((float *)nb_data(f))[1] == (float)(0xe169c58du >> 8) * 0x1.0p-24f);
  nb_generator_free(g);
}
END_TEST

START_TEST(test_determinism) {
  nb_generator *a = nb_generator_new(1234), *b = nb_generator_new(1234), *c = nb_generator_new(1235);
  int64_t shape[] = {3, 5};
  nb_tensor *ta = nb_randn(2, shape, NB_F64, a), *tb = nb_randn(2, shape, NB_F64, b);
  nb_tensor *tc = nb_randn(2, shape, NB_F64, c);
  ck_assert_int_eq(memcmp(nb_data(ta), nb_data(tb), 15 * sizeof(double)), 0);
  ck_assert_int_ne(memcmp(nb_data(ta), nb_data(tc), 15 * sizeof(double)), 0);
  /* the default generator reseeds with nb_manual_seed(NULL, s) */
  nb_manual_seed(NULL, 42);
  nb_tensor *d1 = nb_rand(1, (int64_t[]){7}, NB_F32, NULL);
  uint64_t u1 = nb_generator_u64(NULL);
  nb_manual_seed(NULL, 42);
  nb_tensor *d2 = nb_rand(1, (int64_t[]){7}, NB_F32, NULL);
  ck_assert_int_eq(memcmp(nb_data(d1), nb_data(d2), 7 * sizeof(float)), 0);
  ck_assert_uint_eq(nb_generator_u64(NULL), u1);
  nb_generator_free(a);
  nb_generator_free(b);
  nb_generator_free(c);
  nb_generator_free(NULL);
}
END_TEST

START_TEST(test_uniform_ranges) {
  nb_generator *g = nb_generator_new(7);
  int64_t n = 20000;
  nb_tensor *u = nb_rand(1, &n, NB_F64, g);
  const double *p = nb_data(u);
  double sum = 0, mn = 1, mx = 0;
  for (int64_t i = 0; i < n; i++) {
    sum += p[i];
    mn = fmin(mn, p[i]);
    mx = fmax(mx, p[i]);
  }
  ck_assert(mn >= 0 && mx < 1);
  ck_assert_close(sum / (double)n, 0.5, 0.01, 0); /* sd of the mean: 0.002 */
  nb_tensor *r = nb_rand_range(1, &n, -3, 5, NB_F32, g);
  const float *q = nb_data(r);
  float rmin = 5, rmax = -3;
  for (int64_t i = 0; i < n; i++) {
    rmin = fminf(rmin, q[i]);
    rmax = fmaxf(rmax, q[i]);
  }
  ck_assert(rmin >= -3 && rmax < 5 && rmin < -2.9 && rmax > 4.9);
  nb_tensor *z = nb_rand_range(1, (int64_t[]){4}, 2, 2, NB_F64, g);
  double e[] = {2, 2, 2, 2};
  ck_assert_tensor_values(z, e, 4, 0);
  nb_generator_free(g);
}
END_TEST

START_TEST(test_normal_moments) {
  nb_generator *g = nb_generator_new(99);
  int64_t n = 40001; /* odd: the last pair is cut */
  nb_tensor *t = nb_randn(1, &n, NB_F32, g);
  const float *p = nb_data(t);
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < n; i++) {
    s += p[i];
    s2 += (double)p[i] * p[i];
  }
  double mean = s / (double)n, var = s2 / (double)n - mean * mean;
  ck_assert_close(mean, 0, 0.02, 0); /* sd of the mean: 0.005 */
  ck_assert_close(var, 1, 0.04, 0);  /* sd of the variance: 0.007 */
  nb_generator_free(g);
}
END_TEST

START_TEST(test_randint) {
  nb_generator *g = nb_generator_new(5);
  int64_t n = 3000;
  nb_tensor *t = nb_randint(1, &n, -2, 3, g);
  ck_assert_int_eq(nb_dtype_of(t), NB_I64);
  const int64_t *p = nb_data(t);
  int hits[5] = {0};
  for (int64_t i = 0; i < n; i++) {
    ck_assert(p[i] >= -2 && p[i] < 3);
    hits[p[i] + 2]++;
  }
  for (int k = 0; k < 5; k++)
    ck_assert(hits[k] > 450 && hits[k] < 750); /* 600 expected, sd 22 */
  nb_tensor *wide = nb_randint(1, (int64_t[]){100}, INT64_MIN, INT64_MAX, g);
  ck_assert_ptr_nonnull(wide);
  nb_generator_free(g);
}
END_TEST

START_TEST(test_state) {
  /* get_state / set_state: an odd position (mid-block, mid-u64) continues exactly. */
  nb_generator *g = nb_generator_new(99), *h = nb_generator_new(5);
  nb_randn(1, (int64_t[]){3}, NB_F32, g);
  (void)nb_rand(1, (int64_t[]){1}, NB_F32, g); /* one 32-bit word: position is odd */
  uint64_t st[2];
  nb_generator_get_state(g, st);
  ck_assert_uint_eq(st[0], 99);
  ck_assert_uint_eq(st[1], 9); /* 3 normals: 2 Box-Muller pairs of doubles (8 words) + 1 */
  nb_tensor *a = nb_randn(1, (int64_t[]){7}, NB_F64, g);
  uint64_t ua = nb_generator_u64(g);
  nb_generator_set_state(h, st);
  nb_tensor *b = nb_randn(1, (int64_t[]){7}, NB_F64, h);
  ck_assert_int_eq(memcmp(nb_data(a), nb_data(b), 7 * sizeof(double)), 0);
  ck_assert_uint_eq(nb_generator_u64(h), ua);
  uint64_t sg[2], sh[2];
  nb_generator_get_state(g, sg);
  nb_generator_get_state(h, sh);
  ck_assert(sg[0] == sh[0] && sg[1] == sh[1]);
  nb_generator_free(g);
  nb_generator_free(h);
}
END_TEST

START_TEST(test_errors) {
  ck_assert_ptr_null(nb_rand(1, (int64_t[]){3}, NB_I64, NULL));
  ck_assert_int_eq(nb_last_status(), NB_EDTYPE);
  ck_assert_str_eq(nb_last_error(), "nb_rand: dtype int64 is not supported (float32 or float64)");
  ck_assert_ptr_null(nb_randn(1, (int64_t[]){3}, NB_BOOL, NULL));
  ck_assert_error_contains("nb_randn: dtype bool");
  ck_assert_ptr_null(nb_randint(1, (int64_t[]){3}, 5, 5, NULL));
  ck_assert_str_eq(nb_last_error(), "nb_randint: low (5) must be less than high (5)");
  ck_assert_ptr_null(nb_rand_range(1, (int64_t[]){3}, 1, 0, NB_F32, NULL));
  ck_assert_error_contains("nb_rand_range: expects low <= high");
  ck_assert_ptr_null(nb_rand(1, NULL, NB_F32, NULL));
  ck_assert_error_contains("nb_rand: shape is NULL");
}
END_TEST

static Suite *make(void) {
  Suite *s = suite_create("core_random");
  TCase *tc = tcase_create("random");
  tcase_add_checked_fixture(tc, nb_test_scope_setup, nb_test_scope_teardown);
  tcase_add_test(tc, test_known_answers);
  tcase_add_test(tc, test_stream_layout);
  tcase_add_test(tc, test_determinism);
  tcase_add_test(tc, test_uniform_ranges);
  tcase_add_test(tc, test_normal_moments);
  tcase_add_test(tc, test_randint);
  tcase_add_test(tc, test_state);
  tcase_add_test(tc, test_errors);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(make()); }
