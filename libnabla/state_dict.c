/* libnabla/state_dict.c — a module's state_dict (parameters and buffers under PyTorch's
 * dotted keys) saved to and loaded from safetensors files. A strict load checks every key
 * first and loads nothing unless all match; a non-strict load copies what matches. Either
 * way every tensor is read and converted before the first one is written, so a load that
 * fails changes nothing. Floats loaded into int64 tensors must be integers int64 holds.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/nabla.h>
#include "nabla/module.h"
#include "testing.h"

static int g_fail_stage_at = -1;
void nb__module_load_fail_at(int k) { g_fail_stage_at = k; }

/* A float tensor going into an int64 one (num_batches_tracked) must hold integers that
 * int64 can represent: a cast of NaN, inf or 1e300 is undefined, 2.5 silently truncated. */
static int check_int64(const nb_tensor *src) {
  const void *d = nb_data(src);
  bool f32 = nb_dtype_of(src) == NB_F32;
  for (int64_t k = 0, n = nb_numel(src); k < n; k++) {
    double v = f32 ? ((const float *)d)[k] : ((const double *)d)[k];
    if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0) || v != floor(v))
      return nb_set_error(NB_EINVAL, "%s value %.17g (element %lld) is not an integer int64 can "
                          "hold", nb_dtype_name(nb_dtype_of(src)), v, (long long)k);
  }
  return 0;
}

int nb_module_save(const nb_module *m, const char *path) {
  if (!path) return nb_set_error(NB_EINVAL, "nb_module_save: path is NULL");
  nb_named_tensors *l = nb_module_state_dict(m);
  if (!l) return nb_last_status();
  static const char *const meta[] = {"format", "pt", NULL};
  int rc = nb_safetensors_save(path, l->n, (const char *const *)l->names, l->tensors, meta);
  if (rc < 0) nb_error_prefix("nb_module_save(%s)", path);
  nb_named_tensors_free(l);
  return rc < 0 ? rc : 0;
}

/* A growing ", "-separated list of names for the report; stops at ~1 KB. */
typedef struct namelist {
  char buf[1024];
  size_t len;
  int count;
} namelist;

static void nl_add(namelist *nl, const char *name, const char *detail) {
  nl->count++;
  if (nl->len >= sizeof nl->buf - 8) return;
  int w = snprintf(nl->buf + nl->len, sizeof nl->buf - nl->len, "%s\"%s\"%s", nl->count > 1 ? ", " : "",
                   name, detail ? detail : "");
  if (w < 0 || (size_t)w >= sizeof nl->buf - nl->len) {
    nl->len = sizeof nl->buf - 8;
    strcpy(nl->buf + nl->len, ", ...");
    return;
  }
  nl->len += (size_t)w;
}

static bool in_list(const nb_named_tensors *l, const char *name) {
  for (int i = 0; i < l->n; i++)
    if (!strcmp(l->names[i], name)) return true;
  return false;
}

int nb_module_load_safetensors(nb_module *m, const nb_safetensors *f, bool strict) {
  const char *fn = "nb_module_load";
  if (!m || !f) return nb_set_error(NB_EINVAL, "%s: NULL argument", fn);
  nb_named_tensors *l = nb_module_state_dict(m);
  if (!l) return nb_last_status();
  namelist missing = {0}, unexpected = {0}, mismatched = {0};
  bool *ok = calloc((size_t)l->n + 1, sizeof *ok);
  if (!ok) {
    nb_named_tensors_free(l);
    return nb_set_error(NB_ENOMEM, "%s: out of memory", fn);
  }
  for (int i = 0; i < l->n; i++) {
    nb_dtype dt;
    int ndim;
    int64_t shape[NB_MAX_DIMS];
    if (nb_safetensors_info(f, l->names[i], &dt, &ndim, shape) < 0) {
      nl_add(&missing, l->names[i], NULL);
      continue;
    }
    const nb_tensor *t = l->tensors[i];
    bool same = ndim == nb_ndim(t);
    for (int d = 0; same && d < ndim; d++) same = shape[d] == nb_shape(t)[d];
    if (!same) {
      char detail[160], a[64];
      snprintf(detail, sizeof detail, " (file %s, model %s)", nb_shape_str(ndim, shape, a, sizeof a),
               nb_shape_of(t));
      nl_add(&mismatched, l->names[i], detail);
      continue;
    }
    ok[i] = true;
  }
  for (int i = 0, n = nb_safetensors_count(f); i < n; i++) {
    const char *name = nb_safetensors_name(f, i);
    if (!in_list(l, name)) nl_add(&unexpected, name, NULL);
  }
  int rc = 0, loaded = 0;
  bool problems = missing.count || unexpected.count || mismatched.count;
  if (problems) {
    char msg[3400];
    snprintf(msg, sizeof msg, "%s%s%s%s%s%s%s%s%s", missing.count ? "missing keys: " : "",
             missing.buf, missing.count ? "; " : "", unexpected.count ? "unexpected keys: " : "",
             unexpected.buf, unexpected.count ? "; " : "",
             mismatched.count ? "size mismatch for: " : "", mismatched.buf,
             mismatched.count ? "; " : "");
    msg[strlen(msg) - 2] = 0; /* drop the last "; " */
    if (strict)
      rc = nb_set_error(NB_ESHAPE, "%s: error(s) in loading state_dict for %s (strict): %s", fn,
                        nb_module_type(m), msg);
    else
      nb_log_message(NB_LOG_WARN, "%s: loading state_dict for %s skipped %s", fn, nb_module_type(m), msg);
  }
  /* Stage every tensor, converted to its destination's dtype, before writing any: a
   * failure (out of memory) then leaves the module as it was. The commit copies
   * equal shapes and dtypes, which cannot fail. */
  if (rc >= 0 && (rc = nb_scope_begin()) >= 0) {
    nb_tensor **staged = calloc((size_t)l->n + 1, sizeof *staged);
    rc = staged ? 0 : nb_set_error(NB_ENOMEM, "%s: out of memory", fn);
    for (int i = 0, k = 0; i < l->n && rc >= 0; i++) {
      if (!ok[i]) continue;
      nb_tensor *src = NULL;
      if (k++ == g_fail_stage_at) nb_set_error(NB_ENOMEM, "out of memory (injected by a test)");
      else src = nb_safetensors_get(f, l->names[i]);
      nb_dtype want = nb_dtype_of(l->tensors[i]);
      if (src && want == NB_I64 && nb_dtype_is_floating(nb_dtype_of(src)) && check_int64(src) < 0) src = NULL;
      staged[i] = !src || nb_dtype_of(src) == want ? src : nb_convert(src, want);
      if (!staged[i]) {
        rc = nb_last_status();
        nb_error_prefix("%s: \"%s\" (nothing was loaded)", fn, l->names[i]);
      }
    }
    if (rc >= 0) {
      nb_no_grad_begin();
      for (int i = 0; i < l->n && rc >= 0; i++) {
        if (!staged[i]) continue;
        rc = nb_copy_into(l->tensors[i], staged[i]);
        if (rc < 0) nb_error_prefix("%s: \"%s\"", fn, l->names[i]);
        else loaded++;
      }
      nb_no_grad_end();
    }
    free(staged);
    nb_scope_end();
  }
  free(ok);
  nb_named_tensors_free(l);
  return rc < 0 ? rc : loaded;
}

int nb_module_load(nb_module *m, const char *path, bool strict) {
  if (!path) return nb_set_error(NB_EINVAL, "nb_module_load: path is NULL");
  nb_safetensors *f = nb_safetensors_load(path);
  if (!f) return nb_last_status();
  int rc = nb_module_load_safetensors(m, f, strict);
  if (rc < 0) nb_error_prefix("%s", path);
  nb_safetensors_free(f);
  return rc;
}
