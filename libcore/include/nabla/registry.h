/* nabla/registry.h — what is registered: operators, optimizer kinds and communication
 * backends by name, their descriptors as registered, and the plugin that provided each.
 *
 * The registry itself (registry.c) is a store that knows nothing of loading; the find
 * functions here load the discovered plugins first if that has not happened yet
 * (lookup.c, on top of the loader).
 */
#ifndef NABLA_REGISTRY_H
#define NABLA_REGISTRY_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_op nb_op;                 /* a registered operator */
typedef struct nb_op_desc nb_op_desc;       /* its descriptor: sdk/op.h */
typedef struct nb_optim_desc nb_optim_desc; /* an optimizer's descriptor: sdk/optim.h */

/* Find an op by name, loading the discovered plugins first if not done yet. NULL
 * with an error naming the op (and failed plugins) when none provides it. */
const nb_op *nb_op_find(const char *name);
/* The descriptor as registered (fields the plugin did not know are zeroed). */
const nb_op_desc *nb_op_descriptor(const nb_op *op);
/* Name of the plugin that registered it, and that plugin's file. */
const char *nb_op_plugin_name(const nb_op *op);
const char *nb_op_plugin_path(const nb_op *op);
/* Number of registered ops and the i-th (in registration order). */

typedef struct nb_optim_kind nb_optim_kind; /* a registered optimizer */
/* Find by name (loading plugins first if needed); NULL with an error listing the
 * registered optimizers otherwise. */
const nb_optim_kind *nb_optim_find(const char *name);
const nb_optim_desc *nb_optim_descriptor(const nb_optim_kind *k);
const char *nb_optim_plugin_name(const nb_optim_kind *k);
int nb_optim_count(void);
const nb_optim_kind *nb_optim_at(int i);

typedef struct nb_comm_desc nb_comm_desc; /* a communication backend's descriptor: sdk/comm.h */
typedef struct nb_comm_kind nb_comm_kind; /* a registered communication backend */
/* Find a communication backend by name ("mpi", "single", ...), loading plugins first if
 * needed; NULL with an error listing the registered backends (and failed plugins)
 * otherwise. "single" (one process, operations that do nothing) is built into the
 * core. Count and i-th (registration order, built-ins first) load plugins too. To use
 * one, open it with nb_comm_open (<nabla/comm.h>). */
const nb_comm_kind *nb_comm_find(const char *name);
const nb_comm_desc *nb_comm_descriptor(const nb_comm_kind *k);
/* The plugin that registered it, or "core" for a built-in one. */
const char *nb_comm_plugin_name(const nb_comm_kind *k);
int nb_comm_count(void);
const nb_comm_kind *nb_comm_at(int i);

#ifdef __cplusplus
}
#endif
#endif
