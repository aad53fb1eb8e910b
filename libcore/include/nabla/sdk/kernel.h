/* nabla/sdk/kernel.h — services the core gives to kernels in plugins: broadcasting,
 * strided iteration, parallel loops and their grain, GEMM over BLIS, gradient reduction,
 * scratch, and the markers for vectorised kernels (AVX2 clones, no-trapping-math regions).
 * Plugins use these instead of linking BLIS or starting threads themselves.
 */
#ifndef NABLA_KERNEL_H
#define NABLA_KERNEL_H

#include "../core.h"
#include "../tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- broadcasting ------------------------------------------------------------ */

/* NumPy broadcasting of n shapes into out_shape (NB_MAX_DIMS room). Returns 0, or
 * NB_ESHAPE with a message "<opname>: shapes [2,3] and [4] cannot be broadcast". */
int nb_broadcast_shapes(const char *opname, int n, const nb_tensor *const *ts, int *out_ndim,
                        int64_t *out_shape);
/* Sum `grad` over broadcast dimensions so it has shape (ndim, shape). Returns grad
 * itself (no new reference) when the shapes already match, a new scoped tensor
 * otherwise, NULL with NB_ESHAPE when grad cannot be reduced to that shape. The engine
 * calls it on every gradient a backward returns: the one place this is done. */
nb_tensor *nb_sum_to_shape(nb_tensor *grad, int ndim, const int64_t *shape);

/* dst += alpha * src, with src broadcast to dst's shape; same floating dtype. Bumps
 * dst's version; not recorded. The engine uses it to sum gradients and accumulate .grad. */
int nb_axpy_into(nb_tensor *dst, double alpha, const nb_tensor *src);

/* ---- strided iteration --------------------------------------------------------- */

#define NB_ITER_MAX_OPS 4
/* Walks up to NB_ITER_MAX_OPS tensors in lock-step over op[0]'s shape (the output);
 * the others are broadcast to it. Dimensions are coalesced, so contiguous tensors
 * give one inner run of numel elements. Usage:
 *
 *   nb_iter it;
 *   if (nb_iter_init(&it, 3, (nb_tensor *[]){out, a, b}) < 0) return nb_last_status();
 *   do {
 *     char *po = it.ptr[0], *pa = it.ptr[1], *pb = it.ptr[2];
 *     for (int64_t k = 0; k < it.n; k++)
 *       *(float *)(po + k * it.step[0]) = *(float *)(pa + k * it.step[1]) * ...;
 *   } while (nb_iter_next(&it));
 *
 * Strides and steps are in bytes. numel == 0 gives it.n == 0 on the first run. */
typedef struct nb_iter {
  int nops;
  int ndim;          /* outer dims after coalescing (excluding the inner one) */
  int64_t n;         /* length of the current inner run */
  int64_t step[NB_ITER_MAX_OPS]; /* inner stride of each operand in bytes */
  char *ptr[NB_ITER_MAX_OPS];    /* pointers to the first element of the current run */
  /* private */
  char *base[NB_ITER_MAX_OPS];
  int64_t shape[NB_MAX_DIMS];
  int64_t strides[NB_ITER_MAX_OPS][NB_MAX_DIMS];
  int64_t idx[NB_MAX_DIMS];
  int64_t runs_left;
} nb_iter;
int nb_iter_init(nb_iter *it, int nops, nb_tensor *const *ops);
/* Advance to the next inner run; false when done. */
bool nb_iter_next(nb_iter *it);
/* Split the iteration into runs [begin, end) of outer positions so parallel loops can
 * each walk a part: nb_iter_runs() gives the number of runs, nb_iter_seek() positions
 * an iterator (copied from an initialised one) at run r. */
int64_t nb_iter_runs(const nb_iter *it);
void nb_iter_seek(nb_iter *it, int64_t run);
/* True when all operands are contiguous with op[0]'s shape (one flat run). */
bool nb_iter_is_flat(const nb_iter *it);

/* ---- parallel loops -------------------------------------------------------------- */

/* Call fn(begin, end, user) over [0, n) split in chunks of at least `grain`, on the
 * core's threads (nb_set_num_threads). Runs inline when n <= grain or one thread.
 * Inside fn, nb_parallel_for and nb_gemm run on the calling thread (no nesting).
 * Chunking depends only on n, grain and the thread count, so results are reproducible
 * for a fixed count; which thread runs a chunk does not (a thread that is free takes the
 * next), and waiting threads sleep after a few microseconds of spinning. */
typedef void (*nb_range_fn)(int64_t begin, int64_t end, void *user);
void nb_parallel_for(int64_t n, int64_t grain, nb_range_fn fn, void *user);

/* Elements of memory-bound work per parallel chunk: a loop over fewer runs inline on the
 * calling thread. Elementwise loops pass it as the grain; loops whose items each cost
 * `work` elements pass 1 + NB_PARALLEL_GRAIN / work (or similar). */
#define NB_PARALLEL_GRAIN 32768

/* ---- GEMM over BLIS -------------------------------------------------------------- */

/* C = alpha * op(A) * op(B) + beta * C where op(X) is X or Xᵀ; A is m×k after op, B is
 * k×n, C is m×n. Each matrix is given by a pointer and row/column strides in elements
 * (any strides, so transposes need no copy). dt is NB_F32 or NB_F64. beta == 0 means C
 * is not read. Uses the core's threads (blocks of C side by side, each on one
 * thread, so the result does not depend on the count); only the calling one inside an
 * nb_parallel_for body (so independent GEMMs can run side by side), and for m, n or k
 * of 1 (BLIS's level-2 gemv / ger). Returns 0 or a negative status. */
int nb_gemm(nb_dtype dt, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
            const void *a, int64_t rs_a, int64_t cs_a, const void *b, int64_t rs_b, int64_t cs_b,
            double beta, void *c, int64_t rs_c, int64_t cs_c);
/* The GEMM micro-kernel nb_gemm uses on this CPU: "avx512", "avx2" (nabla's own, chosen
 * at run time from the CPU, or by NB_GEMM_KERNEL=avx512|avx2|blis) or "blis". */
const char *nb_gemm_kernel(void);

/* ---- scratch memory -------------------------------------------------------------- */

/* Thread-local scratch of at least `size` bytes, 64-byte aligned, reused between calls
 * (valid until the next nb_scratch call on this thread with slot `slot`; 4 slots). */
void *nb_scratch(int slot, size_t size);

/* ---- vectorised kernels ------------------------------------------------------------ */

/* NB_SIMD_CLONES before a kernel function compiles it also for AVX2; the loader picks the
 * variant the CPU runs (target_clones, an ifunc), so the build machine's flags never choose.
 * Where the toolchain cannot (the bundled plugins get NB_HAVE_TARGET_CLONES from Meson's
 * probe, simd_c_args; other builds may define it), there is one plain variant. FMA stays
 * off in every variant, so all give the same bits and results do not depend on the CPU. */
#ifdef NB_HAVE_TARGET_CLONES
#define NB_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NB_SIMD_CLONES
#endif

/* NB_FAST_FP_BEGIN / _END around kernels (and around headers whose inline helpers they
 * use): inside, GCC may assume no float operation traps (a kernel must not read the FP
 * exception flags), so it if-converts compares and selects and vectorises those loops.
 * Results are unchanged. */
#if defined(__GNUC__) && !defined(__clang__)
#define NB_FAST_FP_BEGIN _Pragma("GCC push_options") _Pragma("GCC optimize(\"no-trapping-math\")")
#define NB_FAST_FP_END _Pragma("GCC pop_options")
#else
#define NB_FAST_FP_BEGIN
#define NB_FAST_FP_END
#endif

#ifdef __cplusplus
}
#endif
#endif
