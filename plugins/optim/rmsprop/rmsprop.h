/* plugins/rmsprop/rmsprop.h — what plugin.c needs from rmsprop.c (plugin-internal). */
#ifndef NB_PLUGIN_RMSPROP_H
#define NB_PLUGIN_RMSPROP_H

#include <nabla/sdk.h>

#include "../optim_util.h" /* NB_OPTIM_GRAIN, NB_OPTIM_CLONES, shared checks */

extern const nb_optim_desc rmsprop_optim_desc;

#endif
