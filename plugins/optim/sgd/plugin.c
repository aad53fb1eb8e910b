/* sgd plugin: registers the "sgd" optimizer. */
#include <nabla/sdk.h>

#include "sgd.h"

static int sgd_plugin_init(nb_registrar *r) { return nb_register_optimizer(r, &optim_sgd); }

NB_PLUGIN_DEFINE("sgd", "0.1.0", "SGD optimizer (momentum, dampening, Nesterov, weight decay)",
                 "MIT", sgd_plugin_init)
