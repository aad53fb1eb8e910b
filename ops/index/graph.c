/* ops/index/graph.c — helpers of the index ops' backward_graph functions: gradients that
 * scatter the output gradient back into zeros of the input's shape, written with the
 * dispatched scatter_add (so a create_graph backward records them, and scatter_add's
 * own backward, a gather, differentiates them again). */
#include "index.h"

nb_tensor *idx_scatter_graph(nb_tensor *g, int ndim, const int64_t *shape, int dim,
                             nb_tensor *index) {
  nb_tensor *z = nb_zeros(ndim, shape, nb_dtype_of(g));
  return z ? nb_call1("scatter_add", 3, (nb_tensor *const[]){z, index, g}, 1,
                      &NB_A_INT("dim", dim))
           : NULL;
}

nb_tensor *idx_positions(const nb_tensor *like, int dim, const int64_t *pos) {
  nb_tensor *t = nb_empty(nb_ndim(like), nb_shape(like), NB_I64);
  if (!t) return NULL;
  int64_t n = nb_numel(t), inner = 1, len = nb_shape(like)[dim];
  for (int d = dim + 1; d < nb_ndim(like); d++) inner *= nb_shape(like)[d];
  int64_t *v = nb_data(t);
  for (int64_t e = 0; e < n; e++) v[e] = pos[(e / inner) % len];
  return t;
}

nb_tensor *idx_scatter_at(nb_tensor *g, int ndim, const int64_t *shape, int dim,
                          const int64_t *pos) {
  nb_tensor *index = idx_positions(g, dim, pos);
  return index ? idx_scatter_graph(g, ndim, shape, dim, index) : NULL;
}
