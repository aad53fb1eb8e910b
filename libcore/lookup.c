/* lookup.c — finding ops, optimizers and communication backends by name: load the
 * discovered plugins if that has not happened yet (plugin.c), then read the registry
 * (registry.c). A miss explains itself: the closest op name, the registered optimizers or
 * backends, and why plugins failed to load.
 */
#include <stdlib.h>

#include "internal.h"

/* Set the NB_ENOTFOUND error from msg (taken), falling back to `fallback` when out of
 * memory. */
static void not_found(nb_text *msg, const char *fallback) {
  const char *why = nb__plugin_failures_summary();
  if (why[0]) nb_text_sepf(msg, "; ", "%s", why);
  char *s = nb_text_take(msg);
  nb_set_error(NB_ENOTFOUND, "%s", s ? s : fallback);
  free(s);
}

const nb_op *nb_op_find(const char *name) {
  if (!name) {
    nb_set_error(NB_EINVAL, "nb_op_find: op name is NULL");
    return NULL;
  }
  nb_plugins_load_all();
  const nb_op *op = nb__op_get(name);
  if (op) return op;
  nb_text msg = {0};
  nb_text_printf(&msg, "nb_op_find: no loaded plugin provides op '%s'", name);
  const char *best = nb__op_suggest(name);
  if (best) nb_text_printf(&msg, " (did you mean '%s'?)", best);
  not_found(&msg, "nb_op_find: op not found");
  return NULL;
}

const nb_optim_kind *nb_optim_find(const char *name) {
  if (!name) {
    nb_set_error(NB_EINVAL, "nb_optim_find: optimizer name is NULL");
    return NULL;
  }
  nb_plugins_load_all();
  const nb_optim_kind *k = nb__optim_get(name);
  if (k) return k;
  nb_text msg = {0};
  nb_text_printf(&msg, "nb_optim_find: no optimizer '%s'; ", name);
  int n = nb_optim_count();
  if (n == 0) nb_text_puts(&msg, "no optimizers are registered");
  for (int i = 0; i < n; i++)
    nb_text_printf(&msg, "%s%s", i ? ", " : "registered optimizers: ",
                   nb_optim_descriptor(nb_optim_at(i))->name);
  not_found(&msg, "nb_optim_find: optimizer not found");
  return NULL;
}

/* ---- communication backends ---------------------------------------------------------- */

/* Built-ins first (discovery registers them too, before any plugin), then the plugins. */
static void comms_ready(void) {
  nb__register_builtin_comms();
  nb_plugins_load_all();
}

const nb_comm_kind *nb_comm_find(const char *name) {
  if (!name) {
    nb_set_error(NB_EINVAL, "nb_comm_find: backend name is NULL");
    return NULL;
  }
  comms_ready();
  const nb_comm_kind *k = nb__comm_get(name);
  if (k) return k;
  nb_text msg = {0};
  nb_text_printf(&msg, "nb_comm_find: no communication backend '%s'; registered: ", name);
  for (int i = 0, n = nb__comm_count(); i < n; i++)
    nb_text_printf(&msg, "%s%s", i ? ", " : "", nb_comm_descriptor(nb__comm_at(i))->name);
  not_found(&msg, "nb_comm_find: communication backend not found");
  return NULL;
}

int nb_comm_count(void) {
  comms_ready();
  return nb__comm_count();
}

const nb_comm_kind *nb_comm_at(int i) {
  comms_ready();
  const nb_comm_kind *k = nb__comm_at(i);
  if (!k) nb_set_error(NB_EINVAL, "nb_comm_at: index %d out of range [0, %d)", i, nb__comm_count());
  return k;
}
