/* random.c — seeded random numbers: a counter-based Philox4x32-10 stream.
 *
 * The generator's state is (key = seed, position): word p of the stream is word p % 4
 * of Philox4x32-10 applied to the counter {p / 4 (64 bits), 0, 0} with that key, so
 * the same seed gives the same numbers on every machine. Uniform floats take the top
 * 24 bits of one word, uniform doubles the top 53 bits of two; normals use Box-Muller
 * in double. Each generator has its own lock; NULL means the process-wide default.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

/* PyTorch's default seed, so an unseeded program is still reproducible. */
#define NB_DEFAULT_SEED 67280421310721ULL

struct nb_generator {
  pthread_mutex_t lock;
  uint32_t key[2];
  uint64_t pos;      /* index of the next 32-bit word */
  uint64_t cached;   /* block number held in buf, or UINT64_MAX */
  uint32_t buf[4];
};

static nb_generator default_gen = {PTHREAD_MUTEX_INITIALIZER,
                                   {(uint32_t)NB_DEFAULT_SEED, (uint32_t)(NB_DEFAULT_SEED >> 32)},
                                   0, UINT64_MAX, {0, 0, 0, 0}};

/* ---- Philox4x32-10 ------------------------------------------------------------------- */

static inline void philox4x32_10(const uint32_t in[4], const uint32_t key_in[2], uint32_t out[4]) {
  uint32_t c0 = in[0], c1 = in[1], c2 = in[2], c3 = in[3];
  uint32_t k0 = key_in[0], k1 = key_in[1];
  for (int r = 0; r < 10; r++) {
    uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/* Exposed for the known-answer test of the core (not in a public header). */
void nb__philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
void nb__philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  philox4x32_10(ctr, key, out);
}

static inline uint32_t next_word(nb_generator *g) {
  uint64_t block = g->pos >> 2;
  if (block != g->cached) {
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), 0, 0};
    philox4x32_10(ctr, g->key, g->buf);
    g->cached = block;
  }
  return g->buf[g->pos++ & 3];
}

static inline uint64_t next_u64(nb_generator *g) {
  uint64_t lo = next_word(g);
  return lo | (uint64_t)next_word(g) << 32;
}
static inline double next_double(nb_generator *g) { return (double)(next_u64(g) >> 11) * 0x1.0p-53; }
static inline float next_float(nb_generator *g) { return (float)(next_word(g) >> 8) * 0x1.0p-24f; }

/* ---- generators ------------------------------------------------------------------------ */

static void seed_locked(nb_generator *g, uint64_t seed) {
  g->key[0] = (uint32_t)seed;
  g->key[1] = (uint32_t)(seed >> 32);
  g->pos = 0;
  g->cached = UINT64_MAX;
}

nb_generator *nb_generator_new(uint64_t seed) {
  nb_generator *g = malloc(sizeof *g);
  if (!g) {
    nb_set_error(NB_ENOMEM, "nb_generator_new: out of memory");
    return NULL;
  }
  pthread_mutex_init(&g->lock, NULL);
  seed_locked(g, seed);
  return g;
}

void nb_generator_free(nb_generator *g) {
  if (!g || g == &default_gen)
    return;
  pthread_mutex_destroy(&g->lock);
  free(g);
}

static inline nb_generator *gen_or_default(nb_generator *g) { return g ? g : &default_gen; }

void nb_manual_seed(nb_generator *g, uint64_t seed) {
  g = gen_or_default(g);
  pthread_mutex_lock(&g->lock);
  seed_locked(g, seed);
  pthread_mutex_unlock(&g->lock);
}

uint64_t nb_generator_u64(nb_generator *g) {
  g = gen_or_default(g);
  pthread_mutex_lock(&g->lock);
  uint64_t v = next_u64(g);
  pthread_mutex_unlock(&g->lock);
  return v;
}

double nb_generator_uniform(nb_generator *g) {
  g = gen_or_default(g);
  pthread_mutex_lock(&g->lock);
  double v = next_double(g);
  pthread_mutex_unlock(&g->lock);
  return v;
}

void nb_generator_get_state(nb_generator *g, uint64_t state[2]) {
  g = gen_or_default(g);
  pthread_mutex_lock(&g->lock);
  state[0] = (uint64_t)g->key[0] | (uint64_t)g->key[1] << 32;
  state[1] = g->pos;
  pthread_mutex_unlock(&g->lock);
}

void nb_generator_set_state(nb_generator *g, const uint64_t state[2]) {
  g = gen_or_default(g);
  pthread_mutex_lock(&g->lock);
  seed_locked(g, state[0]);
  g->pos = state[1];
  pthread_mutex_unlock(&g->lock);
}

/* ---- random tensors ----------------------------------------------------------------------- */

static nb_tensor *new_float(const char *what, int ndim, const int64_t *shape, nb_dtype dt) {
  if (!nb__is_floating(dt)) {
    nb_set_error(NB_EDTYPE, "%s: dtype %s is not supported (float32 or float64)", what,
                 nb_dtype_name(dt));
    return NULL;
  }
  if (nb__check_shape(what, ndim, shape) < 0)
    return NULL;
  nb_tensor *t = nb__tensor_new(ndim, shape, dt);
  if (!t)
    nb_error_prefix("%s", what);
  return t;
}

static nb_tensor *uniform(const char *what, int ndim, const int64_t *shape, double low,
                          double high, nb_dtype dt, nb_generator *g) {
  if (!isfinite(low) || !isfinite(high) || low > high) {
    nb_set_error(NB_EINVAL, "%s: expects low <= high, both finite, got low %g and high %g", what,
                 low, high);
    return NULL;
  }
  nb_tensor *t = new_float(what, ndim, shape, dt);
  if (!t)
    return NULL;
  g = gen_or_default(g);
  double span = high - low;
  int64_t n = t->numel;
  pthread_mutex_lock(&g->lock);
  if (dt == NB_F32) {
    float *p = t->storage->data;
    float lo = (float)low, hi = (float)high, below = nextafterf(hi, lo);
    for (int64_t i = 0; i < n; i++) {
      float v = (float)(low + span * (double)next_float(g));
      p[i] = (v >= hi && hi > lo) ? below : v;
    }
  } else {
    double *p = t->storage->data, below = nextafter(high, low);
    for (int64_t i = 0; i < n; i++) {
      double v = low + span * next_double(g);
      p[i] = (v >= high && high > low) ? below : v;
    }
  }
  pthread_mutex_unlock(&g->lock);
  return nb__scope_register(t);
}

nb_tensor *nb_rand(int ndim, const int64_t *shape, nb_dtype dt, nb_generator *g) {
  return uniform("nb_rand", ndim, shape, 0.0, 1.0, dt, g);
}

nb_tensor *nb_rand_range(int ndim, const int64_t *shape, double low, double high, nb_dtype dt,
                         nb_generator *g) {
  return uniform("nb_rand_range", ndim, shape, low, high, dt, g);
}

nb_tensor *nb_randn(int ndim, const int64_t *shape, nb_dtype dt, nb_generator *g) {
  nb_tensor *t = new_float("nb_randn", ndim, shape, dt);
  if (!t)
    return NULL;
  g = gen_or_default(g);
  int64_t n = t->numel;
  char *p = t->storage->data;
  pthread_mutex_lock(&g->lock);
  for (int64_t i = 0; i < n; i += 2) {
    double u1 = 1.0 - next_double(g), u2 = next_double(g); /* u1 in (0, 1] */
    double r = sqrt(-2.0 * log(u1)), th = 6.283185307179586476925 * u2;
    double z[2] = {r * cos(th), r * sin(th)};
    for (int j = 0; j < 2 && i + j < n; j++) {
      if (dt == NB_F32)
        ((float *)p)[i + j] = (float)z[j];
      else
        ((double *)p)[i + j] = z[j];
    }
  }
  pthread_mutex_unlock(&g->lock);
  return nb__scope_register(t);
}

nb_tensor *nb_randint(int ndim, const int64_t *shape, int64_t low, int64_t high, nb_generator *g) {
  if (low >= high) {
    nb_set_error(NB_EINVAL, "nb_randint: low (%lld) must be less than high (%lld)", (long long)low,
                 (long long)high);
    return NULL;
  }
  if (nb__check_shape("nb_randint", ndim, shape) < 0)
    return NULL;
  nb_tensor *t = nb__tensor_new(ndim, shape, NB_I64);
  if (!t) {
    nb_error_prefix("nb_randint");
    return NULL;
  }
  g = gen_or_default(g);
  uint64_t range = (uint64_t)high - (uint64_t)low;
  uint64_t threshold = (0 - range) % range; /* 2^64 mod range: reject below for no bias */
  int64_t *p = t->storage->data;
  pthread_mutex_lock(&g->lock);
  for (int64_t i = 0; i < t->numel; i++) {
    uint64_t x;
    do
      x = next_u64(g);
    while (x < threshold);
    p[i] = (int64_t)((uint64_t)low + x % range);
  }
  pthread_mutex_unlock(&g->lock);
  return nb__scope_register(t);
}
