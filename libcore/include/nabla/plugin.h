/* nabla/plugin.h — writing plugins, and loading them.
 *
 * A plugin exports exactly one symbol, made by NB_PLUGIN_DEFINE: a function returning
 * a constant descriptor. The loader validates the descriptor (magic, ABI, size) before
 * calling anything else in the plugin; `init` then registers ops and optimizers. Build
 * plugins with -fvisibility=hidden; the macro marks only the entry point visible.
 */
#ifndef NABLA_PLUGIN_H
#define NABLA_PLUGIN_H

#include "core.h"
#include "op.h"
#include "optim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NB_ABI_MAJOR 1
#define NB_ABI_MINOR 0
#define NB_PLUGIN_MAGIC 0x4E61626C61506C67ull /* "NablaPlg" */
#define NB_PLUGIN_ENTRY_SYMBOL "nabla_plugin_entry"
/* Smallest descriptor the loader accepts (ABI 1.0: up to and including `init`). */
#define NB_PLUGIN_DESC_MIN_SIZE ((uint32_t)(offsetof(nb_plugin_desc, init) + sizeof(void *)))

typedef struct nb_registrar nb_registrar; /* handed to init; valid during init only */

typedef struct nb_plugin_desc {
  uint64_t magic;       /* NB_PLUGIN_MAGIC */
  uint32_t struct_size; /* sizeof(nb_plugin_desc) as the plugin was built */
  uint16_t abi_major;   /* NB_ABI_MAJOR the plugin was built against */
  uint16_t abi_minor;
  const char *name;    /* unique plugin name, e.g. "elementwise" */
  const char *version; /* plugin's own version string */
  const char *description;
  const char *license; /* SPDX identifier */
  int (*init)(nb_registrar *r);
} nb_plugin_desc;

typedef const nb_plugin_desc *(*nb_plugin_entry_fn)(void);

/* Define the entry point. Use once per plugin, at file scope. */
#define NB_PLUGIN_DEFINE(pname, pversion, pdescription, plicense, pinit)                   \
  NB_EXPORT const nb_plugin_desc *nabla_plugin_entry(void);                               \
  NB_EXPORT const nb_plugin_desc *nabla_plugin_entry(void) {                              \
    static const nb_plugin_desc desc = {NB_PLUGIN_MAGIC, (uint32_t)sizeof(nb_plugin_desc), \
                                        NB_ABI_MAJOR,    NB_ABI_MINOR,                     \
                                        (pname),         (pversion),                       \
                                        (pdescription),  (plicense),                       \
                                        (pinit)};                                          \
    return &desc;                                                                          \
  }

/* Register an op / an optimizer during init. The schema is validated (names, dtype
 * masks, attribute defaults within range, forward present); a duplicate name is an
 * error naming both plugins. On any init failure everything this plugin registered is
 * rolled back. Return 0 or a negative status. */
int nb_register_op(nb_registrar *r, const nb_op_desc *desc);
int nb_register_optimizer(nb_registrar *r, const nb_optim_desc *desc);
/* Register every op of a NULL-terminated array of descriptors. */
int nb_register_ops(nb_registrar *r, const nb_op_desc *const *descs);

/* ---- loading -------------------------------------------------------------------- */

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
} nb_plugin_info;

/* Number of entries in the load report and the i-th entry (valid for the process's
 * lifetime). */
int nb_plugin_report_count(void);
const nb_plugin_info *nb_plugin_report_at(int i);
/* Names of the ops / optimizers the i-th plugin registered. */
int nb_plugin_report_ops(int i, const char **names, int max);
int nb_plugin_report_optimizers(int i, const char **names, int max);

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
