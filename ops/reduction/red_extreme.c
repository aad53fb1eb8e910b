/* ops/reduction/red_extreme.c — max/min kernels: over all elements (value and tie
 * count, for the evenly split gradient) and along one dim (values and first-occurrence
 * indices). NaN propagates as in PyTorch: it compares greater (max) / smaller (min) than
 * everything, and the first NaN is selected. Comparisons are exact, so the split into
 * parallel pieces never changes a result.
 */
#include <math.h>
#include <string.h>

#include "reduce.h"

/* v replaces the current best b */
#define BETTER(is_max, v, b) (((is_max) ? (v) > (b) : (v) < (b)) || ((v) != (v) && (b) == (b)))
/* v ties with b (NaN ties with NaN) */
#define TIES(v, b) ((v) == (b) || ((v) != (v) && (b) != (b)))

/* ---- over all elements -------------------------------------------------------------- */

typedef struct ext_acc {
  double best;
  int64_t ties;
  bool any;
  bool is_max;
} ext_acc;

static void ext_update(ext_acc *a, double v, int64_t n) {
  if (!a->any) {
    a->best = v;
    a->ties = n;
    a->any = true;
  } else if (BETTER(a->is_max, v, a->best)) {
    a->best = v;
    a->ties = n;
  } else if (TIES(v, a->best)) {
    a->ties += n;
  }
}

#define DEFINE_EXT_RUN(name, T)                                                  \
  static void name(const void *p, int64_t n, int64_t s, void *user) {            \
    const T *x = p;                                                              \
    ext_acc *a = user;                                                           \
    if (!a->any && n > 0) { /* x[0] is counted as a tie by the loop */          \
      a->best = (double)x[0];                                                    \
      a->ties = 0;                                                               \
      a->any = true;                                                             \
    }                                                                            \
    double b = a->best;                                                          \
    int64_t t = a->ties;                                                         \
    bool mx = a->is_max;                                                         \
    for (int64_t i = 0; i < n; i++) {                                            \
      double v = (double)x[i * s];                                               \
      if (BETTER(mx, v, b)) {                                                    \
        b = v;                                                                   \
        t = 1;                                                                   \
      } else if (TIES(v, b)) {                                                   \
        t++;                                                                     \
      }                                                                          \
    }                                                                            \
    a->best = b;                                                                 \
    a->ties = t;                                                                 \
  }
DEFINE_EXT_RUN(ext_run_f32, float)
DEFINE_EXT_RUN(ext_run_f64, double)

typedef struct ext_job {
  red_plan plan;
  const char *x;
  size_t esize;
  red_run_fn run;
  bool is_max;
  ext_acc *partial;
} ext_job;

static void ext_block(int64_t begin, int64_t end, void *user) {
  const ext_job *j = user;
  for (int64_t b = begin; b < end; b++) {
    ext_acc a = {.any = false, .is_max = j->is_max};
    int64_t start = b * RED_BLOCK, n = j->plan.nred - start;
    if (n > RED_BLOCK) n = RED_BLOCK;
    red_walk(&j->plan, j->x, j->esize, start, n, j->run, &a);
    j->partial[b] = a;
  }
}

int red_extreme_all(nb_tensor *x, bool is_max, double *value, int64_t *ties) {
  ext_job j;
  int ndim = nb_ndim(x);
  red_plan_init(&j.plan, ndim, nb_shape(x), nb_strides(x), ndim > 0 ? (1u << ndim) - 1u : 0u);
  j.x = nb_data(x);
  j.esize = nb_dtype_size(nb_dtype_of(x));
  j.run = nb_dtype_of(x) == NB_F32 ? ext_run_f32 : ext_run_f64;
  j.is_max = is_max;
  int64_t nb = (j.plan.nred + RED_BLOCK - 1) / RED_BLOCK;
  j.partial = nb_scratch(0, (size_t)nb * sizeof(ext_acc));
  if (!j.partial) return nb_set_error(NB_ENOMEM, "%s: out of memory", is_max ? "max" : "min");
  nb_parallel_for(nb, 1, ext_block, &j);
  ext_acc a = {.any = false, .is_max = is_max};
  for (int64_t b = 0; b < nb; b++) ext_update(&a, j.partial[b].best, j.partial[b].ties);
  *value = a.best;
  *ties = a.ties;
  return 0;
}

/* ---- along one dim ------------------------------------------------------------------- */

#define DIM_CHUNK 256

typedef struct dim_job {
  red_plan plan; /* kept dims + the one reduced dim (index order preserved) */
  const char *x;
  void *vals;
  int64_t *idx;
  nb_dtype dt;
  bool is_max;
  int64_t nchunks;
} dim_job;

#define DEFINE_DIM_INNER(name, T)                                                \
  static void name(const dim_job *j, int64_t begin, int64_t end) {               \
    const T *x = (const T *)j->x;                                                \
    int64_t n = j->plan.rsize[0], s = j->plan.rstride[0];                        \
    bool mx = j->is_max;                                                         \
    for (int64_t o = begin; o < end; o++) {                                      \
      const T *p = x + red_kept_offset(&j->plan, o);                             \
      T b = p[0];                                                                \
      int64_t bi = 0;                                                            \
      for (int64_t k = 1; k < n; k++) {                                          \
        T v = p[k * s];                                                          \
        if (BETTER(mx, v, b)) {                                                  \
          b = v;                                                                 \
          bi = k;                                                                \
        }                                                                        \
      }                                                                          \
      ((T *)j->vals)[o] = b;                                                     \
      j->idx[o] = bi;                                                            \
    }                                                                            \
  }
DEFINE_DIM_INNER(dim_inner_f32, float)
DEFINE_DIM_INNER(dim_inner_f64, double)

/* Outer mode: a chunk of adjacent outputs along the kept inner dim, swept together. */
#define DEFINE_DIM_OUTER(name, T)                                                \
  static void name(const dim_job *j, int64_t begin, int64_t end) {               \
    const red_plan *p = &j->plan;                                                \
    int64_t kin = p->ksize[p->nk - 1], ks = p->kstride[p->nk - 1];               \
    int64_t n = p->rsize[0], s = p->rstride[0];                                  \
    bool mx = j->is_max;                                                         \
    T best[DIM_CHUNK];                                                           \
    int64_t bi[DIM_CHUNK];                                                       \
    for (int64_t t = begin; t < end; t++) {                                      \
      int64_t ko = t / j->nchunks, j0 = (t % j->nchunks) * DIM_CHUNK;            \
      int64_t len = kin - j0 < DIM_CHUNK ? kin - j0 : DIM_CHUNK;                 \
      int64_t o0 = ko * kin + j0;                                                \
      const T *x = (const T *)j->x + red_kept_offset(p, o0);                     \
      for (int64_t i = 0; i < len; i++) {                                        \
        best[i] = x[i * ks];                                                     \
        bi[i] = 0;                                                               \
      }                                                                          \
      for (int64_t k = 1; k < n; k++) {                                          \
        const T *r = x + k * s;                                                  \
        for (int64_t i = 0; i < len; i++) {                                      \
          T v = r[i * ks];                                                       \
          if (BETTER(mx, v, best[i])) {                                          \
            best[i] = v;                                                         \
            bi[i] = k;                                                           \
          }                                                                      \
        }                                                                        \
      }                                                                          \
      memcpy((T *)j->vals + o0, best, (size_t)len * sizeof(T));                  \
      memcpy(j->idx + o0, bi, (size_t)len * sizeof(int64_t));                    \
    }                                                                            \
  }
DEFINE_DIM_OUTER(dim_outer_f32, float)
DEFINE_DIM_OUTER(dim_outer_f64, double)

static void dim_inner_task(int64_t begin, int64_t end, void *user) {
  const dim_job *j = user;
  if (j->dt == NB_F32)
    dim_inner_f32(j, begin, end);
  else
    dim_inner_f64(j, begin, end);
}

static void dim_outer_task(int64_t begin, int64_t end, void *user) {
  const dim_job *j = user;
  if (j->dt == NB_F32)
    dim_outer_f32(j, begin, end);
  else
    dim_outer_f64(j, begin, end);
}

int red_extreme_dim(nb_tensor *x, int dim, bool is_max, nb_tensor *vals, nb_tensor *idx) {
  dim_job j;
  int ndim = nb_ndim(x);
  red_plan_init(&j.plan, ndim, nb_shape(x), nb_strides(x), ndim > 0 ? 1u << dim : 0u);
  j.x = nb_data(x);
  j.vals = nb_data(vals);
  j.idx = nb_data(idx);
  j.dt = nb_dtype_of(x);
  j.is_max = is_max;
  if (j.plan.nout == 0) return 0;
  int64_t work = j.plan.nred > 0 ? j.plan.nred : 1;
  if (red_outer_mode(&j.plan)) {
    int64_t kin = j.plan.ksize[j.plan.nk - 1];
    j.nchunks = (kin + DIM_CHUNK - 1) / DIM_CHUNK;
    int64_t g = 32768 / (work * DIM_CHUNK);
    nb_parallel_for((j.plan.nout / kin) * j.nchunks, g > 0 ? g : 1, dim_outer_task, &j);
  } else {
    j.nchunks = 1;
    int64_t g = 32768 / work;
    nb_parallel_for(j.plan.nout, g > 0 ? g : 1, dim_inner_task, &j);
  }
  return 0;
}
