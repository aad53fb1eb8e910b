/* tests/data/test_mnist.c — the MNIST opener.
 *
 * `test_mnist files`: on small files this test writes, the file-level checks (missing
 * files, count mismatch, image size, label range, gzip'ed or plain names) and the items.
 * `test_mnist fashion`: the real Fashion-MNIST from Debian's dataset-fashion-mnist when
 * installed (exit 77, skipped, otherwise), against facts computed independently with
 * python3's gzip module, once, by:
 *   b = gzip.open(path).read(); dims = struct.unpack('>III', b[4:16]); px = b[16:]
 *   labels = gzip.open(lpath).read()[8:]
 *   labels[:10], labels[-1], [labels.count(bytes([c])) for c in range(10)],
 *   sum(px[:784]), px[14*28+14], sum(px[-784:]), sum(px)
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "testutil.h"


/* Write an IDX file of type 0x08 (gzip'ed when the name ends in .gz). */
static void write_idx(const char *name, int nd, const uint32_t *dims, const uint8_t *body, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", nb_test_tmpdir, name);
  uint8_t head[4 + 4 * 8] = {0, 0, 8, (uint8_t)nd};
  for (int d = 0; d < nd; d++)
    for (int k = 0; k < 4; k++) head[4 + 4 * d + k] = (uint8_t)(dims[d] >> (24 - 8 * k));
  if (strstr(name, ".gz")) {
    gzFile g = gzopen(path, "wb");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gzwrite(g, head, 4 + 4 * (unsigned)nd), 4 + 4 * nd);
    if (n) ck_assert_int_eq(gzwrite(g, body, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(g), Z_OK);
  } else {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(head, 1, 4 + 4 * (size_t)nd, f), 4 + 4 * (size_t)nd);
    ck_assert_uint_eq(fwrite(body, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
  }
}

/* A 3-image set: image k has pixel p = (k * 50 + p) % 256; labels {7, 0, 9}. */
static uint8_t px[3 * 784];
static const uint8_t lab[3] = {7, 0, 9};
static void write_set(const char *set, bool gz, int n_labels, int side) {
  for (int i = 0; i < 3 * 784; i++) px[i] = (uint8_t)(((i / 784) * 50 + i % 784) % 256);
  char name[128];
  snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", set, gz ? ".gz" : "");
  write_idx(name, 3, (uint32_t[]){3, (uint32_t)side, 28}, px, 3 * (size_t)side * 28);
  snprintf(name, sizeof name, "%s-labels-idx1-ubyte%s", set, gz ? ".gz" : "");
  write_idx(name, 1, (uint32_t[]){(uint32_t)n_labels}, lab, (size_t)n_labels);
}

START_TEST(test_open_synthetic) {
  write_set("train", true, 3, 28);
  write_set("t10k", false, 3, 28); /* plain names are accepted too */
  for (int train = 0; train < 2; train++) {
    nb_dataset *ds = nb_mnist_open(nb_test_tmpdir, train);
    ck_assert_msg(ds != NULL, "%s", nb_last_error());
    ck_assert_int_eq(nb_dataset_len(ds), 3);
    nb_tensor *x, *y;
    ck_assert_int_eq(nb_dataset_get_batch(ds, (int64_t[]){2, 0}, 2, &x, &y), 0);
    nb_test_assert_shape(x, 4, (int64_t[]){2, 1, 28, 28});
    nb_test_assert_shape(y, 1, (int64_t[]){2});
    ck_assert_int_eq(nb_dtype_of(x), NB_F32);
    ck_assert_int_eq(nb_dtype_of(y), NB_I64);
    const float *xf = nb_data(x);
    for (int p = 0; p < 784; p++) {
      ck_assert_float_eq(xf[p], (float)((100 + p) % 256) / 255.0f); /* image 2 */
      ck_assert_float_eq(xf[784 + p], (float)(p % 256) / 255.0f);   /* image 0 */
    }
    ck_assert_int_eq(((int64_t *)nb_data(y))[0], 9);
    ck_assert_int_eq(((int64_t *)nb_data(y))[1], 7);
    ck_assert_int_eq(nb_dataset_get(ds, 1, &x, &y), 0);
    nb_test_assert_shape(x, 3, (int64_t[]){1, 28, 28});
    ck_assert_int_eq(nb_ndim(y), 0);
    ck_assert_double_eq(nb_item(y), 0);
    ck_assert_float_eq(((float *)nb_data(x))[5], (float)(55 % 256) / 255.0f);
    ck_assert_int_lt(nb_dataset_get(ds, 3, &x, &y), 0);
    ck_assert_error_contains("out of range");
    nb_dataset_free(ds);
  }
}
END_TEST

START_TEST(test_open_errors) {
  char want[600];
  ck_assert_ptr_null(nb_mnist_open(nb_test_tmpdir, true));
  ck_assert_int_eq(nb_last_status(), NB_ENOTFOUND);
  snprintf(want, sizeof want, "neither %s/train-images-idx3-ubyte.gz nor", nb_test_tmpdir);
  ck_assert_error_contains(want);

  write_set("train", true, 2, 28); /* 3 images, 2 labels */
  ck_assert_ptr_null(nb_mnist_open(nb_test_tmpdir, true));
  snprintf(want, sizeof want, "%s/train-labels-idx1-ubyte.gz has 2 labels but %s/train-images-idx3-ubyte.gz has 3 images",
           nb_test_tmpdir, nb_test_tmpdir);
  ck_assert_error_contains(want);

  write_set("t10k", true, 3, 27); /* 27x28 images */
  ck_assert_ptr_null(nb_mnist_open(nb_test_tmpdir, false));
  ck_assert_error_contains("t10k-images-idx3-ubyte.gz: images must be [N,28,28], not [3,27,28]");

  write_set("t10k", true, 3, 28);
  write_idx("t10k-labels-idx1-ubyte.gz", 1, (uint32_t[]){3}, (const uint8_t[]){1, 10, 2}, 3);
  ck_assert_ptr_null(nb_mnist_open(nb_test_tmpdir, false));
  ck_assert_error_contains("t10k-labels-idx1-ubyte.gz: label 10 at index 1 is not below 10");

  write_idx("t10k-labels-idx1-ubyte.gz", 2, (uint32_t[]){3, 1}, lab, 3);
  ck_assert_ptr_null(nb_mnist_open(nb_test_tmpdir, false));
  ck_assert_error_contains("labels must be [N], not [3,1]");

  /* a corrupt file: the IDX reader's message, naming the file */
  char path[512];
  snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", nb_test_tmpdir);
  FILE *f = fopen(path, "wb");
  fputs("not gzip at all", f);
  fclose(f);
  ck_assert_ptr_null(nb_mnist_open(nb_test_tmpdir, false));
  ck_assert_error_contains(path);
  ck_assert_error_contains("bad magic");
  ck_assert_ptr_null(nb_mnist_open(NULL, false));
}
END_TEST

START_TEST(test_class_names) {
  ck_assert_str_eq(nb_fashion_mnist_class_name(0), "T-shirt/top");
  ck_assert_str_eq(nb_fashion_mnist_class_name(1), "Trouser");
  ck_assert_str_eq(nb_fashion_mnist_class_name(5), "Sandal");
  ck_assert_str_eq(nb_fashion_mnist_class_name(9), "Ankle boot");
  ck_assert_ptr_null(nb_fashion_mnist_class_name(10));
  ck_assert_ptr_null(nb_fashion_mnist_class_name(-1));
}
END_TEST

/* ---- the real Fashion-MNIST ------------------------------------------------------------ */

typedef struct facts {
  bool train;
  int64_t n;
  int64_t first_labels[10], last_label;
  int64_t img0_sum, img0_center, last_sum, pixel_sum, per_class;
} facts;

static const facts fashion[2] = {
    {true, 60000, {9, 0, 0, 3, 0, 2, 7, 2, 5, 5}, 5, 76247, 217, 16684, 3431114169LL, 6000},
    {false, 10000, {9, 2, 1, 1, 6, 1, 4, 6, 5, 7}, 5, 33456, 110, 24390, 573469082LL, 1000},
};

/* Sum of round(x * 255) over an image: the original bytes' sum (their squares are
 * added to sum_sq). */
static int64_t sum_sq;
static int64_t byte_sum(const float *x, int64_t n) {
  int64_t s = 0, bad = 0;
  for (int64_t i = 0; i < n; i++) { /* no ck_assert per pixel: each one writes to a pipe */
    float v = x[i] * 255.0f;
    int64_t b = (int64_t)(v + 0.5f);
    bad += !(fabsf(v - (float)b) < 1e-3f && b >= 0 && b <= 255);
    s += b;
    sum_sq += b * b;
  }
  ck_assert_msg(bad == 0, "%lld pixels are not a byte / 255", (long long)bad);
  return s;
}

START_TEST(test_fashion_mnist) {
  const facts *f = &fashion[_i];
  nb_dataset *ds = nb_mnist_open(NB_FASHION_MNIST_DIR, f->train);
  ck_assert_msg(ds != NULL, "%s", nb_last_error());
  ck_assert_int_eq(nb_dataset_len(ds), f->n);
  int64_t counts[10] = {0}, total = 0, total_sq = 0;
  int64_t idx[5000];
  for (int64_t start = 0; start < f->n; start += 5000) {
    nb_scope_begin();
    for (int k = 0; k < 5000; k++) idx[k] = start + k;
    nb_tensor *x, *y;
    ck_assert_msg(nb_dataset_get_batch(ds, idx, 5000, &x, &y) == 0, "%s", nb_last_error());
    nb_test_assert_shape(x, 4, (int64_t[]){5000, 1, 28, 28});
    const int64_t *l = nb_data(y);
    int64_t out_of_range = 0;
    for (int k = 0; k < 5000; k++) {
      if (l[k] >= 0 && l[k] < 10) counts[l[k]]++;
      else out_of_range++;
    }
    ck_assert_int_eq(out_of_range, 0);
    sum_sq = 0;
    total += byte_sum(nb_data(x), nb_numel(x));
    total_sq += sum_sq;
    if (start == 0) {
      for (int k = 0; k < 10; k++) ck_assert_int_eq(l[k], f->first_labels[k]);
      const float *x0 = nb_data(x);
      ck_assert_int_eq(byte_sum(x0, 784), f->img0_sum);
      ck_assert_float_eq(x0[14 * 28 + 14], (float)f->img0_center / 255.0f);
    }
    if (start + 5000 == f->n) {
      ck_assert_int_eq(l[4999], f->last_label);
      ck_assert_int_eq(byte_sum((const float *)nb_data(x) + 4999 * 784, 784), f->last_sum);
    }
    nb_scope_end();
  }
  for (int c = 0; c < 10; c++) ck_assert_int_eq(counts[c], f->per_class);
  ck_assert_int_eq(total, f->pixel_sum);
  if (f->train) { /* the header's normalisation constants, over every pixel / 255 */
    double N = f->n * 784.0, mean = (double)total / N / 255.0;
    ck_assert_close(NB_FASHION_MNIST_MEAN, mean, 1e-10, 0);
    ck_assert_close(NB_FASHION_MNIST_STD, sqrt((double)total_sq / N / (255.0 * 255.0) - mean * mean), 1e-10, 0);
  }
  nb_dataset_free(ds);
}
END_TEST

int main(int argc, char **argv) {
  Suite *s = suite_create("mnist");
  TCase *tc = tcase_create("mnist");
  tcase_add_checked_fixture(tc, nb_test_tmpdir_setup, nb_test_tmpdir_teardown);
  if (argc > 1 && strcmp(argv[1], "fashion") == 0) {
    struct stat st;
    if (stat(NB_FASHION_MNIST_DIR, &st) != 0) {
      printf("SKIP: %s not found (Debian package dataset-fashion-mnist)\n", NB_FASHION_MNIST_DIR);
      return 77;
    }
    tcase_set_timeout(tc, 240);
    tcase_add_loop_test(tc, test_fashion_mnist, 0, 2);
  } else {
    tcase_add_test(tc, test_open_synthetic);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_class_names);
  }
  suite_add_tcase(s, tc);
  return nb_test_run(s);
}
