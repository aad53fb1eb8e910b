/* anomaly.c — anomaly detection, as PyTorch's torch.autograd.detect_anomaly: while the
 * thread-local mode is on, every graph node records where it was created (a label the
 * caller set, e.g. the C call site through NB_ANOMALY_HERE()), and backward checks each
 * node's gradients, stopping at the first NaN or Inf with an error naming the node, its
 * op, its inputs' shapes and that origin. Off (the default) it costs one thread-local
 * read per recorded op and per backward.
 */
#include <math.h>
#include <stdio.h>

#include "internal.h"

NB_TLS bool nb__anomaly_on;
static NB_TLS const char *anomaly_label;

bool nb_set_detect_anomaly(bool enabled) {
  bool prev = nb__anomaly_on;
  nb__anomaly_on = enabled;
  return prev;
}

bool nb_is_anomaly_enabled(void) { return nb__anomaly_on; }

const char *nb_anomaly_label(const char *label) {
  const char *prev = anomaly_label;
  anomaly_label = label;
  return prev;
}

const char *nb_node_origin(const nb_node *n) { return n ? n->origin : NULL; }

void nb__anomaly_record(nb_node *n) {
  n->origin = anomaly_label ? anomaly_label : "(no label: set one with nb_anomaly_label)";
}

/* "mul(input [2,3] float32, other [3] float32)" into buf. */
static void describe_call(const nb_node *n, char *buf, size_t size) {
  const nb_op_desc *d = &n->op->d;
  size_t used = (size_t)snprintf(buf, size, "%s(", d->name);
  for (int i = 0; i < n->n_in && used < size; i++) {
    const nb_meta *m = &n->in_meta[i];
    char sh[128];
    used += (size_t)snprintf(buf + used, size - used, "%s%s %s %s", i ? ", " : "",
                             d->inputs[i].name, nb_shape_str(m->ndim, m->shape, sh, sizeof sh),
                             nb_dtype_name((nb_dtype)m->dtype));
  }
  if (used < size) snprintf(buf + used, size - used, ")");
}

int nb__anomaly_check(const nb_node *n, int input, nb_tensor *g) {
  if (!g || !nb__is_floating(g->dtype)) return NB_OK;
  nb_tensor *c = nb_is_contiguous(g) ? g : nb_copy_data(g);
  if (!c) return nb_last_status();
  int64_t bad = 0, first = -1;
  bool has_nan = false;
  for (int64_t k = 0; k < c->numel; k++) {
    double v = c->dtype == NB_F32 ? ((const float *)nb_data(c))[k] : ((const double *)nb_data(c))[k];
    if (!isfinite(v)) {
      if (bad++ == 0) first = k;
      has_nan = has_nan || isnan(v);
    }
  }
  if (!bad) return NB_OK;
  char call[512];
  describe_call(n, call, sizeof call);
  return nb_set_error(NB_ESTATE,
                      "backward: anomaly detected: %s returned %s in its gradient for input %d "
                      "('%s'): %lld of %lld elements, first at flat index %lld; forward call: %s, "
                      "created at %s",
                      n->name, has_nan ? "NaN" : "Inf", input, n->op->d.inputs[input].name,
                      (long long)bad, (long long)c->numel, (long long)first, call,
                      n->origin ? n->origin : "(recorded before anomaly detection was enabled)");
}
