/* plugins/sgd/sgd.h — what plugin.c needs from sgd.c (plugin-internal). */
#ifndef NB_PLUGIN_SGD_H
#define NB_PLUGIN_SGD_H

#include <nabla/sdk.h>

#include "../optim_util.h" /* shared param/grad check and zero state */

extern const nb_optim_desc optim_sgd;

#endif
