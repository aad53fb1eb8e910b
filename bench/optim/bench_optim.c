/* bench/optim/bench_optim.c — one optimizer step over ResNet-18's 11.7 M parameters
 * (random gradients): SGD with momentum 0.9 and Adam. Prints per case
 * "NAME MEDIAN_MS MIN_MS" (process CPU time with one thread, wall-clock otherwise), the
 * format of bench_optim.py. usage: bench_optim [THREADS] [MIN_SECONDS] */
#include <nabla/nabla.h>

#include "models.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(int threads) {
  struct timespec ts;
  clock_gettime(threads == 1 ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int bench(const char *name, nb_optimizer *o, int threads, double min_s) {
  for (int i = 0; i < 2; i++) /* warm-up: creates the state tensors */
    if (nb_optimizer_step(o) < 0) return -1;
  double t[201];
  int n = 0;
  double start = now(threads);
  while (n < 201 && (n < 5 || now(threads) - start < min_s)) {
    double t0 = now(threads);
    if (nb_optimizer_step(o) < 0) return -1;
    t[n++] = now(threads) - t0;
  }
  qsort(t, (size_t)n, sizeof t[0], cmp);
  printf("%s %.3f %.3f\n", name, 1e3 * t[n / 2], 1e3 * t[0]);
  return 0;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  double min_s = argc > 2 ? atof(argv[2]) : 1.0;
  nb_set_num_threads(threads);
  nb_module *net = resnet18_new(1000, NULL);
  nb_named_tensors *ps = net ? nb_module_named_parameters(net) : NULL;
  if (!ps) {
    fprintf(stderr, "bench_optim: %s\n", nb_last_error());
    return 1;
  }
  nb_scope_begin();
  int64_t total = 0;
  for (int i = 0; i < ps->n; i++) {
    nb_tensor *p = ps->tensors[i];
    nb_set_grad(p, nb_randn(nb_ndim(p), nb_shape(p), NB_F32, NULL));
    total += nb_numel(p);
  }
  fprintf(stderr, "resnet18: %d tensors, %lld parameters\n", ps->n, (long long)total);
  nb_optimizer *sgd = nb_optimizer_new("sgd", ps->n, ps->tensors, 2,
                                       (nb_attr[]){NB_A_FLOAT("lr", 1e-3), NB_A_FLOAT("momentum", 0.9)});
  nb_optimizer *adam = nb_optimizer_new("adam", ps->n, ps->tensors, 1,
                                        (nb_attr[]){NB_A_FLOAT("lr", 1e-3)});
  int rc = (sgd && adam && bench("sgd_momentum", sgd, threads, min_s) == 0 &&
            bench("adam", adam, threads, min_s) == 0) ? 0 : 1;
  if (rc) fprintf(stderr, "bench_optim: %s\n", nb_last_error());
  nb_optimizer_free(sgd);
  nb_optimizer_free(adam);
  nb_scope_end();
  nb_named_tensors_free(ps);
  nb_module_free(net);
  return rc;
}
