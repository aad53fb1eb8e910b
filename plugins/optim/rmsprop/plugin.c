/* rmsprop plugin: registers the "rmsprop" optimizer. */
#include <nabla/sdk.h>

#include "rmsprop.h"

static int rmsprop_plugin_init(nb_registrar *r) {
  return nb_register_optimizer(r, &optim_rmsprop);
}

NB_PLUGIN_DEFINE("rmsprop", "0.1.0", "RMSprop optimizer (centered, momentum, weight decay)",
                 "MIT", rmsprop_plugin_init)
