/* libnabla/dataloader.c — batches from a dataset: order, sharding, transforms, prefetch.
 *
 * An epoch's order is a pure function of (seed, epoch, dataset length, rank, world
 * size): a Fisher-Yates permutation driven by splitmix64 seeded from (seed, epoch) (or
 * the identity without shuffle), padded by wrapping to a multiple of world_size, then
 * every world_size-th position from rank (PyTorch's DistributedSampler). Batch b is
 * positions [b*batch_size, ...) of it. Making a batch (fetch, augment, normalise) is
 * likewise a pure function of (epoch, b), so it gives the same tensors on whichever
 * thread it runs.
 *
 * With prefetch, one worker thread per epoch makes batch b+1 while the caller uses b:
 * the caller requests a batch, the worker makes it (its tensors in no scope of the
 * caller's thread: plain references) and leaves it in a one-batch slot, the caller takes
 * it and registers it in its own scope. The worker is joined at the end of the epoch, on
 * an error, when another epoch starts and on free; a batch it made that nobody took is
 * released.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "nabla/tensor.h"

struct nb_dataloader {
  nb_dataset *ds;
  nb_dataloader_opts o;
  int64_t len;         /* dataset length at creation */
  int64_t num_samples; /* per rank, per epoch */
  int64_t num_batches;
  /* the current epoch */
  bool started, failed;
  int64_t epoch;
  int64_t *order; /* num_samples indices; read by the worker, written only while it is stopped */
  int64_t next;   /* batch the caller gets next */
  /* prefetch */
  bool thread_on;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int64_t want;  /* batch requested from the worker, -1 none */
  bool busy;     /* the worker is making `want` */
  bool ready;    /* the slot holds batch `slot_b` */
  bool quit;
  int64_t slot_b;
  nb_tensor *sx, *sy;
  int slot_rc;
  char slot_err[512];
};

/* ---- randomness: splitmix64 --------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* A stream state for (seed, a, b): each input is mixed in through a full splitmix round. */
static uint64_t stream(uint64_t seed, uint64_t a, uint64_t b) {
  uint64_t s = seed;
  uint64_t h = splitmix(&s);
  s = h ^ a;
  h = splitmix(&s);
  s = h ^ b;
  return splitmix(&s);
}

/* ---- the order of an epoch ---------------------------------------------------------- */

static int64_t samples_per_rank(int64_t len, int world) { return (len + world - 1) / world; }

/* This rank's indices for `epoch` into out[num_samples]. */
static int compute_order(const nb_dataloader *dl, int64_t epoch, int64_t *out) {
  int64_t n = dl->len, world = dl->o.world_size;
  if (n == 0) return 0;
  int64_t *perm = malloc((size_t)n * sizeof *perm);
  if (!perm) return nb_set_error(NB_ENOMEM, "dataloader: out of memory for an order of %" PRId64, n);
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  if (dl->o.shuffle) {
    uint64_t s = stream(dl->o.seed, 0x53485546464C45ull /* "SHUFFLE" */, (uint64_t)epoch);
    for (int64_t i = n - 1; i > 0; i--) {
      int64_t j = (int64_t)(splitmix(&s) % (uint64_t)(i + 1));
      int64_t t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
  }
  for (int64_t k = 0; k < dl->num_samples; k++) out[k] = perm[(dl->o.rank + k * world) % n];
  free(perm);
  return 0;
}

/* ---- transforms ------------------------------------------------------------------------ */

/* Crop offsets (dy, dx in [0, 2p]) and flip for the item at dataset index `index`. */
static void aug_params(const nb_dataloader *dl, int64_t epoch, int64_t index, int *dy, int *dx, bool *flip) {
  uint64_t s = stream(dl->o.seed ^ 0x415547ull /* "AUG" */, (uint64_t)epoch, (uint64_t)index);
  uint64_t r1 = splitmix(&s), r2 = splitmix(&s), r3 = splitmix(&s);
  int span = 2 * dl->o.crop_padding + 1;
  *dy = dl->o.crop_padding ? (int)(r1 % (uint64_t)span) : dl->o.crop_padding;
  *dx = dl->o.crop_padding ? (int)(r2 % (uint64_t)span) : dl->o.crop_padding;
  *flip = dl->o.hflip && (r3 >> 63);
}

/* out[b] = crop/flip of x[b] (both contiguous, same shape [B,C,H,W] seen as B*C planes). */
static void augment(const nb_dataloader *dl, int64_t epoch, const int64_t *idx, const nb_tensor *x,
                    nb_tensor *out) {
  int nd = nb_ndim(x);
  const int64_t *sh = nb_shape(x);
  int64_t B = sh[0], C = nd == 4 ? sh[1] : 1, H = sh[nd - 2], W = sh[nd - 1];
  size_t es = nb_dtype_size(nb_dtype_of(x));
  const char *src = nb_data(x);
  char *dst = nb_data(out);
  int p = dl->o.crop_padding;
  for (int64_t b = 0; b < B; b++) {
    int dy, dx;
    bool flip;
    aug_params(dl, epoch, idx[b], &dy, &dx, &flip);
    for (int64_t c = 0; c < C; c++) {
      const char *ip = src + (size_t)((b * C + c) * H * W) * es;
      char *op = dst + (size_t)((b * C + c) * H * W) * es;
      for (int64_t i = 0; i < H; i++) {
        int64_t si = i + dy - p; /* row in the unpadded image */
        for (int64_t j = 0; j < W; j++) {
          int64_t jj = flip ? W - 1 - j : j;
          int64_t sj = jj + dx - p;
          char *o = op + (size_t)(i * W + j) * es;
          if (si < 0 || si >= H || sj < 0 || sj >= W)
            memset(o, 0, es);
          else
            memcpy(o, ip + (size_t)(si * W + sj) * es, es);
        }
      }
    }
  }
}

/* In place on a contiguous floating tensor: (x - mean[c]) / std[c] along dimension 1. */
static void normalise(const nb_dataloader *dl, nb_tensor *x) {
  int64_t B = nb_shape(x)[0], C = dl->o.n_channels == 1 ? 1 : nb_shape(x)[1];
  int64_t inner = nb_numel(x) / (B * C);
  bool f32 = nb_dtype_of(x) == NB_F32;
  float *xf = nb_data(x);
  double *xd = nb_data(x);
  for (int64_t b = 0; b < B; b++)
    for (int64_t c = 0; c < C; c++) {
      double m = dl->o.mean[c], s = dl->o.std[c];
      int64_t base = (b * C + c) * inner;
      if (f32)
        for (int64_t k = 0; k < inner; k++) xf[base + k] = (float)((xf[base + k] - m) / s);
      else
        for (int64_t k = 0; k < inner; k++) xd[base + k] = (xd[base + k] - m) / s;
    }
}

/* ---- making a batch ------------------------------------------------------------------- */

/* Batch b of `epoch` as new references owned by the caller (in no scope). */
static int make_batch(nb_dataloader *dl, int64_t epoch, int64_t b, nb_tensor **x, nb_tensor **y) {
  *x = *y = NULL;
  int64_t bs = dl->o.batch_size, start = b * bs;
  int64_t n = dl->num_samples - start < bs ? dl->num_samples - start : bs;
  const int64_t *idx = dl->order + start;
  nb_tensor *rx, *ry;
  int rc = nb__dataset_fetch(dl->ds, idx, n, &rx, &ry);
  if (rc < 0) return rc;
  bool aug = dl->o.crop_padding > 0 || dl->o.hflip, norm = dl->o.n_channels > 0;
  if (!aug && !norm) {
    *x = rx;
    *y = ry;
    return 0;
  }
  if (nb_scope_begin() < 0) {
    nb_release(rx);
    nb_release(ry);
    return nb_last_status();
  }
  nb_scope_adopt(rx); /* temporaries die with this scope (on this thread) */
  nb_scope_adopt(ry);
  int nd = nb_ndim(rx);
  if (aug && nd != 3 && nd != 4)
    rc = nb_set_error(NB_ESHAPE, "dataloader: crop/flip need x of shape [B,C,H,W] or [B,H,W], not %s",
                      nb_shape_of(rx));
  if (!rc && norm && !nb_dtype_is_floating(nb_dtype_of(rx)))
    rc = nb_set_error(NB_EDTYPE, "dataloader: normalisation needs a floating x, not %s",
                      nb_dtype_name(nb_dtype_of(rx)));
  if (!rc && norm && dl->o.n_channels > 1 && (nd < 2 || nb_shape(rx)[1] != dl->o.n_channels))
    rc = nb_set_error(NB_ESHAPE, "dataloader: %d channel means/stds but x has shape %s (channels in dimension 1)",
                      dl->o.n_channels, nb_shape_of(rx));
  nb_tensor *out = NULL;
  if (!rc) {
    /* Never write into what the dataset returned: it may be a tensor it keeps. */
    nb_tensor *src = nb_is_contiguous(rx) ? rx : nb_copy_data(rx);
    if (src && aug) {
      out = nb_empty(nd, nb_shape(src), nb_dtype_of(src));
      if (out) augment(dl, epoch, idx, src, out);
    } else if (src) {
      out = nb_copy_data(src);
    }
    if (!out) rc = nb_last_status() < 0 ? nb_last_status() : NB_ENOMEM;
  }
  if (!rc && norm) normalise(dl, out);
  if (!rc) {
    *x = nb_retain(out);
    *y = nb_retain(ry);
  }
  nb_scope_end();
  return rc;
}

/* ---- the worker ---------------------------------------------------------------------- */

static void *worker_main(void *arg) {
  nb_dataloader *dl = arg;
  pthread_mutex_lock(&dl->mu);
  for (;;) {
    while (!dl->quit && dl->want < 0) pthread_cond_wait(&dl->cv, &dl->mu);
    if (dl->quit) break;
    int64_t b = dl->want, epoch = dl->epoch;
    dl->want = -1;
    dl->busy = true;
    pthread_mutex_unlock(&dl->mu);
    nb_tensor *x, *y;
    nb_clear_error();
    int rc = make_batch(dl, epoch, b, &x, &y);
    pthread_mutex_lock(&dl->mu);
    dl->sx = x;
    dl->sy = y;
    dl->slot_rc = rc;
    snprintf(dl->slot_err, sizeof dl->slot_err, "%s", rc < 0 ? nb_last_error() : "");
    dl->slot_b = b;
    dl->ready = true;
    dl->busy = false;
    pthread_cond_broadcast(&dl->cv);
  }
  pthread_mutex_unlock(&dl->mu);
  return NULL;
}

/* Join the worker and drop a batch left in the slot. */
static void stop_worker(nb_dataloader *dl) {
  if (!dl->thread_on) return;
  pthread_mutex_lock(&dl->mu);
  dl->quit = true;
  pthread_cond_broadcast(&dl->cv);
  pthread_mutex_unlock(&dl->mu);
  pthread_join(dl->thread, NULL);
  dl->thread_on = false;
  if (dl->ready) {
    nb_release(dl->sx);
    nb_release(dl->sy);
  }
  dl->sx = dl->sy = NULL;
  dl->ready = dl->busy = dl->quit = false;
  dl->want = -1;
}

/* ---- public API -------------------------------------------------------------------------- */

nb_dataloader_opts nb_dataloader_defaults(void) {
  nb_dataloader_opts o;
  memset(&o, 0, sizeof o);
  o.batch_size = 1;
  o.world_size = 1;
  o.prefetch = true;
  return o;
}

nb_dataloader *nb_dataloader_new(nb_dataset *ds, const nb_dataloader_opts *opts) {
  nb_dataloader_opts o = opts ? *opts : nb_dataloader_defaults();
  const char *bad = NULL;
  char why[160];
  if (!ds) bad = "NULL dataset";
  else if (o.batch_size < 1) bad = "batch_size must be >= 1";
  else if (o.world_size < 1 || o.rank < 0 || o.rank >= o.world_size) bad = "need 0 <= rank < world_size";
  else if (o.n_channels < 0 || o.n_channels > NB_DATA_MAX_CHANNELS) bad = "n_channels out of [0, NB_DATA_MAX_CHANNELS]";
  else if (o.crop_padding < 0 || o.crop_padding > 1 << 20) bad = "crop_padding must be >= 0";
  for (int c = 0; !bad && c < o.n_channels; c++)
    if (!isfinite(o.mean[c]) || !(o.std[c] > 0) || !isfinite(o.std[c])) {
      snprintf(why, sizeof why, "channel %d: mean %g, std %g (need finite values, std > 0)", c, o.mean[c],
               o.std[c]);
      bad = why;
    }
  if (bad) {
    nb_set_error(NB_EINVAL, "nb_dataloader_new: %s", bad);
    return NULL;
  }
  int64_t len = nb_dataset_len(ds);
  if (len < 0) return NULL;
  nb_dataloader *dl = calloc(1, sizeof *dl);
  if (!dl) {
    nb_set_error(NB_ENOMEM, "nb_dataloader_new: out of memory");
    return NULL;
  }
  dl->ds = ds;
  dl->o = o;
  dl->len = len;
  dl->num_samples = samples_per_rank(len, o.world_size);
  dl->num_batches = o.drop_last ? dl->num_samples / o.batch_size
                                : (dl->num_samples + o.batch_size - 1) / o.batch_size;
  dl->want = -1;
  if (dl->num_samples) dl->order = malloc((size_t)dl->num_samples * sizeof *dl->order);
  if (dl->num_samples && !dl->order) {
    free(dl);
    nb_set_error(NB_ENOMEM, "nb_dataloader_new: out of memory");
    return NULL;
  }
  pthread_mutex_init(&dl->mu, NULL);
  pthread_cond_init(&dl->cv, NULL);
  return dl;
}

void nb_dataloader_free(nb_dataloader *dl) {
  if (!dl) return;
  stop_worker(dl);
  pthread_mutex_destroy(&dl->mu);
  pthread_cond_destroy(&dl->cv);
  free(dl->order);
  free(dl);
}

int64_t nb_dataloader_num_batches(const nb_dataloader *dl) {
  return dl ? dl->num_batches : nb_set_error(NB_EINVAL, "nb_dataloader_num_batches: NULL loader");
}

int64_t nb_dataloader_num_samples(const nb_dataloader *dl) {
  return dl ? dl->num_samples : nb_set_error(NB_EINVAL, "nb_dataloader_num_samples: NULL loader");
}

int64_t nb_dataloader_epoch_indices(const nb_dataloader *dl, int64_t epoch, int64_t *out, int64_t cap) {
  if (!dl || (!out && cap) || epoch < 0)
    return nb_set_error(NB_EINVAL, "nb_dataloader_epoch_indices: NULL argument or negative epoch");
  if (cap < dl->num_samples)
    return nb_set_error(NB_EINVAL, "nb_dataloader_epoch_indices: room for %" PRId64 " indices, %" PRId64 " needed",
                        cap, dl->num_samples);
  int rc = compute_order(dl, epoch, out);
  return rc < 0 ? rc : dl->num_samples;
}

/* Ask the worker for batch b (the mutex not held). */
static void request(nb_dataloader *dl, int64_t b) {
  pthread_mutex_lock(&dl->mu);
  dl->want = b;
  pthread_cond_broadcast(&dl->cv);
  pthread_mutex_unlock(&dl->mu);
}

int nb_dataloader_start_epoch(nb_dataloader *dl, int64_t epoch) {
  if (!dl) return nb_set_error(NB_EINVAL, "nb_dataloader_start_epoch: NULL loader");
  if (epoch < 0) return nb_set_error(NB_EINVAL, "nb_dataloader_start_epoch: epoch %" PRId64 " < 0", epoch);
  stop_worker(dl);
  dl->started = true;
  dl->failed = false;
  dl->epoch = epoch;
  dl->next = 0;
  int rc = compute_order(dl, epoch, dl->order);
  if (rc < 0) {
    dl->failed = true;
    return rc;
  }
  if (dl->o.prefetch && dl->num_batches > 0) {
    /* The prefetch thread keeps the default scheduling policy. The pool's workers run
     * under SCHED_BATCH (libcore/pool.c) because their caller takes any chunk they have
     * not started; the training thread waits for this thread's batch, so it must be free
     * to preempt when it wakes (as a batch thread, an epoch next to two CPU-bound
     * processes took 5.0-6.3 s instead of 2.8-5.4 s). */
    int e = pthread_create(&dl->thread, NULL, worker_main, dl);
    if (e != 0) {
      dl->failed = true;
      return nb_set_error(NB_EIO, "nb_dataloader_start_epoch: cannot start the prefetch thread: %s", strerror(e));
    }
    dl->thread_on = true;
    request(dl, 0);
  }
  return 0;
}

int nb_dataloader_next(nb_dataloader *dl, nb_tensor **x, nb_tensor **y) {
  if (!dl || !x || !y) return nb_set_error(NB_EINVAL, "nb_dataloader_next: NULL argument");
  *x = *y = NULL;
  if (!dl->started) {
    int rc = nb_dataloader_start_epoch(dl, 0);
    if (rc < 0) return rc;
  }
  if (dl->failed)
    return nb_set_error(NB_ESTATE, "nb_dataloader_next: epoch %" PRId64 " stopped at an error; start an epoch",
                        dl->epoch);
  if (dl->next >= dl->num_batches) return 0;
  int64_t b = dl->next;
  nb_tensor *bx, *by;
  int rc;
  if (dl->thread_on) {
    pthread_mutex_lock(&dl->mu);
    while (!dl->ready) pthread_cond_wait(&dl->cv, &dl->mu);
    if (dl->slot_b != b) { /* cannot happen: batches are requested in order */
      pthread_mutex_unlock(&dl->mu);
      return nb_set_error(NB_ESTATE, "nb_dataloader_next: prefetched batch %" PRId64 ", expected %" PRId64,
                          dl->slot_b, b);
    }
    bx = dl->sx;
    by = dl->sy;
    rc = dl->slot_rc;
    dl->sx = dl->sy = NULL;
    dl->ready = false;
    if (rc == 0 && b + 1 < dl->num_batches) {
      dl->want = b + 1; /* the worker starts on it while the caller uses this one */
      pthread_cond_broadcast(&dl->cv);
    }
    pthread_mutex_unlock(&dl->mu);
    if (rc < 0) nb_set_error(rc, "%s", dl->slot_err);
    if (rc < 0 || b + 1 == dl->num_batches) stop_worker(dl); /* nothing more to make */
  } else {
    rc = make_batch(dl, dl->epoch, b, &bx, &by);
  }
  if (rc < 0) {
    dl->failed = true;
    return rc;
  }
  dl->next++;
  *x = nb_scope_adopt(bx);
  *y = nb_scope_adopt(by);
  return 1;
}
