/* graphviz.c — the backward graph as Graphviz DOT, drawn the way torchviz draws it:
 * leaves (AccumulateGrad, with the leaf's shape) at the top, edges running from each
 * next function towards the root's grad_fn. */
#include <stdlib.h>

#include "internal.h"

typedef struct seen {
  const nb_node **v;
  int n, cap;
} seen;

static int seen_add(seen *s, const nb_node *n) {
  for (int i = 0; i < s->n; i++)
    if (s->v[i] == n) return 0;
  if (s->n == s->cap) {
    int cap = s->cap ? 2 * s->cap : 32;
    const nb_node **v = realloc(s->v, (size_t)cap * sizeof *v);
    if (!v) return nb_set_error(NB_ENOMEM, "nb_graph_dot: out of memory");
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = n;
  return 1;
}

int nb_graph_dot(const nb_tensor *root, FILE *out) {
  if (!root || !out) return nb_set_error(NB_EINVAL, "nb_graph_dot: %s is NULL", root ? "out" : "root");
  seen s = {0};
  fprintf(out, "digraph backward {\n  node [shape=box, style=filled, fillcolor=lightgrey, "
               "fontname=\"monospace\"];\n");
  fprintf(out, "  root [label=\"%s %s\", fillcolor=darkolivegreen1];\n",
          nb_dtype_name((nb_dtype)root->dtype), nb_shape_of(root));
  int rc = NB_OK;
  if (root->grad_fn) {
    rc = seen_add(&s, root->grad_fn);
    fprintf(out, "  n%p -> root;\n", (const void *)root->grad_fn);
  }
  for (int i = 0; rc >= 0 && i < s.n; i++) { /* the list grows while we walk it */
    const nb_node *n = s.v[i];
    if (n->variable)
      fprintf(out, "  n%p [label=\"%s\\n%s\", fillcolor=lightblue];\n", (const void *)n, n->name,
              nb_shape_of(n->variable));
    else
      fprintf(out, "  n%p [label=\"%s\"];\n", (const void *)n, n->name);
    for (int e = 0; e < n->n_in; e++) {
      const nb_node *m = n->next[e].node;
      if (!m) continue;
      fprintf(out, "  n%p -> n%p;\n", (const void *)m, (const void *)n);
      rc = seen_add(&s, m);
      if (rc < 0) break;
    }
  }
  fprintf(out, "}\n");
  free(s.v);
  if (rc < 0) return rc;
  return ferror(out) ? nb_set_error(NB_EIO, "nb_graph_dot: write failed") : NB_OK;
}
