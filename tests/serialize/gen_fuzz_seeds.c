/* tests/serialize/gen_fuzz_seeds.c — writes the seed corpora of the fuzz targets that
 * read nabla's own files, so they start from valid inputs of the layout they load:
 *   gen_fuzz_seeds OPTIM_DIR MODULE_DIR PLUGIN_DIR
 * (run with the build's plugins, e.g. `meson devenv -C build tests/serialize/gen_fuzz_seeds
 * tests/serialize/corpus_optim tests/serialize/corpus_module tests/serialize/corpus_plugin`
 * from the source root). The outputs are committed; rerun when the formats change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/nabla.h>

static void die(const char *what) {
  fprintf(stderr, "gen_fuzz_seeds: %s: %s\n", what, nb_last_error());
  exit(1);
}

/* The layout fuzz_optim_state loads into: group 0 float64 [3], float32 [2,2]; group 1
 * float64 [4]. */
static void optim_seed(const char *dir, const char *file, const char *kind, int n_hp, const nb_attr *hp,
                       int steps) {
  int64_t s0[] = {3}, s1[] = {2, 2}, s2[] = {4};
  nb_tensor *p[3] = {nb_full(1, s0, 0.5, NB_F64), nb_full(2, s1, -0.25, NB_F32), nb_full(1, s2, 2, NB_F64)};
  for (int i = 0; i < 3; i++) nb_set_requires_grad(p[i], true);
  nb_optimizer *o = nb_optimizer_new(kind, 2, p, n_hp, hp);
  if (!o || nb_optimizer_add_group(o, 1, &p[2], 0, NULL) != 1) die(kind);
  for (int t = 0; t < steps; t++) {
    for (int i = 0; i < 3; i++)
      nb_set_grad(p[i], nb_full(nb_ndim(p[i]), nb_shape(p[i]), 0.1 * (t + 1), nb_dtype_of(p[i])));
    if (nb_optimizer_step(o) < 0) die(kind);
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  if (nb_optimizer_save(o, path) < 0) die(path);
  nb_optimizer_free(o);
}

/* The module fuzz_module_state loads into: fc = Linear(3, 2), bn = BatchNorm2d(2). */
static void module_seeds(const char *dir) {
  nb_module *m = nb_module_new("Net", NULL, NULL, NULL);
  nb_generator *g = nb_generator_new(7);
  nb_module_add(m, "fc", nb_linear_new(3, 2, true, g));
  nb_module_add(m, "bn", nb_batch_norm2d_new(2, 1e-5, 0.1));
  char path[4096];
  snprintf(path, sizeof path, "%s/exact.safetensors", dir);
  if (nb_module_save(m, path) < 0) die(path);
  nb_named_tensors *sd = nb_module_state_dict(m);
  nb_tensor *t[16];
  const char *names[16];
  for (int i = 0; i < sd->n; i++) { /* every tensor float64: converted on load */
    names[i] = sd->names[i];
    t[i] = nb_convert(sd->tensors[i], NB_F64);
  }
  snprintf(path, sizeof path, "%s/float64.safetensors", dir);
  if (nb_safetensors_save(path, sd->n, names, t, (const char *[]){"format", "pt", NULL}) < 0) die(path);
  names[sd->n] = "head.weight"; /* an unexpected key, the last two missing */
  t[sd->n] = nb_zeros(2, (int64_t[]){1, 2}, NB_F32);
  snprintf(path, sizeof path, "%s/mismatch.safetensors", dir);
  if (nb_safetensors_save(path, 3, names + sd->n - 2, t + sd->n - 2, NULL) < 0) die(path);
  nb_named_tensors_free(sd);
  nb_module_free(m);
  nb_generator_free(g);
}

static void plugin_seeds(const char *dir) {
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int k = 0; k < 8; k++) {
    unsigned char b[256];
    for (size_t i = 0; i < sizeof b; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      b[i] = (unsigned char)(k < 4 ? 32 + (x % 160) : x); /* the first ones favour valid choices */
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/seed%d.bin", dir, k);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, sizeof b, f) != sizeof b || fclose(f) != 0) die(path);
  }
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: gen_fuzz_seeds OPTIM_DIR MODULE_DIR PLUGIN_DIR\n");
    return 2;
  }
  nb_scope_begin();
  optim_seed(argv[1], "sgd_fresh.safetensors", "sgd", 0, NULL, 0);
  optim_seed(argv[1], "sgd_momentum.safetensors", "sgd", 3,
             (nb_attr[]){NB_A_FLOAT("lr", 0.05), NB_A_FLOAT("momentum", 0.9), NB_A_BOOL("nesterov", 1)}, 2);
  optim_seed(argv[1], "adam.safetensors", "adam", 1, (nb_attr[]){NB_A_FLOAT("lr", 0.01)}, 3);
  optim_seed(argv[1], "adam_amsgrad.safetensors", "adam", 2,
             (nb_attr[]){NB_A_BOOL("amsgrad", 1), NB_A_FLOAT("weight_decay", 0.1)}, 1);
  optim_seed(argv[1], "rmsprop_centered.safetensors", "rmsprop", 3,
             (nb_attr[]){NB_A_BOOL("centered", 1), NB_A_FLOAT("momentum", 0.5), NB_A_FLOAT("alpha", 0.9)}, 2);
  module_seeds(argv[2]);
  plugin_seeds(argv[3]);
  nb_scope_end();
  return 0;
}
