/* tools/inspect/inspect.h — shared declarations of nabla-inspect's files:
 * describe.c (specs -> cJSON trees), render.c (cJSON trees -> text), nabla-inspect.c
 * (command line, modes, the child process that loads a single FILE.so); plugins are
 * scanned in a child process first (tools/common/plugscan.h).
 */
#ifndef NABLA_INSPECT_H
#define NABLA_INSPECT_H

#include <cjson/cJSON.h>
#include <nabla/nabla.h>
#include <nabla/harness.h>
#include <nabla/sdk.h> /* descriptors and kernel services, read by the harness and the tests */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "plugscan.h"

/* "loaded", "failed", "rejected", "duplicate". */
const char *inspect_state_name(nb_plugin_state s);
/* Trees describing an op, an optimizer, a communication backend, the i-th load-report
 * entry, the search path. */
cJSON *inspect_describe_op(const nb_op *op);
cJSON *inspect_describe_optim(const nb_optim_kind *k);
cJSON *inspect_describe_comm(const nb_comm_kind *k);
cJSON *inspect_describe_plugin(int i);
cJSON *inspect_describe_paths(void);
/* A file that crashed, timed out or exited while loading in the scan: the keys of
 * inspect_describe_plugin, plus "signal" or "exit_status". */
cJSON *inspect_describe_bad(const plugscan_bad *b);
/* True when `path` is an existing directory. */
bool inspect_is_dir(const char *path);

/* Text renderings of the trees above. */
void render_op(FILE *f, const cJSON *op);
void render_optim(FILE *f, const cJSON *k);
void render_comm(FILE *f, const cJSON *k);
void render_plugin(FILE *f, const cJSON *p, bool verbose);
void render_paths(FILE *f, const cJSON *paths);

#endif
