/* libnabla/fileio.c — atomic whole-file writes (fileio.h): temporary file, fsync, rename. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "nabla/core.h"

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void fsync_dir_of(const char *path) {
  char *copy = strdup(path);
  if (!copy) return;
  int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  free(copy);
}

int nb__write_file_atomic(const char *path, const void *data, size_t size, const char *what) {
  static unsigned counter;
  if (!path || !path[0]) return nb_set_error(NB_EINVAL, "%s: empty path", what);
  size_t tl = strlen(path) + 48;
  char *tmp = malloc(tl);
  if (!tmp) return nb_set_error(NB_ENOMEM, "%s: out of memory", what);
  snprintf(tmp, tl, "%s.tmp.%ld.%u", path, (long)getpid(),
           __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
  int rc = 0, fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    rc = nb_set_error(NB_EIO, "%s: cannot create %s: %s", what, tmp, strerror(errno));
  } else {
    if (write_all(fd, data, size) < 0 || fsync(fd) < 0)
      rc = nb_set_error(NB_EIO, "%s: writing %s failed: %s", what, tmp, strerror(errno));
    if (close(fd) < 0 && !rc)
      rc = nb_set_error(NB_EIO, "%s: closing %s failed: %s", what, tmp, strerror(errno));
    if (!rc && rename(tmp, path) < 0)
      rc = nb_set_error(NB_EIO, "%s: renaming %s to %s failed: %s", what, tmp, path, strerror(errno));
    if (rc) unlink(tmp);
    else fsync_dir_of(path);
  }
  free(tmp);
  return rc;
}
