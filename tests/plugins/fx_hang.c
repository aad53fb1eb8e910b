/* Fixture: init never returns. The tools' scan must give up on it after
 * NABLA_PLUGIN_SCAN_TIMEOUT seconds, name it, and go on. */
#include <unistd.h>

#include <nabla/sdk.h>

static int init(nb_registrar *r) {
  (void)r;
  for (;;) pause();
  return 0;
}
NB_PLUGIN_DEFINE("plugtest_hang", "0.0.1", "never returns from init", "MIT", init)
