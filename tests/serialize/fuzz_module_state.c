/* tests/serialize/fuzz_module_state.c — fuzz target for nb_module_load: a state_dict file
 * (any bytes) loaded into a small module with parameters and buffers of three dtypes
 * (Linear, BatchNorm2d with its int64 num_batches_tracked).
 *
 * Invariants: an input is refused with a message, or loaded; a strict load either loads
 * every tensor, each equal to the file's (converted to the module's dtype), or changes
 * nothing; a non-strict load loads at most every tensor and never fails on mismatched
 * keys; nothing leaks (LeakSanitizer, and the live tensor count). Driven by
 * fuzz_driver.c's mutation loop over corpus_module/ (seeds written by gen_fuzz_seeds).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/nabla.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(int level, const char *msg, void *user) { (void)level, (void)msg, (void)user; }

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_module_state: invariant violated: %s (%s)\n", what, detail ? detail : "");
  abort();
}

static nb_module *g_m;
static nb_named_tensors *g_sd;
static nb_tensor *g_snap[16]; /* the module's values before a load */

static void setup(void) {
  nb_set_log_callback(quiet, NULL); /* non-strict loads warn on every mismatch */
  g_m = nb_module_new("Net", NULL, NULL, NULL);
  nb_generator *g = nb_generator_new(7);
  if (!g_m || nb_module_add(g_m, "fc", nb_linear_new(3, 2, true, g)) < 0 ||
      nb_module_add(g_m, "bn", nb_batch_norm2d_new(2, 1e-5, 0.1)) < 0)
    fail("setup", nb_last_error());
  nb_generator_free(g);
  g_sd = nb_module_state_dict(g_m);
  if (!g_sd || g_sd->n > 16) fail("setup", nb_last_error());
}

static bool same_bytes(const nb_tensor *a, const nb_tensor *b) {
  return memcmp(nb_data(a), nb_data(b), (size_t)nb_numel(a) * nb_dtype_size(nb_dtype_of(a))) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_m) setup();
  int64_t live = nb_live_tensors();
  nb_scope_begin();
  nb_safetensors *f = nb_safetensors_load_buffer(data, size);
  if (!f) {
    if (!nb_last_error()[0]) fail("refused without a message", NULL);
  } else {
    for (int i = 0; i < g_sd->n; i++) g_snap[i] = nb_copy_data(g_sd->tensors[i]);
    int rc = nb_module_load_safetensors(g_m, f, true);
    if (rc < 0) {
      if (!nb_last_error()[0]) fail("strict load failed without a message", NULL);
      for (int i = 0; i < g_sd->n; i++)
        if (!same_bytes(g_snap[i], g_sd->tensors[i])) fail("a failed strict load changed", g_sd->names[i]);
    } else {
      if (rc != g_sd->n) fail("a strict load did not load every tensor", NULL);
      for (int i = 0; i < g_sd->n; i++) {
        nb_tensor *want = nb_convert(nb_safetensors_get(f, g_sd->names[i]), nb_dtype_of(g_sd->tensors[i]));
        if (!want || !same_bytes(want, g_sd->tensors[i])) fail("loaded value differs from the file", g_sd->names[i]);
      }
    }
    rc = nb_module_load_safetensors(g_m, f, false);
    if (rc > g_sd->n) fail("non-strict load counted too many", NULL);
    if (rc < 0 && nb_last_status() == NB_ESHAPE) fail("non-strict load failed on mismatched keys", nb_last_error());
    nb_safetensors_free(f);
  }
  nb_scope_end();
  if (nb_live_tensors() != live) fail("tensors leaked", NULL);
  return 0;
}
