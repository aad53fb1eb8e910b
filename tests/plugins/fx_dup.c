/* Fixture: built twice (FX_NAME plugtest_dup_a / plugtest_dup_b). Both register the op
 * "plugtest_dup" plus one op of their own (FX_OWN_OP). */
#include "fx_common.h"

static const nb_op_desc dup_op = FX_OP("plugtest_dup");
static const nb_op_desc own_op = FX_OP(FX_OWN_OP);
static int init(nb_registrar *r) {
  int rc = nb_register_op(r, &dup_op);
  return rc < 0 ? rc : nb_register_op(r, &own_op);
}
NB_PLUGIN_DEFINE(FX_NAME, "0.0.1", "registers the duplicated op plugtest_dup", "MIT", init)
