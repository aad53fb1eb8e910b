/* bench/dist/bench_allreduce.h — the measurement both allreduce benchmarks share, so the
 * bare MPI program (bench_allreduce_mpi.c) and nabla's (bench_allreduce.c) time the same
 * sizes the same way: float32 buffers of 4 KiB .. 25 MiB (DDP's bucket), each mode
 * timed in 15 samples of enough iterations for about 5 ms, every sample started after a
 * barrier; rank 0 prints the median and the fastest per-operation time.
 *
 * Modes: "blocking" (allreduce, sum), "nonblocking" (start, then wait: sum), "average"
 * (non-blocking, then divide by the number of processes: what DDP's buckets do).
 */
#ifndef BENCH_ALLREDUCE_H
#define BENCH_ALLREDUCE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const int64_t bench_sizes[] = {4096, 65536, 1 << 20, 4 << 20, 25 << 20};
static const char *const bench_modes[] = {"blocking", "nonblocking", "average"};
#define BENCH_N_SIZES ((int)(sizeof bench_sizes / sizeof bench_sizes[0]))
#define BENCH_N_MODES 3
#define BENCH_SAMPLES 15

static double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int bench_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* op(side, mode, n, user): one operation over n floats by side 0 (bare MPI) or 1
 * (nabla); a program with one side passes sides = 1. barrier(user): every rank waits.
 * The iteration count of a size is agreed by broadcast from rank 0 (bcast_int). With two
 * sides the samples alternate between them, so a change in the machine's load hits both
 * alike. Rank 0 prints "MODE BYTES MEDIAN_US MIN_US" per side (side 1 after side 0). */
typedef int (*bench_op_fn)(int side, int mode, int64_t n, void *user);
typedef int (*bench_sync_fn)(void *user);
typedef int (*bench_bcast_int_fn)(int *v, void *user);

static int bench_run(int rank, int sides, bench_op_fn op, bench_sync_fn barrier,
                     bench_bcast_int_fn bcast, void *user) {
  for (int s = 0; s < BENCH_N_SIZES; s++) {
    int64_t n = bench_sizes[s] / 4;
    for (int m = 0; m < BENCH_N_MODES; m++) {
      for (int side = 0; side < sides; side++)
        for (int w = 0; w < 3; w++)
          if (op(side, m, n, user) < 0) return -1;
      /* iterations per sample: about 5 ms of work, decided by rank 0 */
      if (barrier(user) < 0) return -1;
      double t0 = bench_now();
      if (op(0, m, n, user) < 0) return -1;
      int iters = (int)(5e-3 / (bench_now() - t0 + 1e-9)) + 1;
      if (iters > 1000) iters = 1000;
      if (bcast(&iters, user) < 0) return -1;
      double t[2][BENCH_SAMPLES];
      for (int k = 0; k < BENCH_SAMPLES; k++)
        for (int side = 0; side < sides; side++) {
          if (barrier(user) < 0) return -1;
          double a = bench_now();
          for (int i = 0; i < iters; i++)
            if (op(side, m, n, user) < 0) return -1;
          t[side][k] = (bench_now() - a) / iters;
        }
      for (int side = 0; side < sides; side++) {
        qsort(t[side], BENCH_SAMPLES, sizeof t[side][0], bench_cmp);
        if (rank == 0)
          printf("%s %lld %.3f %.3f\n", bench_modes[m], (long long)bench_sizes[s],
                 1e6 * t[side][BENCH_SAMPLES / 2], 1e6 * t[side][0]);
      }
      fflush(stdout);
    }
  }
  return 0;
}

#endif
