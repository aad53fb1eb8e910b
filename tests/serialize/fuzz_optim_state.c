/* tests/serialize/fuzz_optim_state.c — fuzz target for nb_optimizer_load: an optimizer
 * state file (any bytes, passed through a memfd so no disk is touched) loaded into SGD,
 * Adam and RMSprop optimizers of the layout the seeds were saved from (group 0: float64
 * [3] and float32 [2,2]; group 1: float64 [4]).
 *
 * Invariants: a refused file has a message and changes nothing (steps, learning rates,
 * state tensors); a loaded one has steps >= 0, finite learning rates, state tensors of
 * their parameter's shape and dtype, and is usable: a step with a fixed gradient
 * succeeds; nothing leaks. Needs the built optimizer plugins (the test environment's
 * NABLA_PLUGIN_PATH). Driven by fuzz_driver.c over corpus_optim/ (gen_fuzz_seeds).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <nabla/nabla.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(int level, const char *msg, void *user) { (void)level, (void)msg, (void)user; }

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_optim_state: invariant violated: %s (%s)\n", what, detail ? detail : "");
  abort();
}

#define NK 3
static const char *const kinds[NK] = {"sgd", "adam", "rmsprop"};
static const char *const first_state[NK] = {"momentum_buffer", "exp_avg", "square_avg"};
static const char *const all_states[] = {"momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq",
                                         "square_avg", "grad_avg"};
static nb_optimizer *g_o[NK];
static nb_tensor *g_p[3], *g_init[3];
static int g_fd = -1;
static char g_path[64];

static void setup(void) {
  nb_set_log_callback(quiet, NULL);
  int64_t s0[] = {3}, s1[] = {2, 2}, s2[] = {4};
  g_p[0] = nb_keep(nb_full(1, s0, 0.5, NB_F64));
  g_p[1] = nb_keep(nb_full(2, s1, -0.25, NB_F32));
  g_p[2] = nb_keep(nb_full(1, s2, 2.0, NB_F64));
  for (int i = 0; i < 3; i++) {
    g_init[i] = nb_keep(nb_copy_data(g_p[i]));
    nb_set_requires_grad(g_p[i], true);
  }
  for (int k = 0; k < NK; k++) {
    g_o[k] = nb_optimizer_new(kinds[k], 2, g_p, 0, NULL);
    if (!g_o[k] || nb_optimizer_add_group(g_o[k], 1, &g_p[2], 0, NULL) != 1) fail("setup", nb_last_error());
  }
#ifdef MFD_CLOEXEC
  g_fd = memfd_create("nabla-fuzz-optim", MFD_CLOEXEC);
  if (g_fd >= 0) snprintf(g_path, sizeof g_path, "/proc/self/fd/%d", g_fd);
#endif
  if (g_fd < 0) { /* no memfd: a temporary file */
    snprintf(g_path, sizeof g_path, "/tmp/nabla-fuzz-optim.XXXXXX");
    g_fd = mkstemp(g_path);
    if (g_fd < 0) fail("setup", "cannot create a temporary file");
  }
}

typedef struct snap {
  int64_t step[3];
  double lr[2];
  nb_tensor *st[3];
} snap;

static snap take(const nb_optimizer *o, int k) {
  snap s;
  for (int g = 0, i = 0; g < 2; g++) {
    s.lr[g] = nb_optimizer_get_lr(o, g);
    for (int j = 0; j < nb_optimizer_group_size(o, g); j++, i++) {
      s.step[i] = nb_optimizer_param_step(o, g, j);
      s.st[i] = nb_optimizer_param_state(o, g, j, first_state[k]);
    }
  }
  return s;
}

static void check_loaded(nb_optimizer *o, int k) {
  for (int g = 0, i = 0; g < 2; g++) {
    if (!isfinite(nb_optimizer_get_lr(o, g))) fail("loaded a non-finite lr", kinds[k]);
    for (int j = 0; j < nb_optimizer_group_size(o, g); j++, i++) {
      if (nb_optimizer_param_step(o, g, j) < 0) fail("loaded a negative step", kinds[k]);
      nb_tensor *st = nb_optimizer_param_state(o, g, j, first_state[k]);
      if (st && (!nb_same_shape(st, g_p[i]) || nb_dtype_of(st) != nb_dtype_of(g_p[i])))
        fail("loaded state of the wrong shape or dtype", kinds[k]);
    }
  }
  /* usable: one step with a fixed gradient, then the parameters are put back */
  for (int i = 0; i < 3; i++) nb_set_grad(g_p[i], nb_full(nb_ndim(g_p[i]), nb_shape(g_p[i]), 0.125, nb_dtype_of(g_p[i])));
  if (nb_optimizer_step(o) < 0) fail("a loaded state cannot step", nb_last_error());
  nb_no_grad_begin();
  for (int i = 0; i < 3; i++) {
    nb_copy_into(g_p[i], g_init[i]);
    nb_set_grad(g_p[i], NULL);
  }
  nb_no_grad_end();
}

/* State tensors the optimizers hold: what the live tensor count may change by. */
static int64_t held(void) {
  int64_t n = 0;
  for (int k = 0; k < NK; k++)
    for (int g = 0; g < 2; g++)
      for (int j = 0; j < nb_optimizer_group_size(g_o[k], g); j++)
        for (size_t s = 0; s < sizeof all_states / sizeof all_states[0]; s++)
          n += nb_optimizer_param_state(g_o[k], g, j, all_states[s]) != NULL;
  nb_clear_error();
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_o[0]) setup();
  if (ftruncate(g_fd, 0) < 0 || (size && pwrite(g_fd, data, size, 0) != (ssize_t)size)) fail("write", NULL);
  int64_t live = nb_live_tensors() - held();
  nb_scope_begin();
  for (int k = 0; k < NK; k++) {
    snap before = take(g_o[k], k);
    if (nb_optimizer_load(g_o[k], g_path) < 0) {
      if (!nb_last_error()[0]) fail("refused without a message", kinds[k]);
      snap after = take(g_o[k], k);
      if (memcmp(&before, &after, sizeof before) != 0) fail("a refused file changed the optimizer", kinds[k]);
    } else {
      check_loaded(g_o[k], k);
    }
  }
  nb_scope_end();
  if (nb_live_tensors() - held() != live) fail("tensors leaked", NULL);
  return 0;
}
