/* Fixture: init calls exit(3), as a plugin might on a failed check of its own. The tools
 * must report "plugin called exit(3) during loading" and go on. */
#include <stdlib.h>

#include <nabla/sdk.h>

static int init(nb_registrar *r) {
  (void)r;
  exit(3);
}
NB_PLUGIN_DEFINE("plugtest_exit", "0.0.1", "calls exit(3) in init", "MIT", init)
