/* Fixture: an entry point whose descriptor is wrong in one way, chosen at build time:
 * FX_MAGIC, FX_MAJOR, FX_MINOR, FX_SIZE override the right values. */
#include "fx_common.h"

#ifndef FX_MAGIC
#define FX_MAGIC NB_PLUGIN_MAGIC
#endif
#ifndef FX_MAJOR
#define FX_MAJOR NB_ABI_MAJOR
#endif
#ifndef FX_MINOR
#define FX_MINOR NB_ABI_MINOR
#endif
#ifndef FX_SIZE
#define FX_SIZE sizeof(nb_plugin_desc)
#endif

static const nb_op_desc op = FX_OP("plugtest_baddesc");
static int init(nb_registrar *r) { return nb_register_op(r, &op); }

NB_EXPORT const nb_plugin_desc *nabla_plugin_entry(void);
NB_EXPORT const nb_plugin_desc *nabla_plugin_entry(void) {
  static const nb_plugin_desc d = {FX_MAGIC, (uint32_t)(FX_SIZE), FX_MAJOR, FX_MINOR,
                                   FX_NAME, "0.0.1", "broken descriptor", "MIT", init};
  return &d;
}
