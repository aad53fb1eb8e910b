/* Fixture: init loads a plugin file from its own directory with nb_plugin_load: its own
 * file (FX_LOAD == this file), or a peer that loads this one back. The loader must refuse
 * the nested load of a file being initialised instead of recursing until the stack
 * overflows; init hands the refusal back, so the outer load fails with its message. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <nabla/sdk.h>
#include <nabla/loader.h>

static int init(nb_registrar *r) {
  (void)r;
  Dl_info info;
  if (!dladdr((void *)init, &info) || !info.dli_fname)
    return nb_set_error(NB_EINVAL, "fx_reload: dladdr failed");
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s", info.dli_fname);
  char *slash = strrchr(path, '/');
  if (!slash) return nb_set_error(NB_EINVAL, "fx_reload: no directory in %s", path);
  snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "%s", FX_LOAD);
  return nb_plugin_load(path);
}
NB_PLUGIN_DEFINE(FX_NAME, "0.0.1", "loads " FX_LOAD " from its init", "MIT", init)
