/* Fixture: a shared object without the nabla_plugin_entry symbol. */
#include <nabla/core.h>

NB_EXPORT int not_a_nabla_plugin(void);
NB_EXPORT int not_a_nabla_plugin(void) { return 42; }
