/* tests/serialize/test_safetensors.c — safetensors round trips, atomic saves, and every
 * kind of hostile file refused with a message naming the problem. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static char tmpdir[256];

static void setup(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/nabla-st-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
  nb_scope_begin();
}

static void teardown(void) {
  nb_scope_end();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  ck_assert_int_eq(system(cmd), 0);
}

static const char *tpath(const char *name) {
  static char p[400];
  snprintf(p, sizeof p, "%s/%s", tmpdir, name);
  return p;
}

/* A file image: 8-byte little-endian header length, header, data. */
static unsigned char img[1 << 16];
static size_t make_image(const char *header, const void *data, size_t ndata) {
  size_t hl = strlen(header);
  for (int i = 0; i < 8; i++) img[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(img + 8, header, hl);
  if (ndata) memcpy(img + 8 + hl, data, ndata);
  return 8 + hl + ndata;
}

static void assert_refused(const char *header, size_t ndata, const char *needle) {
  static unsigned char zeros[4096];
  size_t n = make_image(header, zeros, ndata);
  nb_safetensors *f = nb_safetensors_load_buffer(img, n);
  ck_assert_msg(f == NULL, "accepted hostile header %s", header);
  ck_assert_error_contains(needle);
  ck_assert_error_contains("safetensors");
}

/* ---- round trips ------------------------------------------------------------------------ */

START_TEST(roundtrip_all_dtypes) {
  int64_t s23[] = {2, 3}, s4[] = {4}, s0[] = {0, 5};
  nb_tensor *a = nb_from_data((float[]){0.5f, -1.25f, 3e30f, -0.0f, 1e-30f, 7}, 2, s23, NB_F32);
  nb_tensor *b = nb_from_data((double[]){1.0 / 3, -2.5e-300, 1e300, 0}, 1, s4, NB_F64);
  nb_tensor *c = nb_from_data((int64_t[]){INT64_MIN, -1, 0, INT64_MAX}, 1, s4, NB_I64);
  nb_tensor *d = nb_from_data((uint8_t[]){1, 0, 0, 1}, 1, s4, NB_BOOL);
  nb_tensor *e = nb_scalar(42.0, NB_F64);
  nb_tensor *z = nb_zeros(2, s0, NB_F32);
  ck_assert_ptr_nonnull(a);
  const char *names[] = {"a", "b.weight", "c", "d", "scalar", "empty"};
  nb_tensor *ts[] = {a, b, c, d, e, z};
  const char *meta[] = {"format", "pt", "note", "quotes \" and \\ and \n newline", NULL};
  ck_assert_int_eq(nb_safetensors_save(tpath("x.safetensors"), 6, names, ts, meta), 0);
  nb_safetensors *f = nb_safetensors_load(tpath("x.safetensors"));
  ck_assert_msg(f != NULL, "%s", nb_last_error());
  ck_assert_int_eq(nb_safetensors_count(f), 6);
  for (int i = 0; i < 6; i++) {
    ck_assert_str_eq(nb_safetensors_name(f, i), names[i]);
    nb_tensor *g = nb_safetensors_get(f, names[i]);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(nb_dtype_of(g), nb_dtype_of(ts[i]));
    ck_assert(nb_same_shape(g, ts[i]));
    size_t bytes = (size_t)nb_numel(g) * nb_dtype_size(nb_dtype_of(g));
    ck_assert(bytes == 0 || memcmp(nb_data(g), nb_data(ts[i]), bytes) == 0);
    nb_dtype dt;
    int nd;
    int64_t shape[NB_MAX_DIMS];
    ck_assert_int_eq(nb_safetensors_info(f, names[i], &dt, &nd, shape), 0);
    ck_assert_int_eq(nd, nb_ndim(ts[i]));
  }
  ck_assert_str_eq(nb_safetensors_metadata(f, "format"), "pt");
  ck_assert_str_eq(nb_safetensors_metadata(f, "note"), meta[3]);
  ck_assert_ptr_null(nb_safetensors_metadata(f, "absent"));
  ck_assert_ptr_null(nb_safetensors_get(f, "nope"));
  ck_assert_int_eq(nb_last_status(), NB_ENOTFOUND);
  ck_assert_int_eq(nb_safetensors_info(f, "nope", NULL, NULL, NULL), NB_ENOTFOUND);
  nb_safetensors_free(f);
}
END_TEST

START_TEST(roundtrip_noncontiguous_and_header_format) {
  int64_t s[] = {3, 4}, st[] = {1, 3};
  nb_tensor *base = nb_arange(0, 12, 1, NB_F64);
  nb_tensor *t = nb_as_strided(base, 2, s, st, 0); /* transposed view */
  ck_assert(!nb_is_contiguous(t));
  ck_assert_int_eq(nb_safetensors_save(tpath("t.safetensors"), 1, (const char *[]){"t"}, &t, NULL), 0);
  /* header length is a multiple of 8 and the header parses as written */
  FILE *fp = fopen(tpath("t.safetensors"), "rb");
  unsigned char len8[8];
  ck_assert_int_eq((int)fread(len8, 1, 8, fp), 8);
  fclose(fp);
  ck_assert_int_eq(len8[0] % 8, 0);
  nb_safetensors *f = nb_safetensors_load(tpath("t.safetensors"));
  ck_assert_ptr_nonnull(f);
  nb_tensor *g = nb_safetensors_get(f, "t");
  double expect[12];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++) expect[i * 4 + j] = i + 3 * j;
  ck_assert_tensor_values(g, expect, 12, 0);
  nb_safetensors_free(f);
}
END_TEST

START_TEST(reads_hand_written_file) {
  /* as the Python package writes it: metadata first, spaces after the JSON */
  double v[2] = {1.5, -2};
  size_t n = make_image("{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F64\",\"shape\":[2],"
                        "\"data_offsets\":[0,16]}}   ",
                        v, sizeof v);
  nb_safetensors *f = nb_safetensors_load_buffer(img, n);
  ck_assert_msg(f != NULL, "%s", nb_last_error());
  ck_assert_tensor_values(nb_safetensors_get(f, "w"), v, 2, 0);
  nb_safetensors_free(f);
  /* an empty file with no tensors is valid */
  n = make_image("{}", NULL, 0);
  f = nb_safetensors_load_buffer(img, n);
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(nb_safetensors_count(f), 0);
  nb_safetensors_free(f);
}
END_TEST

START_TEST(bool_bytes_normalised) {
  uint8_t v[3] = {0, 1, 7};
  size_t n = make_image("{\"m\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]}}", v, 3);
  nb_safetensors *f = nb_safetensors_load_buffer(img, n);
  ck_assert_ptr_nonnull(f);
  nb_tensor *m = nb_safetensors_get(f, "m");
  ck_assert_int_eq(((uint8_t *)nb_data(m))[2], 1);
  nb_safetensors_free(f);
}
END_TEST

/* ---- atomic save ----------------------------------------------------------------------------- */

START_TEST(failed_save_keeps_old_file) {
  nb_tensor *a = nb_ones(1, (int64_t[]){3}, NB_F32);
  char p[400];
  snprintf(p, sizeof p, "%s", tpath("keep.safetensors"));
  ck_assert_int_eq(nb_safetensors_save(p, 1, (const char *[]){"a"}, &a, NULL), 0);
  struct stat st0;
  ck_assert_int_eq(stat(p, &st0), 0);
  /* duplicate names: refused before anything is written */
  nb_tensor *two[] = {a, a};
  ck_assert_int_lt(nb_safetensors_save(p, 2, (const char *[]){"x", "x"}, two, NULL), 0);
  ck_assert_error_contains("duplicate tensor name \"x\"");
  ck_assert_int_lt(nb_safetensors_save(p, 1, (const char *[]){"__metadata__"}, &a, NULL), 0);
  ck_assert_int_lt(nb_safetensors_save(p, 1, (const char *[]){NULL}, &a, NULL), 0);
  ck_assert_int_lt(nb_safetensors_save(p, 1, (const char *[]){"a"}, &a, (const char *[]){"k", NULL}), 0);
  ck_assert_error_contains("metadata key \"k\" has no value");
  /* a directory in the way of the rename: fails, no temporary left behind */
  ck_assert_int_eq(mkdir(tpath("dir.safetensors"), 0755), 0);
  ck_assert_int_lt(nb_safetensors_save(tpath("dir.safetensors"), 1, (const char *[]){"a"}, &a, NULL), 0);
  ck_assert_int_eq(nb_last_status(), NB_EIO);
  ck_assert_int_lt(nb_safetensors_save(tpath("no/such/dir/f.safetensors"), 1, (const char *[]){"a"}, &a, NULL), 0);
  ck_assert_error_contains("no/such/dir");
  char cmd[400];
  snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 2", tmpdir);
  ck_assert_msg(system(cmd) == 0, "temporary files left in %s", tmpdir);
  nb_safetensors *f = nb_safetensors_load(p);
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(nb_safetensors_count(f), 1);
  nb_safetensors_free(f);
  /* overwrite replaces it */
  nb_tensor *b = nb_zeros(1, (int64_t[]){5}, NB_F64);
  ck_assert_int_eq(nb_safetensors_save(p, 1, (const char *[]){"b"}, &b, NULL), 0);
  f = nb_safetensors_load(p);
  ck_assert_ptr_nonnull(nb_safetensors_get(f, "b"));
  ck_assert_ptr_null(nb_safetensors_get(f, "a"));
  nb_safetensors_free(f);
}
END_TEST

START_TEST(missing_and_short_files) {
  ck_assert_ptr_null(nb_safetensors_load(tpath("absent.safetensors")));
  ck_assert_int_eq(nb_last_status(), NB_ENOTFOUND);
  ck_assert_error_contains("absent.safetensors");
  FILE *fp = fopen(tpath("short"), "wb");
  fwrite("\x10\0\0", 1, 3, fp);
  fclose(fp);
  ck_assert_ptr_null(nb_safetensors_load(tpath("short")));
  ck_assert_error_contains("too small");
  ck_assert_error_contains("short");
  ck_assert_ptr_null(nb_safetensors_load(tmpdir));
  ck_assert_ptr_null(nb_safetensors_load_buffer(NULL, 0));
}
END_TEST

/* ---- hostile files ---------------------------------------------------------------------------- */

START_TEST(header_length_and_json) {
  size_t n = make_image("{}", NULL, 0);
  img[0] = 200; /* header length past the end */
  ck_assert_ptr_null(nb_safetensors_load_buffer(img, n));
  ck_assert_error_contains("header length 200 exceeds the file size");
  memset(img, 0xff, 8);
  ck_assert_ptr_null(nb_safetensors_load_buffer(img, n));
  ck_assert_error_contains("exceeds the file size");
  assert_refused("{\"a\":", 0, "not valid JSON");
  assert_refused("[1,2]", 0, "not a JSON object");
  assert_refused("\"str\"", 0, "not a JSON object");
  assert_refused("{} x", 0, "trailing bytes");
  assert_refused("{\"a\xff\":1}", 0, "not valid UTF-8");
  assert_refused("{\"\xc0\xaf\":1}", 0, "not valid UTF-8"); /* overlong */
  size_t m = make_image("{\"a\":1}", NULL, 0);
  img[10] = '\0';
  ck_assert_ptr_null(nb_safetensors_load_buffer(img, m));
  ck_assert_error_contains("NUL byte");
  char deep[3000];
  memset(deep, '[', 2500);
  deep[2500] = '\0';
  assert_refused(deep, 0, "not valid JSON"); /* nesting limit, no stack overflow */
}
END_TEST

START_TEST(entries) {
  assert_refused("{\"a\":[]}", 0, "tensor \"a\": entry is not a JSON object");
  assert_refused("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "missing or non-string \"dtype\"");
  assert_refused("{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2, "unknown dtype \"F16\"");
  assert_refused("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype");
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "non-array \"shape\"");
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                 "shape[0] is not a non-negative integer");
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
                 "shape[0] is not a non-negative integer");
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "not a non-negative integer");
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
                 "9 dimensions (at most 8)");
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
                 "shape overflows");
  assert_refused("{\"a\":{\"dtype\":\"F64\",\"shape\":[2147483648,2147483648],\"data_offsets\":[0,4]}}", 4,
                 "shape overflows");
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}", 4, "not a non-negative integer");
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "\"data_offsets\" must be an array of 2");
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, "array of 2");
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "non-negative integers");
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "reversed");
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", 4,
                 "past the end of the data section (4 bytes)");
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8,
                 "span 4 bytes but dtype F32 and shape of 2 elements need 8");
  assert_refused("{\"__metadata__\":{\"k\":1}}", 0, "value of \"k\" is not a string");
  assert_refused("{\"__metadata__\":[]}", 0, "\"__metadata__\" is not a JSON object");
}
END_TEST

START_TEST(layout) {
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                 12, "overlapping data ranges");
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                 8, "overlapping");
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                 8, "duplicate tensor name \"a\"");
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "bytes [0, 4) belong to no tensor");
  assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12, "bytes [4, 12) belong to no tensor");
  assert_refused("{}", 4, "4 bytes but no tensors");
  assert_refused("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate \"__metadata__\"");
}
END_TEST

START_TEST(every_truncation_refused) {
  nb_tensor *a = nb_arange(0, 10, 1, NB_F32), *b = nb_ones(2, (int64_t[]){2, 2}, NB_I64);
  char p[400];
  snprintf(p, sizeof p, "%s", tpath("full.safetensors"));
  ck_assert_int_eq(nb_safetensors_save(p, 2, (const char *[]){"a", "b"}, (nb_tensor *[]){a, b}, NULL), 0);
  FILE *fp = fopen(p, "rb");
  size_t n = fread(img, 1, sizeof img, fp);
  fclose(fp);
  for (size_t k = 0; k < n; k++) {
    nb_safetensors *f = nb_safetensors_load_buffer(img, k);
    ck_assert_msg(f == NULL, "truncation to %zu bytes accepted", k);
  }
  nb_safetensors *f = nb_safetensors_load_buffer(img, n);
  ck_assert_ptr_nonnull(f);
  nb_safetensors_free(f);
}
END_TEST

/* save refuses what load would refuse: non-UTF-8 names, duplicate metadata keys */
START_TEST(test_save_refuses_unloadable) {
  nb_scope_begin();
  nb_tensor *t = nb_zeros(1, (int64_t[]){2}, NB_F32);
  const char *bad[1] = {"w\xff"};
  ck_assert_int_eq(nb_safetensors_save("/tmp/nabla-st-bad.safetensors", 1, bad, &t, NULL), NB_EINVAL);
  ck_assert_ptr_nonnull(strstr(nb_last_error(), "UTF-8"));
  const char *ok[1] = {"w"}, *meta[] = {"k", "1", "k", "2", NULL};
  ck_assert_int_eq(nb_safetensors_save("/tmp/nabla-st-bad.safetensors", 1, ok, &t, meta), NB_EINVAL);
  ck_assert_ptr_nonnull(strstr(nb_last_error(), "duplicate metadata key"));
  nb_scope_end();
}
END_TEST

START_TEST(select_by_prefix) {
  nb_tensor *a = nb_from_doubles((double[]){1, 2}, 2, NB_F32);
  nb_tensor *b = nb_from_doubles((double[]){3, 4, 5}, 3, NB_F64);
  nb_tensor *c = nb_scalar(7, NB_I64);
  const char *names[] = {"model.fc.weight", "optimizer.state.0.step", "model.", "model.fc.bias"};
  const char *meta[] = {"optimizer.groups", "1", "epoch", "3", "model.format", "pt", NULL};
  ck_assert_int_eq(nb_safetensors_save(tpath("ck.safetensors"), 4, names,
                                       (nb_tensor *[]){a, c, c, b}, meta), 0);
  nb_safetensors *f = nb_safetensors_load(tpath("ck.safetensors"));
  ck_assert_ptr_nonnull(f);
  nb_safetensors *m = nb_safetensors_select(f, "model.");
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(nb_safetensors_count(m), 2); /* "model." itself is left out */
  ck_assert_str_eq(nb_safetensors_name(m, 0), "fc.weight"); /* in file order */
  ck_assert_str_eq(nb_safetensors_name(m, 1), "fc.bias");
  ck_assert_tensor_values(nb_safetensors_get(m, "fc.bias"), ((double[]){3, 4, 5}), 3, 0);
  ck_assert_tensor_values(nb_safetensors_get(m, "fc.weight"), ((double[]){1, 2}), 2, 0);
  ck_assert_ptr_null(nb_safetensors_get(m, "model.fc.bias"));
  ck_assert_str_eq(nb_safetensors_metadata(m, "format"), "pt");
  ck_assert_ptr_null(nb_safetensors_metadata(m, "groups"));
  nb_safetensors *o = nb_safetensors_select(f, "optimizer.");
  ck_assert_int_eq(nb_safetensors_count(o), 1);
  ck_assert_str_eq(nb_safetensors_metadata(o, "groups"), "1");
  ck_assert_double_eq(nb_item(nb_safetensors_get(o, "state.0.step")), 7);
  nb_safetensors *none = nb_safetensors_select(f, "nothing.");
  ck_assert_int_eq(nb_safetensors_count(none), 0);
  nb_safetensors *all = nb_safetensors_select(f, ""); /* the empty prefix: everything */
  ck_assert_int_eq(nb_safetensors_count(all), 4);
  ck_assert_str_eq(nb_safetensors_metadata(all, "epoch"), "3");
  ck_assert_ptr_null(nb_safetensors_select(NULL, "x"));
  ck_assert_error_contains("nb_safetensors_select");
  nb_safetensors_free(all);
  nb_safetensors_free(none);
  nb_safetensors_free(o);
  nb_safetensors_free(m);
  nb_safetensors_free(f);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("safetensors");
  TCase *tc = tcase_create("safetensors");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, roundtrip_all_dtypes);
  tcase_add_test(tc, roundtrip_noncontiguous_and_header_format);
  tcase_add_test(tc, reads_hand_written_file);
  tcase_add_test(tc, bool_bytes_normalised);
  tcase_add_test(tc, failed_save_keeps_old_file);
  tcase_add_test(tc, missing_and_short_files);
  tcase_add_test(tc, header_length_and_json);
  tcase_add_test(tc, entries);
  tcase_add_test(tc, layout);
  tcase_add_test(tc, every_truncation_refused);
  tcase_add_test(tc, test_save_refuses_unloadable);
  tcase_add_test(tc, select_by_prefix);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(suite()); }
