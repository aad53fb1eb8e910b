/* pool.c — the core's worker threads: every parallel loop and parallel GEMM runs here.
 *
 * A loop is a number of chunks; the calling thread and up to threads-1 workers claim
 * them one at a time from a shared ticket, so when a worker is descheduled (a busy
 * machine, other processes) the others take its chunks instead of waiting for it. Idle
 * workers and a caller waiting for the last chunk spin for at most NB_POOL_SPIN_NS, then
 * sleep on a condition variable: nothing spins for long, whatever the environment says.
 * (OpenMP's default is to spin up to a few hundred thousand iterations per barrier, and
 * BLIS's own barrier spins without limit; with memory-heavy neighbours nabla's steps
 * stalled 15x on them.) Waking a worker does not preempt its waker: workers run under
 * SCHED_BATCH (batch_policy). Loops do not nest, and one loop runs at a time: a loop
 * started while another thread's loop runs, or from inside a chunk, runs on its calling
 * thread.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "internal.h"

/* How long an idle worker, or a caller waiting for the last chunk, spins before it
 * sleeps: longer than the gap between two parallel ops of a step, so back-to-back loops
 * never pay a wake-up, and short enough to cost nothing when a core is wanted elsewhere. */
#define NB_POOL_SPIN_NS 50000

/* The ticket packs the loop's generation (16 bits), chunk count and next chunk (24 bits
 * each): one compare-and-swap both checks a chunk belongs to the current loop and claims
 * it. A stale generation that wraps around claims a chunk of the current loop, correctly. */
#define T_BITS 24
#define T_MASK ((UINT64_C(1) << T_BITS) - 1)
#define T_MAKE(gen, chunks) (((uint64_t)((gen) & 0xffff) << (2 * T_BITS)) | ((uint64_t)(chunks) << T_BITS))
#define T_GEN(t) ((uint32_t)((t) >> (2 * T_BITS)))
#define T_CHUNKS(t) ((int64_t)(((t) >> T_BITS) & T_MASK))
#define T_NEXT(t) ((int64_t)((t) & T_MASK))

typedef struct pool {
  pthread_mutex_t run_lock; /* held by the thread whose loop runs */
  pthread_mutex_t m;        /* guards sleeping on the two condition variables */
  pthread_cond_t work_cv, done_cv;
  atomic_uint gen;              /* loops started; workers wait for it to change */
  _Atomic uint64_t ticket;      /* see T_MAKE */
  atomic_llong done;            /* chunks of the current loop finished */
  atomic_int sleepers;          /* workers asleep on work_cv */
  atomic_int caller_asleep;     /* the caller is asleep on done_cv */
  atomic_int helpers;           /* workers 0..helpers-1 may join the current loop */
  atomic_bool quit;             /* unloading: workers exit */
  int nworkers;                 /* started (under run_lock) */
  pthread_t tid[NB_MAX_THREADS];
  /* the current loop; written under run_lock before its ticket is published */
  nb_range_fn fn;
  void *user;
  int64_t n, size;
} pool;

static pool P = {.run_lock = PTHREAD_MUTEX_INITIALIZER,
                 .m = PTHREAD_MUTEX_INITIALIZER,
                 .work_cv = PTHREAD_COND_INITIALIZER,
                 .done_cv = PTHREAD_COND_INITIALIZER};
static NB_TLS bool tl_in_loop; /* a worker, or a caller inside its loop */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

bool nb__pool_in_loop(void) { return tl_in_loop; }

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Claim and run chunks of loop `gen` until none is left. */
static void run_chunks(uint32_t gen) {
  uint64_t t = atomic_load_explicit(&P.ticket, memory_order_acquire);
  for (;;) {
    if (T_GEN(t) != (gen & 0xffff) || T_NEXT(t) >= T_CHUNKS(t))
      return;
    if (!atomic_compare_exchange_weak_explicit(&P.ticket, &t, t + 1, memory_order_acq_rel,
                                               memory_order_acquire))
      continue;
    /* The loop cannot finish while this chunk is out, so its description stays put. */
    int64_t chunks = T_CHUNKS(t), b = T_NEXT(t) * P.size, e = b + P.size < P.n ? b + P.size : P.n;
    P.fn(b, e, P.user);
    if (atomic_fetch_add(&P.done, 1) + 1 == chunks && atomic_load(&P.caller_asleep)) {
      pthread_mutex_lock(&P.m);
      pthread_cond_signal(&P.done_cv);
      pthread_mutex_unlock(&P.m);
    }
    t = atomic_load_explicit(&P.ticket, memory_order_acquire);
  }
}

/* Wait (spin, then sleep) until the generation differs from seen; returns it. */
static uint32_t wait_for_loop(uint32_t seen) {
  int64_t until = 0;
  for (int i = 1;; i++) {
    uint32_t g = atomic_load_explicit(&P.gen, memory_order_acquire);
    if (g != seen || atomic_load_explicit(&P.quit, memory_order_relaxed))
      return g;
    cpu_relax();
    if ((i & 63) == 0) {
      int64_t t = now_ns();
      if (until == 0)
        until = t + NB_POOL_SPIN_NS;
      else if (t > until)
        break;
    }
  }
  pthread_mutex_lock(&P.m);
  atomic_fetch_add(&P.sleepers, 1);
  uint32_t g;
  while ((g = atomic_load(&P.gen)) == seen && !atomic_load(&P.quit))
    pthread_cond_wait(&P.work_cv, &P.m);
  atomic_fetch_sub(&P.sleepers, 1);
  pthread_mutex_unlock(&P.m);
  return g;
}

/* Workers run under SCHED_BATCH (Linux), so waking one never preempts the thread that
 * woke it. Under the default policy, on a busy machine, a woken worker takes its waker's
 * core at once: next to two CPU-bound processes most wakes cost the caller 0.1-1 ms of
 * waiting for its core back (under 1 us on a quiet machine). A batch worker runs when
 * the scheduler next has a core for it, while the caller keeps its own and starts on the
 * chunks, taking any the worker has not claimed by then. On an idle core nothing changes.
 * A process run under a real-time or idle policy keeps it: only the default is switched. */
static void batch_policy(void) {
#ifdef SCHED_BATCH
  int policy;
  struct sched_param sp;
  if (pthread_getschedparam(pthread_self(), &policy, &sp) == 0 && policy == SCHED_OTHER) {
    sp.sched_priority = 0;
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
  }
#endif
}

static void *worker_main(void *arg) {
  uintptr_t a = (uintptr_t)arg;
  int index = (int)(a >> 32);
  uint32_t seen = (uint32_t)a; /* the generation when this worker was started */
  tl_in_loop = true;
  batch_policy();
  for (;;) {
    seen = wait_for_loop(seen);
    if (atomic_load(&P.quit))
      return NULL;
    if (index < atomic_load_explicit(&P.helpers, memory_order_relaxed))
      run_chunks(seen);
  }
}

/* The caller's wait for the last chunk another thread is running. */
static void wait_done(int64_t chunks) {
  int64_t until = 0;
  for (int i = 1; atomic_load_explicit(&P.done, memory_order_acquire) != chunks; i++) {
    cpu_relax();
    if ((i & 63) == 0) {
      int64_t t = now_ns();
      if (until == 0)
        until = t + NB_POOL_SPIN_NS;
      else if (t > until) {
        pthread_mutex_lock(&P.m);
        atomic_store(&P.caller_asleep, 1);
        while (atomic_load(&P.done) != chunks)
          pthread_cond_wait(&P.done_cv, &P.m);
        atomic_store(&P.caller_asleep, 0);
        pthread_mutex_unlock(&P.m);
        return;
      }
    }
  }
}

/* A forked child has only the forking thread: start over without workers. */
static void atfork_prepare(void) { pthread_mutex_lock(&P.run_lock); }
static void atfork_parent(void) { pthread_mutex_unlock(&P.run_lock); }
static void atfork_child(void) {
  P.nworkers = 0;
  atomic_store(&P.sleepers, 0);
  atomic_store(&P.caller_asleep, 0);
  pthread_mutex_init(&P.m, NULL);
  pthread_cond_init(&P.work_cv, NULL);
  pthread_cond_init(&P.done_cv, NULL);
  pthread_mutex_init(&P.run_lock, NULL);
}
static void atfork_register(void) { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

/* Start workers up to `want` (under run_lock); returns how many there are. Workers block
 * every signal: the process's handlers run on its own threads. */
static int ensure_workers(int want) {
  if (P.nworkers >= want)
    return P.nworkers;
  pthread_once(&atfork_once, atfork_register);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, (size_t)2 << 20);
  uint32_t gen = atomic_load(&P.gen);
  while (P.nworkers < want) {
    uintptr_t arg = ((uintptr_t)(unsigned)P.nworkers << 32) | gen;
    if (pthread_create(&P.tid[P.nworkers], &attr, worker_main, (void *)arg) != 0)
      break;
    P.nworkers++;
  }
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return P.nworkers;
}

static void run_inline(int64_t n, int64_t size, int64_t chunks, nb_range_fn fn, void *user) {
  for (int64_t c = 0; c < chunks; c++) {
    int64_t b = c * size;
    fn(b, b + size < n ? b + size : n, user);
  }
}

void nb__pool_run(int threads, int64_t n, int64_t size, int64_t chunks, nb_range_fn fn, void *user) {
  if (threads <= 1 || chunks <= 1 || chunks > (int64_t)T_MASK || tl_in_loop ||
      pthread_mutex_trylock(&P.run_lock) != 0) {
    run_inline(n, size, chunks, fn, user);
    return;
  }
  int helpers = atomic_load(&P.quit) ? 0 : ensure_workers(threads - 1);
  if (helpers > threads - 1)
    helpers = threads - 1;
  if (helpers == 0) {
    pthread_mutex_unlock(&P.run_lock);
    run_inline(n, size, chunks, fn, user);
    return;
  }
  P.fn = fn;
  P.user = user;
  P.n = n;
  P.size = size;
  atomic_store_explicit(&P.done, 0, memory_order_relaxed);
  atomic_store_explicit(&P.helpers, helpers, memory_order_relaxed);
  uint32_t gen = atomic_load_explicit(&P.gen, memory_order_relaxed) + 1;
  atomic_store_explicit(&P.ticket, T_MAKE(gen, chunks), memory_order_release);
  atomic_store(&P.gen, gen);
  if (atomic_load(&P.sleepers) > 0) {
    pthread_mutex_lock(&P.m);
    pthread_cond_broadcast(&P.work_cv);
    pthread_mutex_unlock(&P.m);
  }
  tl_in_loop = true;
  run_chunks(gen);
  tl_in_loop = false;
  wait_done(chunks);
  pthread_mutex_unlock(&P.run_lock);
}

/* Unloading the library (dlclose) or exiting: let the workers go before their code does. */
__attribute__((destructor)) static void pool_stop(void) {
  if (tl_in_loop || pthread_mutex_trylock(&P.run_lock) != 0)
    return; /* the destructor ran while a loop was in progress (the program is ending from
             * inside a chunk): the workers are left to end with the process */
  atomic_store(&P.quit, true);
  pthread_mutex_lock(&P.m);
  pthread_cond_broadcast(&P.work_cv);
  pthread_mutex_unlock(&P.m);
  for (int i = 0; i < P.nworkers; i++)
    pthread_join(P.tid[i], NULL);
  P.nworkers = 0;
  pthread_mutex_unlock(&P.run_lock);
}
