/* thread_exit.c — cleanup of per-thread caches when a thread exits.
 *
 * Storage free lists, scope stacks, node caches, the engine's arrays and scratch buffers
 * are thread-locals that own memory. Each registers its destructor here the first time a
 * thread uses it; one pthread key runs them all at thread exit, newest first (like
 * atexit), including any registered while they run.
 */
#include <pthread.h>

#include "internal.h"

#define MAX_EXITS 16 /* the core registers five; room for more */

typedef struct exits {
  int n;
  void (*fn[MAX_EXITS])(void *);
  void *arg[MAX_EXITS];
} exits;

static NB_TLS exits tl_exits;
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void run_exits(void *p) {
  exits *e = p;
  while (e->n > 0) {
    e->n--;
    e->fn[e->n](e->arg[e->n]);
  }
}
static void exit_key_init(void) { pthread_key_create(&exit_key, run_exits); }

bool nb__at_thread_exit(void (*fn)(void *), void *arg) {
  exits *e = &tl_exits;
  if (e->n == MAX_EXITS) return false;
  pthread_once(&exit_once, exit_key_init);
  e->fn[e->n] = fn;
  e->arg[e->n] = arg;
  e->n++;
  pthread_setspecific(exit_key, e); /* again after a pass cleared it: runs once more */
  return true;
}
