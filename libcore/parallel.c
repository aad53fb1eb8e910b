/* parallel.c — the thread count, parallel loops and per-thread scratch memory.
 *
 * One process-wide thread count (NABLA_NUM_THREADS, else the number of cores) governs
 * nb_parallel_for and nb_gemm, which both run on the core's own workers (pool.c); BLIS
 * itself always runs on one thread, so its threads and the core's never compete. Chunks
 * depend only on n, grain and the thread count, so results do too.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static int num_threads; /* 0 until initialised */

static long online_cores(void) {
  long c = sysconf(_SC_NPROCESSORS_ONLN);
  return c >= 1 ? c : 1;
}
static pthread_once_t threads_once = PTHREAD_ONCE_INIT;

static void threads_init(void) {
  int n = 0;
  const char *env = getenv("NABLA_NUM_THREADS");
  if (env && env[0]) {
    char *end;
    long v = strtol(env, &end, 10);
    if (*end == '\0' && v >= 1 && v <= NB_MAX_THREADS)
      n = (int)v;
    else
      nb_log_message(NB_LOG_WARN, "NABLA_NUM_THREADS=\"%s\" is not an integer in [1, %d]; using the cores",
                     env, NB_MAX_THREADS);
  }
  if (n == 0) {
    long c = online_cores();
    n = (int)(c > NB_MAX_THREADS ? NB_MAX_THREADS : c);
  }
  __atomic_store_n(&num_threads, n, __ATOMIC_RELAXED);
}

int nb_set_num_threads(int n) {
  if (n < 1 || n > NB_MAX_THREADS)
    return nb_set_error(NB_EINVAL, "nb_set_num_threads: thread count must be in [1, %d], got %d",
                        NB_MAX_THREADS, n);
  pthread_once(&threads_once, threads_init);
  long cores = online_cores();
  if (n > cores)
    nb_log_message(NB_LOG_WARN, "nb_set_num_threads: %d threads on %ld cores: threads will wait "
                   "for each other; expect a large slowdown", n, cores);
  __atomic_store_n(&num_threads, n, __ATOMIC_RELAXED);
  return 0;
}

int nb_get_num_threads(void) {
  pthread_once(&threads_once, threads_init);
  return __atomic_load_n(&num_threads, __ATOMIC_RELAXED);
}

int nb__threads_here(void) { return nb__pool_in_loop() ? 1 : nb_get_num_threads(); }

void nb_parallel_for(int64_t n, int64_t grain, nb_range_fn fn, void *user) {
  if (n <= 0 || !fn)
    return;
  if (grain < 1)
    grain = 1;
  int nt = nb__threads_here();
  if (nt <= 1 || n <= grain) {
    fn(0, n, user);
    return;
  }
  int64_t chunks = (n + grain - 1) / grain;
  if (chunks > nt)
    chunks = nt;
  int64_t size = (n + chunks - 1) / chunks;
  chunks = (n + size - 1) / size;
  nb__pool_run(nt, n, size, chunks, fn, user);
}

void nb__parallel_tasks(int64_t ntasks, nb_range_fn fn, void *user) {
  if (ntasks > 0)
    nb__pool_run(nb__threads_here(), ntasks, 1, ntasks, fn, user);
}

/* ---- scratch --------------------------------------------------------------------------- */

#define NB_SCRATCH_SLOTS 4 /* the public ones */
#define NB_SCRATCH_ALL (NB_SCRATCH_SLOTS + NB_SCRATCH_CORE_SLOTS)

typedef struct scratch {
  void *p[NB_SCRATCH_ALL];
  size_t cap[NB_SCRATCH_ALL];
  bool registered;
} scratch;

static _Thread_local scratch tl_scratch;

static void scratch_destroy(void *arg) {
  scratch *s = arg;
  for (int i = 0; i < NB_SCRATCH_ALL; i++) {
    free(s->p[i]);
    s->p[i] = NULL;
    s->cap[i] = 0;
  }
  s->registered = false;
}

void *nb_scratch(int slot, size_t size) {
  if (slot < 0 || slot >= NB_SCRATCH_SLOTS) {
    nb_set_error(NB_EINVAL, "nb_scratch: slot %d is out of range [0, %d]", slot, NB_SCRATCH_SLOTS - 1);
    return NULL;
  }
  return nb__scratch(slot, size);
}

void *nb__scratch(int slot, size_t size) {
  scratch *s = &tl_scratch;
  if (size <= s->cap[slot] && s->p[slot])
    return s->p[slot];
  if (size > SIZE_MAX - 64) {
    nb_set_error(NB_ENOMEM, "nb_scratch: %zu bytes is too large", size);
    return NULL;
  }
  size_t cap = (size + 63) & ~(size_t)63;
  if (cap < 64)
    cap = 64;
  if (cap < s->cap[slot] * 2 && s->cap[slot] <= SIZE_MAX / 4)
    cap = (s->cap[slot] * 2 + 63) & ~(size_t)63; /* grow geometrically */
  void *p = aligned_alloc(64, cap);
  if (!p) {
    nb_set_error(NB_ENOMEM, "nb_scratch: out of memory allocating %zu bytes", size);
    return NULL;
  }
  free(s->p[slot]);
  s->p[slot] = p;
  s->cap[slot] = cap;
  if (!s->registered) s->registered = nb__at_thread_exit(scratch_destroy, s);
  return p;
}
