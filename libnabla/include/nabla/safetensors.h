/* nabla/safetensors.h — reading and writing the safetensors format (8-byte little-endian
 * header length, a JSON header mapping names to dtype/shape/data_offsets, then the raw
 * data), as PyTorch users know it. Files are validated completely before use: a
 * truncated, corrupted or hostile file is refused with an error, never read out of bounds.
 */
#ifndef NABLA_SAFETENSORS_H
#define NABLA_SAFETENSORS_H

#include <nabla/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Write tensors under names (unique) to path atomically: a temporary file in the same
 * directory, fsync, rename. `metadata` is an optional NULL-terminated key/value list
 * (k0, v0, k1, v1, ..., NULL) stored in "__metadata__". Returns 0 or a negative status;
 * on failure the previous file at path is left intact. */
int nb_safetensors_save(const char *path, int n, const char *const *names,
                        nb_tensor *const *tensors, const char *const *metadata);

typedef struct nb_safetensors nb_safetensors; /* a validated, loaded file */

/* Load and validate a whole file / a memory buffer (copied). NULL with an error naming
 * the problem (bad header length, offsets past the end, overlapping ranges, unknown
 * dtype, absurd shape, duplicate name, invalid JSON). */
nb_safetensors *nb_safetensors_load(const char *path);
nb_safetensors *nb_safetensors_load_buffer(const void *data, size_t size);
void nb_safetensors_free(nb_safetensors *f);
/* Number of tensors, and the i-th name (in file order; valid until free). */
int nb_safetensors_count(const nb_safetensors *f);
const char *nb_safetensors_name(const nb_safetensors *f, int i);
/* Shape and dtype of a named tensor without copying; NB_ENOTFOUND when absent. */
int nb_safetensors_info(const nb_safetensors *f, const char *name, nb_dtype *dt, int *ndim,
                        int64_t *shape);
/* A new scoped tensor holding a copy of the named tensor; NULL (NB_ENOTFOUND) if absent. */
nb_tensor *nb_safetensors_get(const nb_safetensors *f, const char *name);
/* Value of a "__metadata__" key, or NULL. */
const char *nb_safetensors_metadata(const nb_safetensors *f, const char *key);
/* The part of a file under a name prefix, as a new file object: the tensors and metadata
 * keys that start with `prefix` (e.g. "model."), under their names with the prefix
 * removed; names equal to the prefix are left out. For files that hold several state
 * dicts (training checkpoints: checkpoint.h) or to load a submodule's weights out of a
 * whole model's file. Free with nb_safetensors_free. NULL with an error. */
nb_safetensors *nb_safetensors_select(const nb_safetensors *f, const char *prefix);

#ifdef __cplusplus
}
#endif
#endif
