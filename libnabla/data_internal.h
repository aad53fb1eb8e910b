/* libnabla/data_internal.h — what dataset.c shares with dataloader.c (not installed). */
#ifndef NABLA_DATA_INTERNAL_H
#define NABLA_DATA_INTERNAL_H

#include "nabla/data.h"

/* Items idx[0..n-1] (n >= 1, each checked against the length) as x [n,...], y [n,...]:
 * new references owned by the caller, registered in no scope, so any thread may call it.
 * Returns 0 or a negative status with the error set on the calling thread. */
__attribute__((visibility("hidden"))) int nb__dataset_fetch(nb_dataset *ds, const int64_t *idx, int64_t n,
                                                            nb_tensor **x, nb_tensor **y);

#endif
