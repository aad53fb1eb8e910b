/* adam plugin: registers the "adam" and "adamw" optimizers. */
#include <nabla/sdk.h>

#include "adam.h"

static int adam_plugin_init(nb_registrar *r) {
  int rc = nb_register_optimizer(r, &optim_adam);
  return rc < 0 ? rc : nb_register_optimizer(r, &optim_adamw);
}

NB_PLUGIN_DEFINE("adam", "0.1.0", "Adam and AdamW optimizers (amsgrad, maximize)", "MIT",
                 adam_plugin_init)
