/* nabla-inspect — explain the plugins nabla sees (see spec/plugins.md).
 *
 *   nabla-inspect                 every loaded plugin with its ops / optimizers /
 *                                 communication backends, then the core's built-in ones
 *   nabla-inspect OP              an op's (or optimizer's, backend's, plugin's) schema
 *   nabla-inspect FILE.so         load and validate just that file, in a child process
 *   nabla-inspect --failed        every plugin that did not load, and why
 *   nabla-inspect --paths         the search path and where each entry came from
 *   --json                        machine-readable output for any mode
 *   --plugin-path DIR             search DIR first (repeatable)
 *
 * Plugins are loaded in a child process first (tools/common/plugscan.h): one that
 * crashes, hangs or calls exit() while loading is listed as such, and the tool loads the
 * others. FILE.so is loaded only in a child, which reports a crash or an exit() too.
 *
 * Exit status: 0 on success, 1 when the thing asked about is missing or a FILE.so
 * fails (or crashes), 2 on a usage error.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inspect.h"

static bool g_json;
static const char *g_dirs[64]; /* --plugin-path, in order */
static int g_ndirs;
static plugscan g_scan;        /* the files that crashed or exited in the scan */

static void usage(FILE *f) {
  fprintf(f,
          "Usage: nabla-inspect [--json] [--plugin-path DIR]... [OP | OPTIMIZER | BACKEND | PLUGIN | FILE.so]\n"
          "       nabla-inspect [--json] [--plugin-path DIR]... --failed | --paths\n"
          "\n"
          "  (no argument)      list every loaded plugin with the ops, optimizers and\n"
          "                     communication backends it provides\n"
          "  OP                 show an op's schema: inputs, dtypes, attributes, docs\n"
          "  OPTIMIZER          show an optimizer's hyperparameters\n"
          "  BACKEND            show a communication backend (mpi, single, ...)\n"
          "  PLUGIN             show one plugin (by name)\n"
          "  FILE.so            load and validate just that file in a child process\n"
          "  --failed           list every plugin that did not load and why\n"
          "  --paths            show the plugin search path and where each entry came from\n"
          "  --json             print JSON instead of text\n"
          "  --plugin-path DIR  search DIR before NABLA_PLUGIN_PATH (repeatable)\n"
          "  -h, --help         show this help\n"
          "\n"
          "Environment: NABLA_PLUGIN_PATH (colon-separated directories searched first),\n"
          "NABLA_PLUGIN_SYSTEM_PATH (replaces the default directory when set, even empty).\n"
          "Exit status: 0 ok, 1 not found or FILE.so failed, 2 usage error.\n");
}

/* Print (and free) a tree as JSON or via a text renderer. */
static void emit(cJSON *tree, void (*text)(FILE *, const cJSON *)) {
  if (g_json) {
    char *s = cJSON_Print(tree);
    if (s) puts(s);
    free(s);
  } else {
    text(stdout, tree);
  }
  cJSON_Delete(tree);
}

static int fail(const char *fmt, const char *arg, const char *why) {
  if (g_json) {
    cJSON *o = cJSON_CreateObject();
    char msg[4096];
    snprintf(msg, sizeof msg, fmt, arg);
    cJSON_AddStringToObject(o, "error", msg);
    cJSON_AddStringToObject(o, "why", why ? why : "");
    char *s = cJSON_Print(o);
    if (s) puts(s);
    free(s);
    cJSON_Delete(o);
  } else {
    fprintf(stderr, "nabla-inspect: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "%s%s\n", why && why[0] ? ": " : "", why ? why : "");
  }
  return 1;
}

static void render_plugin_full(FILE *f, const cJSON *p) { render_plugin(f, p, true); }

/* Scan the plugins in a child, then load those that survived. Returns 0, or 2 if the
 * crashing ones could not be kept out. */
static int load_plugins(void) {
  if (plugscan_run(&g_scan, g_dirs, g_ndirs, NULL, 0) < 0) { /* no child: load directly */
    fprintf(stderr, "nabla-inspect: warning: %s; loading plugins without a scan\n", g_scan.error);
    for (int k = 0; k < g_ndirs; k++) nb_plugin_add_path(g_dirs[k]);
    nb_plugins_load_all();
    return 0;
  }
  if (plugscan_load_discovered(&g_scan, g_dirs, g_ndirs) < 0 && g_scan.error[0]) {
    fprintf(stderr, "nabla-inspect: %s\n", g_scan.error);
    return 2;
  }
  return 0;
}

/* ---- modes ----------------------------------------------------------------------------- */

static int mode_list(void) {
  if (load_plugins()) return 2;
  int n = nb_plugin_report_count(), loaded = 0, ops = 0, optims = 0, comms = 0;
  cJSON *all = cJSON_CreateArray();
  for (int i = 0; i < n; i++) {
    const nb_plugin_info *p = nb_plugin_report_at(i);
    if (p->state != NB_PLUGIN_LOADED) continue;
    loaded++;
    ops += p->n_ops;
    optims += p->n_optimizers;
    comms += p->n_comms;
    cJSON *d = inspect_describe_plugin(i);
    if (!g_json) {
      render_plugin(stdout, d, false);
      putchar('\n');
    }
    cJSON_AddItemToArray(all, d);
  }
  /* files that crashed, hung or exited while loading are named even here: any program
   * loading plugins from this search path dies with them */
  cJSON *crashed = cJSON_CreateArray();
  for (int i = 0; i < g_scan.n_bad; i++) {
    cJSON *d = inspect_describe_bad(&g_scan.bad[i]);
    if (!g_json) {
      render_plugin(stdout, d, false);
      putchar('\n');
    }
    cJSON_AddItemToArray(crashed, d);
  }
  n += g_scan.n_bad;
  if (g_json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "plugins", all);
    cJSON_AddItemToObject(o, "crashed", crashed);
    cJSON_AddNumberToObject(o, "ops", ops);
    cJSON_AddNumberToObject(o, "optimizers", optims);
    cJSON_AddNumberToObject(o, "comms", comms);
    cJSON *builtin = cJSON_AddArrayToObject(o, "builtin_comms");
    for (int i = 0, c = nb_comm_count(); i < c; i++)
      if (strcmp(nb_comm_plugin_name(nb_comm_at(i)), "core") == 0)
        cJSON_AddItemToArray(builtin, cJSON_CreateString(nb_comm_descriptor(nb_comm_at(i))->name));
    cJSON_AddNumberToObject(o, "not_loaded", n - loaded);
    emit(o, NULL);
    return 0;
  }
  cJSON_Delete(all);
  cJSON_Delete(crashed);
  printf("%d plugin%s loaded: %d op%s, %d optimizer%s", loaded, loaded == 1 ? "" : "s", ops,
         ops == 1 ? "" : "s", optims, optims == 1 ? "" : "s");
  if (comms) printf(", %d communication backend%s", comms, comms == 1 ? "" : "s");
  putchar('.');
  if (n - loaded)
    printf(" %d plugin file%s did not load (nabla-inspect --failed).", n - loaded,
           n - loaded == 1 ? "" : "s");
  if (g_scan.n_bad)
    printf(" %d crashed, hung or exited while loading (listed above).", g_scan.n_bad);
  if (n == 0) printf(" No plugin files found (nabla-inspect --paths).");
  putchar('\n');
  printf("Built into the core: communication backend");
  for (int i = 0, k = 0, c = nb_comm_count(); i < c; i++)
    if (strcmp(nb_comm_plugin_name(nb_comm_at(i)), "core") == 0)
      printf("%s %s", k++ ? "," : "", nb_comm_descriptor(nb_comm_at(i))->name);
  printf(".\n");
  return 0;
}

static int mode_failed(void) {
  if (load_plugins()) return 2;
  int n = nb_plugin_report_count(), bad = 0, warned = 0;
  cJSON *failed = cJSON_CreateArray(), *warnings = cJSON_CreateArray();
  for (int i = 0; i < g_scan.n_bad; i++, bad++) {
    cJSON *d = inspect_describe_bad(&g_scan.bad[i]);
    if (!g_json) {
      render_plugin(stdout, d, false);
      putchar('\n');
    }
    cJSON_AddItemToArray(failed, d);
  }
  for (int i = 0; i < n; i++) {
    const nb_plugin_info *p = nb_plugin_report_at(i);
    if (p->state == NB_PLUGIN_LOADED && !p->message[0]) continue;
    cJSON *d = inspect_describe_plugin(i);
    if (!g_json) {
      render_plugin(stdout, d, false);
      putchar('\n');
    }
    if (p->state == NB_PLUGIN_LOADED) warned++;
    else bad++;
    cJSON_AddItemToArray(p->state == NB_PLUGIN_LOADED ? warnings : failed, d);
  }
  if (g_json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "failed", failed);
    cJSON_AddItemToObject(o, "warnings", warnings);
    emit(o, NULL);
    return 0;
  }
  cJSON_Delete(failed);
  cJSON_Delete(warnings);
  if (bad == 0) printf("All %d plugin file%s loaded.", n - warned, n - warned == 1 ? "" : "s");
  else printf("%d plugin file%s did not load.", bad, bad == 1 ? "" : "s");
  if (warned) printf(" %d loaded with warnings.", warned);
  putchar('\n');
  return 0;
}

static int mode_name(const char *name) {
  if (load_plugins()) return 2;
  const nb_op *op = nb_op_find(name);
  if (op) {
    emit(inspect_describe_op(op), render_op);
    return 0;
  }
  char *op_error = strdup(nb_last_error());
  const nb_optim_kind *k = nb_optim_find(name);
  if (k) {
    free(op_error);
    emit(inspect_describe_optim(k), render_optim);
    return 0;
  }
  const nb_comm_kind *c = nb_comm_find(name);
  if (c) {
    free(op_error);
    emit(inspect_describe_comm(c), render_comm);
    return 0;
  }
  for (int i = 0, n = nb_plugin_report_count(); i < n; i++) {
    const nb_plugin_info *p = nb_plugin_report_at(i);
    if (p->name && strcmp(p->name, name) == 0 && p->state == NB_PLUGIN_LOADED) {
      free(op_error);
      emit(inspect_describe_plugin(i), render_plugin_full);
      return 0;
    }
  }
  size_t len = strlen(op_error ? op_error : "") + 1;
  for (int i = 0; i < g_scan.n_bad; i++) len += strlen(g_scan.bad[i].path) + strlen(g_scan.bad[i].message) + 8;
  char *why = malloc(len);
  if (why) {
    snprintf(why, len, "%s", op_error ? op_error : "");
    for (int i = 0; i < g_scan.n_bad; i++) /* a crashed plugin may have been the one */
      snprintf(why + strlen(why), len - strlen(why), "; %s: %s", g_scan.bad[i].path, g_scan.bad[i].message);
  }
  int rc = fail("no op, optimizer, communication backend or plugin named '%s'", name, why ? why : op_error);
  free(why);
  free(op_error);
  return rc;
}

/* Child: load the file, print what it registered; exit 0 if it loaded. The record "E"
 * on fd tells the parent it got that far; a plugin calling exit() writes "X<status>". */
static void load_in_child(const char *file, int fd) {
  plugscan_child_guard(fd);
  alarm(plugscan_timeout());
  int rc = nb_plugin_load(file);
  alarm(0);
  char *err = rc < 0 ? strdup(nb_last_error()) : NULL;
  int n = nb_plugin_report_count();
  if (n > 0) { /* the file's entry is the last one (nothing else was loaded) */
    emit(inspect_describe_plugin(n - 1), render_plugin_full);
  } else {
    fail("cannot load '%s'", file, err);
  }
  if (!g_json) printf("%s: %s\n", file, rc < 0 ? "FAILED" : "OK, loads and validates");
  free(err);
  fflush(stdout);
  fflush(stderr);
  if (write(fd, "E", 2) < 0) { /* the parent then reports an exit without a result */ }
  _exit(rc < 0 ? 1 : 0);
}

static int mode_file(const char *file) {
  int p[2];
  if (pipe(p) < 0) return fail("cannot create a pipe to load '%s'", file, strerror(errno));
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(p[0]);
    close(p[1]);
    return fail("cannot fork to load '%s'", file, strerror(err));
  }
  if (pid == 0) {
    close(p[0]);
    load_in_child(file, p[1]);
  }
  close(p[1]);
  char rec[64] = "";
  size_t got = 0;
  for (ssize_t r; got < sizeof rec - 1 && ((r = read(p[0], rec + got, sizeof rec - 1 - got)) != 0);) {
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    got += (size_t)r;
  }
  close(p[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return fail("waiting for the child loading '%s' failed", file, strerror(errno));
  if (got && rec[0] == 'E' && WIFEXITED(status)) return WEXITSTATUS(status) == 0 ? 0 : 1;
  plugscan_bad what = {.path = (char *)file};
  plugscan_describe(status, got && rec[0] == 'X', &what);
  if (g_json) {
    emit(inspect_describe_bad(&what), NULL);
  } else {
    char state[16];
    snprintf(state, sizeof state, "%s", what.state);
    for (char *c = state; *c; c++) *c = (char)(*c - 'a' + 'A');
    printf("%s: %s: %s\n", file, state, what.message);
  }
  return 1;
}

static bool looks_like_file(const char *arg) {
  size_t n = strlen(arg);
  return strchr(arg, '/') || (n > 3 && strcmp(arg + n - 3, ".so") == 0);
}

/* Load failures are this tool's subject: it reports them itself, not as log warnings. */
static void quiet_log(int level, const char *msg, void *user) { (void)level, (void)msg, (void)user; }

int main(int argc, char **argv) {
  nb_set_log_callback(quiet_log, NULL);
  enum { LIST, NAME, FAILED, PATHS } mode = LIST;
  const char *arg = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--json")) {
      g_json = true;
    } else if (!strcmp(a, "--failed")) {
      mode = FAILED;
    } else if (!strcmp(a, "--paths")) {
      mode = PATHS;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--plugin-path") || !strncmp(a, "--plugin-path=", 14)) {
      const char *dir = a[13] == '=' ? a + 14 : (i + 1 < argc ? argv[++i] : NULL);
      if (!dir) {
        fprintf(stderr, "nabla-inspect: --plugin-path needs a directory\n");
        return 2;
      }
      struct stat st;
      if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "nabla-inspect: --plugin-path: '%s' is not a directory (%s)\n", dir,
                stat(dir, &st) != 0 ? strerror(errno) : "not a directory");
        return 2;
      }
      if (g_ndirs == (int)(sizeof g_dirs / sizeof g_dirs[0])) {
        fprintf(stderr, "nabla-inspect: too many --plugin-path options\n");
        return 2;
      }
      g_dirs[g_ndirs++] = dir;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "nabla-inspect: unknown option '%s'\n\n", a);
      usage(stderr);
      return 2;
    } else if (arg) {
      fprintf(stderr, "nabla-inspect: one OP, PLUGIN or FILE.so at a time ('%s', '%s')\n", arg, a);
      return 2;
    } else {
      arg = a;
      mode = NAME;
    }
  }
  if (arg && mode != NAME) {
    fprintf(stderr, "nabla-inspect: '%s' cannot be combined with --failed or --paths\n", arg);
    return 2;
  }
  int rc = 2;
  switch (mode) {
  case LIST: rc = mode_list(); break;
  case FAILED: rc = mode_failed(); break;
  case PATHS:
    for (int k = 0; k < g_ndirs; k++) nb_plugin_add_path(g_dirs[k]);
    emit(inspect_describe_paths(), render_paths);
    rc = 0;
    break;
  case NAME: rc = looks_like_file(arg) ? mode_file(arg) : mode_name(arg); break;
  }
  plugscan_free(&g_scan);
  return rc;
}
