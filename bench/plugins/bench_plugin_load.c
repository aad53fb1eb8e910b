/* bench/plugins/bench_plugin_load.c — how long discovering and loading every plugin of
 * the build tree takes (target: < 20 ms), measured the way users feel it: fresh
 * processes, wall time, median of repeated runs.
 *
 *   nabla-bench-plugin-load [--runs N]   drive N runs of each mode below, print medians
 *   nabla-bench-plugin-load --once       one process: load everything, exit
 *   nabla-bench-plugin-load --baseline   one process that loads nothing (exec + linking)
 *
 * Without NABLA_PLUGIN_PATH set, the build tree's plugin directories are used (and the
 * system path is emptied). `--once` also works under hyperfine (see README.md).
 */
#include <nabla/nabla.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BUILD_PLUGIN_PATH
#define BUILD_PLUGIN_PATH ""
#endif

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Wall time of one fork+exec of ourselves with `mode`; -1 on failure. */
static double run_child(const char *self, const char *mode) {
  double t0 = now_ms();
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    execl(self, self, mode, (char *)NULL);
    _exit(127);
  }
  int status;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return now_ms() - t0;
}

static int load_once(bool report) {
  double t0 = now_ms();
  int rc = nb_plugins_load_all();
  double t = now_ms() - t0;
  if (rc < 0) {
    fprintf(stderr, "nb_plugins_load_all: %s\n", nb_last_error());
    return 1;
  }
  if (report) {
    int n = nb_plugin_report_count(), loaded = 0;
    for (int i = 0; i < n; i++) loaded += nb_plugin_report_at(i)->state == NB_PLUGIN_LOADED;
    printf("in-process nb_plugins_load_all: %.3f ms (%d of %d plugin files loaded, %d ops, "
           "%d optimizers)\n", t, loaded, n, nb_op_count(), nb_optim_count());
    if (loaded < n) printf("  some plugins did not load: see nabla-inspect --failed\n");
  }
  return 0;
}

int main(int argc, char **argv) {
  if (!getenv("NABLA_PLUGIN_PATH")) {
    setenv("NABLA_PLUGIN_PATH", BUILD_PLUGIN_PATH, 1);
    setenv("NABLA_PLUGIN_SYSTEM_PATH", "", 1);
  }
  setenv("NABLA_QUIET", "1", 0);
  int runs = 30;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--once")) return load_once(false);
    if (!strcmp(argv[i], "--baseline")) return 0;
    if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--runs N] | --once | --baseline\n", argv[0]);
      return 2;
    }
  }
  if (runs < 1 || runs > 10000) runs = 30;
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) {
    fprintf(stderr, "cannot find my own executable\n");
    return 1;
  }
  self[len] = '\0';
  double *with = calloc((size_t)runs, sizeof *with), *base = calloc((size_t)runs, sizeof *base);
  if (!with || !base) return 1;
  for (int w = 0; w < 3; w++) run_child(self, "--once"); /* warm the page cache */
  for (int r = 0; r < runs; r++) {
    base[r] = run_child(self, "--baseline");
    with[r] = run_child(self, "--once");
    if (with[r] < 0 || base[r] < 0) {
      fprintf(stderr, "a child run failed (run %s --once to see why)\n", self);
      return 1;
    }
  }
  printf("plugin path: %s\n", getenv("NABLA_PLUGIN_PATH"));
  double mw = median(with, runs), mb = median(base, runs);
  printf("process start + discover + load all plugins: median %.2f ms over %d runs "
         "(min %.2f, max %.2f)\n", mw, runs, with[0], with[runs - 1]);
  printf("process start only (baseline):                median %.2f ms\n", mb);
  printf("plugin discovery and loading:                 %.2f ms (target < 20 ms): %s\n", mw - mb,
         mw - mb < 20 ? "OK" : "SLOW");
  free(with);
  free(base);
  return load_once(true);
}
