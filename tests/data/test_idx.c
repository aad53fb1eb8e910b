/* tests/data/test_idx.c — the IDX reader on files this test writes: known contents read
 * back plain, gzip'ed and from memory; every malformed case refused with a message
 * naming the file and the problem, nothing held afterwards and no tensor leaked. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "testutil.h"

static char tmpdir[256];

static void make_tmpdir(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/nb_test_idx_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}
static void remove_tmpdir(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  ck_assert_int_eq(system(cmd), 0);
}

static void setup(void) {
  make_tmpdir();
  nb_test_scope_setup();
}
static void teardown(void) {
  nb_test_scope_teardown();
  remove_tmpdir();
}

/* An IDX image: header for dims, then body bytes (n of them, any count). */
static size_t idx_bytes(uint8_t *out, int type, int nd, const uint32_t *dims, const uint8_t *body, size_t n) {
  size_t k = 0;
  out[k++] = 0;
  out[k++] = 0;
  out[k++] = (uint8_t)type;
  out[k++] = (uint8_t)nd;
  for (int d = 0; d < nd; d++) {
    out[k++] = (uint8_t)(dims[d] >> 24);
    out[k++] = (uint8_t)(dims[d] >> 16);
    out[k++] = (uint8_t)(dims[d] >> 8);
    out[k++] = (uint8_t)dims[d];
  }
  memcpy(out + k, body, n);
  return k + n;
}

/* gzip-compress into out (one member); returns the size. */
static size_t gzip_bytes(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  ck_assert_int_eq(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  zs.next_in = (Bytef *)(uintptr_t)in;
  zs.avail_in = (uInt)n;
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
  size_t r = cap - zs.avail_out;
  deflateEnd(&zs);
  return r;
}

static const char *write_file(const char *name, const void *data, size_t n) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(data, 1, n, f), n);
  ck_assert_int_eq(fclose(f), 0);
  return path;
}

/* The reference file: [2,3,4] bytes with value (i*37) % 256 at flat index i. */
#define REF_N 24
static const uint32_t ref_dims[3] = {2, 3, 4};
static size_t ref_file(uint8_t *out) {
  uint8_t body[REF_N];
  for (int i = 0; i < REF_N; i++) body[i] = (uint8_t)((i * 37) % 256);
  return idx_bytes(out, 0x08, 3, ref_dims, body, REF_N);
}

static void assert_ref(const nb_idx *x) {
  ck_assert_int_eq(x->type, 0x08);
  ck_assert_int_eq(x->ndim, 3);
  ck_assert_int_eq(x->shape[0], 2);
  ck_assert_int_eq(x->shape[1], 3);
  ck_assert_int_eq(x->shape[2], 4);
  ck_assert_int_eq(x->numel, REF_N);
  for (int i = 0; i < REF_N; i++) ck_assert_int_eq(x->data[i], (i * 37) % 256);
}

START_TEST(test_plain_file) {
  uint8_t buf[256];
  const char *path = write_file("ref.idx", buf, ref_file(buf));
  nb_idx x;
  ck_assert_msg(nb_idx_read(path, &x) == 0, "%s", nb_last_error());
  assert_ref(&x);
  nb_idx_clear(&x);
  ck_assert_ptr_null(x.data);
  nb_idx_clear(&x); /* idempotent */

  nb_tensor *f = nb_idx_load(path, NB_F32);
  nb_test_assert_shape(f, 3, (int64_t[]){2, 3, 4});
  ck_assert_int_eq(nb_dtype_of(f), NB_F32);
  nb_tensor *l = nb_idx_load(path, NB_I64);
  ck_assert_int_eq(nb_dtype_of(l), NB_I64);
  double fv[REF_N], lv[REF_N];
  ck_assert_int_eq(nb_to_doubles(f, fv, REF_N), 0);
  ck_assert_int_eq(nb_to_doubles(l, lv, REF_N), 0);
  for (int i = 0; i < REF_N; i++) {
    ck_assert_double_eq(fv[i], (i * 37) % 256);
    ck_assert_double_eq(lv[i], (i * 37) % 256);
  }
}
END_TEST

START_TEST(test_gzip_file_and_buffers) {
  uint8_t plain[256], gz[512], two[1024];
  size_t n = ref_file(plain);
  size_t gn = gzip_bytes(plain, n, gz, sizeof gz);
  ck_assert(gz[0] == 0x1f && gz[1] == 0x8b);
  nb_idx x;
  ck_assert_msg(nb_idx_read(write_file("ref.idx.gz", gz, gn), &x) == 0, "%s", nb_last_error());
  assert_ref(&x);
  nb_idx_clear(&x);
  /* two gzip members (as `cat a.gz b.gz`), split inside the header */
  size_t g1 = gzip_bytes(plain, 7, two, sizeof two);
  size_t g2 = gzip_bytes(plain + 7, n - 7, two + g1, sizeof two - g1);
  ck_assert_msg(nb_idx_read(write_file("two.idx.gz", two, g1 + g2), &x) == 0, "%s", nb_last_error());
  assert_ref(&x);
  nb_idx_clear(&x);
  /* memory buffers, plain and gzip */
  ck_assert_int_eq(nb_idx_read_buffer(plain, n, "mem", &x), 0);
  assert_ref(&x);
  nb_idx_clear(&x);
  ck_assert_int_eq(nb_idx_read_buffer(gz, gn, "mem", &x), 0);
  assert_ref(&x);
  /* to tensors: scaled float64, and the refusals */
  nb_tensor *t = nb_idx_to_tensor(&x, NB_F64, 1 / 255.0);
  ck_assert_ptr_nonnull(t);
  double v[REF_N];
  ck_assert_int_eq(nb_to_doubles(t, v, REF_N), 0);
  for (int i = 0; i < REF_N; i++) ck_assert_double_eq(v[i], ((i * 37) % 256) * (1 / 255.0));
  ck_assert_ptr_null(nb_idx_to_tensor(&x, NB_BOOL, 1));
  ck_assert_error_contains("bool");
  ck_assert_ptr_null(nb_idx_to_tensor(&x, NB_I64, 0.5));
  ck_assert_error_contains("int64");
  nb_idx_clear(&x);
  ck_assert_ptr_null(nb_idx_to_tensor(&x, NB_F32, 1));
}
END_TEST

/* A larger gzip'ed file (several read chunks and an inflate buffer refill). */
START_TEST(test_gzip_large) {
  enum { N = 300000 };
  uint8_t *plain = malloc(N + 16), *gz = malloc(N + N / 8 + 1024);
  uint8_t *body = malloc(N);
  uint32_t seed = 1;
  for (int i = 0; i < N; i++) {
    seed = seed * 1103515245u + 12345u;
    body[i] = (uint8_t)(seed >> 24);
  }
  size_t n = idx_bytes(plain, 0x08, 2, (uint32_t[]){600, 500}, body, N);
  size_t gn = gzip_bytes(plain, n, gz, N + N / 8 + 1024);
  nb_idx x, y;
  ck_assert_msg(nb_idx_read(write_file("big.idx.gz", gz, gn), &x) == 0, "%s", nb_last_error());
  ck_assert_msg(nb_idx_read(write_file("big.idx", plain, n), &y) == 0, "%s", nb_last_error());
  ck_assert_int_eq(x.numel, N);
  ck_assert_int_eq(x.shape[0], 600);
  ck_assert_int_eq(x.shape[1], 500);
  ck_assert_int_eq(memcmp(x.data, body, N), 0);
  ck_assert_int_eq(memcmp(y.data, body, N), 0);
  nb_idx_clear(&x);
  nb_idx_clear(&y);
  free(plain);
  free(gz);
  free(body);
}
END_TEST

/* Refused from a file (message names it and contains `needle`) and from a buffer. */
static void assert_refused(const char *name, const uint8_t *data, size_t n, const char *needle) {
  const char *path = write_file(name, data, n);
  char saved[512];
  snprintf(saved, sizeof saved, "%s", path);
  nb_idx x;
  int64_t live = nb_live_tensors();
  int rc = nb_idx_read(saved, &x);
  ck_assert_msg(rc < 0, "%s was accepted", name);
  ck_assert_error_contains(saved);
  ck_assert_error_contains(needle);
  ck_assert_ptr_null(x.data);
  ck_assert_int_eq(x.ndim, 0);
  ck_assert_ptr_null(nb_idx_load(saved, NB_F32));
  ck_assert_error_contains(needle);
  ck_assert_int_eq(nb_live_tensors(), live);
  ck_assert_int_lt(nb_idx_read_buffer(data, n, "the-buffer", &x), 0);
  ck_assert_error_contains("the-buffer");
  ck_assert_error_contains(needle);
  ck_assert_ptr_null(x.data);
}

/* The same, gzip'ed. */
static void assert_refused_gz(const char *name, const uint8_t *data, size_t n, const char *needle) {
  uint8_t gz[1024];
  assert_refused(name, gz, gzip_bytes(data, n, gz, sizeof gz), needle);
}

START_TEST(test_bad_headers) {
  uint8_t b[512] = {0}, body[64] = {0};
  assert_refused("empty.idx", b, 0, "too short for the IDX magic (0 bytes)");
  size_t n = idx_bytes(b, 0x08, 1, (uint32_t[]){4}, body, 4);
  b[0] = 1;
  assert_refused("magic.idx", b, n, "bad magic 01 00 08 01");
  b[0] = 0;
  b[1] = 0x08;
  assert_refused("magic2.idx", b, n, "bad magic");
  n = idx_bytes(b, 0x0D, 1, (uint32_t[]){1}, body, 4);
  assert_refused("float.idx", b, n, "unsupported element type 0x0d (float32)");
  assert_refused_gz("float.idx.gz", b, n, "unsupported element type 0x0d");
  n = idx_bytes(b, 0x0B, 1, (uint32_t[]){2}, body, 4);
  assert_refused("short.idx", b, n, "unsupported element type 0x0b (int16)");
  n = idx_bytes(b, 0x42, 1, (uint32_t[]){4}, body, 4);
  assert_refused("type42.idx", b, n, "unknown element type 0x42");
  n = idx_bytes(b, 0x08, 0, NULL, body, 4);
  assert_refused("zerodims.idx", b, n, "zero dimensions");
  n = idx_bytes(b, 0x08, 2, (uint32_t[]){3, 0}, body, 0);
  assert_refused("zerosize.idx", b, n, "dimension 1 of [3,0] is zero");
  assert_refused_gz("zerosize.idx.gz", b, n, "dimension 1 of [3,0] is zero");
  uint32_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  n = idx_bytes(b, 0x08, 9, nine, body, 1);
  assert_refused("ninedims.idx", b, n, "9 dimensions (nabla tensors have at most 8)");
  n = idx_bytes(b, 0x08, 3, (uint32_t[]){2, 3, 4}, body, 0);
  assert_refused("cuthead.idx", b, 9, "truncated header: 5 of the 12 bytes");
  assert_refused_gz("cuthead.idx.gz", b, 9, "truncated header");
}
END_TEST

START_TEST(test_bad_sizes) {
  uint8_t b[512], body[64];
  for (int i = 0; i < 64; i++) body[i] = (uint8_t)i;
  /* 2^16 * 2^16 = 2^32 elements: over the cap */
  size_t n = idx_bytes(b, 0x08, 2, (uint32_t[]){65536, 65536}, body, 8);
  assert_refused("huge.idx", b, n, "dimensions [65536,65536] hold more than 2147483648 elements");
  assert_refused_gz("huge.idx.gz", b, n, "hold more than 2147483648 elements");
  /* the product of eight 2^32-1 sizes overflows int64: still the cap message */
  uint32_t big[8];
  for (int d = 0; d < 8; d++) big[d] = 0xFFFFFFFFu;
  n = idx_bytes(b, 0x08, 8, big, body, 8);
  assert_refused("overflow.idx", b, n, "hold more than 2147483648 elements");
  /* exactly at the cap is allowed by the header check but the body is missing */
  n = idx_bytes(b, 0x08, 2, (uint32_t[]){32768, 65536}, body, 8);
  assert_refused("atcap.idx", b, n, "truncated body: 8 bytes of data, dimensions [32768,65536] need 2147483648");
  assert_refused_gz("atcap.idx.gz", b, n, "truncated body: 8 bytes of decompressed data");
  n = idx_bytes(b, 0x08, 2, (uint32_t[]){2, 5}, body, 9);
  assert_refused("short.idx", b, n, "truncated body: 9 bytes of data, dimensions [2,5] need 10");
  assert_refused_gz("short.idx.gz", b, n, "truncated body: 9 bytes of decompressed data");
  n = idx_bytes(b, 0x08, 2, (uint32_t[]){2, 5}, body, 13);
  assert_refused("long.idx", b, n, "trailing garbage: 3 bytes after the 10 bytes of data");
  assert_refused_gz("long.idx.gz", b, n, "trailing garbage after the 10 bytes of data that dimensions [2,5] give");
}
END_TEST

START_TEST(test_bad_gzip) {
  uint8_t plain[256], gz[512], bad[512];
  size_t n = ref_file(plain), gn = gzip_bytes(plain, n, gz, sizeof gz);
  /* cut anywhere inside the stream: in the deflate data, in the CRC/size trailer */
  assert_refused("half.idx.gz", gz, gn / 2, "truncated gzip stream");
  assert_refused("notrailer.idx.gz", gz, gn - 4, "truncated gzip stream");
  assert_refused("lastbyte.idx.gz", gz, gn - 1, "truncated gzip stream");
  assert_refused("magiconly.idx.gz", gz, 2, "truncated gzip stream");
  /* a wrong CRC */
  memcpy(bad, gz, gn);
  bad[gn - 8] ^= 0x5a;
  assert_refused("crc.idx.gz", bad, gn, "corrupt gzip data (zlib: incorrect data check)");
  /* a wrong length in the trailer */
  memcpy(bad, gz, gn);
  bad[gn - 4] ^= 1;
  assert_refused("isize.idx.gz", bad, gn, "corrupt gzip data");
  /* a bad compression method in the gzip header */
  memcpy(bad, gz, gn);
  bad[2] = 7;
  assert_refused("method.idx.gz", bad, gn, "corrupt gzip data");
  /* garbage after the stream */
  memcpy(bad, gz, gn);
  memcpy(bad + gn, "xyz", 3);
  assert_refused("garbage.idx.gz", bad, gn + 3, "trailing garbage after the gzip stream");
  bad[gn] = 0x1f;
  assert_refused("garbage1.idx.gz", bad, gn + 1, "trailing garbage after the gzip stream");
  /* a second member that is cut short */
  memcpy(bad, gz, gn);
  memcpy(bad + gn, gz, 10);
  assert_refused("member2.idx.gz", bad, gn + 10, "truncated gzip stream");
  /* a complete second member adds data past the body: trailing garbage */
  memcpy(bad + gn, gz, gn);
  assert_refused("double.idx.gz", bad, 2 * gn, "trailing garbage after the 24 bytes");
}
END_TEST

START_TEST(test_not_regular) {
  char path[512];
  nb_idx x;
  snprintf(path, sizeof path, "%s/fifo", tmpdir);
  ck_assert_int_eq(mkfifo(path, 0600), 0);
  alarm(10); /* a blocking open would hang: fail loudly instead */
  ck_assert_int_lt(nb_idx_read(path, &x), 0);
  alarm(0);
  ck_assert_error_contains(path);
  ck_assert_error_contains("not a regular file");
  ck_assert_ptr_null(x.data);
  ck_assert_int_lt(nb_idx_read(tmpdir, &x), 0);
  ck_assert_error_contains("not a regular file");
  snprintf(path, sizeof path, "%s/missing.idx", tmpdir);
  ck_assert_int_eq(nb_idx_read(path, &x), NB_ENOTFOUND);
  ck_assert_error_contains("cannot open");
  ck_assert_error_contains(path);
  ck_assert_int_lt(nb_idx_read(NULL, &x), 0);
  ck_assert_int_lt(nb_idx_read(path, NULL), 0);
  ck_assert_int_lt(nb_idx_read_buffer(NULL, 3, "x", &x), 0);
}
END_TEST

static Suite *idx_suite(void) {
  Suite *s = suite_create("idx");
  TCase *tc = tcase_create("reader");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_plain_file);
  tcase_add_test(tc, test_gzip_file_and_buffers);
  tcase_add_test(tc, test_gzip_large);
  tcase_add_test(tc, test_bad_headers);
  tcase_add_test(tc, test_bad_sizes);
  tcase_add_test(tc, test_bad_gzip);
  tcase_add_test(tc, test_not_regular);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(idx_suite()); }
