/* nabla/sdk/plugin.h — a plugin's entry point and registration.
 *
 * A plugin exports exactly one symbol, made by NB_PLUGIN_DEFINE: a function returning
 * a constant descriptor. The loader validates the descriptor (magic, ABI, size) before
 * calling anything else in the plugin; `init` then registers ops and optimizers. Build
 * plugins with -fvisibility=hidden; the macro marks only the entry point visible.
 */
#ifndef NABLA_SDK_PLUGIN_H
#define NABLA_SDK_PLUGIN_H

#include "../core.h"
#include "op.h"
#include "optim.h"
#include "comm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NB_ABI_MAJOR 1
#define NB_ABI_MINOR 1
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
  /* Registers the plugin's ops, optimizers and communication backends. It runs with the loader's lock held: it
   * may load other plugins (not one that is being loaded: NB_EPLUGIN), but must not wait
   * for a thread that looks up ops or loads plugins, which would deadlock. */
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

/* Register an op / an optimizer / a communication backend during init. The schema is validated (names, dtype
 * masks, attribute defaults within range, forward present); a duplicate name is an
 * error naming both plugins. On any init failure everything this plugin registered is
 * rolled back. Return 0 or a negative status. */
int nb_register_op(nb_registrar *r, const nb_op_desc *desc);
int nb_register_optimizer(nb_registrar *r, const nb_optim_desc *desc);
/* A communication backend: start, stop, rank, size, allreduce, broadcast, barrier,
 * allreduce_start, wait and test are required (sdk/comm.h). */
int nb_register_comm(nb_registrar *r, const nb_comm_desc *desc);
/* Register every op of a NULL-terminated array of descriptors. */
int nb_register_ops(nb_registrar *r, const nb_op_desc *const *descs);

#ifdef __cplusplus
}
#endif
#endif
