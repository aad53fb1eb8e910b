/* libnabla/layers_internal.h — what layers.c shares with layers_transformer.c (not
 * installed). */
#ifndef NABLA_LAYERS_INTERNAL_H
#define NABLA_LAYERS_INTERNAL_H

#include <stddef.h>

/* Python's repr of a float into buf ("0.1", "1e-05", "1.0"); returns buf. */
__attribute__((visibility("hidden"))) const char *nb__py_float(double v, char *buf, size_t size);

#endif
