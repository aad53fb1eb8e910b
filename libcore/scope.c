/* scope.c — scopes: thread-local autorelease pools for tensors.
 *
 * One growable array of owned references per thread plus a stack of marks (where
 * each open scope starts in it). Registering appends; closing a scope releases the
 * references above its mark in reverse order. The arrays are reused, so scopes cost
 * no allocation once warm; they are freed when the thread exits.
 */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

typedef struct scope_stack {
  nb_tensor **items;
  int64_t n, cap;
  int64_t *marks; /* marks[d]: items index where scope d starts */
  int depth, cap_marks;
  int floor; /* scopes 1..floor belong to the core while it runs user code (hooks) */
  bool registered;
} scope_stack;

static NB_TLS scope_stack tl_scopes;

static void scope_stack_destroy(void *arg) {
  scope_stack *s = arg;
  /* A thread that exits with scopes open: release what they hold. */
  while (s->n > 0)
    nb_release(s->items[--s->n]);
  free(s->items);
  free(s->marks);
  s->items = NULL;
  s->marks = NULL;
  s->cap = s->n = 0;
  s->depth = s->cap_marks = 0;
}

static void ensure_registered(scope_stack *s) {
  if (!s->registered) s->registered = nb__at_thread_exit(scope_stack_destroy, s);
}

int nb_scope_begin(void) {
  scope_stack *s = NB_TLS_ADDR(tl_scopes);
  if (s->depth == s->cap_marks) {
    int cap = s->cap_marks ? s->cap_marks * 2 : 16;
    int64_t *m = realloc(s->marks, (size_t)cap * sizeof *m);
    if (!m)
      return nb_set_error(NB_ENOMEM, "nb_scope_begin: out of memory");
    s->marks = m;
    s->cap_marks = cap;
    ensure_registered(s);
  }
  s->marks[s->depth++] = s->n;
  return s->depth;
}

/* Release the innermost scope's references; leaves depth unchanged. */
static void release_top(scope_stack *s) {
  int64_t mark = s->marks[s->depth - 1];
  while (s->n > mark)
    nb_release(s->items[--s->n]);
}

static int refuse_floor(const char *fn) {
  return nb_set_error(NB_ESTATE, "%s: the innermost open scope is not the caller's (a hook "
                                 "may end only the scopes it began)", fn);
}

int nb__scope_protect(void) {
  scope_stack *s = NB_TLS_ADDR(tl_scopes);
  int old = s->floor;
  s->floor = s->depth;
  return old;
}

void nb__scope_unprotect(int old_floor) { NB_TLS_ADDR(tl_scopes)->floor = old_floor; }

int nb_scope_end(void) {
  scope_stack *s = NB_TLS_ADDR(tl_scopes);
  if (s->depth == 0)
    return nb_set_error(NB_ESTATE, "nb_scope_end: no scope is open");
  if (s->depth <= s->floor)
    return refuse_floor("nb_scope_end");
  release_top(s);
  s->depth--;
  return 0;
}

nb_tensor *nb_scope_end_return(nb_tensor *t) {
  scope_stack *s = NB_TLS_ADDR(tl_scopes);
  if (s->depth == 0) {
    nb_set_error(NB_ESTATE, "nb_scope_end_return: no scope is open");
    return NULL;
  }
  if (s->depth <= s->floor) {
    refuse_floor("nb_scope_end_return");
    return NULL;
  }
  nb_retain(t); /* survives the release below; NULL passes through (keeps the error) */
  release_top(s);
  s->depth--;
  return nb__scope_register(t);
}

void nb__scope_end_keep(int n, nb_tensor *const *t) {
  scope_stack *s = NB_TLS_ADDR(tl_scopes);
  int64_t mark = s->marks[s->depth - 1];
  bool exact = s->n - mark == n;
  for (int j = 0; exact && j < n; j++)
    exact = s->items[mark + j] == t[j];
  if (exact) {
    s->n = mark; /* the scope's references become the caller's */
  } else {
    for (int j = 0; j < n; j++)
      nb_retain(t[j]);
    release_top(s);
  }
  s->depth--;
}

int nb_scope_depth(void) { return tl_scopes.depth; }

nb_tensor *nb__scope_register(nb_tensor *t) {
  scope_stack *s = NB_TLS_ADDR(tl_scopes);
  if (!t || s->depth == 0)
    return t;
  if (NB_UNLIKELY(s->n == s->cap)) {
    int64_t cap = s->cap ? s->cap * 2 : 256;
    nb_tensor **items = realloc(s->items, (size_t)cap * sizeof *items);
    if (!items) {
      /* Cannot track it: drop the reference rather than leak it. */
      nb_release(t);
      nb_set_error(NB_ENOMEM, "scope: out of memory registering a tensor");
      return NULL;
    }
    s->items = items;
    s->cap = cap;
    ensure_registered(s);
  }
  s->items[s->n++] = t;
  return t;
}

nb_tensor *nb_scope_adopt(nb_tensor *t) { return nb__scope_register(t); }
