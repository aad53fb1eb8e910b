/* libnabla/atomic_file.h — writing a file atomically, for every writer of the user
 * library (safetensors, optimizer state, checkpoints, metrics, plots). Not installed.
 *
 * nb__atomic_open creates a locked temporary file next to the target, with a short name
 * of its own; the caller writes into af->fd; nb__atomic_commit fsyncs it, renames it over
 * the target and fsyncs the directory, or nb__atomic_abort removes it. Until the commit
 * the previous file is untouched; a process killed half-way leaves a temporary that the
 * next save into the same directory removes. */
#ifndef NABLA_ATOMIC_FILE_H
#define NABLA_ATOMIC_FILE_H

#include <stddef.h>

typedef struct nb__atomic_file {
  int fd;          /* the temporary file, open for writing */
  int dfd;         /* the target's directory */
  char tmp[48];    /* the temporary's name in that directory */
  char *target;    /* the file replaced: `path` with symbolic links followed */
  const char *base; /* target's last component */
  const char *what; /* prefixes error messages */
} nb__atomic_file;

/* Start writing `path` (a symbolic link in its last component is followed, so the link
 * stays and its target is replaced). Returns 0, or a negative status with an error. */
__attribute__((visibility("hidden"))) int nb__atomic_open(nb__atomic_file *af, const char *path,
                                                          const char *what);
/* Make the written temporary the target; frees af. Returns 0 or a negative status (the
 * target is then unchanged and the temporary removed). */
__attribute__((visibility("hidden"))) int nb__atomic_commit(nb__atomic_file *af);
/* Give up: remove the temporary, free af. */
__attribute__((visibility("hidden"))) void nb__atomic_abort(nb__atomic_file *af);
/* The whole of `size` bytes as path, atomically. Returns 0 or a negative status. */
__attribute__((visibility("hidden"))) int nb__write_file_atomic(const char *path, const void *data,
                                                                size_t size, const char *what);

#endif
