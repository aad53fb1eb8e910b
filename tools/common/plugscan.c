/* tools/common/plugscan.c — see plugscan.h.
 *
 * The child reports over a pipe in NUL-terminated records (file names may hold any byte
 * but NUL): "P<i>:<path>" names the i-th file found on the search path, "F<i>" starts
 * loading file i, "D<i>" finished it, "X<status>" a plugin called exit(status), "E" the
 * scan is complete. A child that dies between an F and its D names its culprit.
 */
#include "plugscan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nabla/nabla.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ROUNDS 64 /* children started for one scan: gives up past 63 culprits */

unsigned plugscan_timeout(void) {
  const char *t = getenv("NABLA_PLUGIN_SCAN_TIMEOUT");
  if (!t || !*t) t = getenv("NABLA_INSPECT_TIMEOUT");
  long v = t && *t ? strtol(t, NULL, 10) : 60;
  return v > 0 && v < 86400 ? (unsigned)v : 60;
}

const char *plugscan_signal_name(int sig) {
  switch (sig) {
  case SIGSEGV: return "SIGSEGV";
  case SIGBUS: return "SIGBUS";
  case SIGILL: return "SIGILL";
  case SIGFPE: return "SIGFPE";
  case SIGABRT: return "SIGABRT";
  case SIGALRM: return "SIGALRM";
  case SIGKILL: return "SIGKILL";
  case SIGTERM: return "SIGTERM";
  case SIGTRAP: return "SIGTRAP";
  case SIGSYS: return "SIGSYS";
  case SIGPIPE: return "SIGPIPE";
  }
  static _Thread_local char buf[32];
  snprintf(buf, sizeof buf, "signal %d", sig);
  return buf;
}

void plugscan_describe(int wstatus, bool exit_called, plugscan_bad *out) {
  out->signal = 0;
  out->exit_status = -1;
  if (WIFSIGNALED(wstatus)) {
    int sig = WTERMSIG(wstatus);
    out->signal = sig;
    out->state = sig == SIGALRM ? "timeout" : "crashed";
    if (sig == SIGALRM)
      snprintf(out->message, sizeof out->message, "the plugin did not finish loading within %u s "
               "(killed by SIGALRM)", plugscan_timeout());
    else
      snprintf(out->message, sizeof out->message, "the plugin crashed while loading: killed by %s (%s)",
               plugscan_signal_name(sig), strsignal(sig));
  } else {
    int st = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    out->state = "exited";
    out->exit_status = st;
    if (exit_called)
      snprintf(out->message, sizeof out->message, "plugin called exit(%d) during loading", st);
    else
      snprintf(out->message, sizeof out->message, "plugin ended the process with status %d during "
               "loading (without calling exit(): _exit, or a sanitizer stopped it)", st);
  }
}

/* ---- the child ------------------------------------------------------------------------- */

static int g_guard_fd = -1;

static void put(int fd, char type, const char *payload) {
  if (fd < 0) return;
  size_t n = strlen(payload);
  char *rec = malloc(n + 2);
  if (!rec) return;
  rec[0] = type;
  memcpy(rec + 1, payload, n + 1);
  const char *p = rec;
  for (size_t left = n + 2; left;) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    p += w;
    left -= (size_t)w;
  }
  free(rec);
}

#ifdef __GLIBC__
static void record_exit(int status, void *arg) {
  (void)arg;
  char rec[24];
  int n = snprintf(rec, sizeof rec, "X%d", status);
  if (g_guard_fd >= 0 && write(g_guard_fd, rec, (size_t)n + 1) < 0) { /* nothing to do */ }
  _exit(status);
}
#else
static void record_exit(void) {
  if (g_guard_fd >= 0 && write(g_guard_fd, "X-1", 4) < 0) { /* nothing to do */ }
  _exit(1);
}
#endif

void plugscan_child_guard(int fd) {
  static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
  sigset_t set;
  sigemptyset(&set);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    signal(sigs[i], SIG_DFL);
    sigaddset(&set, sigs[i]);
  }
  sigaddset(&set, SIGALRM);
  signal(SIGALRM, SIG_DFL);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  g_guard_fd = fd;
#ifdef __GLIBC__
  on_exit(record_exit, NULL); /* registered last, so it runs first: nothing else runs */
#else
  atexit(record_exit);
#endif
}

static void quiet_log(int level, const char *msg, void *user) { (void)level, (void)msg, (void)user; }

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* realpath, or a copy of path when it cannot be resolved. */
static char *resolved(const char *path) {
  char *r = realpath(path, NULL);
  return r ? r : strdup(path);
}

static bool known_bad(const plugscan *s, const char *path) {
  if (!s->n_bad) return false;
  char *r = resolved(path);
  bool hit = false;
  for (int i = 0; r && i < s->n_bad && !hit; i++) {
    char *b = resolved(s->bad[i].path);
    hit = b && strcmp(b, r) == 0;
    free(b);
  }
  free(r);
  return hit;
}

static void load_one(const plugscan *s, int fd, int i, const char *path) {
  if (known_bad(s, path)) return;
  char num[24];
  snprintf(num, sizeof num, "%d", i);
  put(fd, 'F', num);
  alarm(plugscan_timeout());
  nb_plugin_load(path);
  alarm(0);
  put(fd, 'D', num);
}

/* Load everything as discovery would, reporting each file; never returns. */
static _Noreturn void scan_child(const plugscan *s, int fd, const char *const *dirs, int n_dirs) {
  plugscan_child_guard(fd);
  nb_set_log_callback(quiet_log, NULL);
  /* The parent reports casualties and loads the survivors itself (where their warnings
   * show); the core's own crash notice from this child would only corrupt its output. */
  int devnull = open("/dev/null", O_WRONLY);
  if (devnull >= 0) {
    dup2(devnull, STDERR_FILENO);
    close(devnull);
  }
  for (int i = 0; i < s->n_explicit; i++) load_one(s, fd, i, s->files[i]);
  for (int k = 0; k < n_dirs; k++) nb_plugin_add_path(dirs[k]);
  int idx = s->n_explicit;
  for (int p = 0, np = nb_plugin_path_count(); p < np; p++) { /* as plugin.c's scan_dir */
    const char *dir = nb_plugin_path_at(p, NULL);
    DIR *dp = dir ? opendir(dir) : NULL;
    if (!dp) continue;
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *de; (de = readdir(dp));) {
      size_t len = strlen(de->d_name);
      if (len <= 3 || de->d_name[0] == '.' || strcmp(de->d_name + len - 3, ".so") != 0) continue;
      if (n == cap) {
        cap = cap ? 2 * cap : 32;
        char **nn = realloc(names, cap * sizeof *nn);
        if (!nn) break;
        names = nn;
      }
      if (!(names[n] = strdup(de->d_name))) break;
      n++;
    }
    closedir(dp);
    if (n) qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
      char path[PATH_MAX];
      struct stat st;
      if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) < (int)sizeof path &&
          !(stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
        char *rec = malloc(strlen(path) + 32);
        if (rec) {
          sprintf(rec, "%d:%s", idx, path);
          put(fd, 'P', rec);
          free(rec);
        }
        load_one(s, fd, idx++, path);
      }
      free(names[i]);
    }
    free(names);
  }
  put(fd, 'E', "");
  _exit(0);
}

/* ---- the parent ------------------------------------------------------------------------ */

static int set_file(plugscan *s, int i, const char *path) {
  if (i < 0 || i > s->n_files) return -1; /* files come in order */
  if (i < s->n_files) return 0;
  char **nf = realloc(s->files, (size_t)(i + 1) * sizeof *nf);
  bool *nb = realloc(s->is_bad, (size_t)(i + 1) * sizeof *nb);
  if (nf) s->files = nf;
  if (nb) s->is_bad = nb;
  if (!nf || !nb || !(s->files[i] = strdup(path))) return -1;
  s->is_bad[i] = false;
  s->n_files = i + 1;
  return 0;
}

static int add_bad(plugscan *s, const char *path, const plugscan_bad *what) {
  plugscan_bad *nb = realloc(s->bad, (size_t)(s->n_bad + 1) * sizeof *nb);
  if (!nb) return -1;
  s->bad = nb;
  s->bad[s->n_bad] = *what;
  if (!(s->bad[s->n_bad].path = resolved(path))) return -1; /* as the load report names files */
  s->n_bad++;
  return 0;
}

/* Read the child's records until it is gone (EOF, or no data and the child reaped: a
 * grandchild may hold the pipe open); returns the malloc'ed bytes, NUL-terminated. */
static char *read_child(int fd, pid_t pid, int *wstatus, size_t *len) {
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  bool reaped = false;
  while (buf) {
    if (cap - n < 1024) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) break;
      buf = nb;
      cap *= 2;
    }
    struct pollfd pf = {fd, POLLIN, 0};
    int pr = poll(&pf, 1, reaped ? 0 : 100);
    if (pr < 0 && errno == EINTR) continue;
    if (pr > 0) {
      ssize_t r = read(fd, buf + n, cap - n - 1);
      if (r < 0 && errno == EINTR) continue;
      if (r > 0) {
        n += (size_t)r;
        continue;
      }
      break; /* EOF or error */
    }
    if (reaped) break; /* drained */
    if (waitpid(pid, wstatus, WNOHANG) == pid) reaped = true;
  }
  if (!reaped)
    while (waitpid(pid, wstatus, 0) < 0 && errno == EINTR) {}
  if (buf) buf[n] = '\0';
  *len = n;
  return buf;
}

int plugscan_run(plugscan *s, const char *const *dirs, int n_dirs, const char *const *files,
                 int n_files) {
  memset(s, 0, sizeof *s);
  for (int i = 0; i < n_files; i++)
    if (set_file(s, i, files[i]) < 0) goto oom;
  s->n_explicit = n_files;
  for (int round = 0; round < MAX_ROUNDS; round++) {
    int p[2];
    if (pipe(p) < 0) {
      snprintf(s->error, sizeof s->error, "cannot create a pipe for the plugin scan: %s", strerror(errno));
      return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
      snprintf(s->error, sizeof s->error, "cannot fork the plugin scan: %s", strerror(errno));
      close(p[0]);
      close(p[1]);
      return -1;
    }
    if (pid == 0) {
      close(p[0]);
      scan_child(s, p[1], dirs, n_dirs);
    }
    close(p[1]);
    int wstatus = 0;
    size_t len = 0;
    char *buf = read_child(p[0], pid, &wstatus, &len);
    close(p[0]);
    if (!buf) goto oom;
    int current = -1;
    bool ended = false, exit_called = false;
    for (size_t at = 0; at < len; at += strlen(buf + at) + 1) {
      const char *r = buf + at;
      if (r[0] == 'P') {
        char *colon;
        long i = strtol(r + 1, &colon, 10);
        if (*colon == ':' && set_file(s, (int)i, colon + 1) < 0) {
          free(buf);
          goto oom;
        }
      } else if (r[0] == 'F') {
        current = atoi(r + 1);
      } else if (r[0] == 'D') {
        current = -1;
      } else if (r[0] == 'X') {
        exit_called = true;
      } else if (r[0] == 'E') {
        ended = true;
      }
    }
    free(buf);
    if (ended && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return 0;
    if (current < 0 || current >= s->n_files) {
      plugscan_bad what;
      plugscan_describe(wstatus, exit_called, &what);
      snprintf(s->error, sizeof s->error, "the plugin scan process ended outside any plugin's "
               "loading: %s", what.message);
      return -1;
    }
    plugscan_bad what;
    plugscan_describe(wstatus, exit_called, &what);
    if (add_bad(s, s->files[current], &what) < 0) goto oom;
    s->is_bad[current] = true;
  }
  snprintf(s->error, sizeof s->error, "more than %d plugins crashed while loading; giving up",
           MAX_ROUNDS - 1);
  return -1;
oom:
  snprintf(s->error, sizeof s->error, "out of memory in the plugin scan");
  return -1;
}

const plugscan_bad *plugscan_find(const plugscan *s, const char *path) {
  if (!s->n_bad || !path) return NULL;
  char *r = resolved(path);
  const plugscan_bad *hit = NULL;
  for (int i = 0; r && i < s->n_bad && !hit; i++) {
    char *b = resolved(s->bad[i].path);
    if (b && strcmp(b, r) == 0) hit = &s->bad[i];
    free(b);
  }
  free(r);
  return hit;
}

static char *save_env(const char *name) {
  const char *v = getenv(name);
  return v ? strdup(v) : NULL;
}
static void restore_env(const char *name, char *old) {
  if (old) setenv(name, old, 1);
  else unsetenv(name);
  free(old);
}

int plugscan_load_discovered(plugscan *s, const char *const *dirs, int n_dirs) {
  bool any = false;
  for (int i = s->n_explicit; i < s->n_files; i++) any |= plugscan_find(s, s->files[i]) != NULL;
  if (!any) { /* the usual case: discovery as it is */
    for (int k = 0; k < n_dirs; k++) nb_plugin_add_path(dirs[k]);
    return nb_plugins_load_all();
  }
  const char *tmp = getenv("TMPDIR");
  char shadow[PATH_MAX];
  snprintf(shadow, sizeof shadow, "%s/nabla-plugins.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(shadow)) {
    snprintf(s->error, sizeof s->error, "cannot create a directory for the plugins that survived "
             "the scan (%.300s): %s", shadow, strerror(errno));
    return -1;
  }
  int n_links = 0;
  for (int i = s->n_explicit; i < s->n_files; i++) {
    if (plugscan_find(s, s->files[i])) continue;
    char *real = realpath(s->files[i], NULL), link[PATH_MAX + 16];
    if (!real) { /* the core would report it; so do we, with the path as found */
      plugscan_bad what = {.state = "failed", .exit_status = -1};
      snprintf(what.message, sizeof what.message, "cannot resolve the path: %s", strerror(errno));
      add_bad(s, s->files[i], &what);
      continue;
    }
    snprintf(link, sizeof link, "%s/%06d.so", shadow, n_links);
    if (symlink(real, link) == 0) n_links++;
    free(real);
  }
  char *old_path = save_env("NABLA_PLUGIN_PATH"), *old_sys = save_env("NABLA_PLUGIN_SYSTEM_PATH");
  setenv("NABLA_PLUGIN_PATH", shadow, 1);
  setenv("NABLA_PLUGIN_SYSTEM_PATH", "", 1);
  /* The core reads the environment once: make sure it reads it now, not earlier. */
  const char *first = nb_plugin_path_count() == 1 ? nb_plugin_path_at(0, NULL) : NULL;
  int rc;
  if (first && strcmp(first, shadow) == 0) {
    rc = nb_plugins_load_all();
  } else {
    snprintf(s->error, sizeof s->error, "the plugin search path was read before the plugins that "
             "crashed in the scan could be left out; not loading any");
    rc = -1;
  }
  restore_env("NABLA_PLUGIN_PATH", old_path);
  restore_env("NABLA_PLUGIN_SYSTEM_PATH", old_sys);
  for (int i = 0; i < n_links; i++) {
    char link[PATH_MAX + 16];
    snprintf(link, sizeof link, "%s/%06d.so", shadow, i);
    unlink(link);
  }
  rmdir(shadow);
  return rc;
}

void plugscan_free(plugscan *s) {
  for (int i = 0; i < s->n_bad; i++) free(s->bad[i].path);
  for (int i = 0; i < s->n_files; i++) free(s->files[i]);
  free(s->bad);
  free(s->files);
  free(s->is_bad);
  memset(s, 0, sizeof *s);
}
