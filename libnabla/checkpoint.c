/* libnabla/checkpoint.c — training checkpoints (checkpoint.h): the model's state_dict,
 * the optimizer's state, the position and the generators' states in one safetensors file
 * written atomically by nb_safetensors_save.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/nabla.h>

#define FORMAT_KEY "nabla.checkpoint"
#define FORMAT_VERSION "1"
#define MODEL_PREFIX "model."
#define OPTIM_PREFIX "optimizer."

static char *cat(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *r = malloc(la + lb + 1);
  if (r) {
    memcpy(r, a, la);
    memcpy(r + la, b, lb + 1);
  }
  return r;
}

static char *fmt_i64(int64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%" PRId64, v);
  return strdup(buf);
}

static void free_list(char **v, int n) {
  for (int i = 0; v && i < n; i++) free(v[i]);
  free(v);
}

int nb_checkpoint_save(const nb_checkpoint *c, const char *path) {
  if (!c || !c->model || !path)
    return nb_set_error(NB_EINVAL, "nb_checkpoint_save: need a checkpoint with a model and a path");
  if (c->epoch < 0 || c->batch < 0 || c->step < 0 || c->n_generators < 0 ||
      (c->n_generators && !c->generators))
    return nb_set_error(NB_EINVAL, "nb_checkpoint_save: epoch, batch, step and n_generators must be "
                        ">= 0 (got %lld, %lld, %lld, %d)", (long long)c->epoch, (long long)c->batch,
                        (long long)c->step, c->n_generators);
  nb_named_tensors *sd = nb_module_state_dict(c->model);
  nb_optimizer_state *os = NULL;
  if (!sd) goto fail_early;
  if (c->optimizer && !(os = nb_optimizer_state_get(c->optimizer))) goto fail_early;

  int n_opt = os ? os->n : 0, n_ometa = 0;
  while (os && os->metadata[2 * n_ometa]) n_ometa++;
  int nt = sd->n + n_opt, nm_cap = 2 * (4 + c->n_generators + n_ometa) + 1, nm = 0, rc = 0;
  char **names = calloc((size_t)nt + 1, sizeof *names);
  nb_tensor **ts = calloc((size_t)nt + 1, sizeof *ts);
  char **meta = calloc((size_t)nm_cap, sizeof *meta);
  if (!names || !ts || !meta) rc = nb_set_error(NB_ENOMEM, "nb_checkpoint_save: out of memory");
  for (int i = 0; rc >= 0 && i < sd->n; i++) {
    names[i] = cat(MODEL_PREFIX, sd->names[i]);
    ts[i] = sd->tensors[i];
  }
  for (int i = 0; rc >= 0 && i < n_opt; i++) {
    names[sd->n + i] = cat(OPTIM_PREFIX, os->names[i]);
    ts[sd->n + i] = os->tensors[i];
  }
  if (rc >= 0) {
    meta[nm++] = strdup(FORMAT_KEY);
    meta[nm++] = strdup(FORMAT_VERSION);
    meta[nm++] = strdup("epoch");
    meta[nm++] = fmt_i64(c->epoch);
    meta[nm++] = strdup("batch");
    meta[nm++] = fmt_i64(c->batch);
    meta[nm++] = strdup("step");
    meta[nm++] = fmt_i64(c->step);
    for (int g = 0; g < c->n_generators; g++) {
      uint64_t st[2];
      char key[32], val[48];
      nb_generator_get_state(c->generators[g], st);
      snprintf(key, sizeof key, "rng.%d", g);
      snprintf(val, sizeof val, "%" PRIu64 " %" PRIu64, st[0], st[1]);
      meta[nm++] = strdup(key);
      meta[nm++] = strdup(val);
    }
    for (int i = 0; i < n_ometa; i++) {
      meta[nm++] = cat(OPTIM_PREFIX, os->metadata[2 * i]);
      meta[nm++] = strdup(os->metadata[2 * i + 1]);
    }
    for (int i = 0; i < nm; i++)
      if (!meta[i]) rc = nb_set_error(NB_ENOMEM, "nb_checkpoint_save: out of memory");
    for (int i = 0; i < nt; i++)
      if (!names[i]) rc = nb_set_error(NB_ENOMEM, "nb_checkpoint_save: out of memory");
  }
  if (rc >= 0) {
    rc = nb_safetensors_save(path, nt, (const char *const *)names, ts, (const char *const *)meta);
    if (rc < 0) nb_error_prefix("nb_checkpoint_save(%s)", path);
  }
  free_list(names, nt);
  free_list(meta, nm);
  free(ts);
  nb_optimizer_state_free(os);
  nb_named_tensors_free(sd);
  return rc < 0 ? rc : 0;

fail_early:
  nb_error_prefix("nb_checkpoint_save");
  nb_named_tensors_free(sd);
  return nb_last_status();
}

/* A non-negative decimal integer metadata value. */
static int meta_i64(const nb_safetensors *f, const char *key, const char *path, int64_t *out) {
  const char *v = nb_safetensors_metadata(f, key);
  char *end = NULL;
  long long x = v ? strtoll(v, &end, 10) : -1;
  if (!v || end == v || *end || x < 0)
    return nb_set_error(NB_EINVAL, "nb_checkpoint_load: %s: metadata \"%s\" is %s, not an integer >= 0",
                        path, key, v ? v : "missing");
  *out = (int64_t)x;
  return 0;
}

int nb_checkpoint_load(nb_checkpoint *c, const char *path) {
  if (!c || !c->model || !path)
    return nb_set_error(NB_EINVAL, "nb_checkpoint_load: need a checkpoint with a model and a path");
  if (c->n_generators < 0 || (c->n_generators && !c->generators))
    return nb_set_error(NB_EINVAL, "nb_checkpoint_load: bad generator list");
  nb_safetensors *f = nb_safetensors_load(path);
  if (!f) return nb_last_status();
  if (nb_scope_begin() < 0) {
    nb_safetensors_free(f);
    return nb_last_status();
  }
  nb_safetensors *mf = NULL, *of = NULL;
  nb_named_tensors *sd = NULL;
  nb_tensor **backup = NULL;
  uint64_t(*rng)[2] = calloc((size_t)c->n_generators + 1, sizeof *rng);
  int64_t epoch = 0, batch = 0, step = 0;
  int rc = rng ? 0 : nb_set_error(NB_ENOMEM, "nb_checkpoint_load: out of memory");

  /* 1. the metadata: format, position, generator states */
  const char *fmt = nb_safetensors_metadata(f, FORMAT_KEY);
  if (rc >= 0 && (!fmt || strcmp(fmt, FORMAT_VERSION) != 0))
    rc = nb_set_error(NB_EINVAL, "nb_checkpoint_load: %s is not a nabla training checkpoint%s%s%s",
                      path, fmt ? " of format " FORMAT_VERSION " (it says " : "", fmt ? fmt : "",
                      fmt ? ")" : "");
  if (rc >= 0) rc = meta_i64(f, "epoch", path, &epoch);
  if (rc >= 0) rc = meta_i64(f, "batch", path, &batch);
  if (rc >= 0) rc = meta_i64(f, "step", path, &step);
  for (int g = 0; rc >= 0 && g < c->n_generators; g++) {
    char key[32];
    snprintf(key, sizeof key, "rng.%d", g);
    const char *v = nb_safetensors_metadata(f, key);
    unsigned long long a, b;
    int used = 0;
    if (!v || sscanf(v, "%llu %llu%n", &a, &b, &used) != 2 || v[used])
      rc = nb_set_error(NB_EINVAL, "nb_checkpoint_load: %s: %s for generator %d (saved with %s)",
                        path, v ? "bad state" : "no state", g,
                        v ? "a malformed value" : "fewer generators");
    else
      rng[g][0] = a, rng[g][1] = b;
  }
  /* 2. the parts */
  if (rc >= 0 && !(mf = nb_safetensors_select(f, MODEL_PREFIX))) rc = nb_last_status();
  if (rc >= 0 && !(of = nb_safetensors_select(f, OPTIM_PREFIX))) rc = nb_last_status();
  if (rc >= 0) {
    bool has_opt = nb_safetensors_metadata(of, "nabla.optimizer") != NULL;
    if (has_opt != (c->optimizer != NULL))
      rc = nb_set_error(NB_EINVAL, "nb_checkpoint_load: %s %s optimizer state but %s", path,
                        has_opt ? "holds" : "holds no", has_opt ? "no optimizer was given" :
                        "an optimizer was given");
  }
  /* 3. the model (all or nothing), keeping copies of its old values so a failing
   * optimizer load can put them back */
  if (rc >= 0 && !(sd = nb_module_state_dict(c->model))) rc = nb_last_status();
  if (rc >= 0 && !(backup = calloc((size_t)sd->n + 1, sizeof *backup)))
    rc = nb_set_error(NB_ENOMEM, "nb_checkpoint_load: out of memory");
  for (int i = 0; rc >= 0 && i < sd->n; i++)
    if (!(backup[i] = nb_copy_data(sd->tensors[i]))) rc = nb_last_status(); /* scoped */
  if (rc >= 0 && nb_module_load_safetensors(c->model, mf, true) < 0) {
    nb_error_prefix("nb_checkpoint_load: %s: model", path);
    rc = nb_last_status();
  }
  /* 4. the optimizer (all or nothing); on failure the model gets its values back */
  if (rc >= 0 && c->optimizer && nb_optimizer_load_safetensors(c->optimizer, of) < 0) {
    nb_error_prefix("nb_checkpoint_load: %s: optimizer", path);
    rc = nb_last_status();
    for (int i = 0; i < sd->n; i++) nb_copy_into(sd->tensors[i], backup[i]);
  }
  /* 5. commit what cannot fail */
  if (rc >= 0) {
    for (int g = 0; g < c->n_generators; g++) nb_generator_set_state(c->generators[g], rng[g]);
    c->epoch = epoch;
    c->batch = batch;
    c->step = step;
  }
  free(backup);
  nb_named_tensors_free(sd);
  nb_safetensors_free(of);
  nb_safetensors_free(mf);
  nb_safetensors_free(f);
  free(rng);
  nb_scope_end();
  return rc < 0 ? rc : 0;
}
