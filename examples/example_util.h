/* examples/example_util.h — the few helpers the examples share: CHECK, and reading a
 * flag's number. Kept tiny on purpose: each example should still read top to bottom.
 */
#ifndef NABLA_EXAMPLE_UTIL_H
#define NABLA_EXAMPLE_UTIL_H

#include <errno.h>
#include <nabla/nabla.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* Stop on the first failure: print where and nabla's message (nb_last_error()), and
 * return 1 from the enclosing function (main, or a helper whose caller CHECKs it). */
#define CHECK(x)                                                          \
  do {                                                                    \
    if (!(x)) {                                                           \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #x, \
              nb_last_error());                                           \
      return 1;                                                           \
    }                                                                     \
  } while (0)

/* A whole number >= min, or a positive real number below 1e6, from the text of a flag's
 * value (the whole text, no trailing characters). */
static inline bool to_long(const char *v, long min, long *out) {
  char *end;
  errno = 0;
  *out = strtol(v, &end, 10);
  return *v && !*end && !errno && *out >= min;
}
static inline bool to_positive(const char *v, double *out) {
  char *end;
  *out = strtod(v, &end);
  return *v && !*end && *out > 0 && *out < 1e6;
}

#endif
