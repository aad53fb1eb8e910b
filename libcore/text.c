/* text.c — the growable string of text.h, shared by every message, repr and report the
 * core and the user library build. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool reserve(nb_text *t, size_t extra) {
  if (t->oom) return false;
  if (t->len + extra + 1 <= t->cap) return true;
  size_t cap = t->cap ? t->cap : 256;
  while (cap < t->len + extra + 1) cap *= 2;
  char *p = realloc(t->s, cap);
  if (!p) {
    t->oom = true;
    return false;
  }
  t->s = p;
  t->cap = cap;
  return true;
}

void nb_text_add(nb_text *t, const char *s, size_t n) {
  if (!reserve(t, n)) return;
  memcpy(t->s + t->len, s, n);
  t->len += n;
  t->s[t->len] = '\0';
}

void nb_text_puts(nb_text *t, const char *s) { nb_text_add(t, s, strlen(s)); }

void nb_text_spaces(nb_text *t, int n) {
  if (n <= 0 || !reserve(t, (size_t)n)) return;
  memset(t->s + t->len, ' ', (size_t)n);
  t->len += (size_t)n;
  t->s[t->len] = '\0';
}

static void vappend(nb_text *t, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) {
    t->oom = true;
    return;
  }
  if (!reserve(t, (size_t)n)) return;
  vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
  t->len += (size_t)n;
}

void nb_text_printf(nb_text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vappend(t, fmt, ap);
  va_end(ap);
}

void nb_text_sepf(nb_text *t, const char *sep, const char *fmt, ...) {
  if (t->len) nb_text_puts(t, sep);
  va_list ap;
  va_start(ap, fmt);
  vappend(t, fmt, ap);
  va_end(ap);
}

const char *nb_text_str(const nb_text *t) { return t->s ? t->s : ""; }

char *nb_text_take(nb_text *t) {
  char *s = t->oom ? NULL : t->s ? t->s : strdup("");
  if (t->oom) free(t->s);
  *t = (nb_text){0};
  return s;
}

void nb_text_free(nb_text *t) {
  free(t->s);
  *t = (nb_text){0};
}

char *nb_strdup_printf(const char *fmt, ...) {
  nb_text t = {0};
  va_list ap;
  va_start(ap, fmt);
  vappend(&t, fmt, ap);
  va_end(ap);
  return nb_text_take(&t);
}
