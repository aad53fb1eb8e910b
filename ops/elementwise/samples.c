/* ops/elementwise/samples.c — sample inputs for the conformance harness, shared by the
 * elementwise ops: float64 values from the sink's seeded generator, the broadcasting
 * patterns every binary op must handle, 0-d operands and a strided (transposed) view.
 */
#include "ew.h"

nb_tensor *ew_rand(nb_sample_sink *sink, int ndim, const int64_t *shape, double lo, double hi) {
  return nb_rand_range(ndim, shape, lo, hi, NB_F64, nb_sample_generator(sink));
}

nb_tensor *ew_rand_signed(nb_sample_sink *sink, int ndim, const int64_t *shape, double lo,
                          double hi) {
  nb_tensor *t = ew_rand(sink, ndim, shape, lo, hi);
  if (!t) return NULL;
  double *v = nb_data(t); /* fresh and contiguous */
  for (int64_t i = 1; i < nb_numel(t); i += 2) v[i] = -v[i];
  return t;
}

static nb_tensor *draw(nb_sample_sink *sink, int ndim, const int64_t *shape, ew_range r) {
  return r.signed_ ? ew_rand_signed(sink, ndim, shape, r.lo, r.hi)
                   : ew_rand(sink, ndim, shape, r.lo, r.hi);
}

/* A [3,2] view of a fresh [2,3] tensor (strides [1,3]): exercises the strided loops. */
static nb_tensor *draw_transposed(nb_sample_sink *sink, ew_range r) {
  nb_tensor *base = draw(sink, 2, (const int64_t[]){2, 3}, r);
  return base ? nb_as_strided(base, 2, (const int64_t[]){3, 2}, (const int64_t[]){1, 3}, 0) : NULL;
}

typedef struct shape_pair {
  const char *desc;
  int nda, ndb;
  int64_t sa[3], sb[3];
  unsigned flags;
} shape_pair;

static const shape_pair binary_pairs[] = {
    {"same shape [2,3]", 2, 2, {2, 3}, {2, 3}, 0},
    {"[2,3] with [3]", 2, 1, {2, 3}, {3}, NB_SAMPLE_BROADCAST},
    {"[2,1] with [1,3]", 2, 2, {2, 1}, {1, 3}, NB_SAMPLE_BROADCAST},
    {"[2,3,4] with [3,1]", 3, 2, {2, 3, 4}, {3, 1}, NB_SAMPLE_BROADCAST},
    {"0-d with [4]", 0, 1, {0}, {4}, NB_SAMPLE_BROADCAST},
    {"[3] with 0-d", 1, 0, {3}, {0}, NB_SAMPLE_BROADCAST},
    {"0-d with 0-d", 0, 0, {0}, {0}, 0},
};

int ew_binary_samples(nb_sample_sink *sink, ew_range ra, ew_range rb, unsigned flags) {
  if (nb_scope_begin() < 0) return nb_last_status();
  int r = 0;
  for (size_t i = 0; r == 0 && i < sizeof binary_pairs / sizeof binary_pairs[0]; i++) {
    const shape_pair *p = &binary_pairs[i];
    nb_tensor *in[2] = {draw(sink, p->nda, p->sa, ra), draw(sink, p->ndb, p->sb, rb)};
    r = in[0] && in[1] ? nb_sample_add(sink, p->desc, 2, in, 0, NULL, p->flags | flags)
                       : nb_last_status();
  }
  if (r == 0) {
    nb_tensor *in[2] = {draw_transposed(sink, ra), draw(sink, 2, (const int64_t[]){3, 2}, rb)};
    r = in[0] && in[1]
            ? nb_sample_add(sink, "transposed [3,2] view with [3,2]", 2, in, 0, NULL, flags)
            : nb_last_status();
  }
  nb_scope_end();
  return r;
}

int ew_unary_samples(nb_sample_sink *sink, ew_range rg, int n_attrs, const nb_attr *attrs) {
  static const struct {
    const char *desc;
    int ndim;
    int64_t shape[3];
  } shapes[] = {{"[2,3]", 2, {2, 3}}, {"[5]", 1, {5}}, {"0-d", 0, {0}}, {"[2,3,4]", 3, {2, 3, 4}}};
  if (nb_scope_begin() < 0) return nb_last_status();
  int r = 0;
  for (size_t i = 0; r == 0 && i < sizeof shapes / sizeof shapes[0]; i++) {
    nb_tensor *x = draw(sink, shapes[i].ndim, shapes[i].shape, rg);
    r = x ? nb_sample_add(sink, shapes[i].desc, 1, &x, n_attrs, attrs, 0) : nb_last_status();
  }
  if (r == 0) {
    nb_tensor *x = draw_transposed(sink, rg);
    r = x ? nb_sample_add(sink, "transposed [3,2] view", 1, &x, n_attrs, attrs, 0)
          : nb_last_status();
  }
  nb_scope_end();
  return r;
}

int ew_inplace_samples(nb_sample_sink *sink, ew_range rself, ew_range rother) {
  static const shape_pair pairs[] = {
      {"[2,3] with [2,3]", 2, 2, {2, 3}, {2, 3}, 0},
      {"[2,3] with [3]", 2, 1, {2, 3}, {3}, NB_SAMPLE_BROADCAST},
      {"[2,3] with 0-d", 2, 0, {2, 3}, {0}, NB_SAMPLE_BROADCAST},
  };
  if (nb_scope_begin() < 0) return nb_last_status();
  int r = 0;
  for (size_t i = 0; r == 0 && i < sizeof pairs / sizeof pairs[0]; i++) {
    const shape_pair *p = &pairs[i];
    nb_tensor *in[2] = {draw(sink, p->nda, p->sa, rself), draw(sink, p->ndb, p->sb, rother)};
    r = in[0] && in[1] ? nb_sample_add(sink, p->desc, 2, in, 0, NULL, p->flags) : nb_last_status();
  }
  nb_scope_end();
  return r;
}

/* Integers 0..3 as float64: exact in float32 too, and equal pairs occur. */
static nb_tensor *draw_int(nb_sample_sink *sink, int ndim, const int64_t *shape) {
  nb_tensor *t = ew_rand(sink, ndim, shape, 0, 4);
  if (!t) return NULL;
  double *v = nb_data(t);
  for (int64_t i = 0; i < nb_numel(t); i++) v[i] = floor(v[i]);
  return t;
}

int ew_compare_samples(nb_sample_sink *sink) {
  if (nb_scope_begin() < 0) return nb_last_status();
  int r = 0;
  for (size_t i = 0; r == 0 && i < 6; i++) {
    const shape_pair *p = &binary_pairs[i];
    nb_tensor *in[2] = {draw_int(sink, p->nda, p->sa), draw_int(sink, p->ndb, p->sb)};
    r = in[0] && in[1]
            ? nb_sample_add(sink, p->desc, 2, in, 0, NULL, p->flags | NB_SAMPLE_NO_GRAD_CHECK)
            : nb_last_status();
  }
  nb_scope_end();
  return r;
}

int ew_logical_samples(nb_sample_sink *sink, int n_in) {
  if (nb_scope_begin() < 0) return nb_last_status();
  int r = 0;
  for (size_t i = 0; r == 0 && i < 4; i++) { /* same shape, broadcasts, 0-d */
    const shape_pair *p = &binary_pairs[i == 3 ? 4 : i];
    nb_tensor *in[2] = {draw_int(sink, p->nda, p->sa), draw_int(sink, p->ndb, p->sb)};
    r = in[0] && in[1] ? nb_sample_add(sink, p->desc, n_in, in, 0, NULL,
                                       (n_in == 2 ? p->flags : 0) | NB_SAMPLE_NO_GRAD_CHECK)
                       : nb_last_status();
  }
  if (r == 0) { /* bool operands */
    nb_tensor *a = draw_int(sink, 2, (const int64_t[]){2, 3});
    nb_tensor *b = draw_int(sink, 1, (const int64_t[]){3});
    nb_tensor *in[2] = {a ? nb_convert(a, NB_BOOL) : NULL, b ? nb_convert(b, NB_BOOL) : NULL};
    r = in[0] && in[1] ? nb_sample_add(sink, n_in == 2 ? "bool [2,3] with bool [3]" : "bool [2,3]",
                                       n_in, in, 0, NULL, NB_SAMPLE_NO_GRAD_CHECK)
                       : nb_last_status();
  }
  nb_scope_end();
  return r;
}
