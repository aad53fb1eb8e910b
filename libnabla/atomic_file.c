/* libnabla/atomic_file.c — atomic file replacement for every writer of the user library
 * (see atomic_file.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nabla/core.h>

#include "atomic_file.h"

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  return d ? memcpy(d, s, n) : NULL;
}

/* The file a save replaces: `path`, with symbolic links in its last component followed
 * (as editors do), so that saving through a link rewrites the link's target and keeps
 * the link. A dangling link names the file to create. Directory components are left to
 * the kernel. Returns a malloc'ed path, or NULL with errno set. */
static char *save_target(const char *path) {
  char *cur = dup_str(path);
  for (int depth = 0; cur && depth < 40; depth++) {
    struct stat st;
    if (lstat(cur, &st) < 0 || !S_ISLNK(st.st_mode)) return cur; /* absent: created there */
    char link[4096];
    ssize_t n = readlink(cur, link, sizeof link);
    if (n < 0 || (size_t)n >= sizeof link) {
      if (n >= 0) errno = ENAMETOOLONG;
      free(cur);
      return NULL;
    }
    link[n] = '\0';
    const char *slash = strrchr(cur, '/');
    size_t keep = link[0] == '/' || !slash ? 0 : (size_t)(slash - cur) + 1; /* relative to the link's directory */
    char *next = malloc(keep + (size_t)n + 1);
    if (next) {
      memcpy(next, cur, keep);
      memcpy(next + keep, link, (size_t)n + 1);
    }
    free(cur);
    cur = next;
  }
  if (cur) errno = ELOOP;
  else errno = ENOMEM;
  free(cur);
  return NULL;
}

/* Temporary files are written next to the target (so the rename is atomic) under a short
 * name of their own, whatever the target's name length: ".nbtmp.<pid>.<16 hex digits>".
 * The writer holds an flock on it until the rename. A save killed half-way leaves one
 * behind; the next save into the same directory removes every such file whose process
 * is gone and which nobody holds locked (both, so that neither a reused pid nor a writer
 * on another host sharing the directory is mistaken for a dead one). */
#define TMP_PREFIX ".nbtmp."

/* The pid in a temporary file name of ours, or 0 if `name` is not one. */
static long tmp_name_pid(const char *name) {
  if (strncmp(name, TMP_PREFIX, sizeof TMP_PREFIX - 1) != 0) return 0;
  const char *p = name + sizeof TMP_PREFIX - 1, *digits = p;
  long pid = 0;
  while (*p >= '0' && *p <= '9' && p - digits < 10) pid = pid * 10 + (*p++ - '0');
  if (p == digits || *p++ != '.') return 0;
  size_t hex = strspn(p, "0123456789abcdef");
  return hex == 16 && !p[hex] && pid <= INT_MAX ? pid : 0;
}

static void remove_stale_temporaries(int dfd) {
  int dup_fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dp = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
  if (!dp) {
    if (dup_fd >= 0) close(dup_fd);
    return;
  }
  for (struct dirent *de; (de = readdir(dp));) {
    long pid = tmp_name_pid(de->d_name);
    if (pid <= 0 || pid == (long)getpid()) continue; /* not ours, or this process's own */
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* that process is alive */
    int fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) continue;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0)
      unlinkat(dfd, de->d_name, 0);
    close(fd);
  }
  closedir(dp);
}

/* Create and lock a new temporary file in dfd; its name goes to name[48]. */
static int create_temporary(int dfd, char name[48]) {
  static unsigned counter;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t x = ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 40) ^
               (uint64_t)(uintptr_t)name;
  for (int attempt = 0; attempt < 100; attempt++) {
    uint64_t z = x + 0x9E3779B97F4A7C15ull * (__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED) + 1u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull; /* splitmix64 */
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    snprintf(name, 48, TMP_PREFIX "%ld.%016" PRIx64, (long)getpid(), z);
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
    if (fd >= 0) {
      flock(fd, LOCK_EX | LOCK_NB); /* fresh file: cannot be held; best effort (ENOLCK) */
      return fd;
    }
    if (errno != EEXIST) return -1;
  }
  errno = EEXIST;
  return -1;
}

static void release(nb__atomic_file *af) {
  if (af->fd >= 0) close(af->fd);
  if (af->dfd >= 0) close(af->dfd);
  free(af->target);
  af->fd = af->dfd = -1;
  af->target = NULL;
}

int nb__atomic_open(nb__atomic_file *af, const char *path, const char *what) {
  *af = (nb__atomic_file){.fd = -1, .dfd = -1, .what = what};
  if (!path || !path[0]) return nb_set_error(NB_EINVAL, "%s: empty path", what);
  if (!(af->target = save_target(path)))
    return nb_set_error(errno == ENOMEM ? NB_ENOMEM : NB_EIO, "%s: cannot follow the link %s: %s",
                        what, path, strerror(errno));
  char *slash = strrchr(af->target, '/');
  af->base = slash ? slash + 1 : af->target;
  int rc = 0;
  if (!af->base[0]) {
    rc = nb_set_error(NB_EINVAL, "%s: %s names a directory, not a file", what, path);
  } else { /* the directory, opened once: temporary, rename and fsync all go there */
    if (slash == af->target) af->dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    else if (slash) {
      *slash = '\0';
      af->dfd = open(af->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      *slash = '/';
    } else af->dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (af->dfd < 0)
      rc = nb_set_error(NB_EIO, "%s: cannot open the directory of %s: %s", what, af->target,
                        strerror(errno));
  }
  if (!rc) {
    remove_stale_temporaries(af->dfd);
    if ((af->fd = create_temporary(af->dfd, af->tmp)) < 0)
      rc = nb_set_error(NB_EIO, "%s: cannot create a temporary file next to %s: %s", what,
                        af->target, strerror(errno));
  }
  if (rc) release(af);
  return rc;
}

int nb__atomic_commit(nb__atomic_file *af) {
  int rc = 0;
  if (fsync(af->fd) < 0)
    rc = nb_set_error(NB_EIO, "%s: writing %s (temporary file for %s) failed: %s", af->what,
                      af->tmp, af->target, strerror(errno));
  if (!rc && renameat(af->dfd, af->tmp, af->dfd, af->base) < 0)
    rc = nb_set_error(NB_EIO, "%s: renaming %s to %s failed: %s", af->what, af->tmp, af->target,
                      strerror(errno));
  if (rc) unlinkat(af->dfd, af->tmp, 0);
  else fsync(af->dfd); /* the rename itself survives a crash */
  release(af); /* closes the temporary after the rename: its lock marks it live until then */
  return rc;
}

void nb__atomic_abort(nb__atomic_file *af) {
  if (af->dfd >= 0 && af->tmp[0]) unlinkat(af->dfd, af->tmp, 0);
  release(af);
}

int nb__write_file_atomic(const char *path, const void *data, size_t size, const char *what) {
  nb__atomic_file af;
  int rc = nb__atomic_open(&af, path, what);
  if (rc < 0) return rc;
  const char *p = data;
  while (size > 0) {
    ssize_t w = write(af.fd, p, size);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      rc = nb_set_error(NB_EIO, "%s: writing %s (temporary file for %s) failed: %s", what, af.tmp,
                        af.target, w < 0 ? strerror(errno) : "no progress");
      nb__atomic_abort(&af);
      return rc;
    }
    p += w;
    size -= (size_t)w;
  }
  return nb__atomic_commit(&af);
}
