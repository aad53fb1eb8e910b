/* bench/models/bench_models.c — nabla side of the whole-model benchmark (bench/models/run.sh
 * runs it next to bench_models.py, PyTorch, and prints the table). Each case is one whole
 * step of a model of models/, timed as a user's loop would run it:
 *
 *   seed_q          Q = 3a³ − b² on 2-element leaves, backward with gradient [1, 1]
 *   toy_step        the toy net (10-5-5-1) on 32x10: zero_grad, MSE loss, backward, SGD step
 *   lenet_step      LeNet on 64x1x28x28: zero_grad, cross-entropy, backward, Adam step
 *   resnet18_step   ResNet-18 on Nx3x64x64: zero_grad, the seed's (prediction - labels).sum(),
 *                   backward, SGD(lr 1e-2, momentum 0.9) step (train mode)
 *   resnet18_fwd    ResNet-18 forward on Nx3x64x64 in eval mode under no-grad
 *   gpt_step        the character-level GPT of examples/train_gpt (vocabulary 114, context
 *                   64, width 128, 4 heads, 4 blocks) on N random windows: zero_grad,
 *                   cross-entropy over every position, backward, AdamW step
 *
 * usage: bench_models CASES_FILE [THREADS] [MIN_SECONDS]
 *        bench_models --hog mem|cpu     a busy neighbour for run.sh --busy: streams memset
 *                                       over 64 MB, or spins on arithmetic, until killed
 * CASES_FILE lines are "NAME KIND BATCH". Output, one line per case:
 *   NAME MEDIAN_MS MIN_MS PEAK_RSS_MB START_RSS_MB FAULTS_PER_STEP
 * PEAK is the process's peak resident set (getrusage), START its resident set before the
 * case's model and data were made, FAULTS the minor page faults per timed step (a steady
 * loop that reuses its memory has none).
 */
#define _POSIX_C_SOURCE 200809L
#include <nabla/nabla.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../timing.h"
#include "models.h"

typedef struct model_case {
  nb_module *model;
  nb_optimizer *opt;
  nb_named_tensors *params;
  nb_tensor *x, *y, *a, *b, *ones; /* y: target (labels, classes or values) */
  int kind;
  long steps; /* calls of step(), to count page faults per step */
} model_case;

enum { SEED_Q, TOY_STEP, LENET_STEP, RESNET_STEP, RESNET_FWD, GPT_STEP, N_KINDS };
static const char *const kind_names[N_KINDS] = {"seed_q", "toy_step", "lenet_step", "resnet18_step",
                                                "resnet18_fwd", "gpt_step"};
enum { GPT_VOCAB = 114, GPT_CONTEXT = 64 }; /* Debian's fortunes: 114 distinct bytes */

static int seed_q_step(model_case *c) {
  nb_scope_begin();
  nb_tensor *q = nb_sub(nb_mul_scalar(nb_pow_scalar(c->a, 3), 3), nb_pow_scalar(c->b, 2));
  return bench_backward_end(q, c->ones, (nb_tensor *[]){c->a, c->b}, 2);
}

static int step(void *u) {
  model_case *c = u;
  c->steps++;
  if (c->kind == SEED_Q) return seed_q_step(c);
  nb_scope_begin();
  int rc = 0;
  if (c->kind == RESNET_FWD) {
    nb_no_grad_begin();
    rc = nb_module_forward(c->model, c->x) ? 0 : -1;
    nb_no_grad_end();
  } else {
    rc = nb_optimizer_zero_grad(c->opt, true);
    nb_tensor *out = rc < 0 ? NULL : nb_module_forward(c->model, c->x), *loss;
    if (c->kind == TOY_STEP) loss = nb_mse_loss(out, c->y, "mean");
    else if (c->kind == LENET_STEP) loss = nb_cross_entropy(out, c->y, NULL, "mean", -100, 0.0);
    else if (c->kind == GPT_STEP)
      loss = out ? nb_cross_entropy(nb_reshape(out, 2, (int64_t[]){nb_numel(c->y), GPT_VOCAB}),
                                    nb_reshape(c->y, 1, (int64_t[]){nb_numel(c->y)}), NULL, "mean",
                                    -100, 0.0) : NULL;
    else loss = out ? nb_sum(nb_sub(out, c->y)) : NULL;
    rc = loss ? nb_backward(loss, NULL, 0) : -1;
    if (rc >= 0) rc = nb_optimizer_step(c->opt);
  }
  nb_scope_end();
  return rc < 0 ? -1 : 0;
}

/* Make the model, data and optimizer of a case (inside the caller's scope). */
static int setup(model_case *c, int64_t batch, nb_generator *g) {
  switch (c->kind) {
  case SEED_Q:
    c->a = nb_requires_grad_(nb_from_doubles((double[]){2, 3}, 2, NB_F32));
    c->b = nb_requires_grad_(nb_from_doubles((double[]){6, 4}, 2, NB_F32));
    c->ones = nb_ones(1, (int64_t[]){2}, NB_F32);
    return c->a && c->b && c->ones ? 0 : -1;
  case TOY_STEP:
    c->model = toy_net_new(g);
    c->x = nb_randn(2, (int64_t[]){32, 10}, NB_F32, g);
    c->y = nb_randn(2, (int64_t[]){32, 1}, NB_F32, g);
    break;
  case LENET_STEP:
    c->model = lenet_new(g);
    c->x = nb_randn(4, (int64_t[]){batch, 1, 28, 28}, NB_F32, g);
    c->y = nb_randint(1, (int64_t[]){batch}, 0, 10, g);
    break;
  case GPT_STEP:
    c->model = gpt_new(GPT_VOCAB, GPT_CONTEXT, 128, 4, 4, g);
    c->x = nb_randint(2, (int64_t[]){batch, GPT_CONTEXT}, 0, GPT_VOCAB, g);
    c->y = nb_randint(2, (int64_t[]){batch, GPT_CONTEXT}, 0, GPT_VOCAB, g);
    break;
  default:
    c->model = resnet18_new(1000, g);
    c->x = nb_rand(4, (int64_t[]){batch, 3, 64, 64}, NB_F32, g);
    c->y = nb_rand(2, (int64_t[]){batch, 1000}, NB_F32, g);
    break;
  }
  if (!c->model || !c->x || !c->y) return -1;
  if (c->kind == RESNET_FWD) {
    nb_module_train(c->model, false);
    return 0;
  }
  c->params = nb_module_named_parameters(c->model);
  if (!c->params) return -1;
  if (c->kind == GPT_STEP) { /* examples/train_gpt's AdamW */
    c->opt = nb_optimizer_new("adamw", c->params->n, c->params->tensors, 4, (nb_attr[]){
        NB_A_FLOAT("lr", 3e-3), NB_A_FLOAT("beta1", 0.9), NB_A_FLOAT("beta2", 0.95),
        NB_A_FLOAT("weight_decay", 0.1)});
    return c->opt ? 0 : -1;
  }
  nb_attr hp[2] = {NB_A_FLOAT("lr", c->kind == LENET_STEP ? 0.004 : c->kind == TOY_STEP ? 0.1 : 1e-2),
                   NB_A_FLOAT("momentum", 0.9)};
  c->opt = nb_optimizer_new(c->kind == LENET_STEP ? "adam" : "sgd", c->params->n, c->params->tensors,
                            c->kind == RESNET_STEP ? 2 : 1, hp);
  return c->opt ? 0 : -1;
}

/* Resident set now, in MB (/proc/self/statm), or 0 when unreadable. */
static double rss_now_mb(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static double rss_peak_mb(void) {
  struct rusage ru;
  return getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : 0;
}

static long minor_faults(void) {
  struct rusage ru;
  return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_minflt : 0;
}

/* A busy neighbour: never returns. */
static int hog(const char *what) {
  if (strcmp(what, "mem") == 0) {
    size_t n = (size_t)64 << 20;
    char *buf = malloc(n);
    if (!buf) return 1;
    for (unsigned i = 0;; i++) memset(buf, (int)(i & 0xff), n);
  }
  if (strcmp(what, "cpu") == 0) {
    volatile double x = 1.0;
    for (;;) x = x * 1.0000001 + 1e-9;
  }
  fprintf(stderr, "bench_models --hog: mem or cpu, not '%s'\n", what);
  return 2;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--hog") == 0) return hog(argv[2]);
  int threads, status;
  double min_s;
  FILE *f = bench_start(argc, argv,
                        "Times whole model steps (see bench/models/cases.txt) and prints\n"
                        "NAME MEDIAN_MS MIN_MS PEAK_RSS_MB START_RSS_MB FAULTS_PER_STEP per case.\n"
                        "bench_models --hog mem|cpu: a busy neighbour that runs until killed.\n",
                        &threads, &min_s, &status);
  if (f == NULL) return status;
  nb_generator *gen = nb_generator_new(1);
  char line[256];
  status = 0;
  while (status == 0 && fgets(line, sizeof line, f)) {
    char name[64], kname[64];
    long batch = 1;
    if (line[0] == '#' || sscanf(line, "%63s %63s %ld", name, kname, &batch) < 2) continue;
    model_case c = {.kind = N_KINDS};
    for (int k = 0; k < N_KINDS; k++)
      if (strcmp(kname, kind_names[k]) == 0) c.kind = k;
    if (c.kind == N_KINDS || batch < 1) {
      fprintf(stderr, "%s: unknown case kind '%s' or batch %ld\n", argv[1], kname, batch);
      status = 1;
      break;
    }
    double start_rss = rss_now_mb(), med = 0, mn = 0;
    nb_scope_begin();
    int rc = setup(&c, batch, gen);
    long faults = 0;
    for (int i = 0; i < 3 && rc == 0; i++) rc = step(&c); /* a loop's first steps fault in its memory */
    c.steps = 0;
    faults = minor_faults();
    if (rc == 0) rc = bench_timeit(step, &c, min_s, &med, &mn);
    faults = minor_faults() - faults;
    if (rc < 0) {
      fprintf(stderr, "%s: %s\n", name, nb_last_error());
      status = 1;
    } else {
      printf("%s %.4f %.4f %.1f %.1f %.1f\n", name, med * 1e3, mn * 1e3, rss_peak_mb(), start_rss,
             (double)faults / (double)(c.steps > 0 ? c.steps : 1));
      fflush(stdout);
    }
    nb_scope_end();
    nb_optimizer_free(c.opt);
    nb_named_tensors_free(c.params);
    nb_module_free(c.model);
  }
  fclose(f);
  nb_generator_free(gen);
  return status;
}
