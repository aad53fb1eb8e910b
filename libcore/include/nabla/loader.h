/* nabla/loader.h — finding and loading plugins, and the load report that explains
 * every file the loader looked at (what it provides, or why it did not load).
 * See README "Where plugins live and how they are found" for the search order.
 */
#ifndef NABLA_LOADER_H
#define NABLA_LOADER_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Add a directory searched before NABLA_PLUGIN_PATH (call before the first load). */
int nb_plugin_add_path(const char *dir);
/* Discover and load every plugin on the search path (once; later calls return the
 * first result). Failures of single plugins do not fail the call: they go to the
 * load report. Returns 0, or a negative status if nothing could be scanned. */
int nb_plugins_load_all(void);
/* Load one plugin file explicitly. Errors (and a duplicate op name) are returned. */
int nb_plugin_load(const char *path);

typedef enum nb_plugin_state {
  NB_PLUGIN_LOADED = 0,
  NB_PLUGIN_FAILED = 1,   /* dlopen failed, no entry symbol, init failed (rolled back) */
  NB_PLUGIN_REJECTED = 2, /* wrong magic, ABI mismatch, descriptor too small */
  NB_PLUGIN_DUPLICATE = 3 /* same plugin name already loaded from another file */
} nb_plugin_state;

/* One entry of the load report: every file the loader looked at. */
typedef struct nb_plugin_info {
  const char *path;    /* resolved file path */
  const char *name;    /* plugin name (NULL if never read) */
  const char *version;
  const char *description;
  const char *license;
  nb_plugin_state state;
  const char *message; /* why it failed / warnings (e.g. duplicate op skipped); "" if none */
  int n_ops, n_optimizers;
  int n_comms; /* communication backends */
} nb_plugin_info;

/* Number of entries in the load report and the i-th entry (valid for the process's
 * lifetime). */
int nb_plugin_report_count(void);
const nb_plugin_info *nb_plugin_report_at(int i);
/* Names of the ops / optimizers / communication backends the i-th plugin registered:
 * fills names[0..max) and returns how many there are (or a negative status). */
int nb_plugin_report_ops(int i, const char **names, int max);
int nb_plugin_report_optimizers(int i, const char **names, int max);
int nb_plugin_report_comms(int i, const char **names, int max);

/* The search path, in order, with where each entry came from ("added in code",
 * "NABLA_PLUGIN_PATH", "NABLA_PLUGIN_SYSTEM_PATH", "default"). */
int nb_plugin_path_count(void);
const char *nb_plugin_path_at(int i, const char **origin);
/* The default installed plugin directory (relative to the core library's location). */
const char *nb_plugin_default_dir(void);

#ifdef __cplusplus
}
#endif
#endif
