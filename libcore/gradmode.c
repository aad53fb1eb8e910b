/* gradmode.c — the thread-local grad mode and its nesting stack (no_grad /
 * enable_grad), as PyTorch's torch.no_grad() and torch.enable_grad(). */
#include <stdlib.h>

#include "internal.h"

static NB_TLS bool grad_disabled; /* false: grad mode on (the default) */
static _Thread_local bool *mode_stack;
static _Thread_local int mode_depth, mode_cap;

bool nb_is_grad_enabled(void) { return !grad_disabled; }

bool nb_set_grad_enabled(bool enabled) {
  bool *d = NB_TLS_ADDR(grad_disabled);
  bool prev = !*d;
  *d = !enabled;
  return prev;
}

static int push_mode(bool enabled) {
  if (mode_depth == mode_cap) {
    int cap = mode_cap ? mode_cap * 2 : 16;
    bool *s = realloc(mode_stack, (size_t)cap * sizeof *s);
    if (!s) return nb_set_error(NB_ENOMEM, "grad mode: out of memory for nesting depth %d", cap);
    mode_stack = s;
    mode_cap = cap;
  }
  mode_stack[mode_depth++] = !grad_disabled;
  grad_disabled = !enabled;
  return NB_OK;
}

int nb_no_grad_begin(void) { return push_mode(false); }
int nb_enable_grad_begin(void) { return push_mode(true); }

int nb_grad_mode_end(void) {
  if (mode_depth == 0)
    return nb_set_error(NB_ESTATE, "nb_grad_mode_end: no nb_no_grad_begin/nb_enable_grad_begin is open");
  grad_disabled = !mode_stack[--mode_depth];
  if (mode_depth == 0) {
    free(mode_stack);
    mode_stack = NULL;
    mode_cap = 0;
  }
  return NB_OK;
}

int nb_no_grad_end(void) { return nb_grad_mode_end(); }
