/* bench_autograd.c — dispatch and engine overhead on tiny graphs, the same work as
 * bench_autograd.py does with PyTorch:
 *   seed_q:     Q = 3*a**3 - b**2 on 2-element tensors, forward + backward, fresh graph
 *   chain1000:  1000 elementwise ops on a 1-element tensor, forward + backward
 * Times are thread CPU time, so a busy machine slows both sides alike. Prints
 * "name median_us min_us" lines; run.sh puts them side by side with PyTorch. */
#include <nabla/nabla.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: robust to a busy machine */
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

#define DIE(msg) (fprintf(stderr, "bench_autograd: %s: %s\n", msg, nb_last_error()), exit(1))

static void seed_q(nb_tensor *a, nb_tensor *b) {
  nb_scope_begin();
  nb_tensor *q = nb_sub(nb_mul_scalar(nb_pow_scalar(a, 3), 3), nb_pow_scalar(b, 2));
  if (!q || nb_backward(nb_sum(q), NULL, 0) < 0) DIE("seed_q");
  nb_scope_end();
}

static void chain(nb_tensor *x, int n) {
  nb_scope_begin();
  nb_tensor *y = x;
  for (int i = 0; i < n; i++) y = (i & 1) ? nb_mul_scalar(y, 1.0001) : nb_add_scalar(y, 0.001);
  if (!y || nb_backward(y, NULL, 0) < 0) DIE("chain");
  nb_scope_end();
}

/* Median and min over `reps` repetitions of `inner` calls, in microseconds per call. */
#define MEASURE(name, reps, inner, stmt)                                          \
  do {                                                                            \
    double t[reps];                                                               \
    for (int r = 0; r < (reps); r++) {                                            \
      double t0 = now_us();                                                       \
      for (int i = 0; i < (inner); i++) stmt;                                     \
      t[r] = (now_us() - t0) / (inner);                                           \
    }                                                                             \
    qsort(t, (reps), sizeof t[0], cmp);                                           \
    printf("%s %.3f %.3f\n", name, t[(reps) / 2], t[0]);                          \
  } while (0)

int main(int argc, char **argv) {
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    puts("usage: bench_autograd [--only seed_q|chain1000]\n"
         "       bench_autograd --loop seed_q|chain1000 N\n"
         "Times seed_q and chain1000 (forward + backward) and prints 'name median_us min_us'\n"
         "per line. See bench/autograd/run.sh for the comparison with PyTorch. --loop runs\n"
         "N iterations of one benchmark untimed, for profilers (valgrind --tool=callgrind).");
    return 0;
  }
  nb_set_num_threads(1);
  if (nb_plugins_load_all() < 0) DIE("loading plugins");
  nb_tensor *a = nb_requires_grad_(nb_from_doubles((double[]){2, 3}, 2, NB_F32));
  nb_tensor *b = nb_requires_grad_(nb_from_doubles((double[]){6, 4}, 2, NB_F32));
  nb_tensor *x = nb_requires_grad_(nb_from_doubles((double[]){1}, 1, NB_F32));
  if (!a || !b || !x) DIE("creating inputs");
  if (argc > 3 && !strcmp(argv[1], "--loop")) {
    long n = atol(argv[3]);
    bool q = !strcmp(argv[2], "seed_q");
    if (!q && strcmp(argv[2], "chain1000")) DIE("--loop: unknown benchmark");
    for (long i = 0; i < n; i++) q ? seed_q(a, b) : chain(x, 1000);
    nb_release(a);
    nb_release(b);
    nb_release(x);
    return 0;
  }
  const char *only = argc > 2 && !strcmp(argv[1], "--only") ? argv[2] : NULL;
  if (!only || !strcmp(only, "seed_q")) {
    /* Warm-up and repetitions of ~30 ms: run right after the PyTorch process (run.sh
     * alternates them), a measurement of a few ms still sees its cold caches. */
    for (int i = 0; i < 20000; i++) seed_q(a, b);
    MEASURE("seed_q", 21, 20000, seed_q(a, b));
  }
  if (!only || !strcmp(only, "chain1000")) {
    for (int i = 0; i < 100; i++) chain(x, 1000);
    MEASURE("chain1000", 21, 100, chain(x, 1000));
  }
  nb_release(a);
  nb_release(b);
  nb_release(x);
  return 0;
}
