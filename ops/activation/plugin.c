/* ops/activation/plugin.c — the "activation" operator plugin: gelu, silu, leaky_relu,
 * elu, softplus (one file each; relu, sigmoid and tanh live in elementwise).
 */
#include "act.h"

static int activation_init(nb_registrar *r) {
  static const nb_op_desc *const ops[] = {&op_gelu, &op_silu, &op_leaky_relu, &op_elu,
                                          &op_softplus, NULL};
  return nb_register_ops(r, ops);
}

NB_PLUGIN_DEFINE("activation", "0.1.0", "Activations: gelu (exact, tanh), silu, leaky_relu, elu, softplus",
                 "MIT", activation_init)
