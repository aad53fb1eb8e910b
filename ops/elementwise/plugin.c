/* ops/elementwise/plugin.c — the elementwise plugin's entry point: registers every
 * operator of this directory (one file each; shared loops in ew.h and apply.c).
 */
#include "ew.h"

static int elementwise_init(nb_registrar *r) {
  static const nb_op_desc *const ops[] = {
      &op_add,   &op_sub,  &op_mul,     &op_div,  &op_pow,   &op_eq,
      &op_gt,    &op_lt,   &op_neg,     &op_exp,  &op_log,   &op_sqrt,
      &op_abs,   &op_relu, &op_sigmoid, &op_tanh, &op_clamp, &op_add_,
      &op_sub_,  &op_mul_, &op_div_,    &op_exp_, &op_relu_, &op_zero_,
      &op_fill_, &op_ne,    &op_ge,  &op_le,  &op_logical_and, &op_logical_or,
      &op_logical_not, &op_erf, NULL};
  return nb_register_ops(r, ops);
}

NB_PLUGIN_DEFINE("elementwise", "0.1.0",
                 "Elementwise arithmetic with broadcasting, comparisons, unary math and "
                 "in-place updates",
                 "MIT", elementwise_init)
