/* nabla/text.h — a growable string for building messages, reprs and reports.
 *
 * Start from `nb_text t = {0};`, append, then read nb_text_str() or take ownership with
 * nb_text_take(). An allocation failure is sticky: later appends do nothing and
 * nb_text_take() returns NULL, so callers check once at the end.
 */
#ifndef NABLA_TEXT_H
#define NABLA_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_text {
  char *s;         /* NUL-terminated once anything was added; NULL before */
  size_t len, cap;
  bool oom;        /* an append failed: the content is incomplete */
} nb_text;

/* Append n bytes of s / a NUL-terminated string / n spaces. */
void nb_text_add(nb_text *t, const char *s, size_t n);
void nb_text_puts(nb_text *t, const char *s);
void nb_text_spaces(nb_text *t, int n);
/* Append formatted text; with nb_text_sepf, `sep` first unless t is still empty (for
 * lists: "a, b, c"). */
void nb_text_printf(nb_text *t, const char *fmt, ...) NB_PRINTF(2, 3);
void nb_text_sepf(nb_text *t, const char *sep, const char *fmt, ...) NB_PRINTF(3, 4);
/* The content so far ("" when empty); valid until the next append. */
const char *nb_text_str(const nb_text *t);
/* Hand the malloc'ed string to the caller (NULL after an allocation failure, "" when
 * empty) and reset t. */
char *nb_text_take(nb_text *t);
/* Free the content and reset t. */
void nb_text_free(nb_text *t);
/* A malloc'ed formatted string (NULL when out of memory). */
char *nb_strdup_printf(const char *fmt, ...) NB_PRINTF(1, 2);

#ifdef __cplusplus
}
#endif
#endif
