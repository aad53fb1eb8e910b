/* ops/nn/plugin.c — the "nn" operator plugin: layers (matmul, linear, conv2d,
 * batch_norm, pooling, dropout, softmax). One operator per file; this file only
 * registers them.
 */
#include "nn_util.h"

static const nb_op_desc *const nn_ops[] = {
    &op_matmul,     &op_linear,     &op_conv2d,     &op_conv2d_input_grad, &op_conv2d_weight_grad,
    &op_batch_norm, &op_max_pool2d, &op_avg_pool2d,
    &op_adaptive_avg_pool2d, &op_dropout, &op_softmax,
    &op_log_softmax, NULL,
};

static int nn_init(nb_registrar *r) { return nb_register_ops(r, nn_ops); }

NB_PLUGIN_DEFINE("nn", "0.1.0", "Neural-network layers: matmul, linear, conv2d, batch_norm, pooling, dropout, softmax",
                 "MIT", nn_init)
