/* tests/data/fuzz_idx.c — fuzz target for the IDX reader (plain and gzip).
 *
 * libFuzzer entry point (built with clang -fsanitize=fuzzer when available) and also
 * driven by tests/serialize/fuzz_driver.c's mutation loop. Invariants, for any input:
 *  - it is refused with a message naming the input and nothing held, or it loads with a
 *    shape whose product is the element count, no larger than the input, and converts
 *    to a tensor holding exactly those bytes;
 *  - a plain input and its gzip compression (made here with zlib, at a level and member
 *    split taken from the input) are accepted or refused alike, with the same contents;
 *  - the compressed form cut short anywhere is refused.
 * Sanitizers catch out-of-bounds accesses and leaks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <nabla/nabla.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what) {
  fprintf(stderr, "fuzz_idx: invariant violated: %s (%s)\n", what, nb_last_error());
  abort();
}

/* gzip-compress in[0..n) into one member; returns the size or 0. */
static size_t gz_member(const uint8_t *in, size_t n, int level, uint8_t *out, size_t cap) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
  zs.next_in = (Bytef *)(uintptr_t)in;
  zs.avail_in = (uInt)n;
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  int r = deflate(&zs, Z_FINISH);
  size_t got = cap - zs.avail_out;
  deflateEnd(&zs);
  return r == Z_STREAM_END ? got : 0;
}

static int read_checked(const uint8_t *buf, size_t n, const char *name, size_t plain_size, nb_idx *out) {
  int rc = nb_idx_read_buffer(buf, n, name, out);
  if (rc < 0) {
    if (!strstr(nb_last_error(), name)) fail("refusal does not name the input");
    if (out->data || out->ndim) fail("refused but something is held");
    return rc;
  }
  if (out->type != 0x08 || out->ndim < 1 || out->ndim > NB_MAX_DIMS || !out->data) fail("bad header fields");
  int64_t numel = 1;
  for (int d = 0; d < out->ndim; d++) {
    if (out->shape[d] < 1) fail("zero or negative size accepted");
    numel *= out->shape[d];
  }
  if (numel != out->numel || numel > NB_IDX_MAX_ELEMENTS) fail("numel disagrees with the shape");
  if ((size_t)numel + 4 + 4 * (size_t)out->ndim != plain_size) fail("header + body is not the plain size");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_scope_begin();
  nb_idx a;
  bool is_gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  int rc = nb_idx_read_buffer(data, size, "fuzz-input", &a);
  if (rc < 0) {
    if (!strstr(nb_last_error(), "fuzz-input")) fail("refusal does not name the input");
    if (a.data || a.ndim) fail("refused but something is held");
  } else if (!is_gz) {
    nb_idx again;
    if (read_checked(data, size, "fuzz-input", size, &again) < 0) fail("accepted once, refused the second time");
    if (again.numel != a.numel || memcmp(again.data, a.data, (size_t)a.numel)) fail("not repeatable");
    nb_idx_clear(&again);
  }
  if (rc == 0 && a.numel <= 4096) {
    nb_tensor *t = nb_idx_to_tensor(&a, NB_F32, 1.0);
    if (!t || nb_numel(t) != a.numel || nb_ndim(t) != a.ndim) fail("tensor conversion");
    const float *f = nb_data(t);
    for (int64_t i = 0; i < a.numel; i++)
      if (f[i] != (float)a.data[i]) fail("tensor value differs from the byte");
  }

  /* The same bytes gzip'ed, split into one or two members: same verdict, same contents. */
  if (!is_gz && size <= 1 << 16) {
    size_t cap = size + size / 8 + 256;
    uint8_t *gz = malloc(2 * cap);
    int level = size ? data[size - 1] % 10 : 6;
    size_t split = size > 1 && size % 3 == 0 ? size / 2 : size;
    size_t n1 = gz ? gz_member(data, split, level, gz, cap) : 0;
    size_t n2 = n1 && split < size ? gz_member(data + split, size - split, level, gz + n1, cap) : 0;
    size_t n = n1 + n2;
    if (n1 && (split == size || n2)) {
      nb_idx b;
      int rc2 = nb_idx_read_buffer(gz, n, "fuzz-gzip", &b);
      if ((rc2 == 0) != (rc == 0)) fail("plain and gzip verdicts differ");
      if (rc2 < 0 && !strstr(nb_last_error(), "fuzz-gzip")) fail("gzip refusal does not name the input");
      if (rc2 == 0) {
        if (b.ndim != a.ndim || b.numel != a.numel || memcmp(b.shape, a.shape, sizeof a.shape) ||
            memcmp(b.data, a.data, (size_t)a.numel))
          fail("plain and gzip contents differ");
        nb_idx_clear(&b);
      }
      size_t cut = (size_t)((size ? data[0] : 0) * 131u + size) % n;
      if (n2 && cut == n1) cut--; /* a complete first member alone may be a valid file */
      if (nb_idx_read_buffer(gz, cut, "fuzz-cut", &b) == 0) fail("a cut gzip stream was accepted");
      if (b.data) fail("cut stream refused but something is held");
    }
    free(gz);
  }
  nb_idx_clear(&a);
  nb_scope_end();
  return 0;
}
