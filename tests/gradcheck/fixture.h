/* tests/gradcheck/fixture.h — helpers shared by the deliberately broken fixture plugins
 * (each a tiny plugin of float64 ops; none is on the plugin path: the tests load them
 * with nabla-gradcheck --plugin). */
#ifndef NABLA_GRADCHECK_FIXTURE_H
#define NABLA_GRADCHECK_FIXTURE_H

#include <nabla/sdk.h>

/* A contiguous float64 copy of t (scoped) and its data. */
static inline double *fx_values(nb_tensor *t, nb_tensor **copy) {
  *copy = nb_copy_data(t);
  return *copy ? (double *)nb_data(*copy) : NULL;
}

/* out = f(x) elementwise, float64. */
#define FX_UNARY(fname, expr)                                                        \
  static nb_tensor *fname(nb_tensor *t) {                                            \
    nb_tensor *c;                                                                    \
    double *x = fx_values(t, &c);                                                    \
    nb_tensor *o = x ? nb_empty(nb_ndim(t), nb_shape(t), NB_F64) : NULL;             \
    if (!o) return NULL;                                                             \
    double *y = nb_data(o);                                                          \
    for (int64_t i = 0; i < nb_numel(o); i++) y[i] = (expr);                         \
    return o;                                                                        \
  }

/* One sample: a 2x3 float64 input uniform in [-1, 1). */
static inline int fx_samples_2x3(nb_sample_sink *sink) {
  int64_t shape[] = {2, 3};
  nb_tensor *x = nb_rand_range(2, shape, -1, 1, NB_F64, nb_sample_generator(sink));
  return x ? nb_sample_add(sink, "2x3", 1, &x, 0, NULL, 0) : nb_last_status();
}

static const nb_input_spec fx_x[] = {{"x", NB_DT_F64, 0, "float64 input"}};
static const nb_output_spec fx_out[] = {{"out", 0, "same shape"}};

#endif
