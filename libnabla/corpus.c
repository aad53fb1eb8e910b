/* libnabla/corpus.c — text corpora for character-level models (data.h).
 *
 * A corpus is the bytes of one text file, or of every text file in a directory (in
 * name order; symbolic links, subdirectories and binary files — any with a NUL byte,
 * such as fortune's .dat indexes — are skipped). Its vocabulary is the distinct bytes,
 * sorted, so token ids are stable for a given text; multi-byte UTF-8 characters are
 * several tokens. A window dataset cuts (input, next-token target) pairs out of a
 * range of the token stream for a data loader to shuffle and batch.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nabla/data.h"
#include "nabla/tensor.h"
#include "read_file.h"

struct nb_corpus {
  uint8_t *ids;     /* the text as token ids */
  int64_t n;
  int vocab;
  int files;        /* files read (1 for a file or a buffer) */
  int16_t id[256];  /* byte -> id, -1 if absent */
  uint8_t byte[256]; /* id -> byte */
};

/* Append bytes of one text to a growing buffer; refuses NUL bytes (binary) with 1. */
static int append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *p, size_t n,
                  const char *name) {
  if (n == 0) return 0;
  if (memchr(p, 0, n)) return 1;
  if (n > NB_CORPUS_MAX_BYTES - *len)
    return nb_set_error(NB_EIO, "corpus: %s: the corpus would exceed %zu bytes", name,
                        (size_t)NB_CORPUS_MAX_BYTES);
  if (*len + n > *cap) {
    size_t c = *cap ? *cap : 1 << 16;
    while (c < *len + n) c *= 2;
    uint8_t *b = realloc(*buf, c);
    if (!b) return nb_set_error(NB_ENOMEM, "corpus: out of memory reading %s", name);
    *buf = b, *cap = c;
  }
  memcpy(*buf + *len, p, n);
  *len += n;
  return 0;
}

/* Take ownership of text[0..n) and build the vocabulary. */
static nb_corpus *build(uint8_t *text, size_t n, int files, const char *name) {
  if (n < 2) {
    free(text);
    nb_set_error(NB_EINVAL, "corpus: %s holds %zu bytes of text; at least 2 are needed", name, n);
    return NULL;
  }
  nb_corpus *c = calloc(1, sizeof *c);
  if (!c) {
    free(text);
    nb_set_error(NB_ENOMEM, "corpus: out of memory");
    return NULL;
  }
  bool seen[256] = {false};
  for (size_t i = 0; i < n; i++) seen[text[i]] = true;
  for (int b = 0; b < 256; b++) {
    c->id[b] = -1;
    if (seen[b]) c->byte[c->vocab] = (uint8_t)b, c->id[b] = (int16_t)c->vocab++;
  }
  for (size_t i = 0; i < n; i++) text[i] = (uint8_t)c->id[text[i]];
  c->ids = text, c->n = (int64_t)n, c->files = files;
  return c;
}

nb_corpus *nb_corpus_from_buffer(const void *buf, size_t size, const char *name) {
  name = name ? name : "buffer";
  if (!buf && size) {
    nb_set_error(NB_EINVAL, "corpus: %s: NULL buffer", name);
    return NULL;
  }
  uint8_t *text = NULL;
  size_t len = 0, cap = 0;
  int rc = append(&text, &len, &cap, buf, size, name);
  if (rc != 0) {
    free(text);
    if (rc > 0) nb_set_error(NB_EINVAL, "corpus: %s is not text: it holds a NUL byte", name);
    return NULL;
  }
  return build(text, len, 1, name);
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files directly in dir, sorted by name (symbolic links not followed). */
static int list_dir(const char *dir, char ***names, int *count) {
  DIR *d = opendir(dir);
  if (!d) return nb_set_error(NB_EIO, "corpus: cannot open directory %s", dir);
  int n = 0, cap = 0, rc = 0;
  char **v = NULL;
  struct dirent *de;
  while ((de = readdir(d))) {
    struct stat st;
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
      continue;
    if (n == cap) {
      char **w = realloc(v, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *v);
      if (!w) { rc = nb_set_error(NB_ENOMEM, "corpus: out of memory listing %s", dir); break; }
      v = w;
    }
    if (!(v[n] = strdup(de->d_name))) { rc = nb_set_error(NB_ENOMEM, "corpus: out of memory"); break; }
    n++;
  }
  closedir(d);
  if (n) qsort(v, (size_t)n, sizeof *v, by_name);
  *names = v, *count = n;
  return rc;
}

static nb_corpus *open_dir(const char *dir) {
  char **names = NULL;
  int n = 0, files = 0, rc = list_dir(dir, &names, &n);
  uint8_t *text = NULL;
  size_t len = 0, cap = 0;
  for (int i = 0; i < n && rc >= 0; i++) {
    size_t plen = strlen(dir) + strlen(names[i]) + 2;
    char *path = malloc(plen);
    unsigned char *b = NULL;
    size_t size = 0;
    if (!path) rc = nb_set_error(NB_ENOMEM, "corpus: out of memory");
    else snprintf(path, plen, "%s/%s", dir, names[i]);
    if (rc >= 0) rc = nb__read_regular_file(path, "corpus", NB_CORPUS_MAX_BYTES, &b, &size);
    if (rc >= 0) {
      int a = append(&text, &len, &cap, b, size, path);
      if (a < 0) rc = a;
      else if (a == 0 && size) files++; /* a > 0: binary, skipped */
    }
    free(b);
    free(path);
  }
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  if (rc >= 0 && files == 0) rc = nb_set_error(NB_EINVAL, "corpus: %s holds no text file", dir);
  if (rc < 0) {
    free(text);
    return NULL;
  }
  return build(text, len, files, dir);
}

nb_corpus *nb_corpus_open(const char *path) {
  struct stat st;
  if (!path) {
    nb_set_error(NB_EINVAL, "corpus: NULL path");
    return NULL;
  }
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return open_dir(path);
  unsigned char *b;
  size_t size;
  if (nb__read_regular_file(path, "corpus", NB_CORPUS_MAX_BYTES, &b, &size) < 0) return NULL;
  if (memchr(b, 0, size)) {
    free(b);
    nb_set_error(NB_EINVAL, "corpus: %s is not text: it holds a NUL byte", path);
    return NULL;
  }
  return build(b, size, 1, path);
}

void nb_corpus_free(nb_corpus *c) {
  if (!c) return;
  free(c->ids);
  free(c);
}

int64_t nb_corpus_len(const nb_corpus *c) { return c ? c->n : 0; }
int nb_corpus_vocab_size(const nb_corpus *c) { return c ? c->vocab : 0; }
int nb_corpus_files(const nb_corpus *c) { return c ? c->files : 0; }

int nb_corpus_token(const nb_corpus *c, int64_t i) {
  if (!c || i < 0 || i >= c->n)
    return nb_set_error(NB_EINVAL, "corpus: token %lld out of range [0, %lld)", (long long)i,
                        (long long)(c ? c->n : 0));
  return c->ids[i];
}

int nb_corpus_encode(const nb_corpus *c, const char *text, size_t n, int64_t *ids) {
  if (!c || (!text && n) || (!ids && n)) return nb_set_error(NB_EINVAL, "corpus: encode: NULL argument");
  for (size_t i = 0; i < n; i++) {
    int id = c->id[(uint8_t)text[i]];
    if (id < 0)
      return nb_set_error(NB_EINVAL, "corpus: encode: byte 0x%02x at %zu is not in the vocabulary",
                          (unsigned)(uint8_t)text[i], i);
    ids[i] = id;
  }
  return 0;
}

int nb_corpus_decode(const nb_corpus *c, const int64_t *ids, size_t n, char *out) {
  if (!c || (!ids && n) || !out) return nb_set_error(NB_EINVAL, "corpus: decode: NULL argument");
  for (size_t i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= c->vocab)
      return nb_set_error(NB_EINVAL, "corpus: decode: id %lld at %zu out of range [0, %d)",
                          (long long)ids[i], i, c->vocab);
    out[i] = (char)c->byte[ids[i]];
  }
  out[n] = '\0';
  return 0;
}

/* ---- windows as a dataset ------------------------------------------------------------ */

typedef struct windows {
  const nb_corpus *c;
  int64_t context, stride, begin, count;
} windows;

static int64_t win_len(void *user) { return ((windows *)user)->count; }

/* x, y: n windows (idx[0..n)) of w->context tokens each, in ndim 1 (one item) or 2. */
static int win_fill(const windows *w, const int64_t *idx, int64_t n, int ndim, nb_tensor **x,
                    nb_tensor **y) {
  const int64_t shape[2] = {n, w->context};
  *x = nb_empty(ndim, shape + 2 - ndim, NB_I64);
  *y = nb_empty(ndim, shape + 2 - ndim, NB_I64);
  if (!*x || !*y) return nb_last_status();
  int64_t *px = nb_data(*x), *py = nb_data(*y), T = w->context;
  for (int64_t k = 0; k < n; k++) {
    const uint8_t *s = w->c->ids + w->begin + idx[k] * w->stride;
    for (int64_t t = 0; t < T; t++) px[k * T + t] = s[t], py[k * T + t] = s[t + 1];
  }
  return 0;
}

static int win_get_batch(void *user, const int64_t *idx, int64_t n, nb_tensor **x, nb_tensor **y) {
  return win_fill(user, idx, n, 2, x, y);
}

static int win_get_item(void *user, int64_t i, nb_tensor **x, nb_tensor **y) {
  return win_fill(user, &i, 1, 1, x, y);
}

nb_dataset *nb_corpus_windows(const nb_corpus *c, int64_t context, int64_t stride, int64_t begin,
                              int64_t end) {
  if (!c || context < 1 || stride < 1 || begin < 0 || end > c->n || begin > end) {
    nb_set_error(NB_EINVAL, "corpus: windows: need a corpus, context >= 1, stride >= 1 and "
                 "0 <= begin <= end <= %lld (got context %lld, stride %lld, [%lld, %lld))",
                 (long long)(c ? c->n : 0), (long long)context, (long long)stride,
                 (long long)begin, (long long)end);
    return NULL;
  }
  windows *w = malloc(sizeof *w);
  if (!w) {
    nb_set_error(NB_ENOMEM, "corpus: out of memory");
    return NULL;
  }
  int64_t span = end - begin - context - 1; /* first positions: 0..span */
  *w = (windows){c, context, stride, begin, span >= 0 ? span / stride + 1 : 0};
  static const nb_dataset_ops ops = {.len = win_len, .get_item = win_get_item,
                                     .get_batch = win_get_batch, .free = free};
  nb_dataset *ds = nb_dataset_new(&ops, w);
  if (!ds) free(w);
  return ds;
}
