/* libnabla/read_file.h — reading a whole regular file, for the user library's readers
 * (safetensors, text corpora). Not installed.
 *
 * FIFOs, devices and directories are refused without blocking: the file is opened with
 * O_NONBLOCK and its type checked on the open descriptor, so nothing can be swapped in
 * between the check and the read. */
#ifndef NABLA_READ_FILE_H
#define NABLA_READ_FILE_H

#include <stddef.h>

/* Read `path` into a new malloc'ed buffer *buf (at least one byte allocated, so an empty
 * file gives a valid pointer) of *size bytes; files over `max` bytes are refused. Errors
 * start with `what` ("safetensors") and name the file. Returns 0 or a negative status
 * (*buf NULL). */
__attribute__((visibility("hidden"))) int nb__read_regular_file(const char *path, const char *what,
                                                                size_t max, unsigned char **buf,
                                                                size_t *size);

#endif
