/* libnabla/fileio.h — writing a whole file atomically, shared by the training utilities
 * (metrics.c, plot.c). Not installed. */
#ifndef NABLA_FILEIO_H
#define NABLA_FILEIO_H

#include <stddef.h>

/* Write size bytes to path atomically: a new temporary file in the same directory
 * (path.tmp.<pid>.<n>), fsync, rename over path, fsync the directory. On failure the
 * previous file at path is left intact and the temporary file removed. `what` prefixes
 * error messages. Returns 0 or a negative status. */
__attribute__((visibility("hidden"))) int nb__write_file_atomic(const char *path, const void *data,
                                                                size_t size, const char *what);

#endif
