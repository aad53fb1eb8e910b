/* Fixture: init registers a valid op, then one with an invalid schema (an input that
 * accepts no dtype), ignores the error and returns 0: still rolled back. */
#include "fx_common.h"

static const nb_op_desc ok_op = FX_OP("plugtest_schema_ok");
static const nb_input_spec bad_inputs[] = {{"x", 0, 0, NULL}};
static const nb_op_desc bad_op = {.struct_size = NB_OP_DESC_SIZE, .name = "plugtest_schema_bad",
                                  .n_inputs = 1, .inputs = bad_inputs, .n_outputs = 1,
                                  .forward = fx_forward};
static int init(nb_registrar *r) {
  nb_register_op(r, &ok_op);
  nb_register_op(r, &bad_op);
  return 0;
}
NB_PLUGIN_DEFINE("plugtest_badschema", "0.0.1", "registers an invalid schema", "MIT", init)
