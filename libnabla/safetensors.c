/* libnabla/safetensors.c — reading and writing safetensors files.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (an object
 * mapping tensor names to {"dtype", "shape", "data_offsets"} plus an optional
 * "__metadata__" object of string values), then the data section. Offsets are relative
 * to the data section. Everything is validated before a single tensor is handed out:
 * header length against the file size, the JSON itself (parsed by cJSON), each entry's
 * dtype, shape and offsets, overlapping or uncovered byte ranges and duplicate names.
 *
 * Loading opens without blocking and refuses anything but a regular file (a FIFO or a
 * device would otherwise hang the open or the read).
 *
 * Saving is atomic: the bytes go to a temporary file in the target's directory (a short
 * name of our own, so any valid file name can be saved to), are fsync'ed, and the
 * temporary is renamed over the target. A symbolic link is followed, so the file it
 * points to is replaced and the link stays. Temporaries left by a killed process are
 * removed by the next save into the same directory (see remove_stale_temporaries).
 *
 * Only the public API is used here (no internal.h), so the fuzz target can compile this
 * file on its own with a different compiler and sanitizer set.
 */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nabla/safetensors.h"
#include "nabla/tensor.h"
#include "atomic_file.h"
#include "read_file.h"

#define ST_MAX_HEADER ((uint64_t)100 * 1024 * 1024) /* as the reference implementation */
#define ST_MAX_EXACT_INT 9007199254740992.0         /* 2^53: larger JSON numbers are lossy */

typedef struct st_entry {
  char *name;
  nb_dtype dtype;
  int ndim;
  int64_t shape[NB_MAX_DIMS];
  uint64_t begin, end; /* byte range within the data section */
} st_entry;

struct nb_safetensors {
  unsigned char *buf; /* the whole file */
  size_t size;
  size_t data_start; /* 8 + header length */
  int n;
  st_entry *e;
  int n_meta;
  char **meta; /* key0, value0, key1, value1, ... */
};

static const struct {
  const char *name;
  nb_dtype dt;
} st_dtypes[] = {{"F32", NB_F32}, {"F64", NB_F64}, {"I64", NB_I64}, {"BOOL", NB_BOOL}};

static const char *st_dtype_code(nb_dtype dt) {
  for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
    if (st_dtypes[i].dt == dt) return st_dtypes[i].name;
  return NULL;
}

static bool host_is_little_endian(void) {
  const uint16_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

/* Copy n elements of size es, swapping bytes when the host is big-endian. */
static void copy_le(void *dst, const void *src, size_t n, size_t es) {
  if (host_is_little_endian() || es == 1) {
    if (n) memcpy(dst, src, n * es);
    return;
  }
  const unsigned char *s = src;
  unsigned char *d = dst;
  for (size_t i = 0; i < n; i++)
    for (size_t b = 0; b < es; b++) d[i * es + b] = s[i * es + es - 1 - b];
}

static char *st_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *r = malloc(n);
  if (r) memcpy(r, s, n);
  return r;
}

void nb_safetensors_free(nb_safetensors *f) {
  if (!f) return;
  for (int i = 0; i < f->n; i++) free(f->e[i].name);
  for (int i = 0; i < 2 * f->n_meta; i++) free(f->meta[i]);
  free(f->e);
  free(f->meta);
  free(f->buf);
  free(f);
}

/* ---- validation ------------------------------------------------------------------- */

/* A JSON number that is a non-negative integer exactly representable in a double. */
static bool json_uint(const cJSON *j, uint64_t *out) {
  if (!cJSON_IsNumber(j)) return false;
  double d = j->valuedouble;
  if (!(d >= 0) || d > ST_MAX_EXACT_INT || d != (double)(uint64_t)d) return false;
  *out = (uint64_t)d;
  return true;
}

static int parse_entry(const cJSON *item, st_entry *e, uint64_t data_size) {
  const char *nm = item->string;
  if (!cJSON_IsObject(item))
    return nb_set_error(NB_EINVAL, "tensor \"%s\": entry is not a JSON object", nm);
  const cJSON *jdt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
  const cJSON *jshape = cJSON_GetObjectItemCaseSensitive(item, "shape");
  const cJSON *joff = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
  if (!cJSON_IsString(jdt))
    return nb_set_error(NB_EINVAL, "tensor \"%s\": missing or non-string \"dtype\"", nm);
  bool known = false;
  for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
    if (strcmp(jdt->valuestring, st_dtypes[i].name) == 0) {
      e->dtype = st_dtypes[i].dt;
      known = true;
    }
  if (!known)
    return nb_set_error(NB_EDTYPE, "tensor \"%s\": unknown dtype \"%.32s\" (nabla reads F32, F64, I64, BOOL)",
                        nm, jdt->valuestring);
  if (!cJSON_IsArray(jshape))
    return nb_set_error(NB_EINVAL, "tensor \"%s\": missing or non-array \"shape\"", nm);
  int nd = cJSON_GetArraySize(jshape);
  if (nd > NB_MAX_DIMS)
    return nb_set_error(NB_ESHAPE, "tensor \"%s\": shape has %d dimensions (at most %d)", nm, nd,
                        NB_MAX_DIMS);
  e->ndim = nd;
  uint64_t numel = 1;
  int k = 0;
  const cJSON *d;
  cJSON_ArrayForEach(d, jshape) {
    uint64_t v;
    if (!json_uint(d, &v))
      return nb_set_error(NB_ESHAPE, "tensor \"%s\": shape[%d] is not a non-negative integer", nm, k);
    if (v > (uint64_t)INT64_MAX || (v != 0 && numel > (uint64_t)INT64_MAX / v))
      return nb_set_error(NB_ESHAPE, "tensor \"%s\": shape overflows (element count too large)", nm);
    numel *= v;
    e->shape[k++] = (int64_t)v;
  }
  uint64_t es = nb_dtype_size(e->dtype);
  if (numel > (uint64_t)INT64_MAX / es)
    return nb_set_error(NB_ESHAPE, "tensor \"%s\": shape overflows (byte size too large)", nm);
  if (!cJSON_IsArray(joff) || cJSON_GetArraySize(joff) != 2)
    return nb_set_error(NB_EINVAL, "tensor \"%s\": \"data_offsets\" must be an array of 2 integers", nm);
  if (!json_uint(cJSON_GetArrayItem(joff, 0), &e->begin) ||
      !json_uint(cJSON_GetArrayItem(joff, 1), &e->end))
    return nb_set_error(NB_EINVAL, "tensor \"%s\": \"data_offsets\" must be non-negative integers", nm);
  if (e->begin > e->end)
    return nb_set_error(NB_EINVAL, "tensor \"%s\": data_offsets [%" PRIu64 ", %" PRIu64 "] are reversed",
                        nm, e->begin, e->end);
  if (e->end > data_size)
    return nb_set_error(NB_EINVAL,
                        "tensor \"%s\": data_offsets [%" PRIu64 ", %" PRIu64
                        "] past the end of the data section (%" PRIu64 " bytes)",
                        nm, e->begin, e->end, data_size);
  if (e->end - e->begin != numel * es)
    return nb_set_error(NB_EINVAL,
                        "tensor \"%s\": data_offsets span %" PRIu64 " bytes but dtype %s and shape "
                        "of %" PRIu64 " elements need %" PRIu64,
                        nm, e->end - e->begin, jdt->valuestring, numel, numel * es);
  e->name = st_strdup(nm);
  return e->name ? 0 : nb_set_error(NB_ENOMEM, "out of memory");
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int parse_metadata(nb_safetensors *f, const cJSON *meta) {
  if (!cJSON_IsObject(meta))
    return nb_set_error(NB_EINVAL, "\"__metadata__\" is not a JSON object");
  int n = cJSON_GetArraySize(meta);
  f->meta = calloc((size_t)n * 2 + 1, sizeof *f->meta);
  if (!f->meta) return nb_set_error(NB_ENOMEM, "out of memory");
  const cJSON *kv;
  cJSON_ArrayForEach(kv, meta) {
    if (!cJSON_IsString(kv))
      return nb_set_error(NB_EINVAL, "\"__metadata__\" value of \"%s\" is not a string", kv->string);
    char *k = st_strdup(kv->string), *v = st_strdup(kv->valuestring);
    f->meta[2 * f->n_meta] = k;
    f->meta[2 * f->n_meta + 1] = v;
    f->n_meta++;
    if (!k || !v) return nb_set_error(NB_ENOMEM, "out of memory");
  }
  /* JSON allows a key twice; a lookup would silently see only the first value */
  const char **keys = malloc((size_t)f->n_meta * sizeof *keys + 1);
  if (!keys) return nb_set_error(NB_ENOMEM, "out of memory");
  for (int i = 0; i < f->n_meta; i++) keys[i] = f->meta[2 * i];
  qsort(keys, (size_t)f->n_meta, sizeof *keys, cmp_str);
  int rc = 0;
  for (int i = 1; i < f->n_meta && !rc; i++)
    if (strcmp(keys[i - 1], keys[i]) == 0)
      rc = nb_set_error(NB_EINVAL, "duplicate \"__metadata__\" key \"%s\"", keys[i]);
  free(keys);
  return rc;
}

/* Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF), as JSON requires. */
static bool valid_utf8(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    int len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!len || i + (size_t)len > n) return false;
    unsigned c1 = s[i + 1];
    if ((c1 & 0xC0) != 0x80 || (c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) ||
        (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F))
      return false;
    for (int k = 2; k < len; k++)
      if ((s[i + (size_t)k] & 0xC0) != 0x80) return false;
    i += (size_t)len;
  }
  return true;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp((*(const st_entry *const *)a)->name, (*(const st_entry *const *)b)->name);
}
static int cmp_range(const void *a, const void *b) {
  const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

/* Names unique; byte ranges disjoint and covering the whole data section. */
static int check_layout(const nb_safetensors *f, uint64_t data_size) {
  if (f->n == 0)
    return data_size == 0 ? 0
                          : nb_set_error(NB_EINVAL, "data section has %" PRIu64 " bytes but no tensors",
                                         data_size);
  const st_entry **p = malloc((size_t)f->n * sizeof *p);
  if (!p) return nb_set_error(NB_ENOMEM, "out of memory");
  for (int i = 0; i < f->n; i++) p[i] = &f->e[i];
  int rc = 0;
  qsort(p, (size_t)f->n, sizeof *p, cmp_name);
  for (int i = 1; i < f->n && !rc; i++)
    if (strcmp(p[i - 1]->name, p[i]->name) == 0)
      rc = nb_set_error(NB_EINVAL, "duplicate tensor name \"%s\"", p[i]->name);
  if (!rc) qsort(p, (size_t)f->n, sizeof *p, cmp_range);
  uint64_t pos = 0;
  for (int i = 0; i < f->n && !rc; i++) {
    if (p[i]->begin < pos)
      rc = nb_set_error(NB_EINVAL,
                        "tensors \"%s\" and \"%s\" have overlapping data ranges [%" PRIu64 ", %" PRIu64
                        "] and [%" PRIu64 ", %" PRIu64 "]",
                        p[i - 1]->name, p[i]->name, p[i - 1]->begin, p[i - 1]->end, p[i]->begin,
                        p[i]->end);
    else if (p[i]->begin > pos)
      rc = nb_set_error(NB_EINVAL, "data bytes [%" PRIu64 ", %" PRIu64 ") belong to no tensor", pos,
                        p[i]->begin);
    else
      pos = p[i]->end;
  }
  if (!rc && pos != data_size)
    rc = nb_set_error(NB_EINVAL, "data bytes [%" PRIu64 ", %" PRIu64 ") belong to no tensor", pos,
                      data_size);
  free(p);
  return rc;
}

/* Validate f->buf[0..size) and fill the entries; f owns buf. */
static int parse(nb_safetensors *f) {
  if (f->size < 8)
    return nb_set_error(NB_EINVAL, "file of %zu bytes is too small for the 8-byte header length",
                        f->size);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | f->buf[i];
  if (hlen > (uint64_t)f->size - 8)
    return nb_set_error(NB_EINVAL, "header length %" PRIu64 " exceeds the file size (%zu bytes)",
                        hlen, f->size);
  if (hlen > ST_MAX_HEADER)
    return nb_set_error(NB_EINVAL, "header length %" PRIu64 " exceeds the 100 MB limit", hlen);
  if (hlen < 2) return nb_set_error(NB_EINVAL, "header of %" PRIu64 " bytes is not a JSON object", hlen);
  const char *hdr = (const char *)f->buf + 8;
  if (memchr(hdr, '\0', hlen))
    return nb_set_error(NB_EINVAL, "header contains a NUL byte (invalid JSON)");
  if (!valid_utf8((const unsigned char *)hdr, (size_t)hlen))
    return nb_set_error(NB_EINVAL, "header is not valid UTF-8");
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0);
  if (!root) {
    size_t at = end && end >= hdr ? (size_t)(end - hdr) : 0;
    const char *ep = cJSON_GetErrorPtr();
    if (ep && ep >= hdr && ep <= hdr + hlen) at = (size_t)(ep - hdr);
    return nb_set_error(NB_EINVAL, "header is not valid JSON (error near byte %zu)", at);
  }
  int rc = 0;
  for (const char *q = end; q < hdr + hlen && !rc; q++)
    if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r')
      rc = nb_set_error(NB_EINVAL, "header has trailing bytes after the JSON object (at byte %zu)",
                        (size_t)(q - hdr));
  if (!rc && !cJSON_IsObject(root)) rc = nb_set_error(NB_EINVAL, "header is not a JSON object");
  f->data_start = 8 + (size_t)hlen;
  uint64_t data_size = (uint64_t)(f->size - f->data_start);
  if (!rc) {
    int cnt = cJSON_GetArraySize(root);
    f->e = calloc((size_t)cnt + 1, sizeof *f->e);
    if (!f->e) rc = nb_set_error(NB_ENOMEM, "out of memory");
  }
  const cJSON *item;
  bool seen_meta = false;
  if (!rc) cJSON_ArrayForEach(item, root) {
      if (strcmp(item->string, "__metadata__") == 0) {
        rc = seen_meta ? nb_set_error(NB_EINVAL, "duplicate \"__metadata__\"") : parse_metadata(f, item);
        seen_meta = true;
      } else {
        rc = parse_entry(item, &f->e[f->n], data_size);
        if (!rc) f->n++;
      }
      if (rc) break;
    }
  cJSON_Delete(root);
  if (!rc) rc = check_layout(f, data_size);
  return rc;
}

static nb_safetensors *load_owned(unsigned char *buf, size_t size, const char *what) {
  nb_safetensors *f = calloc(1, sizeof *f);
  if (!f) {
    free(buf);
    nb_set_error(NB_ENOMEM, "safetensors: out of memory");
    return NULL;
  }
  f->buf = buf;
  f->size = size;
  if (parse(f) < 0) {
    nb_error_prefix("safetensors: %s", what);
    nb_safetensors_free(f);
    return NULL;
  }
  return f;
}

nb_safetensors *nb_safetensors_load_buffer(const void *data, size_t size) {
  if (!data && size) {
    nb_set_error(NB_EINVAL, "safetensors: NULL buffer of %zu bytes", size);
    return NULL;
  }
  unsigned char *buf = malloc(size ? size : 1);
  if (!buf) {
    nb_set_error(NB_ENOMEM, "safetensors: cannot allocate %zu bytes", size);
    return NULL;
  }
  if (size) memcpy(buf, data, size);
  return load_owned(buf, size, "buffer");
}

nb_safetensors *nb_safetensors_load(const char *path) {
  if (!path) {
    nb_set_error(NB_EINVAL, "safetensors: NULL path");
    return NULL;
  }
  unsigned char *buf;
  size_t size;
  if (nb__read_regular_file(path, "safetensors", SIZE_MAX, &buf, &size) < 0) return NULL;
  return load_owned(buf, size, path);
}

/* ---- queries ------------------------------------------------------------------------- */

int nb_safetensors_count(const nb_safetensors *f) { return f ? f->n : 0; }

const char *nb_safetensors_name(const nb_safetensors *f, int i) {
  if (!f || i < 0 || i >= f->n) {
    nb_set_error(NB_EINVAL, "safetensors: tensor index %d out of range [0, %d)", i, f ? f->n : 0);
    return NULL;
  }
  return f->e[i].name;
}

static const st_entry *find(const nb_safetensors *f, const char *name) {
  if (!f || !name) {
    nb_set_error(NB_EINVAL, "safetensors: NULL file or name");
    return NULL;
  }
  for (int i = 0; i < f->n; i++)
    if (strcmp(f->e[i].name, name) == 0) return &f->e[i];
  nb_set_error(NB_ENOTFOUND, "safetensors: no tensor named \"%s\"", name);
  return NULL;
}

int nb_safetensors_info(const nb_safetensors *f, const char *name, nb_dtype *dt, int *ndim,
                        int64_t *shape) {
  const st_entry *e = find(f, name);
  if (!e) return nb_last_status();
  if (dt) *dt = e->dtype;
  if (ndim) *ndim = e->ndim;
  if (shape)
    for (int k = 0; k < e->ndim; k++) shape[k] = e->shape[k];
  return 0;
}

nb_tensor *nb_safetensors_get(const nb_safetensors *f, const char *name) {
  const st_entry *e = find(f, name);
  if (!e) return NULL;
  nb_tensor *t = nb_empty(e->ndim, e->shape, e->dtype);
  if (!t) return NULL;
  size_t es = nb_dtype_size(e->dtype), n = (size_t)((e->end - e->begin) / es);
  const unsigned char *src = f->buf + f->data_start + e->begin;
  copy_le(nb_data(t), src, n, es);
  if (e->dtype == NB_BOOL) { /* nabla bools are 0/1 bytes */
    unsigned char *b = nb_data(t);
    for (size_t i = 0; i < n; i++) b[i] = b[i] != 0;
  }
  return t;
}

const char *nb_safetensors_metadata(const nb_safetensors *f, const char *key) {
  if (!f || !key) return NULL;
  for (int i = 0; i < f->n_meta; i++)
    if (strcmp(f->meta[2 * i], key) == 0) return f->meta[2 * i + 1];
  return NULL;
}

int nb_safetensors_metadata_count(const nb_safetensors *f) { return f ? f->n_meta : 0; }

const char *nb_safetensors_metadata_key(const nb_safetensors *f, int i) {
  if (!f || i < 0 || i >= f->n_meta) {
    nb_set_error(NB_EINVAL, "safetensors: metadata index %d out of range [0, %d)", i, f ? f->n_meta : 0);
    return NULL;
  }
  return f->meta[2 * i];
}

/* ---- selecting by prefix ------------------------------------------------------------- */

nb_safetensors *nb_safetensors_select(const nb_safetensors *f, const char *prefix) {
  if (!f || !prefix) {
    nb_set_error(NB_EINVAL, "nb_safetensors_select: NULL %s", f ? "prefix" : "file");
    return NULL;
  }
  size_t pl = strlen(prefix);
  nb_safetensors *r = calloc(1, sizeof *r);
  bool ok = r != NULL;
  if (ok) {
    r->buf = malloc(f->size ? f->size : 1);
    r->e = calloc((size_t)f->n + 1, sizeof *r->e);
    r->meta = calloc(2 * (size_t)f->n_meta + 1, sizeof *r->meta);
    ok = r->buf && r->e && r->meta;
  }
  if (ok) {
    if (f->size) memcpy(r->buf, f->buf, f->size);
    r->size = f->size;
    r->data_start = f->data_start;
  }
  for (int i = 0; ok && i < f->n; i++) {
    if (strncmp(f->e[i].name, prefix, pl) != 0 || !f->e[i].name[pl]) continue;
    r->e[r->n] = f->e[i];
    ok = (r->e[r->n].name = st_strdup(f->e[i].name + pl)) != NULL;
    if (ok) r->n++;
  }
  for (int i = 0; ok && i < f->n_meta; i++) {
    const char *key = f->meta[2 * i];
    if (strncmp(key, prefix, pl) != 0 || !key[pl]) continue;
    char *k = st_strdup(key + pl), *v = st_strdup(f->meta[2 * i + 1]);
    if ((ok = k && v)) {
      r->meta[2 * r->n_meta] = k;
      r->meta[2 * r->n_meta++ + 1] = v;
    } else {
      free(k);
      free(v);
    }
  }
  if (!ok) {
    nb_safetensors_free(r);
    nb_set_error(NB_ENOMEM, "nb_safetensors_select: out of memory");
    return NULL;
  }
  return r;
}

/* ---- writing -------------------------------------------------------------------------- */

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Header JSON for the tensors (contiguous copies in ct[]); NULL with an error. */
static char *build_header(int n, const char *const *names, nb_tensor *const *ct,
                          const char *const *metadata) {
  cJSON *root = cJSON_CreateObject();
  if (!root) return NULL;
  bool ok = true;
  if (metadata && metadata[0]) {
    cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
    ok = m != NULL;
    for (int i = 0; ok && metadata[i]; i += 2) {
      if (!metadata[i + 1]) {
        cJSON_Delete(root);
        nb_set_error(NB_EINVAL, "safetensors: metadata key \"%s\" has no value", metadata[i]);
        return NULL;
      }
      ok = cJSON_AddStringToObject(m, metadata[i], metadata[i + 1]) != NULL;
    }
  }
  uint64_t off = 0;
  for (int i = 0; ok && i < n; i++) {
    cJSON *e = cJSON_AddObjectToObject(root, names[i]);
    ok = e && cJSON_AddStringToObject(e, "dtype", st_dtype_code(nb_dtype_of(ct[i])));
    char raw[NB_MAX_DIMS * 24 + 8];
    size_t len = 0;
    raw[len++] = '[';
    for (int k = 0; k < nb_ndim(ct[i]); k++)
      len += (size_t)snprintf(raw + len, sizeof raw - len, "%s%" PRId64, k ? "," : "", nb_shape(ct[i])[k]);
    snprintf(raw + len, sizeof raw - len, "]");
    ok = ok && cJSON_AddRawToObject(e, "shape", raw);
    uint64_t nbytes = (uint64_t)nb_numel(ct[i]) * nb_dtype_size(nb_dtype_of(ct[i]));
    snprintf(raw, sizeof raw, "[%" PRIu64 ",%" PRIu64 "]", off, off + nbytes);
    ok = ok && cJSON_AddRawToObject(e, "data_offsets", raw);
    off += nbytes;
  }
  char *s = ok ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!s) nb_set_error(NB_ENOMEM, "safetensors: out of memory building the header");
  return s;
}

/* Everything save writes must pass load's checks: UTF-8 strings, unique keys. */
static int check_save_args(int n, const char *const *names, nb_tensor *const *tensors,
                           const char *const *metadata) {
  if (n < 0 || (n > 0 && (!names || !tensors)))
    return nb_set_error(NB_EINVAL, "safetensors: bad tensor list (n=%d)", n);
  for (int k = 0; metadata && metadata[k]; k += 2) {
    if (!metadata[k + 1])
      return nb_set_error(NB_EINVAL, "safetensors: metadata key \"%s\" has no value", metadata[k]);
    if (!valid_utf8((const unsigned char *)metadata[k], strlen(metadata[k])) ||
        !valid_utf8((const unsigned char *)metadata[k + 1], strlen(metadata[k + 1])))
      return nb_set_error(NB_EINVAL, "safetensors: metadata entry %d is not valid UTF-8", k / 2);
    for (int j = 0; j < k; j += 2)
      if (strcmp(metadata[j], metadata[k]) == 0)
        return nb_set_error(NB_EINVAL, "safetensors: duplicate metadata key \"%s\"", metadata[k]);
  }
  for (int i = 0; i < n; i++) {
    if (!names[i] || !names[i][0] || !tensors[i])
      return nb_set_error(NB_EINVAL, "safetensors: tensor %d has no name or is NULL", i);
    if (!valid_utf8((const unsigned char *)names[i], strlen(names[i])))
      return nb_set_error(NB_EINVAL, "safetensors: tensor name %d is not valid UTF-8", i);
    if (strcmp(names[i], "__metadata__") == 0)
      return nb_set_error(NB_EINVAL, "safetensors: \"__metadata__\" is reserved as a tensor name");
    if (!st_dtype_code(nb_dtype_of(tensors[i])))
      return nb_set_error(NB_EDTYPE, "safetensors: tensor \"%s\" has an invalid dtype", names[i]);
    for (int j = 0; j < i; j++)
      if (strcmp(names[i], names[j]) == 0)
        return nb_set_error(NB_EINVAL, "safetensors: duplicate tensor name \"%s\"", names[i]);
  }
  return 0;
}

/* Write header and data to an open fd. */
static int write_body(int fd, const char *hdr, int n, nb_tensor *const *ct) {
  size_t hl = strlen(hdr), padded = (hl + 7) / 8 * 8; /* pad with spaces to 8 bytes */
  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
  if (write_all(fd, len8, 8) < 0 || write_all(fd, hdr, hl) < 0 ||
      write_all(fd, "       ", padded - hl) < 0)
    return -1;
  for (int i = 0; i < n; i++) {
    size_t es = nb_dtype_size(nb_dtype_of(ct[i])), cnt = (size_t)nb_numel(ct[i]);
    if (host_is_little_endian() || es == 1) {
      if (write_all(fd, nb_data(ct[i]), cnt * es) < 0) return -1;
    } else {
      unsigned char *tmp = malloc(cnt * es + 1);
      if (!tmp) return -1;
      copy_le(tmp, nb_data(ct[i]), cnt, es);
      int r = write_all(fd, tmp, cnt * es);
      free(tmp);
      if (r < 0) return -1;
    }
  }
  return 0;
}

/* ---- where a save goes, and its temporary file ------------------------------------------ */

int nb_safetensors_save(const char *path, int n, const char *const *names,
                        nb_tensor *const *tensors, const char *const *metadata) {
  if (!path || !path[0]) return nb_set_error(NB_EINVAL, "safetensors: empty path");
  int rc = check_save_args(n, names, tensors, metadata);
  if (rc < 0) return rc;
  if (nb_scope_begin() < 0) return nb_last_status();
  nb_tensor **ct = calloc((size_t)n + 1, sizeof *ct);
  char *hdr = NULL;
  rc = ct ? 0 : nb_set_error(NB_ENOMEM, "safetensors: out of memory");
  for (int i = 0; i < n && !rc; i++) {
    ct[i] = nb_is_contiguous(tensors[i]) ? tensors[i] : nb_copy_data(tensors[i]);
    if (!ct[i]) rc = nb_last_status();
  }
  if (!rc && !(hdr = build_header(n, names, ct, metadata))) rc = nb_last_status();
  nb__atomic_file af;
  if (!rc) rc = nb__atomic_open(&af, path, "safetensors");
  if (!rc) {
    if (write_body(af.fd, hdr, n, ct) < 0) {
      rc = nb_set_error(NB_EIO, "safetensors: writing %s (temporary file for %s) failed: %s",
                        af.tmp, af.target, strerror(errno));
      nb__atomic_abort(&af);
    } else {
      rc = nb__atomic_commit(&af);
    }
  }
  free(hdr);
  free(ct);
  nb_scope_end();
  return rc;
}
