/* Core: the worker threads under nb_parallel_for (libcore/pool.c). Thousands of loops back
 * to back (workers going to sleep and waking between them), loops from two threads at
 * once, loops inside a loop, the number of threads that run a loop, loops in a child
 * forked after the workers started, and the workers' scheduling policy. No timing: each
 * checks which indices ran, how often, on which threads and under which policy. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define N_MAX 4096

/* Counts per index, and the distinct threads that ran chunks. */
typedef struct tally {
  atomic_int hits[N_MAX];
  atomic_int chunks;
  pthread_mutex_t lock;
  pthread_t seen[16];
  int n_seen;
  int64_t spin; /* busy work per index, so chunks overlap in time */
} tally;

static void count(int64_t b, int64_t e, void *user) {
  tally *t = user;
  pthread_t self = pthread_self();
  pthread_mutex_lock(&t->lock);
  bool known = false;
  for (int i = 0; i < t->n_seen; i++) known |= pthread_equal(t->seen[i], self) != 0;
  if (!known && t->n_seen < 16) t->seen[t->n_seen++] = self;
  pthread_mutex_unlock(&t->lock);
  atomic_fetch_add(&t->chunks, 1);
  for (int64_t i = b; i < e; i++) {
    volatile double x = 1;
    for (int64_t s = 0; s < t->spin; s++) x = x * 1.0000001;
    atomic_fetch_add(&t->hits[i], 1);
  }
}

static tally *tally_new(int64_t spin) {
  tally *t = calloc(1, sizeof *t);
  pthread_mutex_init(&t->lock, NULL);
  t->spin = spin;
  return t;
}

/* Run one loop over n and check every index ran once in the expected number of chunks. */
static void loop_once(tally *t, int64_t n, int64_t grain, int nt) {
  for (int64_t i = 0; i < n; i++) atomic_store(&t->hits[i], 0);
  atomic_store(&t->chunks, 0);
  nb_parallel_for(n, grain, count, t);
  for (int64_t i = 0; i < n; i++) ck_assert_int_eq(atomic_load(&t->hits[i]), 1);
  int64_t want = (n + grain - 1) / grain < nt ? (n + grain - 1) / grain : nt; /* as nb_parallel_for */
  int64_t size = (n + want - 1) / want;
  ck_assert_int_eq(atomic_load(&t->chunks), nt == 1 || n <= grain ? 1 : (n + size - 1) / size);
}

START_TEST(test_loops_back_to_back) {
  int prev = nb_get_num_threads();
  tally *t = tally_new(0);
  for (int nt = 1; nt <= 4; nt++) {
    ck_assert_int_eq(nb_set_num_threads(nt), 0);
    for (int r = 0; r < 3000; r++) loop_once(t, 1 + (r * 37) % 200, 1 + r % 7, nt);
    for (int r = 0; r < 20; r++) { /* gaps: workers fall asleep between loops */
      usleep(r % 2 ? 200 : 1);
      loop_once(t, 64, 1, nt);
    }
  }
  free(t);
  nb_set_num_threads(prev);
}
END_TEST

/* The threads that run a loop are the caller and at most nt - 1 workers, also after the
 * count went down. */
START_TEST(test_threads_follow_count) {
  int prev = nb_get_num_threads();
  static const int counts[] = {3, 2, 1, 2};
  for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
    int nt = counts[c];
    ck_assert_int_eq(nb_set_num_threads(nt), 0);
    tally *t = tally_new(2000);
    for (int r = 0; r < 200; r++) loop_once(t, 64, 1, nt);
    ck_assert_int_le(t->n_seen, nt);
    bool caller = false;
    for (int i = 0; i < t->n_seen; i++) caller |= pthread_equal(t->seen[i], pthread_self()) != 0;
    ck_assert_msg(caller || t->n_seen == 0, "the calling thread ran none of the chunks");
    pthread_mutex_destroy(&t->lock);
    free(t);
  }
  nb_set_num_threads(prev);
}
END_TEST

/* Inside a chunk, nb_parallel_for runs the whole range at once on that thread. */
typedef struct nested {
  atomic_int inner_calls, bad;
} nested;

static void inner(int64_t b, int64_t e, void *user) {
  nested *w = user;
  atomic_fetch_add(&w->inner_calls, 1);
  if (b != 0 || e != 100) atomic_fetch_add(&w->bad, 1);
}

static void outer(int64_t b, int64_t e, void *user) {
  for (int64_t i = b; i < e; i++) nb_parallel_for(100, 1, inner, user);
}

START_TEST(test_loop_inside_loop_runs_inline) {
  int prev = nb_get_num_threads();
  ck_assert_int_eq(nb_set_num_threads(2), 0);
  nested w = {0};
  nb_parallel_for(10, 1, outer, &w);
  ck_assert_int_eq(atomic_load(&w.inner_calls), 10);
  ck_assert_int_eq(atomic_load(&w.bad), 0);
  nb_set_num_threads(prev);
}
END_TEST

/* Two threads start loops at the same time: each loop still runs every index once. */
static void *caller_main(void *arg) {
  tally *t = arg;
  for (int r = 0; r < 2000; r++) {
    for (int64_t i = 0; i < 100; i++) atomic_store(&t->hits[i], 0);
    nb_parallel_for(100, 1, count, t);
    for (int64_t i = 0; i < 100; i++)
      if (atomic_load(&t->hits[i]) != 1) return NULL;
  }
  return arg;
}

START_TEST(test_two_callers) {
  int prev = nb_get_num_threads();
  ck_assert_int_eq(nb_set_num_threads(2), 0);
  tally *t[2] = {tally_new(0), tally_new(0)};
  pthread_t th[2];
  for (int i = 0; i < 2; i++) ck_assert_int_eq(pthread_create(&th[i], NULL, caller_main, t[i]), 0);
  for (int i = 0; i < 2; i++) {
    void *ret = NULL;
    pthread_join(th[i], &ret);
    ck_assert_ptr_eq(ret, t[i]);
    free(t[i]);
  }
  nb_set_num_threads(prev);
}
END_TEST

/* Two chunks that each wait (up to 10 s) until both have started, so the caller runs one
 * and a worker the other; each records its thread's scheduling policy. */
typedef struct meet {
  pthread_t caller;
  atomic_int started;
  atomic_int caller_policy, worker_policy; /* -1: no chunk ran there */
} meet;

static void meet_chunk(int64_t b, int64_t e, void *user) {
  (void)b, (void)e;
  meet *m = user;
  int policy = sched_getscheduler(0);
  if (pthread_equal(pthread_self(), m->caller)) atomic_store(&m->caller_policy, policy);
  else atomic_store(&m->worker_policy, policy);
  atomic_fetch_add(&m->started, 1);
  for (int i = 0; i < 10000 && atomic_load(&m->started) < 2; i++) usleep(1000);
}

/* Run a two-chunk loop on 2 threads; returns the worker's policy, the caller's in *caller. */
static int meet_policies(int *caller) {
  meet m = {.caller = pthread_self(), .caller_policy = -1, .worker_policy = -1};
  nb_parallel_for(2, 1, meet_chunk, &m);
  *caller = atomic_load(&m.caller_policy);
  return atomic_load(&m.worker_policy);
}

/* Workers run under SCHED_BATCH, so waking one does not preempt the caller; the caller's
 * own policy is left alone, and a process that chose another policy keeps it. */
START_TEST(test_worker_policy) {
  int prev = nb_get_num_threads();
  ck_assert_int_eq(nb_set_num_threads(2), 0);
  fflush(NULL);
  pid_t pid = fork(); /* a child whose workers start under SCHED_IDLE */
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    alarm(20);
    struct sched_param sp = {0};
    if (sched_setscheduler(0, SCHED_IDLE, &sp) != 0) _exit(2);
    int caller, worker = meet_policies(&caller);
    _exit(caller == SCHED_IDLE && worker == SCHED_IDLE ? 0 : 1);
  }
  int own = sched_getscheduler(0); /* the default, unless the suite was started otherwise */
  int caller, worker = meet_policies(&caller);
  ck_assert_int_eq(caller, own);
  ck_assert_int_eq(worker, own == SCHED_OTHER ? SCHED_BATCH : own);
  int status = 0;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                "child under SCHED_IDLE: status %d (1: a worker left SCHED_IDLE)", status);
  nb_set_num_threads(prev);
}
END_TEST

/* A child forked after the workers started has none: its loops must still finish. */
START_TEST(test_loops_after_fork) {
  int prev = nb_get_num_threads();
  ck_assert_int_eq(nb_set_num_threads(2), 0);
  tally *t = tally_new(100);
  loop_once(t, 256, 1, 2); /* the workers exist now */
  fflush(NULL);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    alarm(20); /* a hang fails the test instead of blocking it */
    for (int r = 0; r < 100; r++) {
      for (int64_t i = 0; i < 256; i++) atomic_store(&t->hits[i], 0);
      nb_parallel_for(256, 1, count, t);
      for (int64_t i = 0; i < 256; i++)
        if (atomic_load(&t->hits[i]) != 1) _exit(1);
    }
    _exit(0);
  }
  int status = 0;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: status %d", status);
  loop_once(t, 256, 1, 2); /* and the parent's workers still run */
  free(t);
  nb_set_num_threads(prev);
}
END_TEST

static Suite *make(void) {
  Suite *s = suite_create("core_pool");
  TCase *tc = tcase_create("pool");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_loops_back_to_back);
  tcase_add_test(tc, test_threads_follow_count);
  tcase_add_test(tc, test_loop_inside_loop_runs_inline);
  tcase_add_test(tc, test_two_callers);
  tcase_add_test(tc, test_loops_after_fork);
  tcase_add_test(tc, test_worker_policy);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(make()); }
