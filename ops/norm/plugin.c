/* ops/norm/plugin.c — the "norm" operator plugin: normalisation and row statistics
 * (layer_norm, group_norm, var, std, logsumexp, cumsum), one file each; rows.c holds the shared layout.
 */
#include "norm.h"

static int norm_init(nb_registrar *r) {
  static const nb_op_desc *const ops[] = {&op_layer_norm, &op_group_norm, &op_var, &op_std, &op_logsumexp, &op_cumsum, NULL};
  return nb_register_ops(r, ops);
}

NB_PLUGIN_DEFINE("norm", "0.1.0", "Normalisation and row statistics: layer_norm, group_norm, var, std, logsumexp, cumsum",
                 "MIT", norm_init)
