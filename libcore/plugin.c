/* libcore/plugin.c — plugin discovery, loading and the load report
 * (see spec/plugins.md).
 *
 * Search path, in order: directories added in code (nb_plugin_add_path), then
 * NABLA_PLUGIN_PATH (colon-separated), then NABLA_PLUGIN_SYSTEM_PATH if set (even to
 * empty), else the default <dir of libnabla.so>/nabla-<major>/plugins. Each directory
 * is scanned non-recursively for "*.so" in name order; files are resolved with
 * realpath so one file reached twice loads once. The first plugin of a given name
 * wins; later ones are reported as duplicates. Every file looked at gets an entry in
 * the load report, with dlerror() text kept verbatim.
 *
 * All state is guarded by one recursive mutex (a plugin's init may look ops up);
 * loading is rare. The registry's lookups do not take it.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#ifndef NABLA_PLUGINSDIR_REL
#define NABLA_PLUGINSDIR_REL "lib/nabla-1/plugins"
#endif
#ifndef NABLA_LIBDIR_REL
#define NABLA_LIBDIR_REL "lib"
#endif

typedef struct nb_plugin_rec {
  nb_plugin_info info; /* strings owned; immutable once the record is in the report */
  nb_provider provider; /* info.name and info.path, as the registry sees this plugin */
  void *handle;        /* kept open once init ran (never unloaded) */
} nb_plugin_rec;

typedef struct path_entry {
  char *dir;
  const char *origin;
  int scan_errno; /* errno from opendir during discovery, 0 if scanned */
} path_entry;

static pthread_mutex_t g_lock;
static pthread_once_t g_lock_once = PTHREAD_ONCE_INIT;
static nb_plugin_rec **g_recs; /* the load report, in the order files were looked at */
static int g_nrecs, g_caprecs;
static path_entry *g_added; /* nb_plugin_add_path */
static int g_nadded;
static path_entry *g_env; /* from the environment (or default), read once */
static int g_nenv = -1;
static atomic_int g_state; /* discovery: 0 not started, 1 running, 2 done */
static int g_status;       /* result of discovery */
static char *g_status_msg;

static void lock_init(void) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&g_lock, &a);
  pthread_mutexattr_destroy(&a);
}
static void lock(void) {
  pthread_once(&g_lock_once, lock_init);
  pthread_mutex_lock(&g_lock);
}
static void unlock(void) { pthread_mutex_unlock(&g_lock); }

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

/* ---- search path --------------------------------------------------------------------- */

static char g_default_dir[PATH_MAX];
static pthread_once_t g_default_once = PTHREAD_ONCE_INIT;

static void find_default_dir(void) {
  Dl_info info;
  if (!dladdr((void *)nb_plugin_default_dir, &info) || !info.dli_fname) return;
  char *lib = realpath(info.dli_fname, NULL);
  if (!lib) return;
  char *slash = strrchr(lib, '/');
  if (slash) *slash = '\0'; /* the directory holding libnabla.so */
  const char *libdir = NABLA_LIBDIR_REL, *plugdir = NABLA_PLUGINSDIR_REL;
  size_t ll = strlen(libdir), dl = strlen(lib);
  if (strncmp(plugdir, libdir, ll) == 0 && plugdir[ll] == '/') {
    snprintf(g_default_dir, sizeof g_default_dir, "%s/%s", lib, plugdir + ll + 1);
  } else if (dl > ll && strcmp(lib + dl - ll, libdir) == 0 && lib[dl - ll - 1] == '/') {
    lib[dl - ll - 1] = '\0'; /* strip libdir to get the prefix */
    snprintf(g_default_dir, sizeof g_default_dir, "%s/%s", lib, plugdir);
  } else {
    snprintf(g_default_dir, sizeof g_default_dir, "%s/nabla-" NABLA_ABI_MAJOR_STR "/plugins", lib);
  }
  free(lib);
}

const char *nb_plugin_default_dir(void) {
  pthread_once(&g_default_once, find_default_dir);
  return g_default_dir[0] ? g_default_dir : NULL;
}

static void split_into(const char *list, const char *origin, path_entry **arr, int *n) {
  for (const char *p = list; *p;) {
    const char *end = strchr(p, ':');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > 0) {
      path_entry *na = realloc(*arr, (size_t)(*n + 1) * sizeof **arr);
      char *dir = strndup(p, len);
      if (!na || !dir) {
        free(dir);
        if (na) *arr = na;
        return;
      }
      *arr = na;
      (*arr)[(*n)++] = (path_entry){dir, origin, 0};
    }
    if (!end) break;
    p = end + 1;
  }
}

/* Read the environment once (lock held). */
static void read_env(void) {
  if (g_nenv >= 0) return;
  g_nenv = 0;
  const char *user = getenv("NABLA_PLUGIN_PATH");
  if (user) split_into(user, "NABLA_PLUGIN_PATH", &g_env, &g_nenv);
  const char *sys = getenv("NABLA_PLUGIN_SYSTEM_PATH");
  if (sys) {
    split_into(sys, "NABLA_PLUGIN_SYSTEM_PATH", &g_env, &g_nenv);
  } else if (nb_plugin_default_dir()) {
    split_into(nb_plugin_default_dir(), "default", &g_env, &g_nenv);
  }
}

int nb_plugin_add_path(const char *dir) {
  if (!dir || !dir[0]) return nb_set_error(NB_EINVAL, "nb_plugin_add_path: directory is empty");
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return nb_set_error(NB_ENOTFOUND, "nb_plugin_add_path: '%s' is not a directory (%s)", dir,
                        stat(dir, &st) != 0 ? strerror(errno) : "not a directory");
  lock();
  int rc = 0;
  if (atomic_load(&g_state) != 0) {
    rc = nb_set_error(NB_ESTATE, "nb_plugin_add_path: '%s' added after plugin discovery already "
                      "ran; add paths before the first op lookup or nb_plugins_load_all", dir);
  } else {
    path_entry *na = realloc(g_added, (size_t)(g_nadded + 1) * sizeof *na);
    char *copy = strdup(dir);
    if (!na || !copy) {
      free(copy);
      if (na) g_added = na;
      rc = nb_set_error(NB_ENOMEM, "nb_plugin_add_path: out of memory");
    } else {
      g_added = na;
      g_added[g_nadded++] = (path_entry){copy, "added in code", 0};
    }
  }
  unlock();
  return rc;
}

static path_entry *path_entry_at(int i) {
  read_env();
  if (i < 0) return NULL;
  if (i < g_nadded) return &g_added[i];
  return i - g_nadded < g_nenv ? &g_env[i - g_nadded] : NULL;
}

int nb_plugin_path_count(void) {
  lock();
  read_env();
  int n = g_nadded + g_nenv;
  unlock();
  return n;
}

const char *nb_plugin_path_at(int i, const char **origin) {
  lock();
  path_entry *e = path_entry_at(i);
  const char *dir = e ? e->dir : NULL; /* strings are never freed; the array may move */
  if (origin) *origin = e ? e->origin : NULL;
  unlock();
  if (!dir) nb_set_error(NB_EINVAL, "nb_plugin_path_at: index %d out of range", i);
  return dir;
}

/* ---- the load report ----------------------------------------------------------------- */

/* Append formatted text to a fixed buffer, ending in "..." when it is full. */
static void bufcat(char *buf, size_t size, const char *fmt, ...) NB_PRINTF(3, 4);
static void bufcat(char *buf, size_t size, const char *fmt, ...) {
  size_t len = strlen(buf);
  if (len + 1 >= size) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + len, size - len, fmt, ap);
  va_end(ap);
  if (n >= 0 && (size_t)n >= size - len && size > 4) memcpy(buf + size - 4, "...", 4);
}

static void rec_set(nb_plugin_rec *rec, nb_plugin_state state, const char *fmt, ...)
    NB_PRINTF(3, 4);
static void rec_set(nb_plugin_rec *rec, nb_plugin_state state, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  free((char *)rec->info.message);
  rec->info.state = state;
  rec->info.message = strdup(msg);
}

static nb_plugin_rec *rec_new(char *path /* takes ownership */) {
  nb_plugin_rec *rec = calloc(1, sizeof *rec);
  if (!rec) {
    free(path);
    return NULL;
  }
  rec->info.path = path;
  return rec;
}

static void report_add(nb_plugin_rec *rec) {
  if (!rec->info.message) rec->info.message = strdup("");
  if (g_nrecs == g_caprecs) {
    int cap = g_caprecs ? 2 * g_caprecs : 16;
    nb_plugin_rec **na = realloc(g_recs, (size_t)cap * sizeof *na);
    if (!na) return; /* the record stays alive (its ops point to it), just unlisted */
    g_recs = na;
    g_caprecs = cap;
  }
  g_recs[g_nrecs++] = rec;
}

static nb_plugin_rec *find_rec(const char *path, const char *loaded_name) {
  for (int i = 0; i < g_nrecs; i++) {
    nb_plugin_rec *r = g_recs[i];
    if (path && strcmp(r->info.path, path) == 0) return r;
    if (loaded_name && r->info.state == NB_PLUGIN_LOADED && r->info.name &&
        strcmp(r->info.name, loaded_name) == 0)
      return r;
  }
  return NULL;
}

int nb_plugin_report_count(void) {
  lock();
  int n = g_nrecs;
  unlock();
  return n;
}

static nb_plugin_rec *rec_at(int i, const char *fn) {
  lock();
  nb_plugin_rec *r = i >= 0 && i < g_nrecs ? g_recs[i] : NULL;
  int n = g_nrecs;
  unlock();
  if (!r) nb_set_error(NB_EINVAL, "%s: index %d out of range [0, %d)", fn, i, n);
  return r;
}

const nb_plugin_info *nb_plugin_report_at(int i) {
  nb_plugin_rec *r = rec_at(i, "nb_plugin_report_at");
  return r ? &r->info : NULL;
}

int nb_plugin_report_ops(int i, const char **names, int max) {
  nb_plugin_rec *r = rec_at(i, "nb_plugin_report_ops");
  if (!r) return NB_EINVAL;
  int n = 0;
  for (int j = 0, c = nb_op_count(); j < c; j++) {
    const nb_op *op = nb_op_at(j);
    if (op->provider != &r->provider) continue;
    if (names && n < max) names[n] = op->d.name;
    n++;
  }
  return n;
}

int nb_plugin_report_optimizers(int i, const char **names, int max) {
  nb_plugin_rec *r = rec_at(i, "nb_plugin_report_optimizers");
  if (!r) return NB_EINVAL;
  int n = 0;
  for (int j = 0, c = nb_optim_count(); j < c; j++) {
    const nb_optim_kind *k = nb_optim_at(j);
    if (k->provider != &r->provider) continue;
    if (names && n < max) names[n] = k->d.name;
    n++;
  }
  return n;
}

int nb_plugin_report_comms(int i, const char **names, int max) {
  nb_plugin_rec *r = rec_at(i, "nb_plugin_report_comms");
  if (!r) return NB_EINVAL;
  int n = 0;
  for (int j = 0, c = nb__comm_count(); j < c; j++) {
    const nb_comm_kind *k = nb__comm_at(j);
    if (k->provider != &r->provider) continue;
    if (names && n < max) names[n] = k->d.name;
    n++;
  }
  return n;
}

const char *nb__plugin_failures_summary(void) {
  static _Thread_local char buf[2048];
  buf[0] = '\0';
  lock();
  int failed = 0, loaded = 0;
  for (int i = 0; i < g_nrecs; i++) failed += g_recs[i]->info.state != NB_PLUGIN_LOADED;
  loaded = g_nrecs - failed;
  if (failed) {
    bufcat(buf, sizeof buf, "%d plugin%s did not load: ", failed, failed == 1 ? "" : "s");
    for (int i = 0, k = 0; i < g_nrecs; i++)
      if (g_recs[i]->info.state != NB_PLUGIN_LOADED)
        bufcat(buf, sizeof buf, "%s%s: %s", k++ ? "; " : "", g_recs[i]->info.path,
                 g_recs[i]->info.message);
  } else if (loaded == 0 && atomic_load(&g_state) == 2) {
    read_env();
    bufcat(buf, sizeof buf, "no plugins were found on the search path");
    if (g_nadded + g_nenv == 0) bufcat(buf, sizeof buf, " (it is empty)");
    for (int i = 0; i < g_nadded + g_nenv; i++) {
      path_entry *e = path_entry_at(i);
      bufcat(buf, sizeof buf, "%s%s [%s%s%s]", i ? ", " : " (", e->dir, e->origin,
             e->scan_errno ? ": " : "", e->scan_errno ? strerror(e->scan_errno) : "");
    }
    if (g_nadded + g_nenv) bufcat(buf, sizeof buf, ")");
  }
  unlock();
  return buf;
}

/* ---- plugin init: re-entrance and crashes ------------------------------------------- */

/* Files whose init is running, innermost last (lock held, so one thread at a time): an
 * init that loads its own file, or two plugins that load each other, would recurse until
 * the stack overflows. */
#define MAX_NESTED_LOADS 16
static const char *g_initialising[MAX_NESTED_LOADS];
static int g_n_initialising;

static bool being_initialised(const char *real) {
  for (int i = 0; i < g_n_initialising; i++)
    if (strcmp(g_initialising[i], real) == 0) return true;
  return false;
}

/* While an init runs, a fatal signal first says which file it was initialising (a
 * program, unlike the tools, loads plugins in its own process), then the previous
 * handlers are restored: a fault recurs and is handled as it would have been. */
static const int k_fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
#define N_FATAL ((int)(sizeof k_fatal / sizeof k_fatal[0]))
static struct sigaction g_old_actions[N_FATAL];
static char g_crash_msg[PATH_MAX + 96];
static size_t g_crash_len;

static void restore_fatal_handlers(void) {
  for (int i = 0; i < N_FATAL; i++) sigaction(k_fatal[i], &g_old_actions[i], NULL);
}

static void on_fatal_signal(int sig) {
  (void)sig;
  ssize_t w = write(STDERR_FILENO, g_crash_msg, g_crash_len);
  (void)w;
  restore_fatal_handlers();
}

static void install_fatal_handlers(const char *path) {
  g_crash_len = (size_t)snprintf(g_crash_msg, sizeof g_crash_msg,
                                 "nabla: fatal signal while initialising plugin %s\n", path);
  if (g_crash_len >= sizeof g_crash_msg) g_crash_len = sizeof g_crash_msg - 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < N_FATAL; i++) sigaction(k_fatal[i], &sa, &g_old_actions[i]);
}

/* Run d->init for rec with the guards above (lock held). */
static int run_init(nb_plugin_rec *rec, const nb_plugin_desc *d, nb_registrar *r) {
  g_initialising[g_n_initialising++] = rec->info.path;
  bool outermost = g_n_initialising == 1;
  if (outermost) install_fatal_handlers(rec->info.path);
  int st = d->init(r);
  if (outermost) restore_fatal_handlers();
  g_n_initialising--;
  return st;
}

/* ---- loading one file ---------------------------------------------------------------- */

/* Check the descriptor and copy the part the plugin declared into *d (rest zeroed).
 * Returns 0, or -1 with rec marked REJECTED. */
static int check_desc(nb_plugin_rec *rec, const nb_plugin_desc *pd, nb_plugin_desc *d) {
  if (!pd) {
    rec_set(rec, NB_PLUGIN_REJECTED, NB_PLUGIN_ENTRY_SYMBOL "() returned NULL instead of a "
            "descriptor");
    return -1;
  }
  if (pd->magic != NB_PLUGIN_MAGIC) {
    rec_set(rec, NB_PLUGIN_REJECTED, "wrong magic 0x%016llx in the plugin descriptor (expected "
            "0x%016llx, \"NablaPlg\"): not a nabla plugin or a corrupt build; rebuild the plugin "
            "against this nabla (ABI %d.%d)", (unsigned long long)pd->magic,
            (unsigned long long)NB_PLUGIN_MAGIC, NB_ABI_MAJOR, NB_ABI_MINOR);
    return -1;
  }
  unsigned maj = pd->abi_major, min = pd->abi_minor, size = pd->struct_size;
  if (maj != NB_ABI_MAJOR) {
    rec_set(rec, NB_PLUGIN_REJECTED, "plugin built against ABI %u.%u, core is %d.%d: rebuild the "
            "plugin against this nabla", maj, min, NB_ABI_MAJOR, NB_ABI_MINOR);
    return -1;
  }
  if (min > NB_ABI_MINOR) {
    rec_set(rec, NB_PLUGIN_REJECTED, "plugin built against ABI %u.%u, core is %d.%d: the plugin "
            "needs a newer nabla; upgrade nabla or rebuild the plugin against this nabla", maj,
            min, NB_ABI_MAJOR, NB_ABI_MINOR);
    return -1;
  }
  if (size < NB_PLUGIN_DESC_MIN_SIZE) {
    rec_set(rec, NB_PLUGIN_REJECTED, "plugin descriptor is %u bytes, ABI %d.%d needs at least %u "
            "(plugin built against ABI %u.%u, core is %d.%d): rebuild the plugin against this "
            "nabla", size, NB_ABI_MAJOR, NB_ABI_MINOR, (unsigned)NB_PLUGIN_DESC_MIN_SIZE, maj,
            min, NB_ABI_MAJOR, NB_ABI_MINOR);
    return -1;
  }
  memset(d, 0, sizeof *d);
  memcpy(d, pd, size < sizeof *d ? size : sizeof *d);
  rec->info.name = xstrdup(d->name);
  rec->info.version = xstrdup(d->version ? d->version : "");
  rec->info.description = xstrdup(d->description ? d->description : "");
  rec->info.license = xstrdup(d->license ? d->license : "");
  if (!d->name || !d->name[0]) {
    rec_set(rec, NB_PLUGIN_REJECTED, "the plugin descriptor has no name");
    return -1;
  }
  if (!d->init) {
    rec_set(rec, NB_PLUGIN_REJECTED, "plugin '%s' has no init function", d->name);
    return -1;
  }
  return 0;
}

/* dlopen, validate, init. Returns 0 or NB_EPLUGIN with rec's state and message set. */
static int open_and_init(nb_plugin_rec *rec, bool discovery) {
  dlerror();
  void *h = dlopen(rec->info.path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    rec_set(rec, NB_PLUGIN_FAILED, "dlopen failed: %s", e ? e : "unknown error");
    return NB_EPLUGIN;
  }
  dlerror();
  void *sym = dlsym(h, NB_PLUGIN_ENTRY_SYMBOL);
  const char *e = dlerror();
  if (!sym || e) {
    rec_set(rec, NB_PLUGIN_FAILED, "no entry point " NB_PLUGIN_ENTRY_SYMBOL " (define it with "
            "NB_PLUGIN_DEFINE): %s", e ? e : "symbol is NULL");
    dlclose(h);
    return NB_EPLUGIN;
  }
  nb_plugin_entry_fn entry;
  memcpy(&entry, &sym, sizeof entry);
  nb_plugin_desc d;
  if (check_desc(rec, entry(), &d) < 0) {
    dlclose(h);
    return NB_EPLUGIN;
  }
  nb_plugin_rec *first = find_rec(NULL, d.name);
  if (first) {
    rec_set(rec, NB_PLUGIN_DUPLICATE, "plugin '%s' is already loaded from %s; this copy %s is "
            "ignored (the first found wins)", d.name, first->info.path, rec->info.path);
    dlclose(h);
    return NB_EPLUGIN;
  }
  rec->handle = h; /* from here on the plugin's code has run: never unloaded */
  rec->provider = (nb_provider){rec->info.name ? rec->info.name : "?", rec->info.path};
  nb_registrar *r = nb__registrar_new(&rec->provider, discovery);
  if (!r) {
    rec_set(rec, NB_PLUGIN_FAILED, "out of memory before init");
    return NB_EPLUGIN;
  }
  nb_clear_error();
  int st = run_init(rec, &d, r);
  char *msg = NULL;
  int n_ops = 0, n_optims = 0, n_comms = 0;
  int rc = nb__registrar_finish(r, st, &msg, &n_ops, &n_optims, &n_comms);
  rec->info.n_ops = n_ops;
  rec->info.n_optimizers = n_optims;
  rec->info.n_comms = n_comms;
  rec_set(rec, rc < 0 ? NB_PLUGIN_FAILED : NB_PLUGIN_LOADED, "%s", msg ? msg : "");
  free(msg);
  return rc < 0 ? NB_EPLUGIN : 0;
}

/* Load one file (lock held). Returns 0 when loaded or already loaded, else a negative
 * status with the error set. During discovery failures are also logged. */
static int load_file(const char *path, bool discovery) {
  const char *fn = discovery ? "plugin discovery" : "nb_plugin_load";
  char *real = realpath(path, NULL);
  struct stat st;
  if (!real) {
    int err = errno;
    if (!discovery)
      return nb_set_error(NB_ENOTFOUND, "%s: cannot open '%s': %s", fn, path, strerror(err));
    nb_plugin_rec *rec = rec_new(strdup(path));
    if (!rec || !rec->info.path) return nb_set_error(NB_ENOMEM, "%s: out of memory", fn);
    rec_set(rec, NB_PLUGIN_FAILED, "cannot resolve the path: %s", strerror(err));
    report_add(rec);
    nb_log_message(NB_LOG_WARN, "plugin %s not loaded: %s", path, rec->info.message);
    return nb_set_error(NB_EPLUGIN, "%s: %s: %s", fn, path, rec->info.message);
  }
  if (stat(real, &st) == 0 && S_ISDIR(st.st_mode)) {
    free(real);
    return discovery ? 0 : nb_set_error(NB_EINVAL, "%s: '%s' is a directory", fn, path);
  }
  if (being_initialised(real) || g_n_initialising == MAX_NESTED_LOADS) {
    int rc = nb_set_error(NB_EPLUGIN, "%s: %s: %s", fn, path,
                          g_n_initialising == MAX_NESTED_LOADS
                              ? "plugins loading plugins are nested too deeply"
                              : "this file is being initialised already (a plugin's init loads "
                                "itself, or plugins load each other)");
    free(real);
    return rc;
  }
  nb_plugin_rec *old = find_rec(real, NULL);
  if (old) { /* the same file reached again (symlink, path listed twice): load once */
    free(real);
    if (discovery || old->info.state == NB_PLUGIN_LOADED) return 0;
    return nb_set_error(NB_EPLUGIN, "%s: %s: %s", fn, old->info.path, old->info.message);
  }
  nb_plugin_rec *rec = rec_new(real);
  if (!rec) return nb_set_error(NB_ENOMEM, "%s: out of memory", fn);
  int rc = open_and_init(rec, discovery);
  report_add(rec);
  if (rc < 0) {
    if (discovery) nb_log_message(NB_LOG_WARN, "plugin %s not loaded: %s", rec->info.path,
                          rec->info.message);
    return nb_set_error(NB_EPLUGIN, "%s: %s: %s", fn, rec->info.path, rec->info.message);
  }
  if (rec->info.message[0])
    nb_log_message(NB_LOG_WARN, "plugin %s: %s", rec->info.path, rec->info.message);
  return 0;
}

int nb_plugin_load(const char *path) {
  if (!path || !path[0]) return nb_set_error(NB_EINVAL, "nb_plugin_load: path is empty");
  lock();
  int rc = load_file(path, false);
  unlock();
  return rc;
}

/* ---- discovery ----------------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load every "*.so" of one directory in name order. -1 when it cannot be read. */
static int scan_dir(path_entry *e) {
  DIR *dp = opendir(e->dir);
  if (!dp) {
    e->scan_errno = errno ? errno : EIO;
    nb_log_message(strcmp(e->origin, "default") == 0 ? NB_LOG_INFO : NB_LOG_WARN,
           "plugin directory %s (%s) cannot be read: %s", e->dir, e->origin,
           strerror(e->scan_errno));
    return -1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  errno = 0;
  for (struct dirent *de; (de = readdir(dp)); errno = 0) {
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
  if (errno) { /* a read error ends readdir like the end of the directory does */
    e->scan_errno = errno;
    nb_log_message(NB_LOG_WARN, "plugin directory %s (%s) could not be read to the end: %s; "
                   "plugins after the error are not loaded", e->dir, e->origin, strerror(errno));
  }
  closedir(dp);
  if (n) qsort(names, n, sizeof *names, cmp_names);
  for (size_t i = 0; i < n; i++) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", e->dir, names[i]) < (int)sizeof path)
      load_file(path, true);
    free(names[i]);
  }
  free(names);
  return 0;
}

static int discovery_result(void) {
  if (g_status < 0) nb_set_error(g_status, "%s", g_status_msg ? g_status_msg : "");
  return g_status;
}

int nb_plugins_load_all(void) {
  if (atomic_load_explicit(&g_state, memory_order_acquire) == 2) return discovery_result();
  lock();
  int state = atomic_load(&g_state);
  if (state != 0) { /* 2: another thread finished; 1: re-entered from a plugin's init */
    unlock();
    return state == 2 ? discovery_result() : 0;
  }
  atomic_store(&g_state, 1);
  nb__register_builtin_comms();
  read_env();
  int n = g_nadded + g_nenv, scanned = 0;
  for (int i = 0; i < n; i++) scanned += scan_dir(path_entry_at(i)) == 0;
  if (n > 0 && scanned == 0) {
    char msg[2048] = "";
    bufcat(msg, sizeof msg, "nb_plugins_load_all: no plugin directory could be read:");
    for (int i = 0; i < n; i++) {
      path_entry *e = path_entry_at(i);
      bufcat(msg, sizeof msg, "%s %s [%s]: %s", i ? ";" : "", e->dir, e->origin,
             strerror(e->scan_errno));
    }
    g_status = NB_ENOTFOUND;
    g_status_msg = strdup(msg);
  }
  atomic_store_explicit(&g_state, 2, memory_order_release);
  unlock();
  return discovery_result();
}
