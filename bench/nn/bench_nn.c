/* bench/nn/bench_nn.c — nabla side of the nn benchmark (bench/nn/run.sh runs it next to
 * bench_nn.py and prints ratios). Times forward + backward of linear and conv2d at the
 * shapes of bench/nn/cases.txt, and a plain sgemm (nb_gemm's and BLIS's own) for the
 * GFLOP/s reference.
 *
 * usage: bench_nn CASES_FILE [THREADS] [MIN_SECONDS]
 * Output, one line per case: NAME MEDIAN_MS MIN_MS GFLOPS. With THREADS = 1 times are
 * process CPU time (robust on a loaded machine), else wall-clock time.
 * (GFLOPS of the GEMM work in the case, 2·m·n·k per product, at the median time).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <nabla/nabla.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../timing.h"

/* blis.h trips -Wextra in its inline helpers. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <blis.h>
#pragma GCC diagnostic pop

/* ---- sgemm ----------------------------------------------------------------------------- */

typedef struct gemm_case {
  int64_t m, n, k;
  float *a, *b, *c;
} gemm_case;

static int gemm_step(void *u) {
  gemm_case *g = u;
  return nb_gemm(NB_F32, false, false, g->m, g->n, g->k, 1.0, g->a, g->k, 1, g->b, g->n, 1, 0.0,
                 g->c, g->n, 1);
}

/* BLIS's own sgemm on one thread: what nb_gemm ran before it had micro-kernels of its own
 * (Debian's x86-64 BLIS carries only its generic kernel). */
static int blis_step(void *u) {
  gemm_case *g = u;
  float one = 1, zero = 0;
  rntm_t rntm = BLIS_RNTM_INITIALIZER;
  bli_rntm_set_num_threads(1, &rntm);
  bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, g->m, g->n, g->k, &one, g->a, g->k, 1, g->b, g->n, 1, &zero,
               g->c, g->n, 1, NULL, &rntm);
  return 0;
}

/* ---- linear / conv2d forward + backward ---------------------------------------------------- */

typedef struct layer_case {
  bool conv;
  nb_tensor *x, *w, *b, *gy;
  int64_t stride[2], pad[2];
} layer_case;

static int layer_step(void *u) {
  layer_case *c = u;
  nb_scope_begin();
  nb_tensor *y = c->conv ? nb_conv2d(c->x, c->w, c->b, c->stride, c->pad, NULL, 1)
                         : nb_linear(c->x, c->w, c->b);
  return bench_backward_end(y, c->gy, (nb_tensor *[]){c->x, c->w, c->b}, 3);
}

int main(int argc, char **argv) {
  int threads, status;
  double min_s;
  FILE *f = bench_start(argc, argv,
                        "Times forward + backward of linear and conv2d (float32) and a plain sgemm for\n"
                        "each case of CASES_FILE (see bench/nn/cases.txt); prints NAME MEDIAN_MS\n"
                        "MIN_MS GFLOPS per case. THREADS = 1 (default) times process CPU time, else\n"
                        "wall-clock time; each case runs >= 5 times and MIN_SECONDS (default 1.0).\n",
                        &threads, &min_s, &status);
  if (f == NULL) return status;
  nb_generator *gen = nb_generator_new(1);
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char kind[16], name[64];
    if (line[0] == '#' || sscanf(line, "%15s %63s", kind, name) != 2) continue;
    double med = 0, mn = 0, flops = 0;
    int rc;
    nb_scope_begin();
    if (strcmp(kind, "gemm") == 0 || strcmp(kind, "blis") == 0) {
      gemm_case g;
      sscanf(line, "%*s %*s %" SCNd64 " %" SCNd64 " %" SCNd64 "", &g.m, &g.n, &g.k);
      nb_tensor *a = nb_randn(2, (int64_t[]){g.m, g.k}, NB_F32, gen);
      nb_tensor *b = nb_randn(2, (int64_t[]){g.k, g.n}, NB_F32, gen);
      nb_tensor *c = nb_empty(2, (int64_t[]){g.m, g.n}, NB_F32);
      g.a = nb_data(a), g.b = nb_data(b), g.c = nb_data(c);
      flops = 2.0 * (double)(g.m * g.n * g.k);
      rc = bench_timeit(kind[0] == 'g' ? gemm_step : blis_step, &g, min_s, &med, &mn);
    } else if (strcmp(kind, "linear") == 0) {
      int64_t n, in, out;
      sscanf(line, "%*s %*s %" SCNd64 " %" SCNd64 " %" SCNd64 "", &n, &in, &out);
      layer_case c = {.conv = false};
      c.x = nb_requires_grad_(nb_randn(2, (int64_t[]){n, in}, NB_F32, gen));
      c.w = nb_requires_grad_(nb_randn(2, (int64_t[]){out, in}, NB_F32, gen));
      c.b = nb_requires_grad_(nb_randn(1, &out, NB_F32, gen));
      c.gy = nb_randn(2, (int64_t[]){n, out}, NB_F32, gen);
      flops = 3 * 2.0 * (double)(n * in * out);
      rc = bench_timeit(layer_step, &c, min_s, &med, &mn);
    } else if (strcmp(kind, "conv2d") == 0) {
      int64_t n, cin, h, w, cout, k, s, p;
      int xgrad;
      sscanf(line, "%*s %*s %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %d", &n, &cin, &h, &w, &cout, &k, &s, &p, &xgrad);
      layer_case c = {.conv = true, .stride = {s, s}, .pad = {p, p}};
      c.x = nb_randn(4, (int64_t[]){n, cin, h, w}, NB_F32, gen);
      if (xgrad) nb_set_requires_grad(c.x, true);
      c.w = nb_requires_grad_(nb_randn(4, (int64_t[]){cout, cin, k, k}, NB_F32, gen));
      int64_t oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
      c.gy = nb_randn(4, (int64_t[]){n, cout, oh, ow}, NB_F32, gen);
      flops = (xgrad ? 3 : 2) * 2.0 * (double)(n * cout * oh * ow * cin * k * k);
      rc = bench_timeit(layer_step, &c, min_s, &med, &mn);
    } else {
      fprintf(stderr, "unknown case kind %s\n", kind);
      rc = -1;
    }
    nb_scope_end();
    if (rc < 0) {
      fprintf(stderr, "%s: %s\n", name, nb_last_error());
      return 1;
    }
    printf("%s %.4f %.4f %.2f\n", name, med * 1e3, mn * 1e3, flops / med * 1e-9);
    fflush(stdout);
  }
  fclose(f);
  nb_generator_free(gen);
  return 0;
}
