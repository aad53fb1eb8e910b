/* gemm.c — the GEMM service: nabla's packed GEMM or BLIS's typed API.
 *
 * C = alpha * op(A) * op(B) + beta * C with arbitrary element strides. Strides BLIS
 * accepts go to the packed GEMM with the CPU's micro-kernel (gemm_native.c; AVX2 or
 * AVX-512, chosen at run time) or, on CPUs without one, to bli_?gemm_ex, each on one
 * thread; a large product is cut into blocks of C that run side by side on the core's
 * threads (gemm_split; one thread inside a parallel loop). When m, n or k is 1 it goes
 * to BLIS's level-2 gemv / ger on one thread, unless the packed GEMM's skinny path takes
 * it; the rare layouts BLIS rejects (zero, negative or overlapping strides) use a plain
 * loop instead, so no input can make BLIS abort the process. Small k with column-major B
 * uses the core's own loop (tiny_*).
 */
/* blis.h trips -Wextra in its inline helpers; they are not ours to fix. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <blis.h>
#pragma GCC diagnostic pop

#include "internal.h"

#include <stdlib.h>

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

/* GEMMs with k at most this use tiny_*: BLIS's packing costs far more than the work
 * (Debian's BLIS is ~6x slower than this loop at 512x4608x4). */
#define NB_GEMM_TINY_K 8
/* Columns of B gathered per block by tiny_*. */
#define NB_GEMM_TINY_JB 128

/* Small-k GEMM: B is gathered once into bt (k rows of np >= n contiguous columns,
 * zero-padded to whole blocks), then each row of C is, per block of columns, k
 * vectorisable axpys into a local accumulator scaled into C. The additions run in a fixed
 * order (p = 0..k-1), so results are deterministic. A(i,p) is at a[i*ra + p*ca], B(p,j)
 * at b[p*rb + j*cb]. */
#define TINY(T)                                                                              \
  static void tiny_##T(int64_t m, int64_t n, int64_t k, T alpha, const T *a, int64_t ra,    \
                       int64_t ca, const T *b, int64_t rb, int64_t cb, T beta, T *c,         \
                       int64_t rc, int64_t cc, T *bt, int64_t np) {                          \
    T acc[NB_GEMM_TINY_JB];                                                                  \
    for (int64_t p = 0; p < k; p++) {                                                        \
      T *row = bt + p * np;                                                                  \
      for (int64_t j = 0; j < n; j++) row[j] = b[p * rb + j * cb];                           \
      for (int64_t j = n; j < np; j++) row[j] = 0;                                           \
    }                                                                                        \
    for (int64_t i = 0; i < m; i++) {                                                        \
      const T *ar = a + i * ra;                                                              \
      for (int64_t j0 = 0; j0 < n; j0 += NB_GEMM_TINY_JB) {                                  \
        int64_t jn = n - j0 < NB_GEMM_TINY_JB ? n - j0 : NB_GEMM_TINY_JB;                    \
        const T *b0 = bt + j0;                                                               \
        T a0 = ar[0];                                                                        \
        /* fixed trip counts: vectorised even at -O2 */                                      \
        for (int jj = 0; jj < NB_GEMM_TINY_JB; jj++) acc[jj] = a0 * b0[jj];                  \
        for (int64_t p = 1; p < k; p++) {                                                    \
          T ap = ar[p * ca];                                                                 \
          const T *bp = b0 + p * np;                                                         \
          for (int jj = 0; jj < NB_GEMM_TINY_JB; jj++) acc[jj] += ap * bp[jj];               \
        }                                                                                    \
        T *cr = c + i * rc + j0 * cc;                                                        \
        if (jn == NB_GEMM_TINY_JB && cc == 1) {                                              \
          if (beta == 0)                                                                     \
            for (int jj = 0; jj < NB_GEMM_TINY_JB; jj++) cr[jj] = alpha * acc[jj];           \
          else                                                                               \
            for (int jj = 0; jj < NB_GEMM_TINY_JB; jj++) cr[jj] = alpha * acc[jj] + beta * cr[jj]; \
        } else if (beta == 0) {                                                              \
          for (int64_t jj = 0; jj < jn; jj++) cr[jj * cc] = alpha * acc[jj];                 \
        } else {                                                                             \
          for (int64_t jj = 0; jj < jn; jj++) cr[jj * cc] = alpha * acc[jj] + beta * cr[jj * cc]; \
        }                                                                                    \
      }                                                                                      \
    }                                                                                        \
  }
TINY(float)
TINY(double)

/* A product with m, n or k equal to 1 is a matrix-vector product or a rank-1 update:
 * BLIS's level-2 kernels do those without the packing of its GEMM (batch-1 linear,
 * 1000x512 float32: dx = dy·W 75 -> 30 us as gemv, the rank-1 dW 134 -> 67 us as
 * scal + ger). They run on one thread and do not split the sums, like the GEMM. */
static void level2(nb_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const void *a,
                   int64_t rs_a, int64_t cs_a, const void *b, int64_t rs_b, int64_t cs_b, double beta, void *c,
                   int64_t rs_c, int64_t cs_c) {
  /* element (i, p) of op(A) is at a[i·ra + p·ca], (p, j) of op(B) at b[p·rb + j·cb] */
  int64_t ra = ta ? cs_a : rs_a, ca = ta ? rs_a : cs_a, rb = tb ? cs_b : rs_b, cb = tb ? rs_b : cs_b;
  rntm_t rntm = BLIS_RNTM_INITIALIZER;
  bli_rntm_set_num_threads(1, &rntm);
  /* y = op(A)·b for n = 1, yᵀ = op(B)ᵀ·aᵀ for m = 1, else C = beta·C + alpha·a·bᵀ */
  const void *mat = n == 1 ? a : b, *x = n == 1 ? b : a;
  int64_t rows = n == 1 ? m : n, rs = n == 1 ? ra : cb, cs = n == 1 ? ca : rb, incx = n == 1 ? rb : ca;
  int64_t incy = n == 1 ? rs_c : cs_c;
  if (dt == NB_F32) {
    float al = (float)alpha, be = (float)beta;
    if (n == 1 || m == 1)
      bli_sgemv_ex(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, rows, k, &al, (float *)mat, rs, cs, (float *)x, incx, &be,
                   c, incy, NULL, &rntm);
    else {
      if (beta == 0)
        bli_ssetm_ex(BLIS_NO_CONJUGATE, 0, BLIS_NONUNIT_DIAG, BLIS_DENSE, m, n, &be, c, rs_c, cs_c, NULL, &rntm);
      else if (beta != 1)
        bli_sscalm_ex(BLIS_NO_CONJUGATE, 0, BLIS_NONUNIT_DIAG, BLIS_DENSE, m, n, &be, c, rs_c, cs_c, NULL, &rntm);
      bli_sger_ex(BLIS_NO_CONJUGATE, BLIS_NO_CONJUGATE, m, n, &al, (float *)a, ra, (float *)b, cb, c, rs_c, cs_c, NULL,
                  &rntm);
    }
  } else {
    double al = alpha, be = beta;
    if (n == 1 || m == 1)
      bli_dgemv_ex(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, rows, k, &al, (double *)mat, rs, cs, (double *)x, incx, &be,
                   c, incy, NULL, &rntm);
    else {
      if (beta == 0)
        bli_dsetm_ex(BLIS_NO_CONJUGATE, 0, BLIS_NONUNIT_DIAG, BLIS_DENSE, m, n, &be, c, rs_c, cs_c, NULL, &rntm);
      else if (beta != 1)
        bli_dscalm_ex(BLIS_NO_CONJUGATE, 0, BLIS_NONUNIT_DIAG, BLIS_DENSE, m, n, &be, c, rs_c, cs_c, NULL, &rntm);
      bli_dger_ex(BLIS_NO_CONJUGATE, BLIS_NO_CONJUGATE, m, n, &al, (double *)a, ra, (double *)b, cb, c, rs_c, cs_c,
                  NULL, &rntm);
    }
  }
}

/* One product on the calling thread: nabla's packed GEMM when the CPU has one of its
 * micro-kernels (gemm_native.c), else BLIS's GEMM; BLIS's level-2 kernels when m, n or k
 * is 1 (unless the packed GEMM's skinny path takes it); or the plain loop for strides
 * BLIS rejects. */
static void gemm_serial(nb_dtype dt, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                        const void *a, int64_t rs_a, int64_t cs_a, const void *b, int64_t rs_b, int64_t cs_b,
                        double beta, void *c, int64_t rs_c, int64_t cs_c) {
  /* Stored shapes: A is (k x m) when transposed, B is (n x k). */
  int64_t ar = trans_a ? k : m, ac = trans_a ? m : k;
  int64_t br = trans_b ? n : k, bc = trans_b ? k : n;
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
    return;
  }
  /* element (i, p) of op(A) is at a[i·ra + p·ca], (p, j) of op(B) at b[p·rb + j·cb] */
  int64_t ra = trans_a ? cs_a : rs_a, ca = trans_a ? rs_a : cs_a, rb = trans_b ? cs_b : rs_b,
          cb = trans_b ? rs_b : cs_b;
  const nb__ukernel *uk = nb__gemm_ukernel(dt);
  if ((m == 1 || n == 1 || k == 1) && !(uk && nb__gemm_skinny(uk, m, n, k, ca, rb))) {
    level2(dt, trans_a, trans_b, m, n, k, alpha, a, rs_a, cs_a, b, rs_b, cs_b, beta, c, rs_c, cs_c);
    return;
  }
  if (uk && nb__gemm_packed(uk, dt, m, n, k, alpha, a, ra, ca, b, rb, cb, beta, c, rs_c, cs_c))
    return;
  rntm_t rntm = BLIS_RNTM_INITIALIZER;
  bli_rntm_set_num_threads(1, &rntm);
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
}

/* ---- one GEMM on several threads ------------------------------------------------------ */

/* A GEMM worth several threads is cut into independent products over blocks of C's rows
 * (when m >= n: every block reads all of B) or columns (all of A), NB_GEMM_BLOCKS_PER_THREAD
 * blocks per thread so that a descheduled thread's blocks go to the others, each block a
 * whole number of BLIS micro-tiles. Each runs on one thread (BLIS's threads wait for each
 * other in a barrier that spins without end, which stalled whole steps on a busy
 * machine). No block splits k, so the result does not depend on the thread count. */
#define NB_GEMM_BLOCKS_PER_THREAD 2

typedef struct gemm_split {
  nb_dtype dt;
  bool ta, tb, by_rows;
  int64_t m, n, k, rs_a, cs_a, rs_b, cs_b, rs_c, cs_c;
  double alpha, beta;
  const char *a, *b;
  char *c;
  int64_t blocks, tile; /* block i starts at round(i·dim/blocks) down to a multiple of tile */
} gemm_split;

static int64_t block_start(const gemm_split *g, int64_t i) {
  int64_t dim = g->by_rows ? g->m : g->n;
  return i >= g->blocks ? dim : i * dim / g->blocks / g->tile * g->tile;
}

static void gemm_block(int64_t i, int64_t i_end, void *user) {
  const gemm_split *g = user;
  (void)i_end;
  int64_t lo = block_start(g, i), len = block_start(g, i + 1) - lo;
  size_t es = nb__dtype_size(g->dt);
  if (len <= 0)
    return;
  if (g->by_rows) { /* rows lo.. of op(A) and of C */
    int64_t ra = g->ta ? g->cs_a : g->rs_a;
    gemm_serial(g->dt, g->ta, g->tb, len, g->n, g->k, g->alpha, g->a + (size_t)(lo * ra) * es, g->rs_a, g->cs_a,
                g->b, g->rs_b, g->cs_b, g->beta, g->c + (size_t)(lo * g->rs_c) * es, g->rs_c, g->cs_c);
  } else { /* columns lo.. of op(B) and of C */
    int64_t cb = g->tb ? g->rs_b : g->cs_b;
    gemm_serial(g->dt, g->ta, g->tb, g->m, len, g->k, g->alpha, g->a, g->rs_a, g->cs_a,
                g->b + (size_t)(lo * cb) * es, g->rs_b, g->cs_b, g->beta, g->c + (size_t)(lo * g->cs_c) * es,
                g->rs_c, g->cs_c);
  }
}

/* BLIS's micro-tile for dt: blocks are multiples of both of its sides (either may end up
 * along m, as BLIS transposes a product to suit its kernel). */
static int64_t micro_tile(nb_dtype dt) {
  static int64_t tile[2]; /* float, double; 0 until asked */
  int i = dt == NB_F64;
  int64_t t = __atomic_load_n(&tile[i], __ATOMIC_RELAXED);
  if (t == 0) {
    const nb__ukernel *uk = nb__gemm_ukernel(dt);
    cntx_t *cx = uk ? NULL : bli_gks_query_cntx();
    num_t bt = dt == NB_F32 ? BLIS_FLOAT : BLIS_DOUBLE;
    int64_t mr = uk ? uk->mr : cx ? (int64_t)bli_cntx_get_blksz_def_dt(bt, BLIS_MR, cx) : 16;
    int64_t nr = uk ? uk->nr : cx ? (int64_t)bli_cntx_get_blksz_def_dt(bt, BLIS_NR, cx) : 16;
    int64_t x = mr > 0 ? mr : 16, y = nr > 0 ? nr : 16, r;
    while (y) r = x % y, x = y, y = r; /* gcd */
    t = (mr > 0 ? mr : 16) / x * (nr > 0 ? nr : 16);
    if (t > 256) t = 256;
    if (t < 4) t = 4;
    __atomic_store_n(&tile[i], t, __ATOMIC_RELAXED);
  }
  return t;
}

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
  /* B(p,j) offsets under the transposes; BLIS is only slow when B's rows are strided */
  int64_t rb = trans_b ? cs_b : rs_b, cb = trans_b ? rs_b : cs_b;
  int64_t np = (n + NB_GEMM_TINY_JB - 1) / NB_GEMM_TINY_JB * NB_GEMM_TINY_JB;
  void *bt = k <= NB_GEMM_TINY_K && cb != 1 && n > 1 ? malloc(nb__dtype_size(dt) * (size_t)(k * np)) : NULL;
  if (bt != NULL) { /* (without memory, BLIS below does it) */
    int64_t ra = trans_a ? cs_a : rs_a, ca = trans_a ? rs_a : cs_a;
    if (dt == NB_F32)
      tiny_float(m, n, k, (float)alpha, a, ra, ca, b, rb, cb, (float)beta, c, rs_c, cs_c, bt, np);
    else
      tiny_double(m, n, k, alpha, a, ra, ca, b, rb, cb, beta, c, rs_c, cs_c, bt, np);
    free(bt);
    return 0;
  }
  /* Small products do not pay for waking threads, and inside a parallel loop each
   * thread runs its own GEMMs. */
  int nt = (double)m * (double)n * (double)k < NB_GEMM_SERIAL_FLOPS ? 1 : nb__threads_here();
  gemm_split g = {.dt = dt, .ta = trans_a, .tb = trans_b, .by_rows = m >= n, .m = m, .n = n, .k = k,
                  .rs_a = rs_a, .cs_a = cs_a, .rs_b = rs_b, .cs_b = cs_b, .rs_c = rs_c, .cs_c = cs_c,
                  .alpha = alpha, .beta = beta, .a = a, .b = b, .c = c, .tile = micro_tile(dt)};
  int64_t dim = g.by_rows ? m : n;
  g.blocks = nt > 1 && m > 1 && n > 1 ? dim / (2 * g.tile) : 1; /* blocks of >= 2 tiles */
  if (g.blocks > (int64_t)nt * NB_GEMM_BLOCKS_PER_THREAD)
    g.blocks = (int64_t)nt * NB_GEMM_BLOCKS_PER_THREAD;
  if (g.blocks < 2) {
    gemm_serial(dt, trans_a, trans_b, m, n, k, alpha, a, rs_a, cs_a, b, rs_b, cs_b, beta, c, rs_c, cs_c);
    return 0;
  }
  nb__parallel_tasks(g.blocks, gemm_block, &g);
  return 0;
}
