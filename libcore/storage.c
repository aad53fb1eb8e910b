/* storage.c — storage blocks, tensor structs, reference counts and the live count.
 *
 * A storage is one malloc block: the nb_storage header followed by the data, aligned
 * to 64 bytes inside the block, so a small tensor costs one allocation for its data.
 * Tensor structs are recycled through a thread-local free list (bypassed under
 * AddressSanitizer so use-after-free stays detectable); the list is freed when the
 * thread exits.
 */
#include <pthread.h>
#include <stdatomic.h>
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
#define NB_FREELIST_MAX 1024

static atomic_llong live_tensors;

int64_t nb_live_tensors(void) { return (int64_t)atomic_load_explicit(&live_tensors, memory_order_relaxed); }

/* ---- storage ---------------------------------------------------------------------- */

nb_storage *nb__storage_new(size_t nbytes) {
  size_t head = sizeof(nb_storage);
  if (nbytes > SIZE_MAX - head - NB_ALIGN) {
    nb_set_error(NB_ENOMEM, "storage of %zu bytes is too large", nbytes);
    return NULL;
  }
  char *block = malloc(head + NB_ALIGN - 1 + nbytes);
  if (!block) {
    nb_set_error(NB_ENOMEM, "out of memory allocating %zu bytes", nbytes);
    return NULL;
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

void nb__storage_release(nb_storage *s) {
  if (s && __atomic_sub_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL) == 0)
    free(s);
}

/* ---- tensor structs ------------------------------------------------------------------ */

#ifndef NB_NO_FREELIST
typedef struct freelist {
  nb_tensor *head;
  int count;
  bool registered, dead;
} freelist;
static _Thread_local freelist tl_free;
static pthread_key_t free_key;
static pthread_once_t free_once = PTHREAD_ONCE_INIT;

static void freelist_destroy(void *arg) {
  freelist *fl = arg;
  fl->dead = true; /* structs released later in thread teardown are freed directly */
  while (fl->head) {
    nb_tensor *t = fl->head;
    fl->head = (nb_tensor *)(void *)t->storage;
    free(t);
  }
  fl->count = 0;
}
static void freelist_key_init(void) { pthread_key_create(&free_key, freelist_destroy); }
#endif

nb_tensor *nb__tensor_alloc(void) {
  nb_tensor *t;
#ifndef NB_NO_FREELIST
  freelist *fl = &tl_free;
  if (fl->head) {
    t = fl->head;
    fl->head = (nb_tensor *)(void *)t->storage;
    fl->count--;
    memset(t, 0, sizeof *t);
  } else
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

static void tensor_recycle(nb_tensor *t) {
  atomic_fetch_sub_explicit(&live_tensors, 1, memory_order_relaxed);
#ifndef NB_NO_FREELIST
  freelist *fl = &tl_free;
  if (!fl->dead && fl->count < NB_FREELIST_MAX) {
    if (!fl->registered) {
      pthread_once(&free_once, freelist_key_init);
      pthread_setspecific(free_key, fl);
      fl->registered = true;
    }
    t->storage = (nb_storage *)(void *)fl->head;
    fl->head = t;
    fl->count++;
    return;
  }
#endif
  free(t);
}

nb_tensor *nb_retain(nb_tensor *t) {
  if (t)
    __atomic_add_fetch(&t->refcount, 1, __ATOMIC_RELAXED);
  return t;
}

void nb_release(nb_tensor *t) {
  if (!t || __atomic_sub_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL) != 0)
    return;
  nb__autograd_forget(t); /* grad_fn, grad, hooks and weak references */
  nb__storage_release(t->storage);
  tensor_recycle(t);
}

nb_tensor *nb_keep(nb_tensor *t) { return nb_retain(t); }

/* ---- tensors over storages -------------------------------------------------------------- */

int64_t nb__contiguous_strides(int ndim, const int64_t *shape, int64_t *strides) {
  int64_t n = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    strides[d] = n;
    n *= shape[d];
  }
  return n;
}

nb_tensor *nb__tensor_new(int ndim, const int64_t *shape, nb_dtype dt) {
  size_t es = nb_dtype_size(dt);
  int64_t numel = 1;
  for (int d = 0; d < ndim; d++)
    if (__builtin_mul_overflow(numel, shape[d], &numel)) {
      nb_set_error(NB_ENOMEM, "tensor of shape %s is too large",
                   nb_shape_str(ndim, shape, nb__tmpbuf(NULL), 256));
      return NULL;
    }
  size_t nbytes;
  if (__builtin_mul_overflow((size_t)numel, es, &nbytes)) {
    nb_set_error(NB_ENOMEM, "tensor of shape %s is too large",
                 nb_shape_str(ndim, shape, nb__tmpbuf(NULL), 256));
    return NULL;
  }
  nb_storage *s = nb__storage_new(nbytes);
  if (!s)
    return NULL;
  nb_tensor *t = nb__tensor_alloc();
  if (!t) {
    nb__storage_release(s);
    return NULL;
  }
  t->dtype = (uint8_t)dt;
  t->ndim = (int8_t)ndim;
  t->numel = numel;
  t->storage = s;
  for (int d = 0; d < ndim; d++)
    t->shape[d] = shape[d];
  nb__contiguous_strides(ndim, shape, t->strides);
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
