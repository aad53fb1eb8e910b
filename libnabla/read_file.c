/* libnabla/read_file.c — a whole regular file into memory (read_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nabla/core.h"
#include "read_file.h"

int nb__read_regular_file(const char *path, const char *what, size_t max, unsigned char **buf,
                          size_t *size) {
  *buf = NULL;
  *size = 0;
  if (!path) return nb_set_error(NB_EINVAL, "%s: NULL path", what);
  /* O_NONBLOCK: opening a FIFO (or a device) for reading must not wait for a writer.
   * Regular files ignore the flag; it is cleared anyway. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0)
    return nb_set_error(errno == ENOENT ? NB_ENOTFOUND : NB_EIO, "%s: cannot open %s: %s", what,
                        path, strerror(errno));
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    rc = nb_set_error(NB_EIO, "%s: %s is not a regular file", what, path);
  } else if ((unsigned long long)st.st_size > max) {
    rc = nb_set_error(NB_EIO, "%s: %s is %lld bytes, over the %zu this reader accepts", what,
                      path, (long long)st.st_size, max);
  } else {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    size_t n = (size_t)st.st_size, got = 0;
    unsigned char *b = malloc(n ? n : 1);
    if (!b) rc = nb_set_error(NB_ENOMEM, "%s: cannot allocate %zu bytes for %s", what, n, path);
    while (b && got < n) { /* a file that shrank while being read is a short read */
      ssize_t r = read(fd, b + got, n - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        rc = nb_set_error(NB_EIO, "%s: reading %s failed: %s", what, path,
                          r < 0 ? strerror(errno) : "short read");
        break;
      }
      got += (size_t)r;
    }
    if (rc < 0) free(b);
    else *buf = b, *size = n;
  }
  close(fd);
  return rc;
}
