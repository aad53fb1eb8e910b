/* nabla/data.h — data: the IDX file format (MNIST), datasets and the data loader.
 *
 * A dataset is an interface: a length and a way to fetch items or batches by index
 * (nb_dataset_ops). nabla provides an in-memory tensor dataset, MNIST/Fashion-MNIST
 * read from IDX files and windows of a text corpus for character-level models. A data loader walks a dataset in batches: seeded shuffling per
 * epoch, drop_last, sharding across ranks, normalisation, random crop/flip augmentation,
 * and the next batch prepared in a background thread while the current step runs.
 * Files are validated completely: a truncated, corrupted or hostile file is refused with
 * an error naming the file and the problem, never half-loaded.
 *
 *   nb_dataset *train = nb_mnist_open(NB_FASHION_MNIST_DIR, true);
 *   nb_dataloader_opts o = nb_dataloader_defaults();
 *   o.batch_size = 64; o.shuffle = true; o.seed = 1;
 *   o.n_channels = 1; o.mean[0] = NB_FASHION_MNIST_MEAN; o.std[0] = NB_FASHION_MNIST_STD;
 *   nb_dataloader *dl = nb_dataloader_new(train, &o);
 *   for (int64_t epoch = 0; epoch < 10; epoch++) {
 *     nb_dataloader_start_epoch(dl, epoch);
 *     nb_tensor *x, *y;                      // x [64,1,28,28] float32, y [64] int64
 *     for (;;) {
 *       nb_scope_begin();
 *       int rc = nb_dataloader_next(dl, &x, &y);   // 1 batch, 0 epoch end, < 0 error
 *       if (rc == 1) { ... forward, nb_cross_entropy(logits, y, ...), backward, step ... }
 *       nb_scope_end();
 *       if (rc <= 0) break;
 *     }
 *   }
 *   nb_dataloader_free(dl);
 *   nb_dataset_free(train);
 */
#ifndef NABLA_DATA_H
#define NABLA_DATA_H

#include <nabla/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- IDX files (idx.c) ------------------------------------------------------------- */

/* Largest IDX body accepted, in elements (2^31: far above MNIST's 47M pixels). */
#define NB_IDX_MAX_ELEMENTS ((int64_t)1 << 31)

/* A validated IDX file held as raw bytes: magic 00 00 <type> <ndim>, ndim big-endian
 * uint32 sizes, then prod(sizes) elements. Only type 0x08 (unsigned byte) is accepted;
 * ndim is 1..NB_MAX_DIMS and every size >= 1. */
typedef struct nb_idx {
  int type;                     /* 0x08 */
  int ndim;
  int64_t shape[NB_MAX_DIMS];
  int64_t numel;                /* prod(shape) */
  uint8_t *data;                /* numel bytes, owned; free with nb_idx_clear */
} nb_idx;

/* Read and validate an IDX file, plain or gzip-compressed (detected by its magic), into
 * *out (zeroed first). Non-regular files (FIFOs, devices, directories) are refused
 * without blocking. Returns 0, or a negative status with an error naming the file and
 * the problem; *out then holds nothing. */
int nb_idx_read(const char *path, nb_idx *out);
/* The same from a memory buffer (plain or gzip); `name` is used in error messages. */
int nb_idx_read_buffer(const void *buf, size_t size, const char *name, nb_idx *out);
/* Free the bytes held by an nb_idx and zero it (NULL-safe, idempotent). */
void nb_idx_clear(nb_idx *idx);
/* A new scoped tensor of shape idx->shape holding the bytes as `dt` (NB_F32, NB_F64 or
 * NB_I64), each value multiplied by `scale` (use 1 for raw values, 1/255.0 for [0,1]
 * pixels; scale must be 1 for NB_I64). NULL with an error otherwise. */
nb_tensor *nb_idx_to_tensor(const nb_idx *idx, nb_dtype dt, double scale);
/* Read an IDX file straight into a new scoped tensor of dtype `dt` (raw values). */
nb_tensor *nb_idx_load(const char *path, nb_dtype dt);

/* ---- datasets (dataset.c) ------------------------------------------------------------ */

typedef struct nb_dataset nb_dataset; /* opaque */

/* What a dataset implements. `user` is the pointer given to nb_dataset_new. get_item or
 * get_batch (or both) must be set. Each callback runs with a fresh scope open on the
 * calling thread, which the library closes after taking its own references to the
 * returned tensors: make them with any constructor and just return them. The data
 * loader calls them from its background thread, one call at a time per loader; a
 * dataset shared by several loaders or threads must be safe to read concurrently. */
typedef struct nb_dataset_ops {
  /* Number of items (>= 0). */
  int64_t (*len)(void *user);
  /* Item i (0 <= i < len): *x the input without batch dimension (e.g. [C,H,W]) and *y
   * its target (e.g. a 0-d int64 label). Returns 0 or a negative status (set an error). */
  int (*get_item)(void *user, int64_t i, nb_tensor **x, nb_tensor **y);
  /* Optional, faster path: items idx[0..n-1] stacked along a new first dimension,
   * *x [n,...] and *y [n,...]. When NULL, get_item results are stacked (every item must
   * have the same shapes and dtypes). */
  int (*get_batch)(void *user, const int64_t *idx, int64_t n, nb_tensor **x, nb_tensor **y);
  /* Optional: called by nb_dataset_free to release `user`. */
  void (*free)(void *user);
} nb_dataset_ops;

/* A dataset over user callbacks (ops is copied). Returns NULL on a bad ops table. Free
 * with nb_dataset_free (which calls ops->free(user)). */
nb_dataset *nb_dataset_new(const nb_dataset_ops *ops, void *user);
/* Free a dataset (NULL-safe). Loaders over it must be freed first. */
void nb_dataset_free(nb_dataset *ds);
/* Number of items, or a negative status. */
int64_t nb_dataset_len(const nb_dataset *ds);
/* Item i as new tensors registered in the current scope. Returns 0 or a negative status
 * (index out of range, callback failure). */
int nb_dataset_get(nb_dataset *ds, int64_t i, nb_tensor **x, nb_tensor **y);
/* Items idx[0..n-1] stacked: x [n,...], y [n,...], registered in the current scope.
 * Returns 0 or a negative status. */
int nb_dataset_get_batch(nb_dataset *ds, const int64_t *idx, int64_t n, nb_tensor **x,
                         nb_tensor **y);

/* An in-memory dataset over x [N,...] and y [N,...] (same N >= 0; both retained; item i
 * is x[i], y[i], copied out contiguous). */
nb_dataset *nb_tensor_dataset_new(nb_tensor *x, nb_tensor *y);

/* ---- MNIST and Fashion-MNIST (mnist.c) ------------------------------------------------ */

/* Where Debian's dataset-fashion-mnist package installs the files. */
#define NB_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
/* Mean and standard deviation of every pixel of the Fashion-MNIST training set scaled
 * to [0,1] (population std over 60000*784 values), for normalisation. */
#define NB_FASHION_MNIST_MEAN 0.2860405970
#define NB_FASHION_MNIST_STD 0.3530242445

/* Open MNIST or Fashion-MNIST (same file layout) from `dir`: the training set
 * (train-images-idx3-ubyte, train-labels-idx1-ubyte) or the test set (t10k-...), each
 * file either gzip'ed (".gz") or plain. Checks image and label counts agree, images are
 * 28x28 and labels < 10. Items: x float32 [1,28,28] with pixels scaled to [0,1] (like
 * torchvision's ToTensor), y a 0-d int64 label. NULL with an error naming the file. */
nb_dataset *nb_mnist_open(const char *dir, bool train);
/* Fashion-MNIST class name for label 0..9 ("T-shirt/top", "Trouser", ...); NULL
 * otherwise. */
const char *nb_fashion_mnist_class_name(int label);

/* ---- text corpora for character-level models (corpus.c) ------------------------------ */

/* Largest corpus accepted, in bytes (256 MiB). */
#define NB_CORPUS_MAX_BYTES ((size_t)1 << 28)
/* Where Debian's fortunes package installs its text files (about 2.5 MB of quotations,
 * poems and jokes in English). */
#define NB_FORTUNES_DIR "/usr/share/games/fortunes"

typedef struct nb_corpus nb_corpus; /* opaque */

/* Read a text file, or every text file directly in a directory (name order; symbolic
 * links, subdirectories and binary files with a NUL byte are skipped). The vocabulary is
 * the distinct bytes, sorted. NULL with an error naming the file (not text, over
 * NB_CORPUS_MAX_BYTES, fewer than 2 bytes, no text file in the directory). */
nb_corpus *nb_corpus_open(const char *path);
/* The same from a memory buffer; `name` is used in error messages. */
nb_corpus *nb_corpus_from_buffer(const void *buf, size_t size, const char *name);
/* Free a corpus (NULL-safe). Window datasets over it must be freed first. */
void nb_corpus_free(nb_corpus *c);
/* Tokens in the corpus, its vocabulary size (1..256) and the number of files read. */
int64_t nb_corpus_len(const nb_corpus *c);
int nb_corpus_vocab_size(const nb_corpus *c);
int nb_corpus_files(const nb_corpus *c);
/* Token i (0 <= i < len) as an id, or a negative status. */
int nb_corpus_token(const nb_corpus *c, int64_t i);
/* text[0..n) as ids into ids[0..n); an error naming the first byte not in the vocabulary. */
int nb_corpus_encode(const nb_corpus *c, const char *text, size_t n, int64_t *ids);
/* ids[0..n) as text into out[0..n] (NUL-terminated: out holds n + 1 bytes). */
int nb_corpus_decode(const nb_corpus *c, const int64_t *ids, size_t n, char *out);
/* A dataset of windows over tokens [begin, end) (e.g. a train and a validation split):
 * item k is x = tokens[begin + k*stride .. + context) and y the same shifted by one (the
 * next-token targets), both int64 [context]; batches are [B, context]. Items: every
 * start whose target fits in the range. The corpus is borrowed and must outlive it. */
nb_dataset *nb_corpus_windows(const nb_corpus *c, int64_t context, int64_t stride, int64_t begin,
                              int64_t end);

/* ---- the data loader (dataloader.c) ---------------------------------------------------- */

/* Most channels normalisation takes a mean and std for. */
#define NB_DATA_MAX_CHANNELS 16

/* Loader options. Start from nb_dataloader_defaults() and change what you need. */
typedef struct nb_dataloader_opts {
  int64_t batch_size; /* >= 1; default 1 */
  bool shuffle;       /* a new permutation each epoch, from (seed, epoch); default false */
  uint64_t seed;      /* shuffling and augmentation seed; default 0 */
  bool drop_last;     /* drop the last partial batch (per rank); default false */
  /* Sharding (like PyTorch's DistributedSampler): the epoch's order is padded by
   * wrapping around to a multiple of world_size and rank r takes positions r,
   * r+world_size, ...; so shards are disjoint (apart from the wrapped padding) and every
   * rank gets the same number of batches. Default rank 0 of world_size 1. */
  int rank, world_size;
  /* Normalisation of x, after augmentation: per channel c (dimension 1 of the batch)
   * x = (x - mean[c]) / std[c]; n_channels 0 (default) means none, 1 applies mean[0],
   * std[0] to every channel. Needs a floating x. */
  int n_channels;
  double mean[NB_DATA_MAX_CHANNELS], std[NB_DATA_MAX_CHANNELS];
  /* Augmentation of x [B,C,H,W] (or [B,H,W]), per item, seeded and deterministic per
   * (seed, epoch, dataset index): a random crop of the same H,W from the image padded
   * with crop_padding zeros on each side (0: off), then a horizontal flip with
   * probability 1/2 when hflip. Default off. */
  int crop_padding;
  bool hflip;
  bool prefetch;      /* prepare the next batch in a background thread; default true */
} nb_dataloader_opts;

typedef struct nb_dataloader nb_dataloader; /* opaque */

/* The default options (batch_size 1, no shuffle, seed 0, world_size 1, prefetch on). */
nb_dataloader_opts nb_dataloader_defaults(void);
/* A loader over ds (borrowed: it must outlive the loader); opts NULL means defaults.
 * Options are checked (batch_size, rank < world_size, std > 0, ...) and copied. */
nb_dataloader *nb_dataloader_new(nb_dataset *ds, const nb_dataloader_opts *opts);
/* Stop the background thread (joined) and free everything (NULL-safe). */
void nb_dataloader_free(nb_dataloader *dl);
/* Begin epoch `epoch` (>= 0): computes its order and, with prefetch, starts loading the
 * first batch. Calling it mid-epoch abandons the rest. Returns 0 or a negative status. */
int nb_dataloader_start_epoch(nb_dataloader *dl, int64_t epoch);
/* The next batch of the epoch into *x, *y (registered in the caller's current scope).
 * Returns 1 for a batch, 0 at the end of the epoch (until the next start_epoch), or a
 * negative status with an error. Starts epoch 0 if none was started. */
int nb_dataloader_next(nb_dataloader *dl, nb_tensor **x, nb_tensor **y);
/* Batches per epoch for this rank (the same for every rank). */
int64_t nb_dataloader_num_batches(const nb_dataloader *dl);
/* Samples per epoch for this rank, before drop_last (ceil(len / world_size)). */
int64_t nb_dataloader_num_samples(const nb_dataloader *dl);
/* The dataset indices this rank visits in `epoch`, in order, into out[0..cap-1] (before
 * drop_last). Returns the count (nb_dataloader_num_samples) or a negative status. */
int64_t nb_dataloader_epoch_indices(const nb_dataloader *dl, int64_t epoch, int64_t *out,
                                    int64_t cap);

#ifdef __cplusplus
}
#endif
#endif
