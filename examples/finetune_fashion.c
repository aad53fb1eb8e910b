/* examples/finetune_fashion.c — finetuning on real data: a feature extractor trained on
 * one half of Fashion-MNIST's classes, reused frozen for the other half.
 *
 *   1. pretrain LeNet on classes 0-4 (T-shirt/top ... Coat) and save it;
 *   2. load it into a fresh LeNet, freeze every parameter, keep the body in eval mode
 *      (batch-norm statistics fixed too), and replace fc3 with a new Linear(84, 5);
 *   3. train only the new classifier on classes 5-9 (Sandal ... Ankle boot) and report
 *      its test accuracy;
 *   4. check that every frozen tensor (parameters and buffers) is unchanged bit for bit.
 *
 * Usage: finetune_fashion [--data DIR] [--epochs N] [--limit N] [--threads N] [--out FILE]
 * --limit keeps the first N training images of each half (quick runs and the test). The
 * exit status is 1 when a frozen tensor changed; 77 when the data set is missing.
 */
#include <nabla/nabla.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "example_util.h" /* CHECK */
#include "models.h"

enum { BATCH = 64, HALF = 5 };

/* The images of classes [lo, lo + 5) of a split, their labels shifted to 0..4, as an
 * in-memory dataset (at most `limit` items when limit > 0). */
static nb_dataset *half_of(nb_dataset *all, int lo, int64_t limit) {
  int64_t n = nb_dataset_len(all), *idx = malloc((size_t)n * sizeof *idx), k = 0;
  nb_dataset *ds = NULL;
  nb_scope_begin();
  nb_tensor *x, *y;
  /* the labels, item by item; then one batch of the chosen items */
  for (int64_t i = 0; idx && i < n && (limit <= 0 || k < limit); i++) {
    if (nb_dataset_get(all, i, &x, &y) < 0) break;
    int64_t label = (int64_t)nb_item(y);
    if (label >= lo && label < lo + HALF) idx[k++] = i;
  }
  if (idx && nb_dataset_get_batch(all, idx, k, &x, &y) == 0)
    ds = nb_tensor_dataset_new(x, nb_sub_scalar(y, lo));
  nb_scope_end();
  free(idx);
  return ds;
}

/* One epoch over the loader; the optimizer updates what it was given. 0 or 1. */
static int train_epoch(nb_module *model, nb_optimizer *opt, nb_dataloader *dl, int64_t epoch) {
  CHECK(nb_dataloader_start_epoch(dl, epoch) == 0);
  nb_tensor *x, *y;
  int rc = 0;
  while (nb_scope_begin() > 0 && (rc = nb_dataloader_next(dl, &x, &y)) == 1) {
    CHECK(nb_optimizer_zero_grad(opt, true) == 0);
    nb_tensor *loss = nb_cross_entropy(nb_module_forward(model, x), y, NULL, "mean", -100, 0);
    CHECK(loss && nb_backward(loss, NULL, 0) == 0 && nb_optimizer_step(opt) == 0);
    nb_scope_end();
  }
  nb_scope_end();
  return rc < 0 ? 1 : 0;
}

/* Accuracy in [0, 1] of the model's first `classes` logits over `test`, or -1. */
static double accuracy(nb_module *model, nb_dataset *test, int classes) {
  nb_dataloader_opts o = nb_dataloader_defaults();
  o.batch_size = 500;
  nb_dataloader *dl = nb_dataloader_new(test, &o);
  if (!dl || nb_dataloader_start_epoch(dl, 0) < 0) return -1;
  int64_t right = 0, total = 0;
  nb_tensor *x, *y;
  nb_no_grad_begin();
  while (nb_scope_begin() > 0 && nb_dataloader_next(dl, &x, &y) == 1) {
    nb_tensor *logits = nb_module_forward(model, x), *pred = NULL;
    if (logits) nb_max_dim(logits, 1, false, &pred);
    const int64_t *p = pred ? nb_data(pred) : NULL, *t = nb_data(y);
    for (int64_t i = 0; p && i < nb_numel(y); i++) right += p[i] == t[i] && p[i] < classes;
    total += nb_numel(y);
    nb_scope_end();
  }
  nb_scope_end();
  nb_grad_mode_end();
  nb_dataloader_free(dl);
  return total ? (double)right / (double)total : -1;
}

int main(int argc, char **argv) {
  const char *dir = NB_FASHION_MNIST_DIR, *out = "fashion_0to4.safetensors";
  int epochs = 1, threads = 0;
  int64_t limit = 0;
  for (int i = 1; i < argc; i++) {
    bool more = i + 1 < argc;
    if (!strcmp(argv[i], "--data") && more) dir = argv[++i];
    else if (!strcmp(argv[i], "--epochs") && more) epochs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--limit") && more) limit = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && more) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--out") && more) out = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--data DIR] [--epochs N] [--limit N] [--threads N] "
                      "[--out FILE]\n", argv[0]);
      return !strcmp(argv[i], "--help") ? 0 : 2;
    }
  }
  if (epochs < 1 || limit < 0 || threads < 0) {
    fprintf(stderr, "%s: --epochs must be >= 1, --limit and --threads >= 0\n", argv[0]);
    return 2;
  }
  if (threads) CHECK(nb_set_num_threads(threads) == 0);
  if (access(dir, R_OK) != 0) {
    fprintf(stderr, "%s: no data set in %s (apt-get install dataset-fashion-mnist)\n", argv[0], dir);
    return 77;
  }
  nb_dataset *train_all = nb_mnist_open(dir, true), *test_all = nb_mnist_open(dir, false);
  CHECK(train_all && test_all);
  nb_dataset *pre_train = half_of(train_all, 0, limit), *pre_test = half_of(test_all, 0, 0);
  nb_dataset *ft_train = half_of(train_all, HALF, limit), *ft_test = half_of(test_all, HALF, 0);
  CHECK(pre_train && pre_test && ft_train && ft_test);
  nb_dataloader_opts o = nb_dataloader_defaults();
  o.batch_size = BATCH;
  o.shuffle = true;
  o.seed = 1;
  nb_generator *gen = nb_generator_new(1);

  /* 1. pretrain on classes 0-4 (labels 0..4 of LeNet's 10 outputs) and save */
  nb_module *pre = lenet_new(gen);
  nb_named_tensors *all = nb_module_named_parameters(pre);
  nb_optimizer *opt = nb_optimizer_new("sgd", all->n, all->tensors, 2,
                                       (nb_attr[]){NB_A_FLOAT("lr", 0.05), NB_A_FLOAT("momentum", 0.9)});
  nb_dataloader *dl = nb_dataloader_new(pre_train, &o);
  CHECK(pre && opt && dl);
  for (int e = 0; e < epochs; e++) CHECK(train_epoch(pre, opt, dl, e) == 0);
  nb_module_train(pre, false);
  printf("pretrained on classes 0-4: test accuracy %.2f %%\n", 100 * accuracy(pre, pre_test, HALF));
  CHECK(nb_module_save(pre, out) == 0);
  nb_dataloader_free(dl);
  nb_optimizer_free(opt);
  nb_named_tensors_free(all);
  nb_module_free(pre);

  /* 2. a fresh LeNet with those weights, frozen, with a new 5-way classifier */
  nb_module *model = lenet_new(gen);
  CHECK(model && nb_module_load(model, out, true) >= 0);
  CHECK(nb_module_set_requires_grad(model, false) == 0);
  CHECK(nb_module_replace(model, "fc3", nb_linear_new(84, HALF, true, gen)) == 0);
  nb_module_train(model, false); /* the body is a fixed feature extractor */
  nb_module *head = nb_module_child(model, "fc3");
  nb_module_train(head, true);
  nb_named_tensors *frozen = nb_module_state_dict(model), *trainable = nb_module_named_parameters(head);
  CHECK(frozen && trainable);
  nb_scope_begin();
  nb_tensor **before = calloc((size_t)frozen->n, sizeof *before);
  for (int i = 0; before && i < frozen->n; i++)
    if (strncmp(frozen->names[i], "fc3.", 4)) before[i] = nb_copy_data(frozen->tensors[i]);
  printf("parameters: %lld, trainable: %lld\n", (long long)nb_module_num_parameters(model, false),
         (long long)nb_module_num_parameters(model, true));

  /* 3. train only fc3 on classes 5-9 */
  opt = nb_optimizer_new("sgd", trainable->n, trainable->tensors, 2,
                         (nb_attr[]){NB_A_FLOAT("lr", 0.05), NB_A_FLOAT("momentum", 0.9)});
  dl = nb_dataloader_new(ft_train, &o);
  CHECK(opt && dl);
  for (int e = 0; e < epochs; e++) CHECK(train_epoch(model, opt, dl, e) == 0);
  nb_module_train(model, false);
  printf("finetuned classifier on classes 5-9: test accuracy %.2f %%\n",
         100 * accuracy(model, ft_test, HALF));

  /* 4. every frozen tensor unchanged, bit for bit */
  int checked = 0, changed = 0;
  for (int i = 0; before && i < frozen->n; i++) {
    if (!before[i]) continue;
    checked++;
    size_t bytes = (size_t)nb_numel(before[i]) * nb_dtype_size(nb_dtype_of(before[i]));
    if (memcmp(nb_data(before[i]), nb_data(frozen->tensors[i]), bytes)) {
      printf("CHANGED: %s\n", frozen->names[i]);
      changed++;
    }
  }
  printf("frozen tensors unchanged bit for bit: %d of %d\n", checked - changed, checked);
  nb_scope_end();
  free(before);
  nb_named_tensors_free(frozen);
  nb_named_tensors_free(trainable);
  nb_dataloader_free(dl);
  nb_optimizer_free(opt);
  nb_module_free(model);
  nb_generator_free(gen);
  for (nb_dataset **d = (nb_dataset *[]){pre_train, pre_test, ft_train, ft_test, train_all, test_all, NULL}; *d; d++)
    nb_dataset_free(*d);
  return changed || checked == 0 ? 1 : 0;
}
