/* examples/example_util.h — the one helper the training examples (train_toy, train_blitz,
 * finetune) share. Kept tiny on purpose: each example should still read top to bottom.
 */
#ifndef NABLA_EXAMPLE_UTIL_H
#define NABLA_EXAMPLE_UTIL_H

#include <nabla/nabla.h>
#include <stdio.h>

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

#endif
