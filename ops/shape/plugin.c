/* ops/shape/plugin.c — the "shape" plugin: views (view, transpose, permute, squeeze,
 * unsqueeze), reshape/flatten (view or copy), clone, contiguous, to_dtype. */
#include "shape.h"

static int shape_init(nb_registrar *r) {
  static const nb_op_desc *const ops[] = {
      &shp_reshape_desc, &shp_view_desc,  &shp_flatten_desc,    &shp_transpose_desc,
      &shp_permute_desc, &shp_squeeze_desc, &shp_unsqueeze_desc, &shp_clone_desc,
      &shp_contiguous_desc, &shp_to_dtype_desc, NULL};
  return nb_register_ops(r, ops);
}

NB_PLUGIN_DEFINE("shape", "0.1.0",
                 "Shape and view ops: reshape, view, flatten, transpose, permute, squeeze, "
                 "unsqueeze, clone, contiguous, to_dtype",
                 "MIT", shape_init)
