/* Fixture: init registers a valid op, then fails. Everything must be rolled back. */
#include "fx_common.h"

static const nb_op_desc op = FX_OP("plugtest_rollback");
static int init(nb_registrar *r) {
  int rc = nb_register_op(r, &op);
  if (rc < 0) return rc;
  return nb_set_error(NB_EINVAL, "plugtest_initfail: deliberate failure after registering an op");
}
NB_PLUGIN_DEFINE("plugtest_initfail", "0.0.1", "init fails after registering", "MIT", init)
