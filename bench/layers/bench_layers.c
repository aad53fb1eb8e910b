/* bench/layers/bench_layers.c — nabla side of the layers benchmark (bench/layers/run.sh
 * runs it next to bench_layers.py and prints ratios). Times forward + backward of the
 * non-GEMM NN operators (batch_norm, relu, pooling, softmax, losses, dropout) in float32
 * at the shapes of bench/layers/cases.txt, inputs requiring grad as in training.
 *
 * usage: bench_layers CASES_FILE [THREADS] [MIN_SECONDS]
 * Output, one line per case: NAME MEDIAN_MS MIN_MS GB/S. With THREADS = 1 times are
 * process CPU time (robust on a loaded machine), else wall-clock time. GB/S is the size
 * of the input and output tensors (forward and backward, 4 bytes each: x, y, dy, dx)
 * over the median time, a rough memory-traffic figure for these memory-bound ops.
 */
#define _POSIX_C_SOURCE 200809L
#include <nabla/nabla.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../timing.h"

enum kind {
  K_BATCH_NORM, K_RELU, K_MAX_POOL, K_AVG_POOL, K_ADAPTIVE, K_SOFTMAX, K_LOG_SOFTMAX,
  K_CROSS_ENTROPY, K_NLL, K_MSE, K_L1, K_BCE_LOGITS, K_DROPOUT, K_COUNT
};
static const char *const kind_names[K_COUNT] = {
    "batch_norm", "relu", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "softmax",
    "log_softmax", "cross_entropy", "nll_loss", "mse_loss", "l1_loss",
    "binary_cross_entropy_with_logits", "dropout"};

typedef struct layer_case {
  enum kind kind;
  nb_tensor *x, *w, *b, *rm, *rv, *t, *gy; /* gy NULL: scalar loss, backward from 1 */
  int64_t p[3];                             /* kind-specific integer parameters */
  double f;                                 /* label_smoothing / dropout p */
} layer_case;

static nb_tensor *forward(layer_case *c) {
  int64_t k[2] = {c->p[0], c->p[0]}, s[2] = {c->p[1], c->p[1]}, pd[2] = {c->p[2], c->p[2]};
  switch (c->kind) {
  case K_BATCH_NORM: return nb_batch_norm(c->x, c->rm, c->rv, c->w, c->b, c->p[0] != 0, 0.1, 1e-5);
  case K_RELU: return nb_relu(c->x);
  case K_MAX_POOL: return nb_max_pool2d(c->x, k, s, pd, NULL, false);
  case K_AVG_POOL: return nb_avg_pool2d(c->x, k, s, pd, false, true);
  case K_ADAPTIVE: return nb_adaptive_avg_pool2d(c->x, (int64_t[]){c->p[0], c->p[1]});
  case K_SOFTMAX: return nb_softmax(c->x, c->p[0]);
  case K_LOG_SOFTMAX: return nb_log_softmax(c->x, c->p[0]);
  case K_CROSS_ENTROPY: return nb_cross_entropy(c->x, c->t, NULL, "mean", -100, c->f);
  case K_NLL: return nb_nll_loss(c->x, c->t, NULL, "mean", -100);
  case K_MSE: return nb_mse_loss(c->x, c->t, "mean");
  case K_L1: return nb_l1_loss(c->x, c->t, "mean");
  case K_BCE_LOGITS: return nb_binary_cross_entropy_with_logits(c->x, c->t, NULL, NULL, "mean");
  case K_DROPOUT: return nb_dropout(c->x, c->f, true);
  default: return NULL;
  }
}

static int layer_step(void *u) {
  layer_case *c = u;
  nb_scope_begin();
  return bench_backward_end(forward(c), c->gy, (nb_tensor *[]){c->x, c->w, c->b}, 3);
}

/* "16x64x32x32" -> shape; returns ndim (0 on a malformed shape). */
static int parse_shape(const char *s, int64_t *shape) {
  int nd = 0;
  while (*s && nd < NB_MAX_DIMS) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0) return 0;
    shape[nd++] = v;
    if (*end == 'x') end++;
    else if (*end) return 0;
    s = end;
  }
  return nd;
}

int main(int argc, char **argv) {
  int threads, status;
  double min_s;
  FILE *f = bench_start(argc, argv,
                        "Times forward + backward (float32) of each case of CASES_FILE (see\n"
                        "bench/layers/cases.txt for the format); prints NAME MEDIAN_MS MIN_MS GB/S per case.\n"
                        "THREADS = 1 (default) times process CPU time, else wall-clock time.\n"
                        "MIN_SECONDS (default 1.0): each case runs >= 5 times and at least that long.\n",
                        &threads, &min_s, &status);
  if (f == NULL) return status;
  nb_generator *gen = nb_generator_new(1);
  nb_manual_seed(NULL, 1);
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char kname[48], name[64], shs[64];
    double a[3] = {0, 0, 0};
    if (line[0] == '#') continue;
    int nf = sscanf(line, "%47s %63s %63s %lf %lf %lf", kname, name, shs, &a[0], &a[1], &a[2]);
    if (nf < 3) continue;
    layer_case c = {.kind = K_COUNT};
    for (int k = 0; k < K_COUNT; k++)
      if (strcmp(kname, kind_names[k]) == 0) c.kind = (enum kind)k;
    int64_t sh[NB_MAX_DIMS];
    int nd = parse_shape(shs, sh);
    if (c.kind == K_COUNT || nd == 0 || ((c.kind == K_CROSS_ENTROPY || c.kind == K_NLL) && nd != 2)) {
      fprintf(stderr, "%s: unknown case kind %s or bad shape %s (class losses take NxC)\n", argv[1],
              kname, shs);
      fclose(f);
      nb_generator_free(gen);
      return 1;
    }
    for (int i = 0; i < 3; i++) c.p[i] = (int64_t)a[i];
    c.f = a[0];
    double med = 0, mn = 0;
    nb_scope_begin();
    c.x = nb_requires_grad_(nb_randn(nd, sh, NB_F32, gen));
    nb_tensor *y0 = NULL;
    switch (c.kind) {
    case K_BATCH_NORM: /* affine with running stats, as nn.BatchNorm*d */
      c.w = nb_requires_grad_(nb_rand_range(1, &sh[1], 0.5, 1.5, NB_F32, gen));
      c.b = nb_requires_grad_(nb_randn(1, &sh[1], NB_F32, gen));
      c.rm = nb_zeros(1, &sh[1], NB_F32);
      c.rv = nb_ones(1, &sh[1], NB_F32);
      break;
    case K_CROSS_ENTROPY:
    case K_NLL:
      c.t = nb_randint(1, sh, 0, sh[1], gen);
      break;
    case K_MSE:
    case K_L1:
      c.t = nb_randn(nd, sh, NB_F32, gen);
      break;
    case K_BCE_LOGITS:
      c.t = nb_rand(nd, sh, NB_F32, gen);
      break;
    default:
      break;
    }
    int rc = 0;
    double bytes = 0;
    if ((y0 = forward(&c)) == NULL) rc = -1;
    if (rc == 0 && nb_numel(y0) > 1) c.gy = nb_randn(nb_ndim(y0), nb_shape(y0), NB_F32, gen);
    if (rc == 0) {
      bytes = 4.0 * 2 * (double)(nb_numel(c.x) + nb_numel(y0));
      rc = bench_timeit(layer_step, &c, min_s, &med, &mn);
    }
    nb_scope_end();
    if (rc < 0) {
      fprintf(stderr, "%s: %s\n", name, nb_last_error());
      fclose(f);
      nb_generator_free(gen);
      return 1;
    }
    printf("%s %.4f %.4f %.2f\n", name, med * 1e3, mn * 1e3, bytes / med * 1e-9);
    fflush(stdout);
  }
  fclose(f);
  nb_generator_free(gen);
  return 0;
}
