/* ops/reduction/red_extreme.c — max/min kernels: over all elements (value and tie
 * count, for the evenly split gradient) and along one dim (values and first-occurrence
 * indices). NaN propagates as in PyTorch: it compares greater (max) / smaller (min) than
 * everything, and the first NaN is selected. Comparisons are exact, so the split into
 * parallel pieces never changes a result.
 */
#include <math.h>
#include <string.h>

#include "reduce.h"

/* v replaces the current best b (outer mode's per-element update) */
#define BETTER(is_max, v, b) (((is_max) ? (v) > (b) : (v) < (b)) || ((v) != (v) && (b) == (b)))

/* ---- contiguous runs ------------------------------------------------------------------ */

/* Extreme of x[0..n) by 8 independent lanes of branch-free selects (vectorisable), with
 * NaN detected by summing v - v (NaN for NaN and for ±inf; a set flag is confirmed by an
 * exact scan, so infinities cost one extra pass). *nan: some element is NaN. */
#define DEFINE_CONTIG(name, T, CMP, INIT)                                        \
  static T name(const T *x, int64_t n, int *nan) {                               \
    T b[8], z[8];                                                                \
    for (int k = 0; k < 8; k++) {                                                \
      b[k] = (T)(INIT);                                                          \
      z[k] = 0;                                                                  \
    }                                                                            \
    int64_t i = 0;                                                               \
    for (; i + 8 <= n; i += 8)                                                   \
      for (int k = 0; k < 8; k++) {                                              \
        T v = x[i + k];                                                          \
        b[k] = v CMP b[k] ? v : b[k];                                            \
        z[k] += v - v;                                                           \
      }                                                                          \
    T r = (T)(INIT), zz = 0;                                                     \
    for (int k = 0; k < 8; k++) {                                                \
      r = b[k] CMP r ? b[k] : r;                                                 \
      zz += z[k];                                                                \
    }                                                                            \
    for (; i < n; i++) {                                                         \
      T v = x[i];                                                                \
      r = v CMP r ? v : r;                                                       \
      zz += v - v;                                                               \
    }                                                                            \
    *nan = 0;                                                                    \
    if (zz != zz)                                                                \
      for (i = 0; i < n && !*nan; i++) *nan = x[i] != x[i];                      \
    return r;                                                                    \
  }
DEFINE_CONTIG(contig_max_f32, float, >, -INFINITY)
DEFINE_CONTIG(contig_max_f64, double, >, -INFINITY)
DEFINE_CONTIG(contig_min_f32, float, <, INFINITY)
DEFINE_CONTIG(contig_min_f64, double, <, INFINITY)

/* ---- over all elements -------------------------------------------------------------- */

/* Pass 1 finds the extreme value of each fixed block with a branch-free select (NaNs are
 * only flagged), pass 2 counts the elements tied with the overall result. */
typedef struct ext_acc {
  double best;
  int nan;
  int64_t ties;
} ext_acc;

#define DEFINE_EXT_RUN(name, T, CMP, INIT, CONTIG)                               \
  static void name(const void *p, int64_t n, int64_t s, void *user) {            \
    const T *x = p;                                                              \
    ext_acc *a = user;                                                           \
    T b = (T)(INIT);                                                             \
    int nan = 0;                                                                 \
    if (s == 1) {                                                                \
      b = CONTIG(x, n, &nan);                                                    \
    } else {                                                                     \
      for (int64_t i = 0; i < n; i++) {                                          \
        T v = x[i * s];                                                          \
        b = v CMP b ? v : b;                                                     \
        nan |= v != v;                                                           \
      }                                                                          \
    }                                                                            \
    if ((double)b CMP a->best) a->best = (double)b;                              \
    a->nan |= nan;                                                               \
  }
DEFINE_EXT_RUN(max_run_f32, float, >, -INFINITY, contig_max_f32)
DEFINE_EXT_RUN(max_run_f64, double, >, -INFINITY, contig_max_f64)
DEFINE_EXT_RUN(min_run_f32, float, <, INFINITY, contig_min_f32)
DEFINE_EXT_RUN(min_run_f64, double, <, INFINITY, contig_min_f64)

#define DEFINE_TIE_RUN(name, T)                                                  \
  static void name(const void *p, int64_t n, int64_t s, void *user) {            \
    const T *x = p;                                                              \
    ext_acc *a = user;                                                           \
    int64_t t = 0;                                                               \
    if (a->nan) {                                                                \
      for (int64_t i = 0; i < n; i++) t += x[i * s] != x[i * s];                 \
    } else {                                                                     \
      T m = (T)a->best;                                                          \
      for (int64_t i = 0; i < n; i++) t += x[i * s] == m;                        \
    }                                                                            \
    a->ties += t;                                                                \
  }
DEFINE_TIE_RUN(tie_run_f32, float)
DEFINE_TIE_RUN(tie_run_f64, double)

typedef struct ext_job {
  red_plan plan;
  const char *x;
  size_t esize;
  red_run_fn run;
  ext_acc init; /* starting accumulator of every block */
  ext_acc *partial;
} ext_job;

static void ext_block(int64_t begin, int64_t end, void *user) {
  const ext_job *j = user;
  for (int64_t b = begin; b < end; b++) {
    ext_acc a = j->init;
    int64_t start = b * RED_BLOCK, n = j->plan.nred - start;
    if (n > RED_BLOCK) n = RED_BLOCK;
    red_walk(&j->plan, j->x, j->esize, start, n, j->run, &a);
    j->partial[b] = a;
  }
}

int red_extreme_all(nb_tensor *x, bool is_max, double *value, int64_t *ties) {
  ext_job j;
  int ndim = nb_ndim(x);
  bool f32 = nb_dtype_of(x) == NB_F32;
  red_plan_init(&j.plan, ndim, nb_shape(x), nb_strides(x), ndim > 0 ? (1u << ndim) - 1u : 0u);
  j.x = nb_data(x);
  j.esize = nb_dtype_size(nb_dtype_of(x));
  j.run = is_max ? (f32 ? max_run_f32 : max_run_f64) : (f32 ? min_run_f32 : min_run_f64);
  j.init = (ext_acc){.best = is_max ? -INFINITY : INFINITY, .nan = 0, .ties = 0};
  int64_t nb = (j.plan.nred + RED_BLOCK - 1) / RED_BLOCK;
  j.partial = nb_scratch(0, (size_t)nb * sizeof(ext_acc));
  if (!j.partial) return nb_last_status();
  nb_parallel_for(nb, 1, ext_block, &j);
  ext_acc a = j.init;
  for (int64_t b = 0; b < nb; b++) {
    if (is_max ? j.partial[b].best > a.best : j.partial[b].best < a.best) a.best = j.partial[b].best;
    a.nan |= j.partial[b].nan;
  }
  *value = a.nan ? NAN : a.best;
  if (ties) { /* pass 2 */
    j.run = f32 ? tie_run_f32 : tie_run_f64;
    j.init = a;
    nb_parallel_for(nb, 1, ext_block, &j);
    *ties = 0;
    for (int64_t b = 0; b < nb; b++) *ties += j.partial[b].ties;
  }
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

/* Inner mode, one output at a time: the extreme value by a branch-free select, then the
 * first index holding it (or the first NaN). */
#define DEFINE_DIM_INNER(name, T, CMP, INIT, CONTIG)                            \
  static void name(const dim_job *j, int64_t begin, int64_t end) {               \
    const T *x = (const T *)j->x;                                                \
    int64_t n = j->plan.rsize[0], s = j->plan.rstride[0];                        \
    for (int64_t o = begin; o < end; o++) {                                      \
      const T *p = x + red_kept_offset(&j->plan, o);                             \
      T b = (T)(INIT);                                                           \
      int nan = 0;                                                               \
      if (s == 1 || n == 1) {                                                    \
        b = CONTIG(p, n, &nan);                                                  \
      } else {                                                                   \
        for (int64_t k = 0; k < n; k++) {                                        \
          T v = p[k * s];                                                        \
          b = v CMP b ? v : b;                                                   \
          nan |= v != v;                                                         \
        }                                                                        \
      }                                                                          \
      int64_t bi = 0;                                                            \
      if (nan) {                                                                 \
        while (p[bi * s] == p[bi * s]) bi++;                                     \
        b = p[bi * s];                                                           \
      } else {                                                                   \
        while (p[bi * s] != b) bi++;                                             \
        b = p[bi * s]; /* the selected element itself (sign of a zero) */       \
      }                                                                          \
      ((T *)j->vals)[o] = b;                                                     \
      j->idx[o] = bi;                                                            \
    }                                                                            \
  }
DEFINE_DIM_INNER(dim_inner_max_f32, float, >, -INFINITY, contig_max_f32)
DEFINE_DIM_INNER(dim_inner_max_f64, double, >, -INFINITY, contig_max_f64)
DEFINE_DIM_INNER(dim_inner_min_f32, float, <, INFINITY, contig_min_f32)
DEFINE_DIM_INNER(dim_inner_min_f64, double, <, INFINITY, contig_min_f64)

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
    (j->is_max ? dim_inner_max_f32 : dim_inner_min_f32)(j, begin, end);
  else
    (j->is_max ? dim_inner_max_f64 : dim_inner_min_f64)(j, begin, end);
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
    int64_t g = NB_PARALLEL_GRAIN / (work * DIM_CHUNK);
    nb_parallel_for((j.plan.nout / kin) * j.nchunks, g > 0 ? g : 1, dim_outer_task, &j);
  } else {
    j.nchunks = 1;
    int64_t g = NB_PARALLEL_GRAIN / work;
    nb_parallel_for(j.plan.nout, g > 0 ? g : 1, dim_inner_task, &j);
  }
  return 0;
}
