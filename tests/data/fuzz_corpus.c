/* tests/data/fuzz_corpus.c — fuzz target for text corpora (nb_corpus_from_buffer and
 * window datasets over it), driven by tests/serialize/fuzz_driver.c's mutation loop.
 * Invariants, for any input: it is accepted exactly when it holds no NUL byte and at
 * least 2 bytes; refused with a message naming the input; when accepted, the vocabulary
 * is the distinct bytes in ascending order (ids decode back to the input exactly) and
 * every window's target is its input shifted by one. Sanitizers catch the rest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/nabla.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what) {
  fprintf(stderr, "fuzz_corpus: invariant violated: %s (%s)\n", what, nb_last_error());
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bool text = size >= 2 && !memchr(data, 0, size);
  nb_corpus *c = nb_corpus_from_buffer(data, size, "fuzz-input");
  if (!c) {
    if (text) fail("text refused");
    if (!strstr(nb_last_error(), "fuzz-input")) fail("refusal does not name the input");
    return 0;
  }
  if (!text) fail("binary or short input accepted");
  if (nb_corpus_len(c) != (int64_t)size) fail("length");
  int64_t *ids = malloc(size * sizeof *ids);
  char *back = malloc(size + 1);
  if (!ids || !back) abort();
  for (size_t i = 0; i < size; i++) ids[i] = nb_corpus_token(c, (int64_t)i);
  for (size_t i = 0; i < size; i++)
    for (size_t j = 0; j < size; j++)
      if ((data[i] < data[j]) != (ids[i] < ids[j])) fail("ids not in byte order");
  if (nb_corpus_decode(c, ids, size, back) != 0 || memcmp(back, data, size)) fail("round trip");
  int64_t context = 1 + (int64_t)(data[0] % 8), stride = 1 + (int64_t)(data[1] % 3);
  nb_scope_begin();
  nb_dataset *ds = nb_corpus_windows(c, context, stride, 0, (int64_t)size);
  if (!ds) fail("windows refused");
  int64_t n = nb_dataset_len(ds);
  if (n != ((int64_t)size - context - 1 >= 0 ? ((int64_t)size - context - 1) / stride + 1 : 0))
    fail("window count");
  for (int64_t k = 0; k < n; k++) {
    nb_tensor *x, *y;
    if (nb_dataset_get(ds, k, &x, &y) != 0) fail("window fetch");
    const int64_t *px = nb_data(x), *py = nb_data(y);
    for (int64_t t = 0; t < context; t++)
      if (px[t] != ids[k * stride + t] || py[t] != ids[k * stride + t + 1]) fail("window contents");
  }
  nb_dataset_free(ds);
  nb_scope_end();
  free(ids);
  free(back);
  nb_corpus_free(c);
  return 0;
}
