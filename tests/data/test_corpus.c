/* test_corpus.c — text corpora (libnabla/corpus.c): the vocabulary and token ids of
 * small texts worked out by hand, files and directories (name order, binary files and
 * symbolic links skipped), refusals that name the input, window datasets, and Debian's
 * fortunes when installed. */
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static void write_text(const char *name, const void *data, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", nb_test_tmpdir, name);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(data, 1, n, f), n);
  ck_assert_int_eq(fclose(f), 0);
}

START_TEST(buffer_vocabulary_and_ids) {
  nb_corpus *c = nb_corpus_from_buffer("cab\nab", 6, "text");
  ck_assert_msg(c != NULL, "%s", nb_last_error());
  /* distinct bytes sorted: '\n' 0, 'a' 1, 'b' 2, 'c' 3 */
  ck_assert_int_eq(nb_corpus_vocab_size(c), 4);
  ck_assert_int_eq(nb_corpus_len(c), 6);
  ck_assert_int_eq(nb_corpus_files(c), 1);
  const int want[6] = {3, 1, 2, 0, 1, 2};
  for (int i = 0; i < 6; i++) ck_assert_int_eq(nb_corpus_token(c, i), want[i]);
  ck_assert_int_lt(nb_corpus_token(c, 6), 0);
  ck_assert_error_contains("out of range");
  int64_t ids[4];
  ck_assert_int_eq(nb_corpus_encode(c, "bac\n", 4, ids), 0);
  ck_assert(ids[0] == 2 && ids[1] == 1 && ids[2] == 3 && ids[3] == 0);
  char out[5];
  ck_assert_int_eq(nb_corpus_decode(c, ids, 4, out), 0);
  ck_assert_str_eq(out, "bac\n");
  ck_assert_int_eq(nb_corpus_encode(c, "abz", 3, ids), NB_EINVAL);
  ck_assert_error_contains("0x7a at 2");
  ck_assert_int_eq(nb_corpus_decode(c, (int64_t[]){1, 4}, 2, out), NB_EINVAL);
  ck_assert_error_contains("id 4 at 1");
  nb_corpus_free(c);
}
END_TEST

START_TEST(buffer_refusals) {
  ck_assert_ptr_null(nb_corpus_from_buffer("a\0b", 3, "bin"));
  ck_assert_error_contains("bin is not text");
  ck_assert_ptr_null(nb_corpus_from_buffer("a", 1, "one"));
  ck_assert_error_contains("one holds 1 bytes");
  ck_assert_ptr_null(nb_corpus_from_buffer(NULL, 4, "null"));
  ck_assert_error_contains("NULL buffer");
  ck_assert_ptr_null(nb_corpus_open(NULL));
  nb_corpus_free(NULL);
}
END_TEST

START_TEST(file_and_directory) {
  write_text("b.txt", "to be\n", 6);
  write_text("a.txt", "or not\n", 7);
  write_text("a.txt.dat", "\0\0\1\2", 4); /* binary: skipped */
  char path[512], link[512];
  snprintf(path, sizeof path, "%s/a.txt", nb_test_tmpdir);
  snprintf(link, sizeof link, "%s/c.u8", nb_test_tmpdir);
  ck_assert_int_eq(symlink(path, link), 0); /* a symbolic link: skipped */
  snprintf(link, sizeof link, "%s/sub", nb_test_tmpdir);
  ck_assert_int_eq(mkdir(link, 0700), 0); /* a subdirectory: skipped */

  nb_corpus *f = nb_corpus_open(path);
  ck_assert_msg(f != NULL, "%s", nb_last_error());
  ck_assert_int_eq(nb_corpus_len(f), 7);
  nb_corpus_free(f);

  nb_corpus *d = nb_corpus_open(nb_test_tmpdir);
  ck_assert_msg(d != NULL, "%s", nb_last_error());
  ck_assert_int_eq(nb_corpus_files(d), 2);
  ck_assert_int_eq(nb_corpus_len(d), 13);
  int64_t ids[13];
  char text[14];
  for (int i = 0; i < 13; i++) ids[i] = nb_corpus_token(d, i);
  ck_assert_int_eq(nb_corpus_decode(d, ids, 13, text), 0);
  ck_assert_str_eq(text, "or not\nto be\n"); /* a.txt before b.txt */
  nb_corpus_free(d);

  snprintf(path, sizeof path, "%s/a.txt.dat", nb_test_tmpdir);
  ck_assert_ptr_null(nb_corpus_open(path));
  ck_assert_error_contains("a.txt.dat is not text");
  ck_assert_ptr_null(nb_corpus_open(link)); /* the empty subdirectory */
  ck_assert_error_contains("holds no text file");
  snprintf(path, sizeof path, "%s/missing", nb_test_tmpdir);
  ck_assert_ptr_null(nb_corpus_open(path));
  ck_assert_int_eq(nb_last_status(), NB_ENOTFOUND);
  ck_assert_error_contains("missing");
  snprintf(path, sizeof path, "%s/fifo", nb_test_tmpdir);
  ck_assert_int_eq(mkfifo(path, 0600), 0);
  ck_assert_ptr_null(nb_corpus_open(path)); /* refused without waiting for a writer */
  ck_assert_error_contains("not a regular file");
}
END_TEST

START_TEST(windows) {
  nb_corpus *c = nb_corpus_from_buffer("abcdefgh", 8, "abc"); /* ids 0..7 */
  ck_assert_ptr_nonnull(c);
  /* context 3, stride 2 over [0, 8): starts 0, 2, 4 (start 6 has no target for 8) */
  nb_dataset *ds = nb_corpus_windows(c, 3, 2, 0, 8);
  ck_assert_msg(ds != NULL, "%s", nb_last_error());
  ck_assert_int_eq(nb_dataset_len(ds), 3);
  nb_tensor *x, *y;
  ck_assert_int_eq(nb_dataset_get(ds, 1, &x, &y), 0);
  ck_assert_int_eq(nb_ndim(x), 1);
  ck_assert_tensor_values(x, ((double[]){2, 3, 4}), 3, 0);
  ck_assert_tensor_values(y, ((double[]){3, 4, 5}), 3, 0);
  ck_assert_int_eq(nb_dataset_get_batch(ds, (int64_t[]){2, 0}, 2, &x, &y), 0);
  ck_assert(nb_ndim(x) == 2 && nb_shape(x)[0] == 2 && nb_shape(x)[1] == 3);
  ck_assert_int_eq(nb_dtype_of(x), NB_I64);
  ck_assert_tensor_values(x, ((double[]){4, 5, 6, 0, 1, 2}), 6, 0);
  ck_assert_tensor_values(y, ((double[]){5, 6, 7, 1, 2, 3}), 6, 0);
  nb_dataset_free(ds);
  /* a validation range [4, 8) with context 3: one window; context 4: none */
  ds = nb_corpus_windows(c, 3, 1, 4, 8);
  ck_assert_int_eq(nb_dataset_len(ds), 1);
  ck_assert_int_eq(nb_dataset_get(ds, 0, &x, &y), 0);
  ck_assert_tensor_values(y, ((double[]){5, 6, 7}), 3, 0);
  nb_dataset_free(ds);
  ds = nb_corpus_windows(c, 4, 1, 4, 8);
  ck_assert_int_eq(nb_dataset_len(ds), 0);
  nb_dataset_free(ds);
  ck_assert_ptr_null(nb_corpus_windows(c, 0, 1, 0, 8));
  ck_assert_error_contains("context >= 1");
  ck_assert_ptr_null(nb_corpus_windows(c, 2, 1, 0, 9));
  ck_assert_error_contains("end <= 8");
  nb_corpus_free(c);
}
END_TEST

START_TEST(fortunes) {
  struct stat st;
  if (stat(NB_FORTUNES_DIR, &st) != 0) return; /* Debian's fortunes not installed */
  nb_corpus *c = nb_corpus_open(NB_FORTUNES_DIR);
  ck_assert_msg(c != NULL, "%s", nb_last_error());
  ck_assert_int_gt(nb_corpus_files(c), 10);
  ck_assert_int_gt(nb_corpus_len(c), 1000000);
  ck_assert_int_ge(nb_corpus_vocab_size(c), 60); /* letters, digits, punctuation */
  ck_assert_int_le(nb_corpus_vocab_size(c), 256);
  int64_t ids[10];
  ck_assert_int_eq(nb_corpus_encode(c, "Shakespear", 10, ids), 0);
  nb_corpus_free(c);
}
END_TEST

int main(void) {
  Suite *s = suite_create("corpus");
  TCase *tc = tcase_create("corpus");
  tcase_add_checked_fixture(tc, nb_test_tmpdir_setup, nb_test_tmpdir_teardown);
  tcase_add_test(tc, buffer_vocabulary_and_ids);
  tcase_add_test(tc, buffer_refusals);
  tcase_add_test(tc, file_and_directory);
  tcase_add_test(tc, windows);
  tcase_add_test(tc, fortunes);
  suite_add_tcase(s, tc);
  return nb_test_run(s);
}
