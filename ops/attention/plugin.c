/* ops/attention/plugin.c — the "attention" operator plugin: embedding lookup and fused
 * scaled dot-product attention (one file each).
 */
#include "attention.h"

static int attention_init(nb_registrar *r) {
  static const nb_op_desc *const ops[] = {&op_embedding, &op_scaled_dot_product_attention, NULL};
  return nb_register_ops(r, ops);
}

NB_PLUGIN_DEFINE("attention", "0.1.0", "Embedding lookup and scaled dot-product attention",
                 "MIT", attention_init)
