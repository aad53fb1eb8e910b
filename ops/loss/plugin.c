/* ops/loss/plugin.c — the "loss" operator plugin: mse_loss, l1_loss, cross_entropy,
 * nll_loss, binary_cross_entropy, binary_cross_entropy_with_logits. One operator per
 * file; this file only registers them.
 */
#include "loss_util.h"

static const nb_op_desc *const loss_ops[] = {
    &op_mse_loss, &op_l1_loss, &op_cross_entropy, &op_nll_loss,
    &op_binary_cross_entropy, &op_binary_cross_entropy_with_logits, NULL,
};

static int loss_init(nb_registrar *r) { return nb_register_ops(r, loss_ops); }

NB_PLUGIN_DEFINE("loss", "0.1.0", "Loss functions: mse, l1, cross-entropy, nll, binary cross-entropy (+ with logits)",
                 "MIT", loss_init)
