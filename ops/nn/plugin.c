/* ops/nn/plugin.c — the "nn" operator plugin: layers (matmul, linear, conv2d,
 * batch_norm, pooling, dropout, softmax). One operator per file; this file only
 * registers them.
 */
#include "nn_util.h"

static const nb_op_desc *const nn_ops[] = {
    &nn_matmul_desc,     &nn_linear_desc,     &nn_conv2d_desc,
    &nn_batch_norm_desc, &nn_max_pool2d_desc, &nn_avg_pool2d_desc,
    &nn_adaptive_avg_pool2d_desc, &nn_dropout_desc, &nn_softmax_desc,
    &nn_log_softmax_desc, NULL,
};

static int nn_init(nb_registrar *r) { return nb_register_ops(r, nn_ops); }

NB_PLUGIN_DEFINE("nn", "0.1.0", "Neural-network layers: matmul, linear, conv2d, batch_norm, pooling, dropout, softmax",
                 "MIT", nn_init)
