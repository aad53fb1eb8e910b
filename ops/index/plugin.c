/* ops/index/plugin.c — the "index" plugin: indexing, slicing, joining and masking, as
 * PyTorch's "Indexing, Slicing, Joining, Mutating Ops" (views where PyTorch gives views:
 * select, slice, expand), plus topk. split and chunk are slices (nb_split, nb_chunk). */
#include "index.h"

static int index_init(nb_registrar *r) {
  static const nb_op_desc *const ops[] = {
      &op_select, &op_slice,  &op_index_select, &op_gather, &op_scatter_add,
      &op_masked_fill, &op_where, &op_expand,  &op_repeat, &op_cat,
      &op_stack,  &op_tril,   &op_triu,        &op_topk,   NULL};
  return nb_register_ops(r, ops);
}

NB_PLUGIN_DEFINE("index", "0.1.0",
                 "Indexing, slicing, joining and masking: select, slice, index_select, gather, "
                 "scatter_add, masked_fill, where, expand, repeat, cat, stack, tril, triu, topk",
                 "MIT", index_init)
