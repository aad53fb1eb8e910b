/* tools/gradcheck/runner.c — run one op's checks in a forked child.
 *
 * The child writes progress lines ("S <sample> <desc>") and finally its result
 * ("R <json>") to a pipe. The parent reads with a deadline; a child that dies by a
 * signal, exits without a result or runs past the timeout is reported by name, naming
 * the sample it was in, and the run goes on with the next op.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gradcheck.h"

static const char *signal_name(int sig) {
  static const struct {
    int sig;
    const char *name;
  } names[] = {{SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},   {SIGILL, "SIGILL"},
               {SIGABRT, "SIGABRT"}, {SIGKILL, "SIGKILL"}, {SIGTERM, "SIGTERM"}, {SIGTRAP, "SIGTRAP"},
               {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGXCPU, "SIGXCPU"}, {SIGSYS, "SIGSYS"},
               {SIGINT, "SIGINT"},   {SIGHUP, "SIGHUP"}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (names[i].sig == sig) return names[i].name;
  return "signal";
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static cJSON *run_here(const nb_op *op, const gc_opts *o, gc_child_fn fn) {
  gc_result r;
  gc_result_init(&r, op);
  fn(op, o, &r);
  return gc_result_finish(&r);
}

static void child_main(int fd, const nb_op *op, const gc_opts *o, gc_child_fn fn) {
  /* Crashes should kill the child with their signal (not be turned into a sanitizer
   * exit), so the parent can name them. */
  signal(SIGSEGV, SIG_DFL);
  signal(SIGBUS, SIG_DFL);
  signal(SIGFPE, SIG_DFL);
  signal(SIGILL, SIG_DFL);
  gc_progress_open(fd);
  cJSON *res = run_here(op, o, fn);
  char *s = res ? cJSON_PrintUnformatted(res) : NULL;
  if (s) gc_report_result(s);
  _exit(s ? 0 : 3);
}

/* The child's output: the result line and the last progress line. */
static cJSON *parse_output(char *buf, int *last_sample, char *last_desc, size_t desc_size) {
  cJSON *res = NULL;
  for (char *line = buf; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    if (line[0] == 'R' && line[1] == ' ') {
      cJSON_Delete(res);
      res = cJSON_Parse(line + 2);
    } else if (line[0] == 'S' && line[1] == ' ') {
      char *end = NULL;
      *last_sample = (int)strtol(line + 2, &end, 10);
      snprintf(last_desc, desc_size, "%s", end && *end == ' ' ? end + 1 : "");
    }
    line = nl ? nl + 1 : NULL;
  }
  return res;
}

static cJSON *died(const nb_op *op, const char *verdict, const char *how, int sample,
                   const char *desc) {
  gc_result r;
  gc_result_init(&r, op);
  r.cur_desc = desc;
  if (sample >= 0)
    gc_fail(&r, sample, "child", -1, -1, NULL, "%s", how);
  else
    gc_fail(&r, -1, "child", -1, -1, NULL, "%s while collecting samples", how);
  cJSON *j = gc_result_finish(&r);
  cJSON_ReplaceItemInObject(j, "verdict", cJSON_CreateString(verdict));
  return j;
}

cJSON *gc_run_isolated(const nb_op *op, const gc_opts *o, gc_child_fn fn) {
  if (!o->fork) return run_here(op, o, fn);
  fflush(stdout);
  fflush(stderr);
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    perror("nabla-gradcheck: pipe");
    return run_here(op, o, fn);
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("nabla-gradcheck: fork");
    close(p[0]);
    close(p[1]);
    return run_here(op, o, fn);
  }
  if (pid == 0) {
    close(p[0]);
    child_main(p[1], op, o, fn);
  }
  close(p[1]);
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  double deadline = o->timeout > 0 ? now_s() + o->timeout : 0;
  bool timed_out = false;
  for (;;) {
    int wait_ms = -1;
    if (deadline > 0) {
      double left = deadline - now_s();
      if (left <= 0) {
        timed_out = true;
        break;
      }
      wait_ms = (int)(left * 1000) + 1;
    }
    struct pollfd pfd = {.fd = p[0], .events = POLLIN};
    int pr = poll(&pfd, 1, wait_ms);
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) continue; /* deadline re-checked above */
    if (len + 4096 + 1 > cap) {
      char *nb = buf ? realloc(buf, cap * 2) : NULL;
      if (!nb) break;
      buf = nb;
      cap *= 2;
    }
    if (!buf) break;
    ssize_t rd = read(p[0], buf + len, cap - len - 1);
    if (rd < 0 && errno == EINTR) continue;
    if (rd <= 0) break;
    len += (size_t)rd;
  }
  close(p[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (buf) buf[len] = '\0';
  int last = -1;
  char desc[256] = "";
  cJSON *res = buf ? parse_output(buf, &last, desc, sizeof desc) : NULL;
  free(buf);
  char how[160];
  if (timed_out) {
    cJSON_Delete(res);
    snprintf(how, sizeof how, "timed out after %g s (killed)", o->timeout);
    return died(op, "timeout", how, last, desc);
  }
  if (WIFSIGNALED(status)) {
    cJSON_Delete(res);
    int sig = WTERMSIG(status);
    snprintf(how, sizeof how, "crashed with %s (%s)", signal_name(sig), strsignal(sig));
    return died(op, "crashed", how, last, desc);
  }
  if (!res || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    cJSON_Delete(res);
    snprintf(how, sizeof how, "child exited with status %d without a result (exit() or a sanitizer report in op code?)",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return died(op, "crashed", how, last, desc);
  }
  return res;
}
