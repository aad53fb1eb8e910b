/* plugins/rmsprop/rmsprop.h — what plugin.c needs from rmsprop.c (plugin-internal). */
#ifndef NB_PLUGIN_RMSPROP_H
#define NB_PLUGIN_RMSPROP_H

#include <nabla/optim.h>

/* Elements per parallel chunk: below this an update runs on one thread. */
#define NB_OPTIM_GRAIN 32768

extern const nb_optim_desc rmsprop_optim_desc;

#endif
