/* tests/data/test_dataloader.c — datasets and the data loader.
 *
 * Datasets: the tensor dataset, user datasets through callbacks (items stacked, batches
 * split), and their errors. The loader: every index once per epoch, orders per (seed,
 * epoch), batch sizes with and without drop_last, shards (disjoint, equal, and equal to
 * every world_size-th position of the unsharded order), normalisation, crop and flip
 * against their definitions on tiny images, prefetch on/off identical, errors from the
 * worker thread, restarts and frees mid-epoch without leaks.
 */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

/* Tensor dataset of n items: x[i] = (i, -i) float64, y[i] = i int64. */
static nb_dataset *index_dataset(int64_t n) {
  nb_scope_begin();
  nb_tensor *x = nb_empty(2, (int64_t[]){n, 2}, NB_F64);
  nb_tensor *y = nb_empty(1, &n, NB_I64);
  double *xd = nb_data(x);
  int64_t *yd = nb_data(y);
  for (int64_t i = 0; i < n; i++) {
    xd[2 * i] = (double)i;
    xd[2 * i + 1] = -(double)i;
    yd[i] = i;
  }
  nb_dataset *ds = nb_tensor_dataset_new(x, y);
  nb_scope_end(); /* the dataset holds its own references */
  ck_assert_msg(ds != NULL, "%s", nb_last_error());
  return ds;
}

/* Run one epoch, appending every y value to ys (and checking x matches y); returns the
 * number of items and writes batch sizes to sizes[] (if not NULL). */
static int64_t run_epoch(nb_dataloader *dl, int64_t epoch, int64_t *ys, int64_t *sizes, int64_t *n_batches) {
  ck_assert_int_eq(nb_dataloader_start_epoch(dl, epoch), 0);
  int64_t n = 0, b = 0;
  nb_tensor *x, *y;
  int rc;
  while ((rc = nb_dataloader_next(dl, &x, &y)) == 1) {
    nb_scope_begin();
    int64_t bs = nb_shape(y)[0];
    ck_assert_int_eq(nb_shape(x)[0], bs);
    const double *xd = nb_data(x);
    const int64_t *yd = nb_data(y);
    for (int64_t k = 0; k < bs; k++) {
      ck_assert_double_eq(xd[2 * k], (double)yd[k]);
      ck_assert_double_eq(xd[2 * k + 1], -(double)yd[k]);
      ys[n++] = yd[k];
    }
    if (sizes) sizes[b] = bs;
    b++;
    nb_scope_end();
  }
  ck_assert_msg(rc == 0, "%s", nb_last_error());
  ck_assert_int_eq(nb_dataloader_next(dl, &x, &y), 0); /* stays at the end */
  ck_assert_int_eq(b, nb_dataloader_num_batches(dl));
  if (n_batches) *n_batches = b;
  return n;
}

static nb_dataloader *loader(nb_dataset *ds, int64_t bs, bool shuffle, uint64_t seed, bool drop_last,
                             bool prefetch) {
  nb_dataloader_opts o = nb_dataloader_defaults();
  o.batch_size = bs;
  o.shuffle = shuffle;
  o.seed = seed;
  o.drop_last = drop_last;
  o.prefetch = prefetch;
  nb_dataloader *dl = nb_dataloader_new(ds, &o);
  ck_assert_msg(dl != NULL, "%s", nb_last_error());
  return dl;
}

static bool same(const int64_t *a, const int64_t *b, int64_t n) { return memcmp(a, b, (size_t)n * sizeof *a) == 0; }

START_TEST(test_defaults_and_bad_opts) {
  nb_dataloader_opts o = nb_dataloader_defaults();
  ck_assert_int_eq(o.batch_size, 1);
  ck_assert_int_eq(o.world_size, 1);
  ck_assert(o.prefetch && !o.shuffle && !o.drop_last && o.n_channels == 0);
  nb_dataset *ds = index_dataset(10);
  o.batch_size = 0;
  ck_assert_ptr_null(nb_dataloader_new(ds, &o));
  ck_assert_error_contains("batch_size");
  o = nb_dataloader_defaults();
  o.world_size = 2;
  o.rank = 2;
  ck_assert_ptr_null(nb_dataloader_new(ds, &o));
  ck_assert_error_contains("rank < world_size");
  o = nb_dataloader_defaults();
  o.n_channels = 1;
  o.std[0] = 0;
  ck_assert_ptr_null(nb_dataloader_new(ds, &o));
  ck_assert_error_contains("std > 0");
  ck_assert_ptr_null(nb_dataloader_new(NULL, NULL));
  nb_dataloader *dl = nb_dataloader_new(ds, NULL); /* defaults: batches of 1, in order */
  int64_t ys[10];
  ck_assert_int_eq(run_epoch(dl, 0, ys, NULL, NULL), 10);
  for (int i = 0; i < 10; i++) ck_assert_int_eq(ys[i], i);
  nb_dataloader_free(dl);
  nb_dataset_free(ds);
}
END_TEST

/* Each index exactly once; orders per (seed, epoch); nb_dataloader_epoch_indices agrees. */
START_TEST(test_shuffle_orders) {
  enum { N = 103 };
  nb_dataset *ds = index_dataset(N);
  nb_dataloader *a = loader(ds, 10, true, 42, false, _i), *b = loader(ds, 10, true, 42, false, !_i);
  nb_dataloader *c = loader(ds, 10, true, 43, false, _i);
  int64_t e0[N], e1[N], b0[N], b1[N], c0[N], idx[N];
  ck_assert_int_eq(run_epoch(a, 0, e0, NULL, NULL), N);
  ck_assert_int_eq(run_epoch(a, 1, e1, NULL, NULL), N);
  ck_assert_int_eq(run_epoch(b, 1, b1, NULL, NULL), N); /* another loader, epochs in another order */
  ck_assert_int_eq(run_epoch(b, 0, b0, NULL, NULL), N);
  ck_assert_int_eq(run_epoch(c, 0, c0, NULL, NULL), N);
  for (int pass = 0; pass < 2; pass++) {
    const int64_t *e = pass ? e1 : e0;
    bool seen[N] = {false};
    for (int i = 0; i < N; i++) {
      ck_assert(e[i] >= 0 && e[i] < N);
      ck_assert_msg(!seen[e[i]], "index %lld twice", (long long)e[i]);
      seen[e[i]] = true;
    }
  }
  ck_assert(same(e0, b0, N));
  ck_assert(same(e1, b1, N));
  ck_assert(!same(e0, e1, N));
  ck_assert(!same(e0, c0, N));
  int64_t fixed = 0;
  for (int i = 0; i < N; i++) fixed += e0[i] == i;
  ck_assert_int_lt(fixed, 10); /* a permutation, not (nearly) the identity */
  ck_assert_int_eq(nb_dataloader_epoch_indices(a, 1, idx, N), N);
  ck_assert(same(idx, e1, N));
  ck_assert_int_lt(nb_dataloader_epoch_indices(a, 1, idx, N - 1), 0);
  ck_assert_error_contains("103 needed");
  /* the order does not depend on the thread count */
  int threads = nb_get_num_threads();
  nb_set_num_threads(1);
  ck_assert_int_eq(nb_dataloader_epoch_indices(a, 0, idx, N), N);
  nb_set_num_threads(threads);
  ck_assert(same(idx, e0, N));
  /* without shuffle: 0..N-1 every epoch */
  nb_dataloader *d = loader(ds, 10, false, 42, false, _i);
  ck_assert_int_eq(run_epoch(d, 5, e0, NULL, NULL), N);
  for (int i = 0; i < N; i++) ck_assert_int_eq(e0[i], i);
  nb_dataloader_free(a);
  nb_dataloader_free(b);
  nb_dataloader_free(c);
  nb_dataloader_free(d);
  nb_dataset_free(ds);
}
END_TEST

START_TEST(test_batch_sizes) {
  nb_dataset *ds = index_dataset(103), *ds100 = index_dataset(100), *empty = index_dataset(0);
  int64_t ys[103], sizes[20], nb;
  nb_dataloader *dl = loader(ds, 10, true, 1, false, _i);
  ck_assert_int_eq(nb_dataloader_num_batches(dl), 11);
  ck_assert_int_eq(run_epoch(dl, 0, ys, sizes, &nb), 103);
  for (int b = 0; b < 10; b++) ck_assert_int_eq(sizes[b], 10);
  ck_assert_int_eq(sizes[10], 3);
  nb_dataloader_free(dl);
  dl = loader(ds, 10, true, 1, true, _i);
  ck_assert_int_eq(nb_dataloader_num_batches(dl), 10);
  ck_assert_int_eq(run_epoch(dl, 0, ys, sizes, &nb), 100);
  for (int b = 0; b < 10; b++) ck_assert_int_eq(sizes[b], 10);
  /* the dropped items are the epoch's last three */
  int64_t all[103];
  ck_assert_int_eq(nb_dataloader_epoch_indices(dl, 0, all, 103), 103);
  ck_assert(same(ys, all, 100));
  nb_dataloader_free(dl);
  for (int drop = 0; drop < 2; drop++) {
    dl = loader(ds100, 10, false, 1, drop, _i);
    ck_assert_int_eq(run_epoch(dl, 0, ys, sizes, &nb), 100);
    ck_assert_int_eq(nb, 10);
    nb_dataloader_free(dl);
  }
  dl = loader(ds, 500, false, 1, false, _i); /* one partial batch */
  ck_assert_int_eq(run_epoch(dl, 0, ys, sizes, &nb), 103);
  ck_assert_int_eq(sizes[0], 103);
  nb_dataloader_free(dl);
  dl = loader(ds, 500, false, 1, true, _i); /* nothing left */
  ck_assert_int_eq(run_epoch(dl, 0, ys, sizes, &nb), 0);
  nb_dataloader_free(dl);
  dl = loader(empty, 4, true, 1, false, _i);
  ck_assert_int_eq(nb_dataloader_num_batches(dl), 0);
  ck_assert_int_eq(run_epoch(dl, 0, ys, sizes, &nb), 0);
  nb_dataloader_free(dl);
  nb_dataset_free(ds);
  nb_dataset_free(ds100);
  nb_dataset_free(empty);
}
END_TEST

/* Shards: rank r's j-th index is position r + j*W of the unsharded order, padded by
 * wrapping; so shards are equal-length and disjoint except for the wrapped padding. */
START_TEST(test_shards) {
  static const int64_t lens[] = {103, 100, 2};
  for (int t = 0; t < 3; t++) {
    int64_t N = lens[t];
    const int W = 4;
    nb_dataset *ds = index_dataset(N);
    int64_t full[103], shard[4][103], count[103] = {0};
    nb_dataloader *one = loader(ds, 5, true, 7, false, true);
    ck_assert_int_eq(nb_dataloader_epoch_indices(one, 3, full, N), N);
    int64_t per = (N + W - 1) / W, batches = -1;
    for (int r = 0; r < W; r++) {
      nb_dataloader_opts o = nb_dataloader_defaults();
      o.batch_size = 5;
      o.shuffle = true;
      o.seed = 7;
      o.rank = r;
      o.world_size = W;
      o.prefetch = r % 2;
      nb_dataloader *dl = nb_dataloader_new(ds, &o);
      ck_assert_msg(dl != NULL, "%s", nb_last_error());
      ck_assert_int_eq(nb_dataloader_num_samples(dl), per);
      if (batches < 0) batches = nb_dataloader_num_batches(dl);
      ck_assert_int_eq(nb_dataloader_num_batches(dl), batches);
      ck_assert_int_eq(run_epoch(dl, 3, shard[r], NULL, NULL), per);
      for (int64_t j = 0; j < per; j++) {
        ck_assert_int_eq(shard[r][j], full[(r + j * W) % N]);
        count[shard[r][j]]++;
      }
      nb_dataloader_free(dl);
    }
    /* every index at least once; exactly per*W - N of them twice (the padding) */
    int64_t twice = 0;
    for (int64_t i = 0; i < N; i++) {
      ck_assert_int_ge(count[i], 1);
      twice += count[i] - 1;
    }
    ck_assert_int_eq(twice, per * W - N);
    if (N == 100) /* divisible: disjoint shards */
      ck_assert_int_eq(twice, 0);
    nb_dataloader_free(one);
    nb_dataset_free(ds);
  }
}
END_TEST

/* x [B,3,2,2] float32 with x[b,c,k] = b*100 + c*10 + k, y = b. */
static nb_dataset *image_dataset(int64_t B, int64_t C, int64_t H, int64_t W, nb_dtype dt) {
  nb_scope_begin();
  nb_tensor *x = nb_empty(4, (int64_t[]){B, C, H, W}, dt);
  for (int64_t i = 0; i < B * C * H * W; i++) {
    int64_t b = i / (C * H * W), c = i / (H * W) % C, k = i % (H * W);
    double v = (double)(b * 100 + c * 10 + k + 1);
    if (dt == NB_F32) ((float *)nb_data(x))[i] = (float)v;
    else ((double *)nb_data(x))[i] = v;
  }
  nb_tensor *y = nb_arange(0, (double)B, 1, NB_I64);
  nb_dataset *ds = nb_tensor_dataset_new(x, y);
  nb_scope_end();
  ck_assert_msg(ds != NULL, "%s", nb_last_error());
  return ds;
}

START_TEST(test_normalisation) {
  nb_dataset *ds = image_dataset(5, 3, 2, 2, NB_F32);
  nb_dataloader_opts o = nb_dataloader_defaults();
  o.batch_size = 2;
  o.prefetch = _i;
  o.n_channels = 3;
  const double mean[3] = {0.5, 10, -2}, sd[3] = {2, 0.5, 4};
  memcpy(o.mean, mean, sizeof mean);
  memcpy(o.std, sd, sizeof sd);
  nb_dataloader *dl = nb_dataloader_new(ds, &o);
  nb_tensor *x, *y;
  int64_t seen = 0;
  while (nb_dataloader_next(dl, &x, &y) == 1) {
    ck_assert_int_eq(nb_dtype_of(x), NB_F32);
    for (int64_t k = 0; k < nb_shape(x)[0]; k++) {
      int64_t b = ((int64_t *)nb_data(y))[k];
      for (int c = 0; c < 3; c++)
        for (int p = 0; p < 4; p++) {
          float got = ((float *)nb_data(x))[k * 12 + c * 4 + p];
          float want = (float)(((double)(b * 100 + c * 10 + p + 1) - mean[c]) / sd[c]);
          ck_assert_float_eq(got, want);
        }
      seen++;
    }
  }
  ck_assert_int_eq(seen, 5);
  /* the dataset's own tensor is untouched */
  ck_assert_int_eq(nb_dataset_get(ds, 1, &x, &y), 0);
  ck_assert_float_eq(((float *)nb_data(x))[0], 101.0f);
  nb_dataloader_free(dl);
  /* one mean/std for every channel */
  o.n_channels = 1;
  o.mean[0] = 1;
  o.std[0] = 4;
  dl = nb_dataloader_new(ds, &o);
  ck_assert_int_eq(nb_dataloader_next(dl, &x, &y), 1);
  for (int i = 0; i < 24; i++) {
    int64_t b = i / 12, c = i / 4 % 3, p = i % 4;
    ck_assert_float_eq(((float *)nb_data(x))[i], (float)(((double)(b * 100 + c * 10 + p + 1) - 1) / 4));
  }
  nb_dataloader_free(dl);
  /* a mismatch in channels: an error from make_batch (through the worker when on) */
  o.n_channels = 2;
  dl = nb_dataloader_new(ds, &o);
  ck_assert_int_eq(nb_dataloader_next(dl, &x, &y), NB_ESHAPE);
  ck_assert_error_contains("2 channel means/stds but x has shape [2,3,2,2]");
  ck_assert_int_eq(nb_dataloader_next(dl, &x, &y), NB_ESTATE);
  ck_assert_error_contains("stopped at an error");
  ck_assert_int_eq(nb_dataloader_start_epoch(dl, 1), 0); /* restartable; fails the same way */
  ck_assert_int_eq(nb_dataloader_next(dl, &x, &y), NB_ESHAPE);
  nb_dataloader_free(dl);
  nb_dataset_free(ds);
}
END_TEST

/* The crop/flip of image `in` [C,H,W] (values all nonzero and distinct): find the
 * (sy, sx, flip), sy, sx in [-p, p], with out[c,i,j] = in[c, i+sy, jj+sx] (jj = W-1-j when
 * flipped, else j) or 0 outside the image. Returns how many fit (the last one found is
 * written out); fails when none does. */
static int identify(const float *in, const float *out, int C, int H, int W, int p, bool allow_flip, int *sy,
                    int *sx, bool *flip) {
  int found = 0;
  for (int f = 0; f < 1 + allow_flip; f++)
    for (int dy = -p; dy <= p; dy++)
      for (int dx = -p; dx <= p; dx++) {
        bool ok = true;
        for (int c = 0; c < C && ok; c++)
          for (int i = 0; i < H && ok; i++)
            for (int j = 0; j < W && ok; j++) {
              int si = i + dy, sj = (f ? W - 1 - j : j) + dx;
              float want = si < 0 || si >= H || sj < 0 || sj >= W ? 0.0f : in[(c * H + si) * W + sj];
              ok = out[(c * H + i) * W + j] == want;
            }
        if (ok) {
          *sy = dy;
          *sx = dx;
          *flip = f;
          found++;
        }
      }
  ck_assert_msg(found >= 1, "no crop/flip fits the output");
  return found;
}

/* Crops and flips: each output is exactly one shift/flip of its input (closed form,
 * same for every channel); all 9 shifts and both flips occur; same (seed, epoch) gives
 * the same choices, another epoch others. */
START_TEST(test_crop_flip) {
  enum { B = 200, C = 2, H = 4, W = 5 };
  nb_dataset *ds = image_dataset(B, C, H, W, _i ? NB_F64 : NB_F32);
  nb_dataloader_opts o = nb_dataloader_defaults();
  o.batch_size = 64;
  o.seed = 9;
  o.crop_padding = 1;
  o.hflip = true;
  o.shuffle = true;
  int hist[2][3][3] = {{{0}}};
  int choice[3][B][3];
  for (int run = 0; run < 3; run++) { /* epoch 0 with prefetch, 1 without, 0 again without */
    int epoch = run % 2;
    o.prefetch = run == 0;
    nb_dataloader *dl = nb_dataloader_new(ds, &o);
    ck_assert_int_eq(nb_dataloader_start_epoch(dl, epoch), 0);
    nb_tensor *x, *y;
    while (nb_dataloader_next(dl, &x, &y) == 1) {
      nb_scope_begin();
      nb_tensor *xf = nb_convert(x, NB_F32);
      for (int64_t k = 0; k < nb_shape(x)[0]; k++) {
        int64_t b = ((int64_t *)nb_data(y))[k];
        nb_tensor *in, *iy;
        ck_assert_int_eq(nb_dataset_get(ds, b, &in, &iy), 0);
        nb_tensor *inf = nb_convert(in, NB_F32);
        int sy, sx;
        bool flip;
        int fits = identify(nb_data(inf), (float *)nb_data(xf) + k * C * H * W, C, H, W, 1, true, &sy, &sx, &flip);
        ck_assert_int_eq(fits, 1); /* distinct values: only one crop/flip can fit */
        hist[flip][sy + 1][sx + 1]++;
        choice[run][b][0] = sy;
        choice[run][b][1] = sx;
        choice[run][b][2] = flip;
      }
      nb_scope_end();
    }
    nb_dataloader_free(dl);
  }
  for (int f = 0; f < 2; f++)
    for (int a = 0; a < 3; a++)
      for (int c = 0; c < 3; c++) ck_assert_msg(hist[f][a][c] > 0, "flip %d shift (%d,%d) never drawn", f, a - 1, c - 1);
  int flips = 0, differ = 0;
  for (int b = 0; b < B; b++) {
    flips += choice[0][b][2];
    differ += memcmp(choice[0][b], choice[1][b], sizeof choice[0][b]) != 0;
    /* the same (seed, epoch, index), prefetch on or off: the same crop and flip */
    ck_assert_int_eq(memcmp(choice[0][b], choice[2][b], sizeof choice[0][b]), 0);
  }
  ck_assert_msg(flips > 60 && flips < 140, "%d flips of 200", flips);
  ck_assert_int_gt(differ, 100); /* epochs draw independently: 17/18 of items differ on average */
  nb_dataset_free(ds);
}
END_TEST

/* Crop padding, flip only, then normalisation: padded zeros normalise to -mean/std; the
 * flip alone is the mirror image or the identity. */
START_TEST(test_crop_then_normalise) {
  nb_dataset *ds = image_dataset(8, 1, 3, 3, NB_F32);
  nb_dataloader_opts o = nb_dataloader_defaults();
  o.batch_size = 8;
  o.crop_padding = 3; /* offsets up to 3 on a 3x3 image: some outputs are all padding */
  o.n_channels = 1;
  o.mean[0] = 1;
  o.std[0] = 2;
  o.prefetch = _i;
  nb_dataloader *dl = nb_dataloader_new(ds, &o);
  nb_tensor *x, *y;
  ck_assert_int_eq(nb_dataloader_next(dl, &x, &y), 1);
  const float *xd = nb_data(x);
  int padded = 0;
  for (int k = 0; k < 8; k++) {
    /* undo the normalisation: exact in float32 for these small integers, and padding
     * (0 - 1) / 2 = -0.5 comes back as exactly 0 */
    float un[9];
    for (int p = 0; p < 9; p++) un[p] = xd[k * 9 + p] * 2 + 1;
    float in[9];
    for (int p = 0; p < 9; p++) in[p] = (float)(k * 100 + p + 1);
    int sy, sx;
    bool flip;
    identify(in, un, 1, 3, 3, 3, false, &sy, &sx, &flip);
    for (int p = 0; p < 9; p++) padded += xd[k * 9 + p] == -0.5f;
  }
  ck_assert_int_gt(padded, 0);
  nb_dataloader_free(dl);
  o.crop_padding = 0;
  o.hflip = true;
  o.n_channels = 0;
  dl = nb_dataloader_new(ds, &o);
  ck_assert_int_eq(nb_dataloader_next(dl, &x, &y), 1);
  xd = nb_data(x);
  for (int k = 0; k < 8; k++) {
    bool id = true, mirror = true;
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 3; j++) {
        float v = xd[k * 9 + i * 3 + j];
        id = id && v == (float)(k * 100 + i * 3 + j + 1);
        mirror = mirror && v == (float)(k * 100 + i * 3 + (2 - j) + 1);
      }
    ck_assert(id != mirror);
  }
  nb_dataloader_free(dl);
  /* crop needs images */
  nb_dataset *flat = index_dataset(4);
  dl = nb_dataloader_new(flat, &o);
  ck_assert_int_eq(nb_dataloader_next(dl, &x, &y), NB_ESHAPE);
  ck_assert_error_contains("crop/flip need x of shape [B,C,H,W] or [B,H,W], not [4,2]");
  nb_dataloader_free(dl);
  nb_dataset_free(flat);
  nb_dataset_free(ds);
}
END_TEST

/* With everything on, prefetch on and off give bit-identical batches. */
START_TEST(test_prefetch_identical) {
  nb_dataset *ds = image_dataset(37, 3, 6, 6, NB_F32);
  nb_dataloader_opts o = nb_dataloader_defaults();
  o.batch_size = 8;
  o.shuffle = true;
  o.seed = 1234;
  o.crop_padding = 2;
  o.hflip = true;
  o.n_channels = 3;
  for (int c = 0; c < 3; c++) {
    o.mean[c] = 50.0 * c;
    o.std[c] = 1.0 + c;
  }
  o.prefetch = true;
  nb_dataloader *a = nb_dataloader_new(ds, &o);
  o.prefetch = false;
  nb_dataloader *b = nb_dataloader_new(ds, &o);
  for (int64_t epoch = 0; epoch < 3; epoch++) {
    ck_assert_int_eq(nb_dataloader_start_epoch(a, epoch), 0);
    ck_assert_int_eq(nb_dataloader_start_epoch(b, epoch), 0);
    int ra, rb, n = 0;
    nb_tensor *xa, *ya, *xb, *yb;
    while ((ra = nb_dataloader_next(a, &xa, &ya)) == 1) {
      rb = nb_dataloader_next(b, &xb, &yb);
      ck_assert_int_eq(rb, 1);
      ck_assert(nb_same_shape(xa, xb) && nb_same_shape(ya, yb));
      ck_assert_int_eq(memcmp(nb_data(xa), nb_data(xb), (size_t)nb_numel(xa) * 4), 0);
      ck_assert_int_eq(memcmp(nb_data(ya), nb_data(yb), (size_t)nb_numel(ya) * 8), 0);
      n++;
    }
    ck_assert_int_eq(ra, 0);
    ck_assert_int_eq(nb_dataloader_next(b, &xb, &yb), 0);
    ck_assert_int_eq(n, 5);
  }
  nb_dataloader_free(a);
  nb_dataloader_free(b);
  nb_dataset_free(ds);
}
END_TEST

/* ---- user datasets through callbacks ------------------------------------------------------ */

typedef struct user_ds {
  int64_t n, fail_at; /* get_item fails at this index (-1: never) */
  int64_t odd_at;     /* this item has another shape (-1: never) */
  int frees;
} user_ds;

static int64_t u_len(void *u) { return ((user_ds *)u)->n; }
static int u_item(void *u, int64_t i, nb_tensor **x, nb_tensor **y) {
  user_ds *d = u;
  if (i == d->fail_at) return nb_set_error(NB_EIO, "user dataset: disk on fire at item %lld", (long long)i);
  int64_t w = i == d->odd_at ? 4 : 3;
  *x = nb_full(1, &w, (double)i, NB_F32); /* scoped: the library keeps its own reference */
  *y = nb_scalar((double)(i % 7), NB_I64);
  return 0;
}
static int u_batch_only(void *u, const int64_t *idx, int64_t n, nb_tensor **x, nb_tensor **y) {
  (void)u;
  *x = nb_empty(2, (int64_t[]){n, 2}, NB_F64);
  *y = nb_empty(1, &n, NB_I64);
  for (int64_t k = 0; k < n; k++) {
    ((double *)nb_data(*x))[2 * k] = (double)idx[k];
    ((double *)nb_data(*x))[2 * k + 1] = -(double)idx[k];
    ((int64_t *)nb_data(*y))[k] = idx[k];
  }
  return 0;
}
static void u_free(void *u) { ((user_ds *)u)->frees++; }

START_TEST(test_user_dataset) {
  user_ds u = {.n = 50, .fail_at = -1, .odd_at = -1};
  nb_dataset *ds = nb_dataset_new(&(nb_dataset_ops){.len = u_len, .get_item = u_item, .free = u_free}, &u);
  ck_assert_ptr_nonnull(ds);
  ck_assert_int_eq(nb_dataset_len(ds), 50);
  nb_tensor *x, *y;
  ck_assert_int_eq(nb_dataset_get_batch(ds, (int64_t[]){4, 9, 0}, 3, &x, &y), 0);
  nb_test_assert_shape(x, 2, (int64_t[]){3, 3});
  nb_test_assert_shape(y, 1, (int64_t[]){3});
  const double wantx[9] = {4, 4, 4, 9, 9, 9, 0, 0, 0}, wanty[3] = {4, 2, 0};
  ck_assert_tensor_values(x, wantx, 9, 0);
  ck_assert_tensor_values(y, wanty, 3, 0);
  ck_assert_int_lt(nb_dataset_get_batch(ds, (int64_t[]){4, 50}, 2, &x, &y), 0);
  ck_assert_error_contains("index 50 out of range [0, 50)");
  /* a loader over it, stacking items in the worker thread */
  nb_dataloader_opts o = nb_dataloader_defaults();
  o.batch_size = 8;
  o.shuffle = true;
  nb_dataloader *dl = nb_dataloader_new(ds, &o);
  int64_t total = 0;
  while (nb_dataloader_next(dl, &x, &y) == 1) {
    for (int64_t k = 0; k < nb_shape(x)[0]; k++)
      ck_assert_int_eq((int64_t)((float *)nb_data(x))[3 * k] % 7, ((int64_t *)nb_data(y))[k]);
    total += nb_shape(x)[0];
  }
  ck_assert_int_eq(total, 50);
  /* a failing item: the worker's message reaches the caller's thread */
  u.fail_at = 20;
  o.shuffle = false;
  o.batch_size = 5;
  for (int pf = 0; pf < 2; pf++) {
    o.prefetch = pf;
    nb_dataloader *f = nb_dataloader_new(ds, &o);
    int rc, got = 0;
    while ((rc = nb_dataloader_next(f, &x, &y)) == 1) got++;
    ck_assert_int_eq(got, 4); /* batches 0..3 fine, batch 4 holds item 20 */
    ck_assert_int_eq(rc, NB_EIO);
    ck_assert_error_contains("disk on fire at item 20");
    nb_dataloader_free(f);
  }
  u.fail_at = -1;
  u.odd_at = 7;
  ck_assert_int_lt(nb_dataset_get_batch(ds, (int64_t[]){6, 7}, 2, &x, &y), 0);
  ck_assert_error_contains("item 7 has x float32 [4], unlike the first item's float32 [3]");
  nb_dataloader_free(dl);
  nb_dataset_free(ds);
  ck_assert_int_eq(u.frees, 1);

  /* batch-only dataset: items come from batches of one */
  ds = nb_dataset_new(&(nb_dataset_ops){.len = u_len, .get_batch = u_batch_only}, &u);
  ck_assert_int_eq(nb_dataset_get(ds, 12, &x, &y), 0);
  nb_test_assert_shape(x, 1, (int64_t[]){2});
  ck_assert_int_eq(nb_ndim(y), 0);
  ck_assert_double_eq(nb_item(y), 12);
  const double want12[2] = {12, -12};
  ck_assert_tensor_values(x, want12, 2, 0);
  nb_dataset_free(ds);
  ck_assert_ptr_null(nb_dataset_new(&(nb_dataset_ops){.len = u_len}, &u));
  ck_assert_error_contains("get_item or get_batch");
}
END_TEST

/* Restart and free mid-epoch with a prefetched batch pending: nothing leaks; a restarted
 * epoch is complete. The checked fixture compares live tensors before and after. */
START_TEST(test_restart_and_free_mid_epoch) {
  nb_dataset *ds = index_dataset(64);
  nb_dataloader *dl = loader(ds, 4, true, 5, false, true);
  nb_tensor *x, *y;
  for (int k = 0; k < 3; k++) ck_assert_int_eq(nb_dataloader_next(dl, &x, &y), 1);
  int64_t ys[64];
  ck_assert_int_eq(run_epoch(dl, 2, ys, NULL, NULL), 64);
  int64_t want[64];
  ck_assert_int_eq(nb_dataloader_epoch_indices(dl, 2, want, 64), 64);
  ck_assert(same(ys, want, 64));
  ck_assert_int_eq(nb_dataloader_start_epoch(dl, 3), 0);
  ck_assert_int_eq(nb_dataloader_next(dl, &x, &y), 1);
  nb_dataloader_free(dl); /* batch 1 is (being) prefetched */
  dl = loader(ds, 4, true, 5, false, true);
  ck_assert_int_eq(nb_dataloader_start_epoch(dl, 0), 0);
  nb_dataloader_free(dl); /* never asked for a batch */
  nb_dataloader_free(NULL);
  ck_assert_int_lt(nb_dataloader_start_epoch(NULL, 0), 0);
  nb_dataset_free(ds);
}
END_TEST

static Suite *dataloader_suite(void) {
  Suite *s = suite_create("dataloader");
  TCase *tc = tcase_create("dataloader");
  tcase_add_checked_fixture(tc, nb_test_scope_setup, nb_test_scope_teardown);
  tcase_add_test(tc, test_defaults_and_bad_opts);
  tcase_add_loop_test(tc, test_shuffle_orders, 0, 2);
  tcase_add_loop_test(tc, test_batch_sizes, 0, 2);
  tcase_add_test(tc, test_shards);
  tcase_add_loop_test(tc, test_normalisation, 0, 2);
  tcase_add_loop_test(tc, test_crop_flip, 0, 2);
  tcase_add_loop_test(tc, test_crop_then_normalise, 0, 2);
  tcase_add_test(tc, test_prefetch_identical);
  tcase_add_test(tc, test_user_dataset);
  tcase_add_test(tc, test_restart_and_free_mid_epoch);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(dataloader_suite()); }
