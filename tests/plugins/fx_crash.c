/* Fixture: init crashes with SIGSEGV (a NULL write). Only ever loaded through
 * `nabla-inspect FILE.so`, which must report the crash and survive. */
#include <stddef.h>

#include <nabla/sdk.h>

static int init(nb_registrar *r) {
  volatile int *volatile p = NULL;
  *p = 42;
  return 0;
}
NB_PLUGIN_DEFINE("plugtest_crash", "0.0.1", "crashes in init", "MIT", init)
