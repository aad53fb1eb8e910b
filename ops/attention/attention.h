/* ops/attention/attention.h — the "attention" plugin's descriptors (not installed). */
#ifndef NB_OPS_ATTENTION_H
#define NB_OPS_ATTENTION_H

#include <nabla/sdk.h>

#include "../common/ops_util.h" /* ops_contig, ops_same_dtype */

extern const nb_op_desc op_embedding, op_scaled_dot_product_attention;

#endif
