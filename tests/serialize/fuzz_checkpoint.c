/* tests/serialize/fuzz_checkpoint.c — fuzz target for nb_checkpoint_load: any bytes, as a
 * checkpoint file, loaded into a small model (Linear, BatchNorm2d), an Adam optimizer with
 * state and a generator.
 *
 * Invariants: an input is refused with a message, or loaded; a refused one changes
 * nothing (the checkpoint saved again is byte for byte the base file); after a load the
 * base file loads back; nothing leaks (LeakSanitizer, and the live tensor count). Driven
 * by fuzz_driver.c's mutation loop over corpus_checkpoint/, whose seed this target writes
 * when FUZZ_WRITE_SEED=FILE is set.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nabla/checkpoint.h>
#include <nabla/nabla.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(int level, const char *msg, void *user) { (void)level, (void)msg, (void)user; }

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_checkpoint: invariant violated: %s (%s)\n", what, detail ? detail : "");
  abort();
}

static nb_module *g_m;
static nb_optimizer *g_opt;
static nb_generator *g_gen;
static nb_checkpoint g_ck;
static char g_dir[64], g_base[96], g_input[96], g_again[96];
static unsigned char *g_base_bytes;
static size_t g_base_size;

static unsigned char *read_all(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  unsigned char *b = NULL;
  size_t n = 0, cap = 0, r;
  do {
    if (n == cap && !(b = realloc(b, cap = cap ? 2 * cap : 4096))) break;
    r = fread(b + n, 1, cap - n, f);
    n += r;
  } while (r > 0);
  fclose(f);
  *size = n;
  return b;
}

static void cleanup(void) {
  unlink(g_base), unlink(g_input), unlink(g_again), rmdir(g_dir);
  free(g_base_bytes);
  nb_optimizer_free(g_opt);
  nb_module_free(g_m);
  nb_generator_free(g_gen);
}

static void setup(void) {
  nb_set_log_callback(quiet, NULL);
  snprintf(g_dir, sizeof g_dir, "/tmp/nabla-fuzz-ck-XXXXXX");
  if (!mkdtemp(g_dir)) fail("setup", "mkdtemp");
  snprintf(g_base, sizeof g_base, "%s/base", g_dir);
  snprintf(g_input, sizeof g_input, "%s/input", g_dir);
  snprintf(g_again, sizeof g_again, "%s/again", g_dir);
  g_gen = nb_generator_new(3);
  g_m = nb_module_new("Net", NULL, NULL, NULL);
  if (!g_m || nb_module_add(g_m, "fc", nb_linear_new(3, 2, true, g_gen)) < 0 ||
      nb_module_add(g_m, "bn", nb_batch_norm2d_new(2, 1e-5, 0.1)) < 0)
    fail("setup", nb_last_error());
  nb_named_tensors *p = nb_module_named_parameters(g_m);
  g_opt = p ? nb_optimizer_new("adam", p->n, p->tensors, 0, NULL) : NULL;
  if (!g_opt) fail("setup", nb_last_error());
  nb_scope_begin(); /* one step, so the optimizer has state to save */
  for (int i = 0; i < p->n; i++) nb_set_grad(p->tensors[i], nb_ones_like(p->tensors[i]));
  if (nb_optimizer_step(g_opt) < 0) fail("setup step", nb_last_error());
  nb_scope_end();
  nb_named_tensors_free(p);
  g_ck = (nb_checkpoint){.model = g_m, .optimizer = g_opt, .n_generators = 1,
                         .generators = &g_gen, .epoch = 2, .batch = 3, .step = 4};
  if (nb_checkpoint_save(&g_ck, g_base) < 0) fail("setup save", nb_last_error());
  if (!(g_base_bytes = read_all(g_base, &g_base_size))) fail("setup read", g_base);
  const char *seed = getenv("FUZZ_WRITE_SEED");
  if (seed) {
    FILE *f = fopen(seed, "wb");
    if (!f || fwrite(g_base_bytes, 1, g_base_size, f) != g_base_size || fclose(f)) fail("seed", seed);
    exit(0);
  }
  atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_m) setup();
  FILE *f = fopen(g_input, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f)) fail("write input", g_input);
  int64_t live = nb_live_tensors();
  nb_checkpoint c = g_ck;
  nb_clear_error();
  int rc = nb_checkpoint_load(&c, g_input);
  if (rc < 0) {
    if (!nb_last_error()[0]) fail("refused without a message", NULL);
    if (c.epoch != g_ck.epoch || c.batch != g_ck.batch || c.step != g_ck.step)
      fail("a refused load changed the counters", nb_last_error());
    size_t n = 0;
    if (nb_checkpoint_save(&c, g_again) < 0) fail("save after a refused load", nb_last_error());
    unsigned char *again = read_all(g_again, &n);
    if (!again || n != g_base_size || memcmp(again, g_base_bytes, n))
      fail("a refused load changed the model, optimizer or generator", nb_last_error());
    free(again);
  } else if (nb_checkpoint_load(&c, g_base) < 0) {
    fail("the base file does not load back after a load", nb_last_error());
  }
  if (nb_live_tensors() != live) fail("tensors leaked", NULL);
  return 0;
}
