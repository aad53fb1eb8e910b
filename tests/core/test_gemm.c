/* Core: nb_gemm against a naive triple loop (f32/f64, transposes, strides, edge sizes,
 * sizes past the packed GEMM's blocks), the micro-kernel choice, nb_parallel_for coverage
 * and chunking, thread count, scratch memory. Run once per micro-kernel (meson.build). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "testutil.h"

/* Reference: C = alpha * op(A) op(B) + beta * C in double. */
static void naive(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
                  int64_t rsa, int64_t csa, const double *b, int64_t rsb, int64_t csb, double beta,
                  double *c, int64_t rsc, int64_t csc) {
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double acc = 0;
      for (int64_t p = 0; p < k; p++)
        acc += (ta ? a[p * rsa + i * csa] : a[i * rsa + p * csa]) *
               (tb ? b[j * rsb + p * csb] : b[p * rsb + j * csb]);
      double *cp = &c[i * rsc + j * csc];
      *cp = alpha * acc + (beta == 0 ? 0 : beta * *cp);
    }
}

static double lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(*s >> 11) * 0x1.0p-53 * 2 - 1;
}

/* Run one case in f32 and f64. layout: 0 row-major, 1 column-major, 2 row-major with a
 * padded leading dimension. */
/* (96x80x72 is above the size where nb_gemm starts using threads.) */
static void check_case(bool ta, bool tb, int64_t m, int64_t n, int64_t k, int layout, double alpha,
                       double beta) {
  int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  int64_t pad = layout == 2 ? 3 : 0;
  int64_t rsa = layout == 1 ? 1 : ac + pad, csa = layout == 1 ? ar + pad : 1;
  int64_t rsb = layout == 1 ? 1 : bc + pad, csb = layout == 1 ? br + pad : 1;
  int64_t rsc = layout == 1 ? 1 : n + pad, csc = layout == 1 ? m + pad : 1;
  size_t na = (size_t)((ar + pad) * (ac + pad)), nbb = (size_t)((br + pad) * (bc + pad));
  size_t nc = (size_t)((m + pad) * (n + pad));
  double *a = malloc(na * 8), *b = malloc(nbb * 8), *c = malloc(nc * 8), *ref = malloc(nc * 8);
  float *af = malloc(na * 4), *bf = malloc(nbb * 4), *cf = malloc(nc * 4);
  uint64_t seed = (uint64_t)(m * 1000003 + n * 1009 + k * 7 + layout + ta * 2 + tb);
  for (size_t i = 0; i < na; i++)
    af[i] = (float)(a[i] = (float)lcg(&seed));
  for (size_t i = 0; i < nbb; i++)
    bf[i] = (float)(b[i] = (float)lcg(&seed));
  for (size_t i = 0; i < nc; i++)
    cf[i] = (float)(c[i] = ref[i] = (float)lcg(&seed));
  naive(ta, tb, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, ref, rsc, csc);
  ck_assert_int_eq(nb_gemm(NB_F64, ta, tb, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc), 0);
  ck_assert_int_eq(nb_gemm(NB_F32, ta, tb, m, n, k, alpha, af, rsa, csa, bf, rsb, csb, beta, cf, rsc, csc), 0);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      int64_t o = i * rsc + j * csc;
      ck_assert_msg(fabs(c[o] - ref[o]) <= 1e-12 * (double)(k + 1),
                    "f64 ta=%d tb=%d m=%lld n=%lld k=%lld layout=%d: C[%lld,%lld] = %.17g, expected %.17g",
                    ta, tb, (long long)m, (long long)n, (long long)k, layout, (long long)i, (long long)j,
                    c[o], ref[o]);
      ck_assert_msg(fabs(cf[o] - ref[o]) <= 1e-5 * (double)(k + 1),
                    "f32 ta=%d tb=%d m=%lld n=%lld k=%lld layout=%d: C[%lld,%lld] = %.9g, expected %.9g",
                    ta, tb, (long long)m, (long long)n, (long long)k, layout, (long long)i, (long long)j,
                    (double)cf[o], ref[o]);
    }
  free(a), free(b), free(c), free(ref), free(af), free(bf), free(cf);
}

START_TEST(test_gemm_against_naive) {
  static const int64_t sizes[][3] = {{1, 1, 1}, {1, 7, 5}, {6, 1, 4}, {5, 6, 1}, {13, 17, 19},
                                     {64, 33, 70}, {3, 129, 2}, {96, 80, 72}};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    for (int t = 0; t < 4; t++)
      for (int layout = 0; layout < 3; layout++)
        check_case(t & 1, t & 2, sizes[s][0], sizes[s][1], sizes[s][2], layout, 1.0, 0.0);
  check_case(false, true, 9, 11, 13, 0, -0.5, 2.0);
  check_case(true, false, 9, 11, 13, 1, 3.0, -1.0);
  /* past the packed GEMM's blocks: m over MC (192 float, 96 double), k over KC (256, so
   * the second k slice adds into C), n over NC (3072, 1536), with beta != 0 */
  for (int t = 0; t < 4; t++) {
    check_case(t & 1, t & 2, 200, 37, 300, t % 3, 1.0, 0.0);
    check_case(t & 1, t & 2, 97, 13, 513, (t + 1) % 3, -2.0, 0.5);
    check_case(t & 1, t & 2, 3, 3100, 20, t % 3, 1.0, 1.0);
    /* the skinny path (n or m <= 8 on AVX-512, <= 16 on AVX2, k >= 64; groups of 4
     * columns, the last one partial; the tail of k masked) */
    check_case(t & 1, t & 2, 150, 7, 99, t % 3, 1.0, 0.5);
    check_case(t & 1, t & 2, 9, 60, 200, (t + 1) % 3, 1.0, 0.0);
    check_case(t & 1, t & 2, 70, 16, 129, (t + 2) % 3, -1.0, 0.0);
    check_case(t & 1, t & 2, 203, 3, 100, t % 3, 1.0, 0.0);
    check_case(t & 1, t & 2, 4, 90, 130, (t + 1) % 3, -1.5, 0.5);
    check_case(t & 1, t & 2, 37, 4, 64, (t + 2) % 3, 2.0, 1.0);
    check_case(t & 1, t & 2, 1, 77, 257, t % 3, 1.0, 0.0);
  }
  /* m, n or k of 1 (BLIS level 2: gemv, scal + ger) with other alpha and beta, beta 1 */
  for (int t = 0; t < 4; t++)
    for (int layout = 0; layout < 3; layout++) {
      check_case(t & 1, t & 2, 1, 300, 70, layout, -0.5, 2.0);
      check_case(t & 1, t & 2, 40, 1, 9, layout, 3.0, 1.0);
      check_case(t & 1, t & 2, 33, 65, 1, layout, 1.5, -1.0);
      check_case(t & 1, t & 2, 33, 65, 1, layout, 1.0, 1.0);
    }
}
END_TEST

START_TEST(test_gemm_beta_zero_ignores_c) {
  double a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[4] = {NAN, NAN, INFINITY, NAN};
  ck_assert_int_eq(nb_gemm(NB_F64, false, false, 2, 2, 2, 1, a, 2, 1, b, 2, 1, 0, c, 2, 1), 0);
  double e[] = {19, 22, 43, 50};
  for (int i = 0; i < 4; i++)
    ck_assert_double_eq(c[i], e[i]);
  /* k == 0: C = beta * C, and with beta 0 C is overwritten with zeros */
  float cf[2] = {NAN, 3};
  ck_assert_int_eq(nb_gemm(NB_F32, false, false, 1, 2, 0, 1, NULL, 1, 1, NULL, 1, 1, 0, cf, 2, 1), 0);
  ck_assert(cf[0] == 0 && cf[1] == 0);
  float cg[2] = {1, 3};
  ck_assert_int_eq(nb_gemm(NB_F32, false, false, 1, 2, 0, 1, NULL, 1, 1, NULL, 1, 1, 2, cg, 2, 1), 0);
  ck_assert(cg[0] == 2 && cg[1] == 6);
  /* the level-2 shapes with beta 0 do not read C either: gemv (n == 1) and the rank-1
   * update (k == 1) */
  double cv[2] = {NAN, INFINITY}, cr[4] = {NAN, NAN, INFINITY, NAN};
  ck_assert_int_eq(nb_gemm(NB_F64, false, false, 2, 1, 2, 1, a, 2, 1, b, 1, 1, 0, cv, 1, 1), 0);
  ck_assert(cv[0] == 1 * 5 + 2 * 6 && cv[1] == 3 * 5 + 4 * 6);
  ck_assert_int_eq(nb_gemm(NB_F64, false, false, 2, 2, 1, 1, a, 1, 1, b, 2, 1, 0, cr, 2, 1), 0);
  ck_assert(cr[0] == 5 && cr[1] == 6 && cr[2] == 10 && cr[3] == 12);
  /* m == 0 / n == 0: nothing to do, nothing read */
  ck_assert_int_eq(nb_gemm(NB_F64, false, false, 0, 5, 5, 1, NULL, 1, 1, NULL, 1, 1, 0, NULL, 1, 1), 0);
  ck_assert_int_eq(nb_gemm(NB_F64, false, false, 5, 0, 5, 1, NULL, 1, 1, NULL, 1, 1, 0, NULL, 1, 1), 0);
}
END_TEST

START_TEST(test_gemm_odd_strides) {
  /* B broadcast along its rows (row stride 0) and a C with overlapping-looking strides
   * take the plain-loop path; results still match. */
  double a[6] = {1, 2, 3, 4, 5, 6}; /* 2x3 */
  double brow[2] = {10, 20};        /* 3x2 with every row equal */
  double c[4], ref[4];
  ck_assert_int_eq(nb_gemm(NB_F64, false, false, 2, 2, 3, 1, a, 3, 1, brow, 0, 1, 0, c, 2, 1), 0);
  naive(false, false, 2, 2, 3, 1, a, 3, 1, brow, 0, 1, 0, ref, 2, 1);
  for (int i = 0; i < 4; i++)
    ck_assert_double_eq(c[i], ref[i]);
}
END_TEST

START_TEST(test_gemm_errors) {
  double x[4] = {0};
  ck_assert_int_eq(nb_gemm(NB_I64, false, false, 2, 2, 2, 1, x, 2, 1, x, 2, 1, 0, x, 2, 1), NB_EDTYPE);
  ck_assert_str_eq(nb_last_error(), "gemm: dtype int64 is not supported (float32 or float64)");
  ck_assert_int_eq(nb_gemm(NB_F64, false, false, 2, 2, 2, 1, NULL, 2, 1, x, 2, 1, 0, x, 2, 1), NB_EINVAL);
  ck_assert_error_contains("gemm: NULL matrix pointer");
  ck_assert_int_eq(nb_gemm(NB_F64, false, false, -1, 2, 2, 1, x, 2, 1, x, 2, 1, 0, x, 2, 1), NB_EINVAL);
  ck_assert_error_contains("gemm: negative size");
}
END_TEST

typedef struct cover {
  int n;
  atomic_int *hits;
  int64_t starts[64];
  atomic_int nchunks;
} cover;

static void mark(int64_t b, int64_t e, void *user) {
  cover *c = user;
  int slot = atomic_fetch_add(&c->nchunks, 1);
  if (slot < 64)
    c->starts[slot] = b;
  for (int64_t i = b; i < e; i++)
    atomic_fetch_add(&c->hits[i], 1);
}

START_TEST(test_parallel_for) {
  ck_assert_int_ge(nb_get_num_threads(), 1);
  ck_assert_int_eq(nb_set_num_threads(0), NB_EINVAL);
  ck_assert_error_contains("nb_set_num_threads");
  for (int nt = 1; nt <= 3; nt++) {
    ck_assert_int_eq(nb_set_num_threads(nt), 0);
    ck_assert_int_eq(nb_get_num_threads(), nt);
    static const int64_t ns[] = {1, 7, 100, 1001};
    for (size_t q = 0; q < 4; q++) {
      int64_t n = ns[q];
      cover c = {.n = (int)n, .hits = calloc((size_t)n, sizeof(atomic_int))};
      nb_parallel_for(n, 10, mark, &c);
      for (int64_t i = 0; i < n; i++)
        ck_assert_int_eq(atomic_load(&c.hits[i]), 1);
      int expect = nt == 1 || n <= 10 ? 1 : (int)((n + 9) / 10 < nt ? (n + 9) / 10 : nt);
      ck_assert_int_eq(atomic_load(&c.nchunks), expect);
      free(c.hits);
    }
  }
  nb_parallel_for(0, 1, mark, NULL); /* nothing to do: fn is not called */
}
END_TEST

/* nb_gemm inside an nb_parallel_for body (GEMMs side by side, each on its thread) gives
 * the same bits as the same GEMM on the core's threads: BLIS never splits k. */
typedef struct gemm_par {
  const float *a, *b;
  float *c; /* 4 results of 96 x 80 */
} gemm_par;

static void gemm_part(int64_t i0, int64_t i1, void *u) {
  gemm_par *g = u;
  for (int64_t i = i0; i < i1; i++)
    ck_assert_int_eq(nb_gemm(NB_F32, false, i % 2, 96, 80, 72, 1.0, g->a, 72, 1, g->b, i % 2 ? 1 : 80,
                             i % 2 ? 72 : 1, 0.0, g->c + i * 96 * 80, 80, 1), 0);
}

START_TEST(test_gemm_in_parallel_for) {
  int prev = nb_get_num_threads();
  ck_assert_int_eq(nb_set_num_threads(2), 0);
  uint64_t seed = 5;
  float *a = malloc(96 * 72 * 4), *b = malloc(72 * 80 * 4), *c = malloc(4 * 96 * 80 * 4), *ref = malloc(2 * 96 * 80 * 4);
  for (int i = 0; i < 96 * 72; i++) a[i] = (float)lcg(&seed);
  for (int i = 0; i < 72 * 80; i++) b[i] = (float)lcg(&seed);
  for (int t = 0; t < 2; t++) /* B row-major, then read transposed */
    ck_assert_int_eq(nb_gemm(NB_F32, false, t, 96, 80, 72, 1.0, a, 72, 1, b, t ? 1 : 80, t ? 72 : 1, 0.0,
                             ref + t * 96 * 80, 80, 1), 0);
  gemm_par g = {a, b, c};
  nb_parallel_for(4, 1, gemm_part, &g);
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(memcmp(c + i * 96 * 80, ref + (i % 2) * 96 * 80, 96 * 80 * 4), 0);
  free(a), free(b), free(c), free(ref);
  nb_set_num_threads(prev);
}
END_TEST

START_TEST(test_scratch) {
  char *p = nb_scratch(0, 100);
  ck_assert_ptr_nonnull(p);
  ck_assert_int_eq((uintptr_t)p % 64, 0);
  memset(p, 1, 100);
  ck_assert_ptr_eq(nb_scratch(0, 50), p); /* reused */
  char *q = nb_scratch(1, 10);
  ck_assert_ptr_ne(q, p);
  char *big = nb_scratch(0, 1 << 20);
  ck_assert_int_eq((uintptr_t)big % 64, 0);
  memset(big, 2, 1 << 20);
  ck_assert_ptr_nonnull(nb_scratch(3, 0));
  ck_assert_ptr_null(nb_scratch(4, 10));
  ck_assert_error_contains("nb_scratch: slot 4 is out of range");
  ck_assert_ptr_null(nb_scratch(-1, 10));
}
END_TEST

static void *thread_uses_scratch(void *arg) {
  (void)arg;
  for (int slot = 0; slot < 4; slot++) {
    char *p = nb_scratch(slot, (size_t)(1000 << slot));
    if (!p)
      return NULL;
    memset(p, slot, (size_t)(1000 << slot));
  }
  return arg; /* the buffers are freed at thread exit (LeakSanitizer checks it) */
}

START_TEST(test_scratch_freed_at_thread_exit) {
  for (int i = 0; i < 4; i++) {
    pthread_t th;
    void *ret = NULL;
    ck_assert_int_eq(pthread_create(&th, NULL, thread_uses_scratch, (void *)&ret), 0);
    pthread_join(th, &ret);
    ck_assert_ptr_nonnull(ret);
  }
}
END_TEST

/* The same product gives the same bits on 1 to 4 threads: nb_gemm cuts a large GEMM into
 * blocks of rows or columns of C, never along k. Shapes of ResNet-18's and LeNet's layers
 * as im2col GEMMs, a linear layer, and odd sizes, under every transpose. */
START_TEST(test_gemm_same_bits_any_thread_count) {
  static const int64_t shapes[][3] = {{64, 1024, 147}, {512, 4, 4608}, {128, 64, 1152}, {1000, 16, 512},
                                      {16, 100, 150},  {200, 300, 250}, {37, 500, 61},   {513, 129, 64},
                                      {4608, 512, 4}};
  int prev = nb_get_num_threads();
  uint64_t seed = 11;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int dt = 0; dt < 2; dt++)
      for (int t = 0; t < 4; t++) {
        int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        bool ta = t & 1, tb = t & 2;
        size_t es = dt ? 8 : 4;
        char *a = malloc((size_t)(m * k) * es), *b = malloc((size_t)(k * n) * es);
        char *c[4];
        for (int64_t i = 0; i < m * k; i++)
          dt ? (void)(((double *)a)[i] = lcg(&seed)) : (void)(((float *)a)[i] = (float)lcg(&seed));
        for (int64_t i = 0; i < k * n; i++)
          dt ? (void)(((double *)b)[i] = lcg(&seed)) : (void)(((float *)b)[i] = (float)lcg(&seed));
        for (int nt = 1; nt <= 4; nt++) {
          ck_assert_int_eq(nb_set_num_threads(nt), 0);
          c[nt - 1] = malloc((size_t)(m * n) * es);
          ck_assert_int_eq(nb_gemm(dt ? NB_F64 : NB_F32, ta, tb, m, n, k, 1.0, a, ta ? m : k, 1, b, tb ? k : n, 1,
                                   0.0, c[nt - 1], n, 1),
                           0);
          if (nt > 1)
            ck_assert_msg(memcmp(c[0], c[nt - 1], (size_t)(m * n) * es) == 0,
                          "%lldx%lldx%lld %s ta=%d tb=%d: %d threads differ from 1", (long long)m, (long long)n,
                          (long long)k, dt ? "f64" : "f32", ta, tb, nt);
        }
        for (int i = 0; i < 4; i++) free(c[i]);
        free(a), free(b);
      }
  nb_set_num_threads(prev);
}
END_TEST

/* NB_GEMM_KERNEL picks the micro-kernel when the CPU has it (meson runs this suite once
 * per choice); unset, the widest one the CPU has is used. */
START_TEST(test_gemm_kernel_choice) {
  const char *want = getenv("NB_GEMM_KERNEL"), *got = nb_gemm_kernel();
#if defined(__x86_64__)
  bool avx512 = __builtin_cpu_supports("avx512f");
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  bool avx512 = false, avx2 = false;
#endif
  const char *best = avx512 ? "avx512" : avx2 ? "avx2" : "blis";
  const char *expect = best;
  if (want && strcmp(want, "blis") == 0)
    expect = "blis";
  else if (want && strcmp(want, "avx2") == 0 && avx2)
    expect = "avx2";
  ck_assert_msg(strcmp(got, expect) == 0, "NB_GEMM_KERNEL=%s on a CPU whose best is %s: got %s, expected %s",
                want ? want : "(unset)", best, got, expect);
}
END_TEST

static Suite *make(void) {
  Suite *s = suite_create("core_gemm");
  TCase *tc = tcase_create("gemm");
  tcase_add_test(tc, test_gemm_kernel_choice);
  tcase_add_test(tc, test_gemm_against_naive);
  tcase_add_test(tc, test_gemm_beta_zero_ignores_c);
  tcase_add_test(tc, test_gemm_odd_strides);
  tcase_add_test(tc, test_gemm_errors);
  tcase_add_test(tc, test_parallel_for);
  tcase_add_test(tc, test_gemm_in_parallel_for);
  tcase_add_test(tc, test_gemm_same_bits_any_thread_count);
  tcase_add_test(tc, test_scratch);
  tcase_add_test(tc, test_scratch_freed_at_thread_exit);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(make()); }
