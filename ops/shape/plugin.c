/* ops/shape/plugin.c — the "shape" plugin: views (view, transpose, permute, squeeze,
 * unsqueeze), reshape/flatten (view or copy), clone, contiguous, to_dtype. */
#include "shape.h"

static int shape_init(nb_registrar *r) {
  static const nb_op_desc *const ops[] = {
      &op_reshape, &op_view,  &op_flatten,    &op_transpose,
      &op_permute, &op_squeeze, &op_unsqueeze, &op_clone,
      &op_contiguous, &op_to_dtype, NULL};
  return nb_register_ops(r, ops);
}

NB_PLUGIN_DEFINE("shape", "0.1.0",
                 "Shape and view ops: reshape, view, flatten, transpose, permute, squeeze, "
                 "unsqueeze, clone, contiguous, to_dtype",
                 "MIT", shape_init)
