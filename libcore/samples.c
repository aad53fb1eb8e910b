/* libcore/samples.c — sample sinks: the sample inputs an op offers the conformance
 * harness (like PyTorch's OpInfo sample inputs).
 *
 * A sink is a growable list of samples plus a seeded generator. nb_sample_add keeps a
 * reference to every input (nb_keep) and deep-copies the description and attributes
 * (names and string values included), so a samples function may build everything in
 * a scope that ends before the harness reads the samples back.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct sample_rec {
  char *desc;
  int n_in;
  nb_tensor **in; /* owned references; NULL entries for absent optional inputs */
  int n_attrs;
  nb_attr *attrs; /* names and string values owned */
  unsigned flags;
} sample_rec;

struct nb_sample_sink {
  nb_generator *gen;
  sample_rec *s;
  int n, cap;
};

nb_sample_sink *nb_sample_sink_new(uint64_t seed) {
  nb_sample_sink *k = calloc(1, sizeof *k);
  if (!k || !(k->gen = nb_generator_new(seed))) {
    free(k);
    nb_set_error(NB_ENOMEM, "nb_sample_sink_new: out of memory");
    return NULL;
  }
  return k;
}

static void sample_free(sample_rec *s) {
  for (int i = 0; i < s->n_in; i++) nb_release(s->in[i]);
  for (int a = 0; a < s->n_attrs; a++) {
    free((char *)s->attrs[a].name);
    if (s->attrs[a].type == NB_ATTR_STRING) free((char *)s->attrs[a].v.s);
  }
  free(s->in);
  free(s->attrs);
  free(s->desc);
}

void nb_sample_sink_free(nb_sample_sink *sink) {
  if (!sink) return;
  for (int i = 0; i < sink->n; i++) sample_free(&sink->s[i]);
  free(sink->s);
  nb_generator_free(sink->gen);
  free(sink);
}

nb_generator *nb_sample_generator(nb_sample_sink *sink) { return sink ? sink->gen : NULL; }

int nb_sample_add(nb_sample_sink *sink, const char *desc, int n_in, nb_tensor *const *in,
                  int n_attrs, const nb_attr *attrs, unsigned flags) {
  if (!sink) return nb_set_error(NB_EINVAL, "nb_sample_add: sink is NULL");
  if (n_in < 0 || n_in > NB_MAX_OP_INPUTS || (n_in > 0 && !in))
    return nb_set_error(NB_EINVAL, "nb_sample_add: %d inputs (must be 0..%d, array non-NULL)",
                        n_in, NB_MAX_OP_INPUTS);
  if (n_attrs < 0 || (n_attrs > 0 && !attrs))
    return nb_set_error(NB_EINVAL, "nb_sample_add: %d attributes with a NULL array", n_attrs);
  for (int a = 0; a < n_attrs; a++)
    if (!attrs[a].name || (attrs[a].type == NB_ATTR_STRING && !attrs[a].v.s))
      return nb_set_error(NB_EINVAL, "nb_sample_add: attribute %d has no name or a NULL string",
                          a);
  if (sink->n == sink->cap) {
    int cap = sink->cap ? 2 * sink->cap : 8;
    sample_rec *ns = realloc(sink->s, (size_t)cap * sizeof *ns);
    if (!ns) return nb_set_error(NB_ENOMEM, "nb_sample_add: out of memory");
    sink->s = ns;
    sink->cap = cap;
  }
  sample_rec s = {.n_in = n_in, .flags = flags};
  s.desc = strdup(desc ? desc : "");
  s.in = calloc((size_t)n_in + 1, sizeof *s.in);
  s.attrs = calloc((size_t)n_attrs + 1, sizeof *s.attrs);
  bool ok = s.desc && s.in && s.attrs;
  for (int a = 0; ok && a < n_attrs; a++) {
    s.attrs[a] = attrs[a];
    s.attrs[a].name = strdup(attrs[a].name);
    if (attrs[a].type == NB_ATTR_STRING) s.attrs[a].v.s = strdup(attrs[a].v.s);
    s.n_attrs = a + 1; /* so sample_free frees what was copied so far */
    ok = s.attrs[a].name && (attrs[a].type != NB_ATTR_STRING || s.attrs[a].v.s);
  }
  if (!ok) {
    s.n_in = 0;
    sample_free(&s);
    return nb_set_error(NB_ENOMEM, "nb_sample_add: out of memory");
  }
  for (int i = 0; i < n_in; i++) s.in[i] = in[i] ? nb_keep(in[i]) : NULL;
  sink->s[sink->n++] = s;
  return 0;
}

int nb_op_collect_samples(const nb_op *op, nb_sample_sink *sink) {
  if (!op || !sink) return nb_set_error(NB_EINVAL, "nb_op_collect_samples: op or sink is NULL");
  if (!op->d.samples)
    return nb_set_error(NB_ENOTFOUND, "%s: the op provides no samples", op->d.name);
  int depth = nb_scope_begin();
  if (depth < 0) return depth;
  nb_clear_error();
  int rc = op->d.samples(sink);
  nb_scope_end();
  if (rc < 0) {
    if (nb_last_status() == NB_OK) nb_set_error(rc, "samples function failed (status %d)", rc);
    nb_error_prefix("%s: samples", op->d.name);
  }
  return rc < 0 ? rc : 0;
}

int nb_sample_count(const nb_sample_sink *sink) { return sink ? sink->n : 0; }

int nb_sample_get(const nb_sample_sink *sink, int i, nb_sample *out) {
  if (!sink || !out) return nb_set_error(NB_EINVAL, "nb_sample_get: sink or out is NULL");
  if (i < 0 || i >= sink->n)
    return nb_set_error(NB_EINVAL, "nb_sample_get: index %d out of range [0, %d)", i, sink->n);
  const sample_rec *s = &sink->s[i];
  *out = (nb_sample){s->desc, s->n_in, s->in, s->n_attrs, s->attrs, s->flags};
  return 0;
}
