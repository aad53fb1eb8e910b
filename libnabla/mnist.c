/* libnabla/mnist.c — MNIST and Fashion-MNIST as a dataset.
 *
 * The four IDX files of either set are read with idx.c (gzip'ed or plain) and checked
 * against each other: images [N,28,28], labels [N], every label < 10. The pixels stay
 * bytes in memory (47 MB for the training set rather than 188 MB of floats); batches
 * are converted to float32 in [0,1] on the way out, as torchvision's ToTensor does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nabla/data.h"
#include "nabla/tensor.h"

#define MNIST_SIDE 28
#define MNIST_CLASSES 10

typedef struct mnist {
  nb_idx images, labels;
  float lut[256]; /* byte -> float32 in [0,1] */
} mnist;

static const char *const fashion_names[MNIST_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

const char *nb_fashion_mnist_class_name(int label) {
  return label >= 0 && label < MNIST_CLASSES ? fashion_names[label] : NULL;
}

static int64_t mnist_len(void *user) { return ((mnist *)user)->labels.numel; }

static void fill(const mnist *m, const int64_t *idx, int64_t n, float *px, int64_t *py) {
  const int64_t npix = MNIST_SIDE * MNIST_SIDE;
  for (int64_t k = 0; k < n; k++) {
    const uint8_t *src = m->images.data + idx[k] * npix;
    for (int64_t p = 0; p < npix; p++) px[k * npix + p] = m->lut[src[p]];
    py[k] = m->labels.data[idx[k]];
  }
}

static int mnist_get_batch(void *user, const int64_t *idx, int64_t n, nb_tensor **x, nb_tensor **y) {
  *x = nb_empty(4, (int64_t[]){n, 1, MNIST_SIDE, MNIST_SIDE}, NB_F32);
  *y = nb_empty(1, &n, NB_I64);
  if (!*x || !*y) return nb_last_status();
  fill(user, idx, n, nb_data(*x), nb_data(*y));
  return 0;
}

static int mnist_get_item(void *user, int64_t i, nb_tensor **x, nb_tensor **y) {
  *x = nb_empty(3, (int64_t[]){1, MNIST_SIDE, MNIST_SIDE}, NB_F32);
  *y = nb_empty(0, NULL, NB_I64);
  if (!*x || !*y) return nb_last_status();
  fill(user, &i, 1, nb_data(*x), nb_data(*y));
  return 0;
}

static void mnist_free(void *user) {
  mnist *m = user;
  nb_idx_clear(&m->images);
  nb_idx_clear(&m->labels);
  free(m);
}

/* Read dir/base.gz, or dir/base when there is no .gz. The path read goes to path[]. */
static int read_either(const char *dir, const char *base, nb_idx *out, char *path, size_t size) {
  struct stat st;
  snprintf(path, size, "%s/%s.gz", dir, base);
  if (stat(path, &st) != 0 && errno == ENOENT) {
    snprintf(path, size, "%s/%s", dir, base);
    if (stat(path, &st) != 0 && errno == ENOENT)
      return nb_set_error(NB_ENOTFOUND, "mnist: neither %s/%s.gz nor %s/%s exists", dir, base, dir, base);
  }
  return nb_idx_read(path, out);
}

nb_dataset *nb_mnist_open(const char *dir, bool train) {
  if (!dir) {
    nb_set_error(NB_EINVAL, "nb_mnist_open: NULL directory");
    return NULL;
  }
  mnist *m = calloc(1, sizeof *m);
  if (!m) {
    nb_set_error(NB_ENOMEM, "nb_mnist_open: out of memory");
    return NULL;
  }
  const char *set = train ? "train" : "t10k";
  char ipath[4096], lpath[4096], base[64];
  snprintf(base, sizeof base, "%s-images-idx3-ubyte", set);
  int rc = read_either(dir, base, &m->images, ipath, sizeof ipath);
  if (rc == 0) {
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", set);
    rc = read_either(dir, base, &m->labels, lpath, sizeof lpath);
  }
  if (rc == 0 && (m->images.ndim != 3 || m->images.shape[1] != MNIST_SIDE || m->images.shape[2] != MNIST_SIDE))
    rc = nb_set_error(NB_ESHAPE, "mnist: %s: images must be [N,28,28], not %s", ipath,
                      nb_shape_str(m->images.ndim, m->images.shape, (char[96]){0}, 96));
  if (rc == 0 && m->labels.ndim != 1)
    rc = nb_set_error(NB_ESHAPE, "mnist: %s: labels must be [N], not %s", lpath,
                      nb_shape_str(m->labels.ndim, m->labels.shape, (char[96]){0}, 96));
  if (rc == 0 && m->labels.shape[0] != m->images.shape[0])
    rc = nb_set_error(NB_ESHAPE, "mnist: %s has %" PRId64 " labels but %s has %" PRId64 " images", lpath,
                      m->labels.shape[0], ipath, m->images.shape[0]);
  for (int64_t i = 0; rc == 0 && i < m->labels.numel; i++)
    if (m->labels.data[i] >= MNIST_CLASSES)
      rc = nb_set_error(NB_EINVAL, "mnist: %s: label %d at index %" PRId64 " is not below %d", lpath,
                        m->labels.data[i], i, MNIST_CLASSES);
  if (rc < 0) {
    mnist_free(m);
    return NULL;
  }
  for (int v = 0; v < 256; v++) m->lut[v] = (float)v / 255.0f;
  static const nb_dataset_ops ops = {
      .len = mnist_len, .get_item = mnist_get_item, .get_batch = mnist_get_batch, .free = mnist_free};
  nb_dataset *ds = nb_dataset_new(&ops, m);
  if (!ds) mnist_free(m);
  return ds;
}
