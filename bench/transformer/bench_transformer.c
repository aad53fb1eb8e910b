/* bench/transformer/bench_transformer.c — nabla side of the Transformer benchmark
 * (bench/transformer/run.sh runs it next to bench_transformer.py and prints ratios):
 * forward + backward of layer_norm, gelu, scaled dot-product attention, embedding and
 * the pre-LN block at the shapes of cases.txt, float32.
 *
 * usage: bench_transformer CASES_FILE [THREADS] [MIN_SECONDS]
 * Output, one line per case: NAME MEDIAN_MS MIN_MS 0 (no FLOP figure).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <nabla/nabla.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../timing.h"

typedef struct tcase {
  const char *kind;
  nb_tensor *in[4], *gy;
  int64_t a[5];
  nb_module *m;
} tcase;

static int step(void *u) {
  tcase *c = u;
  nb_scope_begin();
  nb_tensor *y = NULL;
  if (!strcmp(c->kind, "layer_norm")) y = nb_layer_norm(c->in[0], 1, &c->a[1], c->in[1], c->in[2], 1e-5);
  else if (!strcmp(c->kind, "gelu")) y = nb_gelu(c->in[0], NULL);
  else if (!strcmp(c->kind, "sdpa")) y = nb_scaled_dot_product_attention(c->in[0], c->in[1], c->in[2], c->a[4], NAN);
  else if (!strcmp(c->kind, "embedding")) y = nb_embedding(c->in[3], c->in[0], NB_NO_PADDING);
  else if (!strcmp(c->kind, "block")) y = nb_module_forward(c->m, c->in[0]);
  int rc = bench_backward_end(y, c->gy, c->in, 3);
  if (c->m) nb_module_zero_grad(c->m, true);
  return rc;
}

static nb_tensor *rg(nb_tensor *t) { return nb_requires_grad_(t); }

int main(int argc, char **argv) {
  int threads, status;
  double min_s;
  FILE *f = bench_start(argc, argv,
                        "Times forward + backward (float32) of layer_norm, gelu, attention, embedding and\n"
                        "the pre-LN block for each case of CASES_FILE (bench/transformer/cases.txt).\n",
                        &threads, &min_s, &status);
  if (f == NULL) return status;
  nb_generator *gen = nb_generator_new(1);
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char kind[16], name[64];
    if (line[0] == '#' || sscanf(line, "%15s %63s", kind, name) != 2) continue;
    tcase c = {.kind = kind};
    sscanf(line, "%*s %*s %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64, &c.a[0], &c.a[1], &c.a[2],
           &c.a[3], &c.a[4]);
    nb_scope_begin();
    int64_t *a = c.a;
    if (!strcmp(kind, "layer_norm") || !strcmp(kind, "gelu")) {
      c.in[0] = rg(nb_randn(2, a, NB_F32, gen));
      if (kind[0] == 'l') c.in[1] = rg(nb_randn(1, &a[1], NB_F32, gen)), c.in[2] = rg(nb_randn(1, &a[1], NB_F32, gen));
      c.gy = nb_randn(2, a, NB_F32, gen);
    } else if (!strcmp(kind, "sdpa")) {
      for (int i = 0; i < 3; i++) c.in[i] = rg(nb_randn(4, a, NB_F32, gen));
      c.gy = nb_randn(4, a, NB_F32, gen);
    } else if (!strcmp(kind, "embedding")) {
      c.in[0] = rg(nb_randn(2, (int64_t[]){a[1], a[2]}, NB_F32, gen));
      c.in[3] = nb_randint(1, &a[0], 0, a[1], gen);
      c.gy = nb_randn(2, (int64_t[]){a[0], a[2]}, NB_F32, gen);
    } else if (!strcmp(kind, "block")) {
      c.m = nb_transformer_block_new(a[2], a[3], 4 * a[2], true, gen);
      c.in[0] = rg(nb_randn(3, a, NB_F32, gen));
      c.gy = nb_randn(3, a, NB_F32, gen);
    }
    double med = 0, mn = 0;
    int rc = bench_timeit(step, &c, min_s, &med, &mn);
    nb_module_free(c.m);
    nb_scope_end();
    if (rc < 0) {
      fprintf(stderr, "%s: %s\n", name, nb_last_error());
      return 1;
    }
    printf("%s %.4f %.4f 0\n", name, med * 1e3, mn * 1e3);
    fflush(stdout);
  }
  fclose(f);
  nb_generator_free(gen);
  return 0;
}
