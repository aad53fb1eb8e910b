/* dtype.c — element type names and sizes. */
#include "internal.h"

size_t nb_dtype_size(nb_dtype dt) { return nb__dtype_size(dt); }

const char *nb_dtype_name(nb_dtype dt) {
  switch (dt) {
  case NB_F32: return "float32";
  case NB_F64: return "float64";
  case NB_I64: return "int64";
  case NB_BOOL: return "bool";
  default: return "?";
  }
}

bool nb_dtype_is_floating(nb_dtype dt) { return nb__is_floating(dt); }
