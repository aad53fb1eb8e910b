/* ops/ops_simd.h — what the operator plugins' vectorised kernels share.
 *
 * NB_OPS_CLONES: compile a kernel also for AVX2; the loader picks the variant the CPU
 * runs (an ifunc; x86-64 with glibc). No FMA is enabled, so both variants give the same
 * bits, and results do not depend on the machine.
 *
 * NB_OPS_FAST_FP_BEGIN / _END around kernels (and around headers whose inline helpers
 * they use, such as elementwise/ew_exp.h): inside, GCC may assume no float operation
 * traps (nothing here reads the FP exception flags), so it if-converts compares and
 * selects and vectorises those loops. Results are unchanged.
 */
#ifndef NB_OPS_SIMD_H
#define NB_OPS_SIMD_H

#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define NB_OPS_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef NB_OPS_CLONES
#define NB_OPS_CLONES
#endif

#if defined(__GNUC__) && !defined(__clang__)
#define NB_OPS_FAST_FP_BEGIN _Pragma("GCC push_options") _Pragma("GCC optimize(\"no-trapping-math\")")
#define NB_OPS_FAST_FP_END _Pragma("GCC pop_options")
#else
#define NB_OPS_FAST_FP_BEGIN
#define NB_OPS_FAST_FP_END
#endif

#endif
