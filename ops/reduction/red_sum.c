/* ops/reduction/red_sum.c — the sum/mean kernel and its gradient (broadcast back).
 *
 * Floating sums accumulate in double with pairwise summation over inner runs; int64 sums
 * wrap like PyTorch's (computed in uint64 so overflow is defined). Work is split into
 * pieces whose boundaries depend only on the shape (one output, a block of outputs, or a
 * fixed RED_BLOCK of a full reduction), so results are identical for any thread count.
 */
#include <math.h>
#include <string.h>

#include "reduce.h"

/* ---- inner runs ---------------------------------------------------------------------- */

#define PAIRWISE_BASE 128

/* Pairwise sum of n elements of type T at stride s, accumulated in double. The s == 1
 * branch is a separate loop so the compiler can vectorise it. */
#define DEFINE_PAIRWISE(name, T)                                                       \
  static double name(const T *x, int64_t n, int64_t s) {                               \
    if (n <= PAIRWISE_BASE) {                                                          \
      double a[8] = {0};                                                               \
      int64_t i = 0;                                                                   \
      if (s == 1) {                                                                    \
        for (; i + 8 <= n; i += 8)                                                     \
          for (int k = 0; k < 8; k++) a[k] += (double)x[i + k];                        \
      } else {                                                                         \
        for (; i + 8 <= n; i += 8)                                                     \
          for (int k = 0; k < 8; k++) a[k] += (double)x[(i + k) * s];                  \
      }                                                                                \
      double r = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));   \
      for (; i < n; i++) r += (double)x[i * s];                                        \
      return r;                                                                        \
    }                                                                                  \
    int64_t h = n / 2;                                                                 \
    h -= h % 8;                                                                        \
    return name(x, h, s) + name(x + h * s, n - h, s);                                  \
  }
DEFINE_PAIRWISE(pw_f64, double)
DEFINE_PAIRWISE(pw_f32, float)

typedef struct sum_acc {
  double d;
  uint64_t u; /* int64 sums, wrapping */
} sum_acc;

static void run_f64(const void *p, int64_t n, int64_t s, void *acc) {
  ((sum_acc *)acc)->d += pw_f64(p, n, s);
}
static void run_f32(const void *p, int64_t n, int64_t s, void *acc) {
  ((sum_acc *)acc)->d += pw_f32(p, n, s);
}
static void run_i64(const void *p, int64_t n, int64_t s, void *acc) {
  const int64_t *x = p;
  uint64_t r = 0;
  for (int64_t i = 0; i < n; i++) r += (uint64_t)x[i * s];
  ((sum_acc *)acc)->u += r;
}

/* ---- the job shared by the parallel workers ------------------------------------------ */

#define OUTER_CHUNK 256

typedef struct sum_job {
  red_plan plan;
  nb_dtype dt;
  size_t esize;
  const char *x; /* input's first element */
  void *out;     /* contiguous output */
  double scale;  /* 1, or 1/count for mean */
  red_run_fn run;
  sum_acc *partial; /* full reductions: one per block */
  int64_t nchunks;  /* outer mode: chunks per kept inner row */
} sum_job;

static void store(const sum_job *j, int64_t o, sum_acc a) {
  switch (j->dt) {
  case NB_F32: ((float *)j->out)[o] = (float)(a.d * j->scale); break;
  case NB_F64: ((double *)j->out)[o] = a.d * j->scale; break;
  default: ((int64_t *)j->out)[o] = (int64_t)a.u; break;
  }
}

/* One output per task: walk its whole reduced space. */
static void inner_task(int64_t begin, int64_t end, void *user) {
  const sum_job *j = user;
  for (int64_t o = begin; o < end; o++) {
    sum_acc a = {0, 0};
    const char *base = j->x + red_kept_offset(&j->plan, o) * (int64_t)j->esize;
    red_walk(&j->plan, base, j->esize, 0, j->plan.nred, j->run, &a);
    store(j, o, a);
  }
}

/* One fixed block of a full reduction. */
static void block_task(int64_t begin, int64_t end, void *user) {
  const sum_job *j = user;
  for (int64_t b = begin; b < end; b++) {
    sum_acc a = {0, 0};
    int64_t start = b * RED_BLOCK, n = j->plan.nred - start;
    if (n > RED_BLOCK) n = RED_BLOCK;
    red_walk(&j->plan, j->x, j->esize, start, n, j->run, &a);
    j->partial[b] = a;
  }
}

static sum_acc combine(const sum_acc *p, int64_t n) {
  if (n <= 8) {
    sum_acc a = {0, 0};
    for (int64_t i = 0; i < n; i++) {
      a.d += p[i].d;
      a.u += p[i].u;
    }
    return a;
  }
  sum_acc l = combine(p, n / 2), r = combine(p + n / 2, n - n / 2);
  return (sum_acc){l.d + r.d, l.u + r.u};
}

/* A chunk of up to OUTER_CHUNK adjacent outputs along the kept inner dim: sweep the
 * reduced space once, updating a vector of accumulators (sequential order per output). */
static void outer_task(int64_t begin, int64_t end, void *user) {
  const sum_job *j = user;
  const red_plan *p = &j->plan;
  int64_t kin = p->ksize[p->nk - 1], ks = p->kstride[p->nk - 1];
  double acc[OUTER_CHUNK];
  uint64_t uacc[OUTER_CHUNK];
  for (int64_t t = begin; t < end; t++) {
    int64_t ko = t / j->nchunks, j0 = (t % j->nchunks) * OUTER_CHUNK;
    int64_t len = kin - j0 < OUTER_CHUNK ? kin - j0 : OUTER_CHUNK;
    int64_t o0 = ko * kin + j0;
    int64_t base = red_kept_offset(p, o0);
    memset(acc, 0, sizeof acc);
    memset(uacc, 0, sizeof uacc);
    int64_t idx[NB_MAX_DIMS] = {0}, off = 0;
    for (int64_t r = 0; r < p->nred; r++) {
      const char *q = j->x + (base + off) * (int64_t)j->esize;
      if (j->dt == NB_F64) {
        const double *x = (const double *)q;
        if (ks == 1)
          for (int64_t i = 0; i < len; i++) acc[i] += x[i];
        else
          for (int64_t i = 0; i < len; i++) acc[i] += x[i * ks];
      } else if (j->dt == NB_F32) {
        const float *x = (const float *)q;
        if (ks == 1)
          for (int64_t i = 0; i < len; i++) acc[i] += (double)x[i];
        else
          for (int64_t i = 0; i < len; i++) acc[i] += (double)x[i * ks];
      } else {
        const int64_t *x = (const int64_t *)q;
        for (int64_t i = 0; i < len; i++) uacc[i] += (uint64_t)x[i * ks];
      }
      for (int d = p->nr - 1; d >= 0; d--) { /* odometer over the reduced group */
        if (++idx[d] < p->rsize[d]) {
          off += p->rstride[d];
          break;
        }
        off -= (idx[d] - 1) * p->rstride[d];
        idx[d] = 0;
      }
    }
    for (int64_t i = 0; i < len; i++) store(j, o0 + i, (sum_acc){acc[i], uacc[i]});
  }
}

static int64_t grain_for(int64_t work_per_task) {
  int64_t g = NB_PARALLEL_GRAIN / (work_per_task > 0 ? work_per_task : 1);
  return g > 0 ? g : 1;
}

nb_tensor *red_sum_kernel(const char *op, nb_tensor *x, uint32_t mask, bool keepdim, bool mean) {
  int ndim = nb_ndim(x);
  const int64_t *shape = nb_shape(x);
  int64_t oshape[NB_MAX_DIMS];
  int ond = red_out_shape(ndim, shape, mask, keepdim, oshape);
  nb_dtype dt = nb_dtype_of(x);
  nb_tensor *out = nb_empty(ond, oshape, dt);
  if (!out) return NULL;
  sum_job j;
  red_plan_init(&j.plan, ndim, shape, nb_strides(x), mask);
  j.dt = dt;
  j.esize = nb_dtype_size(dt);
  j.x = nb_data(x);
  j.out = nb_data(out);
  j.scale = mean ? 1.0 / (double)j.plan.nred : 1.0;
  j.run = dt == NB_F64 ? run_f64 : dt == NB_F32 ? run_f32 : run_i64;
  j.partial = NULL;
  j.nchunks = 1;
  if (j.plan.nout == 0) return out;
  if (j.plan.nred == 0) { /* empty reduction: sum 0, mean NaN (0/0) as PyTorch */
    if (nb_fill(out, mean ? NAN : 0.0) < 0) return NULL;
    return out;
  }
  if (j.plan.nk == 0) { /* everything reduced into one value (or a few kept size-1) */
    int64_t nb = (j.plan.nred + RED_BLOCK - 1) / RED_BLOCK;
    if (nb == 1) {
      inner_task(0, j.plan.nout, &j);
      return out;
    }
    j.partial = nb_scratch(0, (size_t)nb * sizeof(sum_acc));
    if (!j.partial) {
      nb_set_error(NB_ENOMEM, "%s: out of memory for %lld partial sums", op, (long long)nb);
      return NULL;
    }
    nb_parallel_for(nb, 1, block_task, &j);
    sum_acc a = combine(j.partial, nb);
    for (int64_t o = 0; o < j.plan.nout; o++) store(&j, o, a);
    return out;
  }
  if (red_outer_mode(&j.plan)) {
    int64_t kin = j.plan.ksize[j.plan.nk - 1];
    j.nchunks = (kin + OUTER_CHUNK - 1) / OUTER_CHUNK;
    int64_t ntasks = (j.plan.nout / kin) * j.nchunks;
    nb_parallel_for(ntasks, grain_for(j.plan.nred * OUTER_CHUNK), outer_task, &j);
  } else {
    nb_parallel_for(j.plan.nout, grain_for(j.plan.nred), inner_task, &j);
  }
  return out;
}

/* ---- backward: broadcast the gradient back ------------------------------------------- */

typedef struct expand_job {
  int nd;
  int64_t size[NB_MAX_DIMS], sstride[NB_MAX_DIMS]; /* coalesced dst dims, src strides */
  nb_dtype dt;
  const char *src;
  char *dst;
  double scale;
  int64_t inner; /* size of the last dim */
} expand_job;

static void expand_rows(int64_t begin, int64_t end, void *user) {
  const expand_job *j = user;
  int64_t n = j->inner, ss = j->sstride[j->nd - 1];
  for (int64_t row = begin; row < end; row++) {
    int64_t soff = 0, rem = row;
    for (int d = j->nd - 2; d >= 0 && rem > 0; d--) {
      soff += (rem % j->size[d]) * j->sstride[d];
      rem /= j->size[d];
    }
    if (j->dt == NB_F64) {
      const double *s = (const double *)j->src + soff;
      double *d = (double *)j->dst + row * n;
      for (int64_t i = 0; i < n; i++) d[i] = s[i * ss] * j->scale;
    } else {
      const float *s = (const float *)j->src + soff;
      float *d = (float *)j->dst + row * n;
      for (int64_t i = 0; i < n; i++) d[i] = (float)((double)s[i * ss] * j->scale);
    }
  }
}

nb_tensor *red_expand(const char *op, nb_tensor *g, int ndim, const int64_t *shape,
                      uint32_t mask, bool keepdim, double scale) {
  nb_dtype dt = nb_dtype_of(g);
  if (dt != NB_F32 && dt != NB_F64) {
    nb_set_error(NB_EDTYPE, "%s backward: gradient of dtype %s is not floating", op,
                 nb_dtype_name(dt));
    return NULL;
  }
  int64_t oshape[NB_MAX_DIMS];
  int ond = red_out_shape(ndim, shape, mask, keepdim, oshape);
  if (nb_ndim(g) != ond || memcmp(nb_shape(g), oshape, (size_t)ond * sizeof(int64_t)) != 0) {
    char buf[96];
    nb_set_error(NB_ESHAPE, "%s backward: gradient has shape %s, expected %s", op,
                 nb_shape_of(g), nb_shape_str(ond, oshape, buf, sizeof buf));
    return NULL;
  }
  nb_tensor *out = nb_empty(ndim, shape, dt);
  if (!out || nb_numel(out) == 0) return out;
  /* src strides per input dim: 0 on reduced dims, g's stride on the matching kept dim */
  const int64_t *gs = nb_strides(g);
  expand_job j = {.nd = 0, .dt = dt, .src = nb_data(g), .dst = nb_data(out), .scale = scale};
  int gd = 0;
  for (int i = 0; i < ndim; i++) {
    bool red = (mask >> i) & 1u;
    int64_t st = red ? 0 : gs[gd];
    if (!red || keepdim) gd++;
    if (shape[i] == 1) continue; /* size-1 dims do not move either pointer */
    if (j.nd > 0 && j.sstride[j.nd - 1] == st * shape[i]) {
      j.size[j.nd - 1] *= shape[i];
      j.sstride[j.nd - 1] = st;
    } else {
      j.size[j.nd] = shape[i];
      j.sstride[j.nd++] = st;
    }
  }
  if (j.nd == 0) { /* 0-d */
    j.size[0] = 1;
    j.sstride[0] = 0;
    j.nd = 1;
  }
  j.inner = j.size[j.nd - 1];
  int64_t rows = nb_numel(out) / j.inner;
  nb_parallel_for(rows, grain_for(j.inner), expand_rows, &j);
  return out;
}
