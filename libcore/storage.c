/* storage.c — storage blocks, tensor structs, reference counts and the live count.
 *
 * A storage is one malloc block: the nb_storage header followed by the data, aligned
 * to 64 bytes inside the block, so a small tensor costs one allocation for its data.
 * Tensor structs, small storage blocks and larger blocks of up to 32 MB (reused for the
 * same size) are recycled through thread-local caches (bypassed under AddressSanitizer
 * so use-after-free stays detectable); the caches are freed when the thread exits.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define NB_NO_FREELIST 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NB_NO_FREELIST 1
#endif
#endif

#define NB_ALIGN 64
#define NB_FREELIST_MAX 4096 /* per thread: a 1000-op graph keeps ~3000 small tensors alive */

static atomic_llong live_tensors;

int64_t nb_live_tensors(void) { return (int64_t)atomic_load_explicit(&live_tensors, memory_order_relaxed); }

/* ---- per-thread caches ---------------------------------------------------------------- */

/* Storages of at most NB_SMALL_DATA bytes all use one block size, so their blocks can be
 * cached per thread like tensor structs. */
#define NB_SMALL_DATA 64
#define NB_SMALL_BLOCK (sizeof(nb_storage) + NB_ALIGN - 1 + NB_SMALL_DATA)

/* Larger storages (up to NB_BIG_MAX bytes) are cached per thread too, and reused for a
 * storage of exactly the same size: a training loop allocates the same sizes every step,
 * and handing them back to malloc made it shrink its heap at the end of each step and
 * grow it again in the next, so the kernel zero-filled the same pages over and over (a
 * LeNet step on Fashion-MNIST spent most of its time in page faults: 862 brk calls for
 * 50 steps, 4x slower than with the blocks kept). Most recently freed first; the oldest
 * block goes back to malloc when the cache would hold more than NB_BIG_SLOTS blocks or
 * NB_BIG_BYTES bytes. */
#define NB_BIG_SLOTS 64
#define NB_BIG_BYTES ((size_t)128 << 20)
#define NB_BIG_MAX ((size_t)32 << 20)

#ifndef NB_NO_FREELIST
typedef struct freelist {
  nb_tensor *tensors; /* linked through ->storage */
  nb_storage *blocks; /* linked through ->data */
  int n_tensors, n_blocks;
  bool registered, dead;
  int n_big;                     /* cached larger blocks, oldest first */
  size_t big_bytes;              /* their data bytes */
  nb_storage *big[NB_BIG_SLOTS];
} freelist;
static NB_TLS freelist tl_free;

static void freelist_destroy(void *arg) {
  freelist *fl = arg;
  fl->dead = true; /* whatever is released later in thread teardown is freed directly */
  while (fl->tensors) {
    nb_tensor *t = fl->tensors;
    fl->tensors = (nb_tensor *)(void *)t->storage;
    free(t);
  }
  while (fl->blocks) {
    nb_storage *b = fl->blocks;
    fl->blocks = b->data;
    free(b);
  }
  for (int i = 0; i < fl->n_big; i++) free(fl->big[i]);
  fl->n_tensors = fl->n_blocks = fl->n_big = 0;
  fl->big_bytes = 0;
}

/* The calling thread's cache; hot paths fetch it once and pass it down. */
static inline freelist *fl_get(void) { return NB_TLS_ADDR(tl_free); }

/* fl, ready to take blocks back; NULL while the thread is being torn down. */
static inline freelist *cache_for_put(freelist *fl) {
  if (NB_UNLIKELY(fl->dead))
    return NULL;
  if (NB_UNLIKELY(!fl->registered))
    fl->registered = nb__at_thread_exit(freelist_destroy, fl);
  return fl;
}

/* A cached block of exactly nbytes (> NB_SMALL_DATA), the most recently freed; NULL if none. */
static nb_storage *big_take(freelist *fl, size_t nbytes) {
  for (int i = fl->n_big - 1; i >= 0; i--)
    if (fl->big[i]->nbytes == nbytes) {
      nb_storage *b = fl->big[i];
      memmove(&fl->big[i], &fl->big[i + 1], (size_t)(fl->n_big - 1 - i) * sizeof *fl->big);
      fl->n_big--;
      fl->big_bytes -= nbytes;
      return b;
    }
  return NULL;
}

/* Keep a freed block (> NB_SMALL_DATA bytes), making room by freeing the oldest; false
 * when it is too large to cache. */
static bool big_put(freelist *fl, nb_storage *s) {
  if (s->nbytes > NB_BIG_MAX)
    return false;
  while (fl->n_big > 0 && (fl->n_big == NB_BIG_SLOTS || fl->big_bytes + s->nbytes > NB_BIG_BYTES)) {
    fl->big_bytes -= fl->big[0]->nbytes;
    free(fl->big[0]);
    memmove(&fl->big[0], &fl->big[1], (size_t)(fl->n_big - 1) * sizeof *fl->big);
    fl->n_big--;
  }
  fl->big[fl->n_big++] = s;
  fl->big_bytes += s->nbytes;
  return true;
}
#else
typedef struct freelist freelist; /* no caches: everything goes to malloc and free */
static inline freelist *fl_get(void) { return NULL; }
#endif

/* ---- storage ---------------------------------------------------------------------- */

static nb_storage *storage_new(freelist *fl, size_t nbytes) {
  size_t head = sizeof(nb_storage);
  char *block = NULL;
#ifndef NB_NO_FREELIST
  if (nbytes <= NB_SMALL_DATA && fl->blocks) {
    nb_storage *b = fl->blocks;
    fl->blocks = b->data;
    fl->n_blocks--;
    block = (char *)b;
  } else if (nbytes > NB_SMALL_DATA && fl->n_big) {
    block = (char *)big_take(fl, nbytes);
  }
#else
  (void)fl;
#endif
  if (!block) {
    if (nbytes > SIZE_MAX - head - NB_ALIGN) {
      nb_set_error(NB_ENOMEM, "storage of %zu bytes is too large", nbytes);
      return NULL;
    }
    block = malloc(nbytes <= NB_SMALL_DATA ? NB_SMALL_BLOCK : head + NB_ALIGN - 1 + nbytes);
    if (!block) {
      nb_set_error(NB_ENOMEM, "out of memory allocating %zu bytes", nbytes);
      return NULL;
    }
  }
  nb_storage *s = (nb_storage *)block;
  uintptr_t p = (uintptr_t)(block + head);
  p = (p + NB_ALIGN - 1) & ~(uintptr_t)(NB_ALIGN - 1);
  s->refcount = 1;
  s->version = 0;
  s->nbytes = nbytes;
  s->data = (void *)p;
  return s;
}

nb_storage *nb__storage_new(size_t nbytes) { return storage_new(fl_get(), nbytes); }

/* Drop a reference; the last one returns the block to the thread's cache (fl, or looked
 * up when NULL) or to malloc. */
static void storage_release(freelist *fl, nb_storage *s) {
  if (!s || __atomic_sub_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL) != 0)
    return;
#ifndef NB_NO_FREELIST
  if (s->nbytes <= NB_SMALL_DATA) {
    fl = cache_for_put(fl ? fl : fl_get());
    if (fl && fl->n_blocks < NB_FREELIST_MAX) {
      s->data = fl->blocks;
      fl->blocks = s;
      fl->n_blocks++;
      return;
    }
  } else {
    fl = cache_for_put(fl ? fl : fl_get());
    if (fl && big_put(fl, s))
      return;
  }
#else
  (void)fl;
#endif
  free(s);
}

void nb__storage_release(nb_storage *s) { storage_release(NULL, s); }

/* ---- tensor structs ------------------------------------------------------------------ */

#ifndef NB_NO_FREELIST
/* memset of the whole struct compiles to a slow `rep stos`; pieces of <= 64 bytes become
 * a few vector stores. The pieces must cover the struct: */
_Static_assert(offsetof(nb_tensor, strides) == offsetof(nb_tensor, shape) + sizeof(int64_t[NB_MAX_DIMS]) &&
                   offsetof(nb_tensor, storage) == offsetof(nb_tensor, strides) + sizeof(int64_t[NB_MAX_DIMS]),
               "nb_tensor layout changed: update zero_tensor()");
static inline void zero_tensor(nb_tensor *t) {
  memset(t, 0, offsetof(nb_tensor, shape));
  memset(t->shape, 0, sizeof t->shape);
  memset(t->strides, 0, sizeof t->strides);
  memset(&t->storage, 0, sizeof *t - offsetof(nb_tensor, storage));
}
#endif

static nb_tensor *tensor_alloc(freelist *fl) {
  nb_tensor *t;
#ifndef NB_NO_FREELIST
  if (fl->tensors) {
    t = fl->tensors;
    fl->tensors = (nb_tensor *)(void *)t->storage;
    fl->n_tensors--;
    zero_tensor(t);
  } else
#else
  (void)fl;
#endif
  {
    t = calloc(1, sizeof *t);
    if (!t) {
      nb_set_error(NB_ENOMEM, "out of memory allocating a tensor");
      return NULL;
    }
  }
  t->refcount = 1;
  atomic_fetch_add_explicit(&live_tensors, 1, memory_order_relaxed);
  return t;
}

nb_tensor *nb__tensor_alloc(void) { return tensor_alloc(fl_get()); }

static void tensor_recycle(freelist *fl, nb_tensor *t) {
  atomic_fetch_sub_explicit(&live_tensors, 1, memory_order_relaxed);
#ifndef NB_NO_FREELIST
  fl = cache_for_put(fl);
  if (fl && fl->n_tensors < NB_FREELIST_MAX) {
    t->storage = (nb_storage *)(void *)fl->tensors;
    fl->tensors = t;
    fl->n_tensors++;
    return;
  }
#else
  (void)fl;
#endif
  free(t);
}

nb_tensor *nb_retain(nb_tensor *t) {
  if (t)
    __atomic_add_fetch(&t->refcount, 1, __ATOMIC_RELAXED);
  return t;
}

static nb_tensor_finalizer finalizer;

void nb__set_tensor_finalizer(nb_tensor_finalizer fn) { finalizer = fn; }

void nb_release(nb_tensor *t) {
  if (!t || __atomic_sub_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL) != 0)
    return;
  if (finalizer)
    finalizer(t); /* autograd: grad_fn, grad, hooks and weak references */
  freelist *fl = fl_get();
  storage_release(fl, t->storage);
  tensor_recycle(fl, t);
}

nb_tensor *nb_keep(nb_tensor *t) { return nb_retain(t); }

/* ---- tensors over storages -------------------------------------------------------------- */

int64_t nb__contiguous_strides(int ndim, const int64_t *shape, int64_t *strides) {
  int64_t n = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    strides[d] = n;
    /* Only an empty tensor can get here with sizes whose product overflows (e.g.
     * [0, 2^40, 2^40]); its strides address nothing, so saturate instead of overflowing. */
    if (__builtin_mul_overflow(n, shape[d], &n))
      n = INT64_MAX;
  }
  return n;
}

nb_tensor *nb__tensor_new(int ndim, const int64_t *shape, nb_dtype dt) {
  /* The shape is valid (see internal.h), so numel fits and numel * 8 cannot overflow. */
  int64_t strides[NB_MAX_DIMS];
  int64_t numel = nb__contiguous_strides(ndim, shape, strides);
  freelist *fl = fl_get();
  nb_storage *s = storage_new(fl, (size_t)numel * nb__dtype_size(dt));
  if (!s)
    return NULL;
  nb_tensor *t = tensor_alloc(fl);
  if (!t) {
    storage_release(fl, s);
    return NULL;
  }
  t->dtype = (uint8_t)dt;
  t->ndim = (int8_t)ndim;
  t->numel = numel;
  t->storage = s;
  for (int d = 0; d < ndim; d++) {
    t->shape[d] = shape[d];
    t->strides[d] = strides[d];
  }
  return t;
}

nb_tensor *nb__alias(const nb_tensor *t, int ndim, const int64_t *shape, const int64_t *strides,
                     int64_t offset) {
  nb_tensor *v = nb__tensor_alloc();
  if (!v)
    return NULL;
  v->dtype = t->dtype;
  v->ndim = (int8_t)ndim;
  int64_t numel = 1;
  for (int d = 0; d < ndim; d++) {
    v->shape[d] = shape[d];
    numel *= shape[d];
  }
  if (strides)
    memcpy(v->strides, strides, (size_t)ndim * sizeof *strides);
  else
    nb__contiguous_strides(ndim, shape, v->strides);
  v->numel = numel;
  v->offset = offset;
  v->storage = t->storage;
  __atomic_add_fetch(&t->storage->refcount, 1, __ATOMIC_RELAXED);
  return v;
}
