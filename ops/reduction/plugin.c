/* ops/reduction/plugin.c — the "reduction" plugin: sum, mean, max, min, max_dim,
 * min_dim, argmax, argmin. One file per operator; shared kernels in red_*.c. */
#include "reduce.h"

static int reduction_init(nb_registrar *r) {
  static const nb_op_desc *const ops[] = {&op_sum,     &op_mean, &op_max,
                                          &op_min,     &op_max_dim,
                                          &op_min_dim, &op_argmax,
                                          &op_argmin,  NULL};
  return nb_register_ops(r, ops);
}

NB_PLUGIN_DEFINE("reduction", "0.1.0", "Reductions: sum, mean, max, min, max_dim, min_dim, argmax, argmin",
                 "MIT", reduction_init)
