/* bench/timing.h — the timing loop shared by the C sides of the side-by-side benchmarks
 * (bench/nn, bench/layers); bench/timing.py is the same loop for the PyTorch sides.
 *
 * bench_timeit runs a step twice to warm up, then at least 5 times and for at least
 * min_s seconds (at most 201 times), and reports the median and minimum in seconds.
 * With one thread (bench_use_cpu_time) it times process CPU time: on a shared machine
 * that is far less noisy than wall time and counts the same work (page faults too).
 * bench_start does the argument handling and set-up they share.
 */
#ifndef NABLA_BENCH_TIMING_H
#define NABLA_BENCH_TIMING_H

#include <nabla/nabla.h>
#include <nabla/sdk/kernel.h> /* nb_gemm: the BLIS yardstick */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The end of one forward + backward step: backward from y with gradient gy (NULL: a
 * scalar loss) inside the caller's nb_scope_begin, close the scope, and drop the
 * gradients of the n leaves (NULL entries skipped) so the next step starts alike.
 * Returns 0, or -1 when y is NULL or backward failed. */
static inline int bench_backward_end(nb_tensor *y, nb_tensor *gy, nb_tensor *const *leaves, int n) {
  int rc = y ? nb_backward(y, gy, 0) : -1;
  nb_scope_end();
  for (int i = 0; i < n; i++)
    if (leaves[i] && nb_requires_grad(leaves[i])) nb_set_grad(leaves[i], NULL);
  return rc;
}

/* The start of every C side: parses CASES_FILE [THREADS] [MIN_SECONDS] (THREADS default
 * 1, MIN_SECONDS 1.0; --help prints "usage: PROG CASES_FILE [THREADS] [MIN_SECONDS]"
 * and `what`), picks the clock and nabla's thread count, and frees one large block so a
 * one-case process sees glibc's steady state: above its mmap threshold (128 KB at
 * start) glibc serves fresh mmaps, paying page faults on every large tensor, until a
 * freed large block raises the threshold (the PyTorch side runs in a Python process
 * that has long reached that state). Returns the open cases file, or NULL with *status
 * the exit status (0 after --help, 2 for a usage error, 1 otherwise). */
static inline FILE *bench_start(int argc, char **argv, const char *what, int *threads,
                                double *min_s, int *status) {
  bool help = argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
  if (argc < 2 || help) {
    fprintf(help ? stdout : stderr, "usage: %s CASES_FILE [THREADS] [MIN_SECONDS]\n%s", argv[0],
            what);
    *status = help ? 0 : 2;
    return NULL;
  }
  *threads = argc > 2 ? atoi(argv[2]) : 1;
  *min_s = argc > 3 ? atof(argv[3]) : 1.0;
  *status = 1;
  bench_use_cpu_time(*threads == 1);
  if (nb_set_num_threads(*threads) < 0) {
    fprintf(stderr, "%s\n", nb_last_error());
    return NULL;
  }
  FILE *f = fopen(argv[1], "r");
  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", argv[1]);
    return NULL;
  }
  nb_tensor *warm = nb_empty(1, (int64_t[]){(int64_t)4 << 20}, NB_F32);
  if (warm) nb_fill(warm, 0.0);
  nb_release(warm);
  return f;
}

#endif
