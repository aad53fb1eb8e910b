/* plugins/sgd/sgd.h — what plugin.c needs from sgd.c (plugin-internal). */
#ifndef NB_PLUGIN_SGD_H
#define NB_PLUGIN_SGD_H

#include <nabla/optim.h>

/* Elements per parallel chunk: below this an update runs on one thread. */
#define NB_OPTIM_GRAIN 32768

extern const nb_optim_desc sgd_optim_desc;

#endif
