/* tests/serialize/fx_fuzzdesc.c — the plugin of fuzz_plugin_desc: its entry point returns
 * whatever descriptor the fuzz target (the host program, which exports
 * fuzz_plugin_descriptor) built from the current input, so the loader's descriptor and
 * schema validation see fuzzed fields through the real dlopen path. */
#include <dlfcn.h>
#include <string.h>

#include <nabla/sdk.h>

typedef const nb_plugin_desc *(*fuzz_desc_fn)(void);

NB_EXPORT const nb_plugin_desc *nabla_plugin_entry(void);
NB_EXPORT const nb_plugin_desc *nabla_plugin_entry(void) {
  void *sym = dlsym(RTLD_DEFAULT, "fuzz_plugin_descriptor");
  fuzz_desc_fn fn;
  memcpy(&fn, &sym, sizeof fn);
  return fn ? fn() : NULL;
}
