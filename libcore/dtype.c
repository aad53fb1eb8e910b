/* dtype.c — element type names and sizes. */
#include "internal.h"

size_t nb_dtype_size(nb_dtype dt) {
  switch (dt) {
  case NB_F32: return 4;
  case NB_F64: return 8;
  case NB_I64: return 8;
  case NB_BOOL: return 1;
  default: return 0;
  }
}

const char *nb_dtype_name(nb_dtype dt) {
  switch (dt) {
  case NB_F32: return "float32";
  case NB_F64: return "float64";
  case NB_I64: return "int64";
  case NB_BOOL: return "bool";
  default: return "?";
  }
}

bool nb_dtype_is_floating(nb_dtype dt) { return dt == NB_F32 || dt == NB_F64; }
