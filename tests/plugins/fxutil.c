/* tests/plugins/fxutil.c — see fxutil.h. */
#include "fxutil.h"

#include <fcntl.h>
#include <ftw.h>
#include <nabla/nabla.h>
#include <nabla/harness.h>
#include <nabla/sdk.h> /* descriptors and kernel services, read by the harness and the tests */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must be defined by meson"
#endif

const char *fx_path(const char *name) {
  static char ring[8][4096];
  static int k;
  char *b = ring[k++ % 8];
  snprintf(b, sizeof ring[0], "%s/%s.so", FIXTURE_DIR, name);
  return b;
}

static char g_dirs[16][256];
static int g_ndirs;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void cleanup(void) {
  for (int i = 0; i < g_ndirs; i++)
    if (nftw(g_dirs[i], remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
      fprintf(stderr, "could not remove %s\n", g_dirs[i]);
  g_ndirs = 0;
}

const char *fx_tmpdir(void) {
  if (g_ndirs == 16) return NULL;
  if (g_ndirs == 0) atexit(cleanup);
  const char *tmp = getenv("TMPDIR");
  snprintf(g_dirs[g_ndirs], sizeof g_dirs[0], "%s/nabla-plugtest.XXXXXX", tmp ? tmp : "/tmp");
  if (!mkdtemp(g_dirs[g_ndirs])) return NULL;
  return g_dirs[g_ndirs++];
}

int fx_link(const char *dir, const char *file, const char *name) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  return symlink(fx_path(name), p);
}

int fx_copy(const char *dir, const char *file, const char *name) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  FILE *in = fopen(fx_path(name), "rb"), *out = fopen(p, "wb");
  int rc = in && out ? 0 : -1;
  char buf[65536];
  size_t n;
  while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, out) != n) rc = -1;
  if (in) fclose(in);
  if (out && fclose(out) != 0) rc = -1;
  return rc;
}

int fx_write(const char *dir, const char *file, const char *text) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  FILE *f = fopen(p, "w");
  if (!f) return -1;
  fputs(text, f);
  return fclose(f);
}

void fx_isolate(const char *dirs) {
  setenv("NABLA_PLUGIN_PATH", dirs, 1);
  setenv("NABLA_PLUGIN_SYSTEM_PATH", "", 1);
}

int fx_report_find(const char *suffix) {
  size_t sl = strlen(suffix);
  for (int i = 0; i < nb_plugin_report_count(); i++) {
    const char *p = nb_plugin_report_at(i)->path;
    size_t pl = strlen(p);
    if (pl >= sl && strcmp(p + pl - sl, suffix) == 0) return i;
  }
  return -1;
}

int fx_run(char *const argv[], char **out) {
  char tmpl[] = "/tmp/nabla-plugtest-out.XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return -1;
  unlink(tmpl);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    execv(argv[0], argv);
    _exit(127);
  }
  int status;
  if (waitpid(pid, &status, 0) < 0) return -1;
  off_t size = lseek(fd, 0, SEEK_END);
  *out = calloc((size_t)size + 1, 1);
  if (*out && size > 0 && pread(fd, *out, (size_t)size, 0) < 0) (*out)[0] = '\0';
  close(fd);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
