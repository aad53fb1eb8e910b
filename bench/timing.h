/* bench/timing.h — the timing loop shared by the C sides of the side-by-side benchmarks
 * (bench/nn, bench/layers); bench/timing.py is the same loop for the PyTorch sides.
 *
 * bench_timeit runs a step twice to warm up, then at least 5 times and for at least
 * min_s seconds (at most 201 times), and reports the median and minimum in seconds.
 * With one thread (bench_use_cpu_time) it times process CPU time: on a shared machine
 * that is far less noisy than wall time and counts the same work (page faults too).
 */
#ifndef NABLA_BENCH_TIMING_H
#define NABLA_BENCH_TIMING_H

#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

static clockid_t bench_clk = CLOCK_MONOTONIC;

/* Time process CPU time (true) or wall-clock time (false, the default). */
static inline void bench_use_cpu_time(bool cpu) {
  bench_clk = cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC;
}

static inline double bench_now(void) {
  struct timespec ts;
  clock_gettime(bench_clk, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int bench_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* One timed step; a negative return stops the measurement. */
typedef int (*bench_step_fn)(void *user);

/* Median and minimum of fn's run time; -1 if a step failed. */
static inline int bench_timeit(bench_step_fn fn, void *user, double min_s, double *med,
                               double *mn) {
  double t[201];
  int n = 0;
  for (int i = 0; i < 2; i++)
    if (fn(user) < 0) return -1;
  double start = bench_now();
  while (n < 201 && (n < 5 || bench_now() - start < min_s)) {
    double t0 = bench_now();
    if (fn(user) < 0) return -1;
    t[n++] = bench_now() - t0;
  }
  qsort(t, (size_t)n, sizeof t[0], bench_cmp);
  *med = t[n / 2];
  *mn = t[0];
  return 0;
}

#endif
