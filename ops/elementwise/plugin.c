/* ops/elementwise/plugin.c — the elementwise plugin's entry point: registers every
 * operator of this directory (one file each; shared loops in ew.h and apply.c).
 */
#include "ew.h"

static int elementwise_init(nb_registrar *r) {
  static const nb_op_desc *const ops[] = {
      &ew_op_add,   &ew_op_sub,  &ew_op_mul,     &ew_op_div,  &ew_op_pow,   &ew_op_eq,
      &ew_op_gt,    &ew_op_lt,   &ew_op_neg,     &ew_op_exp,  &ew_op_log,   &ew_op_sqrt,
      &ew_op_abs,   &ew_op_relu, &ew_op_sigmoid, &ew_op_tanh, &ew_op_clamp, &ew_op_add_,
      &ew_op_sub_,  &ew_op_mul_, &ew_op_div_,    &ew_op_exp_, &ew_op_relu_, &ew_op_zero_,
      &ew_op_fill_, NULL};
  return nb_register_ops(r, ops);
}

NB_PLUGIN_DEFINE("elementwise", "0.1.0",
                 "Elementwise arithmetic with broadcasting, comparisons, unary math and "
                 "in-place updates",
                 "MIT", elementwise_init)
