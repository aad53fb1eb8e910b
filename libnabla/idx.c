/* libnabla/idx.c — the IDX file format (MNIST's), plain or gzip-compressed.
 *
 * Layout: magic 00 00 <type> <ndims>, ndims big-endian uint32 sizes, then the elements
 * in row-major order. Only type 0x08 (unsigned byte) is read. One reader serves files
 * and memory buffers: bytes come from an input (a file read in chunks, or the buffer),
 * optionally through zlib's inflate (gzip detected by its 1f 8b magic; concatenated
 * members accepted, as gzip(1) does). Everything is checked, and nothing is handed out
 * until the whole input has been consumed: magic, type, dimensions (none zero, product
 * under NB_IDX_MAX_ELEMENTS), a body of exactly prod(dims) bytes, the gzip stream
 * complete with a correct CRC, and nothing after it.
 *
 * Only the public API is used here (no internal.h), so the fuzz target can compile this
 * file on its own with a different compiler and sanitizer set.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "nabla/data.h"
#include "nabla/tensor.h"

#define IDX_CHUNK ((size_t)1 << 16)      /* file read size */
#define IDX_FIRST_ALLOC ((size_t)1 << 24) /* body buffer start size for gzip input */

/* Where bytes come from: a memory buffer, or a file descriptor read in chunks. */
typedef struct idx_src {
  const char *name;
  int fd;                /* -1 for memory */
  uint8_t *chunk;        /* file input: the read buffer */
  const uint8_t *next;   /* unread input bytes */
  size_t avail;
  bool eof;              /* no input beyond next[0..avail) */
  uint64_t consumed;     /* input bytes before `next` (for messages) */
  bool gz;
  bool z_ready;          /* inflateInit2 done (so inflateEnd is due) */
  bool z_done;           /* the last gzip member ended and nothing follows */
  z_stream zs;
} idx_src;

static int idx_err(const idx_src *s, int status, const char *fmt, ...) NB_PRINTF(3, 4);
static int idx_err(const idx_src *s, int status, const char *fmt, ...) {
  char msg[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return nb_set_error(status, "idx: %s: %s", s->name, msg);
}

/* Make more input available, keeping the unread bytes: afterwards avail grew, or eof is
 * set. Returns 0 or a negative status. */
static int src_fill(idx_src *s) {
  if (s->eof) return 0;
  if (s->fd < 0) {
    s->eof = true;
    return 0;
  }
  if (s->avail && s->next != s->chunk) memmove(s->chunk, s->next, s->avail);
  s->next = s->chunk;
  size_t want = IDX_CHUNK - s->avail;
  while (want > 0) {
    ssize_t r = read(s->fd, s->chunk + s->avail, want);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return idx_err(s, NB_EIO, "read failed: %s", strerror(errno));
    if (r == 0) {
      s->eof = true;
      break;
    }
    s->avail += (size_t)r;
    want -= (size_t)r;
  }
  return 0;
}

static void src_skip(idx_src *s, size_t n) {
  s->next += n;
  s->avail -= n;
  s->consumed += n;
}

/* Read up to n bytes of (decompressed) data into dst; *got < n only at the end of the
 * data. Corrupt or truncated compressed input is an error. */
static int src_read(idx_src *s, uint8_t *dst, size_t n, size_t *got) {
  *got = 0;
  if (!s->gz) {
    while (*got < n) {
      if (!s->avail) {
        int rc = src_fill(s);
        if (rc) return rc;
        if (!s->avail) break;
      }
      size_t k = n - *got < s->avail ? n - *got : s->avail;
      memcpy(dst + *got, s->next, k);
      src_skip(s, k);
      *got += k;
    }
    return 0;
  }
  while (*got < n && !s->z_done) {
    if (!s->avail && !s->eof) {
      int rc = src_fill(s);
      if (rc) return rc;
    }
    s->zs.next_in = (Bytef *)(uintptr_t)s->next;
    s->zs.avail_in = (uInt)(s->avail > UINT_MAX ? UINT_MAX : s->avail);
    size_t out = n - *got > UINT_MAX ? UINT_MAX : n - *got;
    s->zs.next_out = dst + *got;
    s->zs.avail_out = (uInt)out;
    int zr = inflate(&s->zs, Z_NO_FLUSH);
    size_t used = (size_t)(s->zs.next_in - (const Bytef *)s->next);
    src_skip(s, used);
    *got += out - s->zs.avail_out;
    if (zr == Z_STREAM_END) {
      /* Another member may follow (gzip -c a b > ab.gz); anything else is garbage. */
      if (s->avail < 2 && !s->eof) {
        int rc = src_fill(s);
        if (rc) return rc;
      }
      if (!s->avail) {
        s->z_done = true;
      } else if (s->avail >= 2 && s->next[0] == 0x1f && s->next[1] == 0x8b) {
        if (inflateReset(&s->zs) != Z_OK) return idx_err(s, NB_EIO, "zlib: inflateReset failed");
      } else {
        return idx_err(s, NB_EINVAL, "trailing garbage after the gzip stream (at compressed byte %" PRIu64 ")",
                       s->consumed);
      }
    } else if (zr == Z_MEM_ERROR) {
      return idx_err(s, NB_ENOMEM, "zlib: out of memory");
    } else if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT || zr == Z_STREAM_ERROR) {
      return idx_err(s, NB_EINVAL, "corrupt gzip data (zlib: %s) near compressed byte %" PRIu64,
                     s->zs.msg ? s->zs.msg : "invalid stream", s->consumed);
    } else if (zr == Z_BUF_ERROR || (used == 0 && out == s->zs.avail_out)) {
      /* No progress: inflate wants more input and there is none. */
      if (s->eof)
        return idx_err(s, NB_EINVAL, "truncated gzip stream (ends after %" PRIu64 " compressed bytes)",
                       s->consumed);
    }
  }
  return 0;
}

static const char *idx_type_name(int t) {
  switch (t) {
  case 0x08: return "unsigned byte";
  case 0x09: return "signed byte";
  case 0x0B: return "int16";
  case 0x0C: return "int32";
  case 0x0D: return "float32";
  case 0x0E: return "float64";
  default: return NULL;
  }
}

/* Parse everything from an opened source into out. plain_size: the input's total size
 * when known and uncompressed (lets a hostile size be refused before allocating), else
 * -1. */
static int idx_parse(idx_src *s, int64_t plain_size, nb_idx *out) {
  /* gzip or plain? */
  if (s->avail < 2 && !s->eof) {
    int rc = src_fill(s);
    if (rc) return rc;
  }
  if (s->avail >= 2 && s->next[0] == 0x1f && s->next[1] == 0x8b) {
    memset(&s->zs, 0, sizeof s->zs);
    int zr = inflateInit2(&s->zs, 16 + MAX_WBITS); /* gzip wrapper only */
    if (zr != Z_OK)
      return idx_err(s, zr == Z_MEM_ERROR ? NB_ENOMEM : NB_EIO, "zlib: inflateInit2 failed");
    s->z_ready = true;
    s->gz = true;
    plain_size = -1;
  }
  const char *what = s->gz ? "decompressed data" : "file";
  uint8_t head[4 + 4 * NB_MAX_DIMS];
  size_t got;
  int rc = src_read(s, head, 4, &got);
  if (rc) return rc;
  if (got < 4)
    return idx_err(s, NB_EINVAL, "%s too short for the IDX magic (%zu bytes)", what, got);
  if (head[0] != 0 || head[1] != 0)
    return idx_err(s, NB_EINVAL,
                   "bad magic %02x %02x %02x %02x (an IDX file starts with 00 00 <type> <ndims>)",
                   head[0], head[1], head[2], head[3]);
  int type = head[2], nd = head[3];
  if (type != 0x08) {
    const char *tn = idx_type_name(type);
    if (tn)
      return idx_err(s, NB_EUNSUPPORTED, "unsupported element type 0x%02x (%s); only 0x08 (unsigned byte) is read",
                     type, tn);
    return idx_err(s, NB_EINVAL, "unknown element type 0x%02x (IDX types are 0x08-0x0E)", type);
  }
  if (nd == 0) return idx_err(s, NB_ESHAPE, "zero dimensions in the header");
  if (nd > NB_MAX_DIMS)
    return idx_err(s, NB_ESHAPE, "%d dimensions (nabla tensors have at most %d)", nd, NB_MAX_DIMS);
  rc = src_read(s, head + 4, 4 * (size_t)nd, &got);
  if (rc) return rc;
  if (got < 4 * (size_t)nd)
    return idx_err(s, NB_EINVAL, "truncated header: %zu of the %d bytes of %d dimension sizes", got, 4 * nd, nd);
  int64_t numel = 1;
  char dims[NB_MAX_DIMS * 12 + 3];
  size_t dl = 0;
  dims[dl++] = '[';
  for (int d = 0; d < nd; d++) {
    const uint8_t *p = head + 4 + 4 * d;
    int64_t v = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
    out->shape[d] = v;
    dl += (size_t)snprintf(dims + dl, sizeof dims - dl, d ? ",%" PRId64 : "%" PRId64, v);
  }
  snprintf(dims + dl, sizeof dims - dl, "]");
  for (int d = 0; d < nd; d++) {
    if (out->shape[d] == 0) return idx_err(s, NB_ESHAPE, "dimension %d of %s is zero", d, dims);
    /* each size < 2^32 and the running product <= 2^31, so this cannot overflow */
    numel *= out->shape[d];
    if (numel > NB_IDX_MAX_ELEMENTS)
      return idx_err(s, NB_ESHAPE, "dimensions %s hold more than %" PRId64 " elements (the cap)", dims,
                     NB_IDX_MAX_ELEMENTS);
  }
  int64_t hsize = 4 + 4 * (int64_t)nd;
  if (plain_size >= 0 && plain_size - hsize < numel)
    return idx_err(s, NB_EINVAL, "truncated body: %" PRId64 " bytes of data, dimensions %s need %" PRId64,
                   plain_size - hsize, dims, numel);
  if (plain_size >= 0 && plain_size - hsize > numel)
    return idx_err(s, NB_EINVAL, "trailing garbage: %" PRId64 " bytes after the %" PRId64 " bytes of data",
                   plain_size - hsize - numel, numel);
  /* The body. Compressed input can claim any size: grow the buffer as data arrives. */
  size_t need = (size_t)numel, cap = s->gz && need > IDX_FIRST_ALLOC ? IDX_FIRST_ALLOC : need, have = 0;
  uint8_t *data = malloc(cap);
  if (!data) return idx_err(s, NB_ENOMEM, "cannot allocate %zu bytes", cap);
  for (;;) {
    rc = src_read(s, data + have, cap - have, &got);
    have += got;
    if (rc || have < cap || cap == need) break;
    size_t ncap = cap * 2 < need ? cap * 2 : need;
    uint8_t *nd2 = realloc(data, ncap);
    if (!nd2) {
      rc = idx_err(s, NB_ENOMEM, "cannot allocate %zu bytes", ncap);
      break;
    }
    data = nd2;
    cap = ncap;
  }
  if (!rc && have < need)
    rc = idx_err(s, NB_EINVAL, "truncated body: %zu bytes of %s, dimensions %s need %zu", have, what, dims, need);
  if (!rc) { /* nothing may follow; for gzip this also reads to the end and checks the CRC */
    uint8_t extra;
    rc = src_read(s, &extra, 1, &got);
    if (!rc && got)
      rc = idx_err(s, NB_EINVAL, "trailing garbage after the %zu bytes of data that dimensions %s give", need,
                   dims);
  }
  if (rc) {
    free(data);
    return rc;
  }
  out->type = type;
  out->ndim = nd;
  out->numel = numel;
  out->data = data;
  return 0;
}

static int idx_run(idx_src *s, int64_t plain_size, nb_idx *out) {
  nb_idx tmp;
  memset(&tmp, 0, sizeof tmp);
  int rc = idx_parse(s, plain_size, &tmp);
  if (s->z_ready) inflateEnd(&s->zs);
  if (rc == 0) *out = tmp;
  return rc;
}

int nb_idx_read_buffer(const void *buf, size_t size, const char *name, nb_idx *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!out || (!buf && size))
    return nb_set_error(NB_EINVAL, "idx: NULL %s", out ? "buffer" : "output");
  idx_src s;
  memset(&s, 0, sizeof s);
  s.name = name ? name : "<buffer>";
  s.fd = -1;
  s.next = buf;
  s.avail = size;
  s.eof = true;
  return idx_run(&s, (int64_t)size, out);
}

int nb_idx_read(const char *path, nb_idx *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!path || !out) return nb_set_error(NB_EINVAL, "idx: NULL %s", path ? "output" : "path");
  /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return nb_set_error(errno == ENOENT ? NB_ENOTFOUND : NB_EIO, "idx: cannot open %s: %s", path,
                        strerror(errno));
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return nb_set_error(NB_EIO, "idx: %s is not a regular file", path);
  }
  idx_src s;
  memset(&s, 0, sizeof s);
  s.name = path;
  s.fd = fd;
  s.chunk = malloc(IDX_CHUNK);
  int rc;
  if (!s.chunk) {
    rc = nb_set_error(NB_ENOMEM, "idx: %s: out of memory", path);
  } else {
    s.next = s.chunk;
    rc = idx_run(&s, (int64_t)st.st_size, out);
  }
  free(s.chunk);
  close(fd);
  return rc;
}

void nb_idx_clear(nb_idx *idx) {
  if (!idx) return;
  free(idx->data);
  memset(idx, 0, sizeof *idx);
}

nb_tensor *nb_idx_to_tensor(const nb_idx *idx, nb_dtype dt, double scale) {
  if (!idx || !idx->data || idx->ndim < 1 || idx->ndim > NB_MAX_DIMS) {
    nb_set_error(NB_EINVAL, "idx: nb_idx_to_tensor: empty or invalid nb_idx");
    return NULL;
  }
  if (dt != NB_F32 && dt != NB_F64 && dt != NB_I64) {
    nb_set_error(NB_EDTYPE, "idx: cannot load into %s (float32, float64 or int64)", nb_dtype_name(dt));
    return NULL;
  }
  if (dt == NB_I64 && scale != 1.0) {
    nb_set_error(NB_EINVAL, "idx: scale %g with int64 (only 1 is exact)", scale);
    return NULL;
  }
  nb_tensor *t = nb_empty(idx->ndim, idx->shape, dt);
  if (!t) return NULL;
  const uint8_t *src = idx->data;
  int64_t n = idx->numel;
  if (dt == NB_F32) {
    float *d = nb_data(t);
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = (float)(v * scale);
    for (int64_t i = 0; i < n; i++) d[i] = lut[src[i]];
  } else if (dt == NB_F64) {
    double *d = nb_data(t);
    for (int64_t i = 0; i < n; i++) d[i] = src[i] * scale;
  } else {
    int64_t *d = nb_data(t);
    for (int64_t i = 0; i < n; i++) d[i] = src[i];
  }
  return t;
}

nb_tensor *nb_idx_load(const char *path, nb_dtype dt) {
  nb_idx idx;
  if (nb_idx_read(path, &idx) < 0) return NULL;
  nb_tensor *t = nb_idx_to_tensor(&idx, dt, 1.0);
  if (!t) nb_error_prefix("%s", path);
  nb_idx_clear(&idx);
  return t;
}
