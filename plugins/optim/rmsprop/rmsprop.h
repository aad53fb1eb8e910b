/* plugins/rmsprop/rmsprop.h — what plugin.c needs from rmsprop.c (plugin-internal). */
#ifndef NB_PLUGIN_RMSPROP_H
#define NB_PLUGIN_RMSPROP_H

#include <nabla/sdk.h>

#include "../optim_util.h" /* shared param/grad check and zero state */

extern const nb_optim_desc optim_rmsprop;

#endif
