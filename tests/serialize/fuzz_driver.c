/* tests/serialize/fuzz_driver.c — a small built-in mutation fuzzer for compilers
 * without libFuzzer: reads a seed corpus, then for a bounded number of iterations (and
 * seconds) mutates a random seed — bit flips, random bytes, JSON tokens and numbers
 * spliced into the header, insertions, deletions, truncation, header-length edits — and
 * feeds the result to LLVMFuzzerTestOneInput. Deterministic for a given --seed (and
 * --iterations; --seconds is wall-clock time and may stop a run earlier).
 *
 * Usage: fuzz_driver [--iterations N] [--seconds S] [--seed N] CORPUS_DIR...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  uint8_t *d;
  size_t n;
} blob;

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* Wall-clock seconds: --seconds bounds how long a test runs, on a busy machine too. */
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *tokens[] = {
    "{", "}", "[", "]", ",", ":", "\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"",
    "\"F32\"", "\"F64\"", "\"I64\"", "\"BOOL\"", "\"F16\"", "0", "1", "-1", "8", "4294967296",
    "18446744073709551615", "9007199254740993", "1e300", "1.5", "null", "true", "\"a\"", "\\u0000",
    "\xff", "\xc0\xaf", "[0,0]", "[]", "{}"};

static void mutate(blob *b, size_t cap) {
  int kinds = 1 + (int)below(4);
  for (int m = 0; m < kinds; m++) {
    size_t n = b->n;
    switch (below(8)) {
    case 0: /* flip a bit */
      if (n) b->d[below(n)] ^= (uint8_t)(1u << below(8));
      break;
    case 1: /* random byte */
      if (n) b->d[below(n)] = (uint8_t)rnd();
      break;
    case 2: { /* insert a token */
      const char *t = tokens[below(sizeof tokens / sizeof tokens[0])];
      size_t tl = strlen(t), at = below(n + 1);
      if (n + tl > cap) break;
      memmove(b->d + at + tl, b->d + at, n - at);
      memcpy(b->d + at, t, tl);
      b->n += tl;
      break;
    }
    case 3: { /* overwrite with a token */
      const char *t = tokens[below(sizeof tokens / sizeof tokens[0])];
      size_t tl = strlen(t);
      if (n >= tl) memcpy(b->d + below(n - tl + 1), t, tl);
      break;
    }
    case 4: { /* delete a range */
      if (!n) break;
      size_t at = below(n), len = 1 + below(n - at < 16 ? n - at : 16);
      memmove(b->d + at, b->d + at + len, n - at - len);
      b->n -= len;
      break;
    }
    case 5: /* truncate */
      b->n = below(n + 1);
      break;
    case 6: /* edit the header length */
      if (n >= 8) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--) v = (v << 8) | b->d[i];
        switch (below(4)) {
        case 0: v += below(17) - 8; break;
        case 1: v = rnd(); break;
        case 2: v = n - 8; break;
        default: v = below(n + 1);
        }
        for (int i = 0; i < 8; i++) b->d[i] = (uint8_t)(v >> (8 * i));
      }
      break;
    default: { /* change a digit inside the header */
      for (int tries = 0; tries < 16 && n > 8; tries++) {
        size_t at = 8 + below(n - 8);
        if (b->d[at] >= '0' && b->d[at] <= '9') {
          b->d[at] = (uint8_t)('0' + below(10));
          break;
        }
      }
    }
    }
  }
}

int main(int argc, char **argv) {
  long long iterations = 100000;
  double seconds = 20;
  blob seeds[256];
  int ns = 0;
  size_t cap = 1 << 16;
  for (int a = 1; a < argc; a++) {
    if (!strcmp(argv[a], "--iterations") && a + 1 < argc) {
      iterations = atoll(argv[++a]);
    } else if (!strcmp(argv[a], "--seconds") && a + 1 < argc) {
      seconds = atof(argv[++a]);
    } else if (!strcmp(argv[a], "--seed") && a + 1 < argc) {
      rng_state = strtoull(argv[++a], NULL, 0);
    } else {
      DIR *dir = opendir(argv[a]);
      if (!dir) {
        fprintf(stderr, "fuzz_driver: cannot open corpus %s\n", argv[a]);
        return 2;
      }
      struct dirent *e;
      while ((e = readdir(dir)) && ns < 256) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", argv[a], e->d_name);
        FILE *f = fopen(p, "rb");
        if (!f) continue;
        blob b = {malloc(cap), 0};
        b.n = fread(b.d, 1, cap, f);
        fclose(f);
        seeds[ns++] = b;
      }
      closedir(dir);
    }
  }
  if (!ns) {
    fprintf(stderr, "fuzz_driver: empty corpus\n");
    return 2;
  }
  for (int s = 0; s < ns; s++) LLVMFuzzerTestOneInput(seeds[s].d, seeds[s].n);
  blob cur = {malloc(cap), 0};
  double start = now();
  long long it;
  for (it = 0; it < iterations; it++) {
    if ((it & 63) == 0 && now() - start > seconds) break;
    const blob *s = &seeds[below((size_t)ns)];
    memcpy(cur.d, s->d, s->n);
    cur.n = s->n;
    mutate(&cur, cap);
    LLVMFuzzerTestOneInput(cur.d, cur.n);
  }
  printf("fuzz_driver: %lld inputs from %d seeds, no invariant violated\n", it, ns);
  free(cur.d);
  for (int s = 0; s < ns; s++) free(seeds[s].d);
  return 0;
}
