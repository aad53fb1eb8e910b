/* plugins/rmsprop/rmsprop.h — what plugin.c needs from rmsprop.c (plugin-internal). */
#ifndef NB_PLUGIN_RMSPROP_H
#define NB_PLUGIN_RMSPROP_H

#include <nabla/optim.h>

/* Elements per parallel chunk: below this an update runs on one thread. */
#define NB_OPTIM_GRAIN 32768

/* Update loops are built for AVX2 too and picked at load time (elementwise IEEE math with
 * no contraction, so every variant gives the same bits). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NB_OPTIM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NB_OPTIM_CLONES
#endif

extern const nb_optim_desc rmsprop_optim_desc;

#endif
