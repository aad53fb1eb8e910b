/* tools/common/plugscan.h — loading plugins in the tools without letting one plugin take
 * the tool down (GStreamer's plugin scanner, in small).
 *
 * A plugin's init runs code nobody checked: it may crash, call exit() or hang. The core
 * loads plugins in-process, so a program dies with it. The tools instead load every
 * plugin once in a child process first (one fork for the whole scan), which reports each
 * file before and after loading it over a pipe. When the child dies, the file it was
 * loading is the culprit: it is recorded (signal, exit status) and a new child carries
 * on past it. Then the tool loads, in its own process, only the files that survived.
 *
 * In the tool process, discovery keeps its exact semantics (search order, first plugin
 * name wins, later duplicate ops skipped with a warning). When nothing crashed this is
 * plain nb_plugin_add_path + nb_plugins_load_all. When something did, the survivors are
 * put, in discovery order, as numbered symbolic links into a temporary directory that
 * becomes the whole search path (NABLA_PLUGIN_PATH, empty NABLA_PLUGIN_SYSTEM_PATH) for
 * that one call; the core resolves the links, so the load report names the real files.
 *
 * Limits: the child loads each file with nb_plugin_load (it must report file by file),
 * which differs from discovery in one way: a duplicate op name fails the load instead of
 * being skipped, so a plugin that would crash only after such a skip passes the scan.
 * A plugin that crashes only some of the time, or later from a thread it started, can
 * still take the tool down. Without fork (or with nabla-gradcheck --no-fork) nothing is
 * scanned.
 */
#ifndef NABLA_TOOLS_PLUGSCAN_H
#define NABLA_TOOLS_PLUGSCAN_H

#include <stdbool.h>

/* A plugin file that ended the scan process while loading. */
typedef struct plugscan_bad {
  char *path;        /* as found on the search path, or as given */
  const char *state; /* "crashed" (a signal), "timeout" (SIGALRM), "exited" (exit/_exit);
                        "failed": a file found but not resolvable, left out of a reload */
  int signal;        /* the signal for "crashed" and "timeout", else 0 */
  int exit_status;   /* the status for "exited", else -1 */
  char message[256]; /* "plugin called exit(3) during loading", ... */
} plugscan_bad;

typedef struct plugscan {
  plugscan_bad *bad; /* the files that did not survive, in load order */
  int n_bad;
  char **files; /* every file the scan loaded: explicit ones, then discovered ones */
  int n_files, n_explicit;
  bool *is_bad; /* [n_files] */
  char error[512]; /* why the scan itself could not run (plugscan_run returned -1) */
} plugscan;

/* Seconds a single plugin may take to load (NABLA_PLUGIN_SCAN_TIMEOUT, else
 * NABLA_INSPECT_TIMEOUT, else 60). */
unsigned plugscan_timeout(void);

/* Load, in child processes, the `files` given explicitly (as nb_plugin_load would, in
 * order), then every file discovery would load with `dirs` searched first. Fills *s
 * (plugscan_free it). Returns 0, or -1 with s->error set when no child could be run. */
int plugscan_run(plugscan *s, const char *const *dirs, int n_dirs, const char *const *files,
                 int n_files);
/* The finding for `path` (compared after resolving links), or NULL if it survived. */
const plugscan_bad *plugscan_find(const plugscan *s, const char *path);
/* Discovery in this process with `dirs` searched first, skipping the files that did not
 * survive the scan. Returns what nb_plugins_load_all returns (or -1 with s->error set if
 * the crashing files could not be kept out, in which case nothing was loaded). */
int plugscan_load_discovered(plugscan *s, const char *const *dirs, int n_dirs);
void plugscan_free(plugscan *s);

/* ---- for a child process that loads plugins itself (nabla-inspect FILE.so) ---------------- */

/* In the child: die by the signal itself (not a sanitizer's handler, which would turn a
 * crash into an exit status; SIGALRM too, for time limits), and if a plugin calls exit(),
 * write the record "X<status>" to fd (when >= 0) and end at once (no leak report, no
 * flushing of buffers copied from the parent). */
void plugscan_child_guard(int fd);
/* What a wait status of a child that did not finish loading says: fills out's state,
 * signal, exit_status and message (exit_called: the child wrote its "X" record). */
void plugscan_describe(int wstatus, bool exit_called, plugscan_bad *out);
/* "SIGSEGV", ..., or "signal N". */
const char *plugscan_signal_name(int sig);

#endif
