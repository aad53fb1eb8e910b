/* gemm.c — the GEMM service over BLIS's typed API.
 *
 * C = alpha * op(A) * op(B) + beta * C with arbitrary element strides. Strides BLIS
 * accepts go straight to bli_?gemm_ex with the core's thread count; the rare layouts
 * it rejects (zero, negative or overlapping strides) use a plain loop instead, so no
 * input can make BLIS abort the process.
 */
/* blis.h trips -Wextra in its inline helpers; they are not ours to fix. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <blis.h>
#pragma GCC diagnostic pop

#include "internal.h"

/* Below this many multiply-adds a GEMM runs on one thread. */
#define NB_GEMM_SERIAL_FLOPS (64.0 * 64.0 * 64.0)

/* Strides of a size-1 dimension are meaningless: give BLIS consistent ones. */
static void normalise(int64_t rows, int64_t cols, int64_t *rs, int64_t *cs) {
  if (rows == 1 && cols == 1) {
    *rs = *cs = 1;
  } else if (rows == 1) {
    *rs = *cs * cols;
  } else if (cols == 1) {
    *cs = *rs * rows;
  }
}

/* Mirror of BLIS's stride rules for a rows x cols matrix (non-empty). */
static bool blis_ok(int64_t m, int64_t n, int64_t rs, int64_t cs) {
  if (rs < 1 || cs < 1)
    return false;
  if (rs != 1 && cs != 1) {
    if (rs == cs)
      return m == 1 || n == 1;
    if (rs < cs)
      return m * rs <= cs;
    return n * cs <= rs;
  }
  if (rs == 1 && cs == 1)
    return m == 1 || n == 1;
  if (rs == 1)
    return cs >= m;
  return rs >= n;
}

#define NAIVE(T)                                                                             \
  static void naive_##T(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T *a, \
                        int64_t rsa, int64_t csa, const T *b, int64_t rsb, int64_t csb, T beta,  \
                        T *c, int64_t rsc, int64_t csc) {                                        \
    for (int64_t i = 0; i < m; i++)                                                          \
      for (int64_t j = 0; j < n; j++) {                                                      \
        T acc = 0;                                                                           \
        for (int64_t p = 0; p < k; p++) {                                                    \
          T av = ta ? a[p * rsa + i * csa] : a[i * rsa + p * csa];                           \
          T bv = tb ? b[j * rsb + p * csb] : b[p * rsb + j * csb];                           \
          acc += av * bv;                                                                    \
        }                                                                                    \
        T *cp = &c[i * rsc + j * csc];                                                       \
        *cp = beta == 0 ? alpha * acc : alpha * acc + beta * *cp;                            \
      }                                                                                      \
  }
NAIVE(float)
NAIVE(double)

int nb_gemm(nb_dtype dt, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
            const void *a, int64_t rs_a, int64_t cs_a, const void *b, int64_t rs_b, int64_t cs_b,
            double beta, void *c, int64_t rs_c, int64_t cs_c) {
  if (dt != NB_F32 && dt != NB_F64)
    return nb_set_error(NB_EDTYPE, "gemm: dtype %s is not supported (float32 or float64)",
                        nb_dtype_name(dt));
  if (m < 0 || n < 0 || k < 0)
    return nb_set_error(NB_EINVAL, "gemm: negative size m=%lld n=%lld k=%lld", (long long)m,
                        (long long)n, (long long)k);
  if (m == 0 || n == 0)
    return 0;
  if (!c || (k > 0 && (!a || !b)))
    return nb_set_error(NB_EINVAL, "gemm: NULL matrix pointer (a=%p b=%p c=%p) for m=%lld n=%lld k=%lld",
                        a, b, c, (long long)m, (long long)n, (long long)k);
  /* Stored shapes: A is (k x m) when transposed, B is (n x k). */
  int64_t ar = trans_a ? k : m, ac = trans_a ? m : k;
  int64_t br = trans_b ? n : k, bc = trans_b ? k : n;
  if (k == 0) { /* C = beta * C (C not read when beta == 0) */
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        if (dt == NB_F32) {
          float *cp = (float *)c + i * rs_c + j * cs_c;
          *cp = beta == 0 ? 0.0f : (float)beta * *cp;
        } else {
          double *cp = (double *)c + i * rs_c + j * cs_c;
          *cp = beta == 0 ? 0.0 : beta * *cp;
        }
      }
    return 0;
  }
  normalise(ar, ac, &rs_a, &cs_a);
  normalise(br, bc, &rs_b, &cs_b);
  normalise(m, n, &rs_c, &cs_c);
  bool ok = blis_ok(ar, ac, rs_a, cs_a) && blis_ok(br, bc, rs_b, cs_b) && blis_ok(m, n, rs_c, cs_c);
  if (!ok) {
    if (dt == NB_F32)
      naive_float(trans_a, trans_b, m, n, k, (float)alpha, a, rs_a, cs_a, b, rs_b, cs_b,
                  (float)beta, c, rs_c, cs_c);
    else
      naive_double(trans_a, trans_b, m, n, k, alpha, a, rs_a, cs_a, b, rs_b, cs_b, beta, c, rs_c,
                   cs_c);
    return 0;
  }
  /* Small products do not pay for waking threads. BLIS splits m and n, never k, so the
   * thread count does not change the result. */
  int nt = (double)m * (double)n * (double)k < NB_GEMM_SERIAL_FLOPS ? 1 : nb_get_num_threads();
  rntm_t rntm = BLIS_RNTM_INITIALIZER;
  bli_rntm_set_num_threads(nt, &rntm);
  trans_t ta = trans_a ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
  trans_t tb = trans_b ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
  if (dt == NB_F32) {
    float al = (float)alpha, be = (float)beta;
    bli_sgemm_ex(ta, tb, m, n, k, &al, (float *)a, rs_a, cs_a, (float *)b, rs_b, cs_b, &be, c, rs_c,
                 cs_c, NULL, &rntm);
  } else {
    double al = alpha, be = beta;
    bli_dgemm_ex(ta, tb, m, n, k, &al, (double *)a, rs_a, cs_a, (double *)b, rs_b, cs_b, &be, c, rs_c,
                 cs_c, NULL, &rntm);
  }
  return 0;
}
