/* examples/train_fashion.c — README command one: train a LeNet-style CNN on Fashion-MNIST.
 *
 *   model = LeNet()                                   # models/lenet.c
 *   loader = DataLoader(train_set, batch_size=64, shuffle=True)
 *   optimizer = Adam(model.parameters(), lr=4e-3); scheduler = CosineAnnealingLR(optimizer, epochs)
 *   for epoch in range(epochs):
 *       for x, y in loader: loss = F.cross_entropy(model(x), y); loss.backward(); step()
 *       evaluate on the test set; save a checkpoint
 *
 * The machinery comes from the library: the data loader (<nabla/data.h>), a progress bar
 * (progress.h), a JSON Lines metrics log (metrics.h), an SVG plot (plot.h), checkpoints
 * (checkpoint.h) and Ctrl-C handling (interrupt.h). examples/train_fashion.py is the
 * same run in PyTorch. `train_fashion --help` lists the flags.
 *
 * --distributed trains data-parallel (<nabla/ddp.h>) over every process of the job:
 * `mpirun -np 4 train_fashion --distributed`. The global batch (--batch-size) is split
 * across the ranks, each reading its shard of every epoch; gradients are averaged during
 * backward; the test set is split for evaluation and the counts summed. Only rank 0
 * prints, writes the metrics log, checkpoints and plots. A checkpoint is the same file
 * either way, so a distributed run resumes from a single-process one and back.
 */
#include <nabla/nabla.h>

#include "models.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "example_util.h" /* CHECK */

typedef struct options {
  long epochs, batch_size, threads, limit;
  double lr;
  uint64_t seed;
  const char *optimizer, *data, *checkpoint, *plot, *metrics;
  bool resume, distributed;
} options;

static void usage(FILE *f) {
  fputs("Usage: train_fashion [OPTIONS]\n"
        "Train a LeNet-style CNN on Fashion-MNIST and report test accuracy per epoch.\n\n"
        "  --epochs N           epochs to train (default 5; 0: evaluate the initial model)\n"
        "  --batch-size N       images per batch (default 64)\n"
        "  --lr X               learning rate, annealed to 0 on a cosine (default 0.004)\n"
        "  --optimizer NAME     adam or sgd (momentum 0.9) (default adam)\n"
        "  --threads N          compute threads per process (default 1: LeNet's layers are\n"
        "                       too small to gain from more; --distributed: the cores of\n"
        "                       this machine divided among its ranks)\n"
        "  --seed N             seed of the initial weights and the data order (default 1)\n"
        "  --data DIR           the Fashion-MNIST files (default " NB_FASHION_MNIST_DIR ")\n"
        "  --limit N            train on the first N training images only (default: all)\n"
        "  --checkpoint FILE    save a checkpoint after every epoch and on Ctrl-C\n"
        "  --resume             continue from --checkpoint FILE when it exists\n"
        "  --plot FILE.svg      draw loss and accuracy curves after every epoch\n"
        "  --metrics FILE.jsonl log every batch and epoch as JSON Lines\n"
        "  --distributed        data-parallel over the processes of an MPI job (mpirun -np N\n"
        "                       train_fashion --distributed; alone: 1 process); --batch-size\n"
        "                       is the global batch, split evenly; rank 0 prints and writes\n"
        "  -h, --help           this help\n\n"
        "Ctrl-C stops after the current batch and saves the checkpoint; twice quits at once.\n",
        f);
}


/* Parse argv into o. Returns 0, 1 for --help, or 2 after printing a usage error. */
static int parse_args(int argc, char **argv, options *o) {
  *o = (options){.epochs = 5, .batch_size = 64, .lr = 0.004, .seed = 1, .optimizer = "adam",
                 .data = NB_FASHION_MNIST_DIR, .threads = 0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
    bool ok = true;
    const char *need = "a whole number >= 1";
    long seed;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
    if (!strcmp(a, "--resume")) { o->resume = true; continue; }
    if (!strcmp(a, "--distributed")) { o->distributed = true; continue; }
    if (!strcmp(a, "--epochs")) ok = to_long(v, 0, &o->epochs), need = "a whole number >= 0";
    else if (!strcmp(a, "--batch-size")) ok = to_long(v, 1, &o->batch_size);
    else if (!strcmp(a, "--threads")) ok = to_long(v, 1, &o->threads);
    else if (!strcmp(a, "--limit")) ok = to_long(v, 1, &o->limit);
    else if (!strcmp(a, "--seed")) ok = to_long(v, 0, &seed), o->seed = (uint64_t)seed, need = "a whole number >= 0";
    else if (!strcmp(a, "--lr")) ok = to_positive(v, &o->lr), need = "a positive number";
    else if (!strcmp(a, "--optimizer")) ok = !strcmp(v, "adam") || !strcmp(v, "sgd"), o->optimizer = v, need = "adam or sgd";
    else if (!strcmp(a, "--data")) o->data = v, need = "a directory";
    else if (!strcmp(a, "--checkpoint")) o->checkpoint = v, need = "a file name";
    else if (!strcmp(a, "--plot")) o->plot = v, need = "a file name";
    else if (!strcmp(a, "--metrics")) o->metrics = v, need = "a file name";
    else {
      fprintf(stderr, "train_fashion: unknown option '%s'\nTry 'train_fashion --help'.\n", a);
      return 2;
    }
    if (i + 1 >= argc || !*v || !ok) {
      fprintf(stderr, "train_fashion: %s needs %s%s%s%s\nTry 'train_fashion --help'.\n", a, need,
              i + 1 < argc ? ", not '" : "", i + 1 < argc ? v : "", i + 1 < argc ? "'" : "");
      return 2;
    }
    i++;
  }
  if (o->resume && !o->checkpoint) {
    fputs("train_fashion: --resume needs --checkpoint FILE\nTry 'train_fashion --help'.\n", stderr);
    return 2;
  }
  return 0;
}

/* The job this process belongs to: one process of one, or a rank of an MPI job. */
typedef struct job {
  nb_comm *comm; /* NULL without --distributed */
  int rank, size;
} job;

/* Sum n doubles over every process (a no-op alone). */
static int sum_all(const job *j, double *v, int n) {
  if (!j->comm || j->size == 1) return 0;
  nb_scope_begin();
  nb_tensor *t = nb_from_data(v, 1, (int64_t[]){n}, NB_F64);
  int rc = t ? nb_comm_allreduce(j->comm, t, NB_REDUCE_SUM) : nb_last_status();
  if (rc == 0) memcpy(v, nb_data(t), (size_t)n * sizeof *v);
  nb_scope_end();
  return rc;
}

/* This rank's share of a dataset: a contiguous slice, in memory (the test set is split
 * for evaluation so that every image counts exactly once, whatever the number of ranks). */
static nb_dataset *slice_of(nb_dataset *ds, const job *j) {
  int64_t n = nb_dataset_len(ds), lo = n * j->rank / j->size, hi = n * (j->rank + 1) / j->size;
  nb_scope_begin();
  nb_tensor *x, *y, *idx = nb_arange((double)lo, (double)hi, 1, NB_I64);
  nb_dataset *out = idx && nb_dataset_get_batch(ds, nb_data(idx), hi - lo, &x, &y) == 0
                        ? nb_tensor_dataset_new(x, y) : NULL;
  nb_scope_end();
  return out;
}

/* Evaluate on this rank's slice, then add up every rank's counts. */
static int evaluate(nb_module *net, nb_dataloader *dl, const job *j, nb_class_eval *e) {
  CHECK(nb_evaluate_classifier(net, dl, 10, e) == 0);
  if (!j->comm || j->size == 1) return 0;
  double v[2 + 2 * 10] = {e->loss * (double)e->n, (double)e->n};
  for (int c = 0; c < 10; c++) v[2 + c] = (double)e->correct[c], v[12 + c] = (double)e->total[c];
  CHECK(sum_all(j, v, 22) == 0);
  double right = 0;
  for (int c = 0; c < 10; c++) {
    e->correct[c] = (int64_t)v[2 + c], e->total[c] = (int64_t)v[12 + c];
    right += v[2 + c];
  }
  e->n = (int64_t)v[1];
  e->loss = v[0] / v[1];
  e->accuracy = right / v[1];
  return 0;
}

static int train(const options *opts, const job *j) {
  options o = *opts;
  bool lead = j->rank == 0; /* prints and writes files */
  nb_ddp *ddp = NULL;
  if (o.distributed && o.batch_size % j->size != 0) {
    if (lead)
      fprintf(stderr, "train_fashion: --batch-size %ld does not split evenly over %d processes\n",
              o.batch_size, j->size);
    return 2;
  }

  /* Data: pixels scaled to [0,1], then normalised with the training set's mean and std. */
  nb_dataset *train_set = nb_mnist_open(o.data, true), *test_set = nb_mnist_open(o.data, false);
  CHECK(train_set && test_set);
  nb_dataset *train = train_set, *test_part = test_set;
  if (o.limit && o.limit < nb_dataset_len(train_set)) { /* the first N images, in memory */
    nb_scope_begin();
    nb_tensor *x, *y, *idx = nb_arange(0, (double)o.limit, 1, NB_I64);
    CHECK(nb_dataset_get_batch(train_set, nb_data(idx), o.limit, &x, &y) == 0);
    CHECK((train = nb_tensor_dataset_new(x, y))); /* keeps its own references */
    nb_scope_end();
  }
  if (j->size > 1) CHECK((test_part = slice_of(test_set, j)));
  nb_dataloader_opts lo = nb_dataloader_defaults();
  lo.batch_size = o.batch_size / j->size; /* this rank's share of the global batch */
  lo.n_channels = 1;
  lo.mean[0] = NB_FASHION_MNIST_MEAN;
  lo.std[0] = NB_FASHION_MNIST_STD;
  nb_dataloader_opts to = lo;
  to.batch_size = 1000;
  lo.shuffle = true;
  lo.seed = o.seed;
  lo.rank = j->rank; /* each rank its shard of every epoch, the same number of batches */
  lo.world_size = j->size;
  nb_dataloader *train_dl = nb_dataloader_new(train, &lo), *test_dl = nb_dataloader_new(test_part, &to);
  CHECK(train_dl && test_dl);
  int64_t batches = nb_dataloader_num_batches(train_dl);

  /* Model, optimizer and learning-rate schedule. */
  nb_generator *gen = nb_generator_new(o.seed);
  nb_module *net = lenet_new(gen);
  CHECK(net);
  nb_named_tensors *params = nb_module_named_parameters(net);
  bool sgd = !strcmp(o.optimizer, "sgd");
  nb_optimizer *opt = nb_optimizer_new(o.optimizer, params->n, params->tensors, sgd ? 2 : 1,
                                       (nb_attr[]){NB_A_FLOAT("lr", o.lr), NB_A_FLOAT("momentum", 0.9)});
  CHECK(opt);
  nb_lr_scheduler *sched = nb_cosine_annealing_lr_new(opt, o.epochs > 0 ? o.epochs : 1, 0);
  CHECK(sched);
  if (lead) {
    printf("LeNet: %lld parameters; %lld training images in %lld batches of %ld; %lld test images; "
           "%s lr %g; %d threads", (long long)nb_module_num_parameters(net, false),
           (long long)nb_dataset_len(train), (long long)batches, o.batch_size,
           (long long)nb_dataset_len(test_set), o.optimizer, o.lr, nb_get_num_threads());
    if (o.distributed)
      printf(" per process\ndistributed: %d process%s (backend %s), %ld images per process and step",
             j->size, j->size == 1 ? "" : "es", nb_comm_backend(j->comm), o.batch_size / j->size);
    printf("\n");
  }

  /* Resume: the checkpoint restores weights, optimizer state (and lr), position and RNG.
   * Distributed, every rank reads it (a path they can all read), and they must agree. */
  nb_checkpoint ck = {.model = net, .optimizer = opt, .n_generators = 1, .generators = &gen};
  if (o.resume && access(o.checkpoint, F_OK) != 0) {
    if (lead) printf("no checkpoint at %s yet: starting from scratch\n", o.checkpoint);
  } else if (o.resume) {
    CHECK(nb_checkpoint_load(&ck, o.checkpoint) == 0);
    if (ck.step != ck.epoch * batches + ck.batch || ck.batch >= batches) {
      fprintf(stderr, "train_fashion: %s was made with another --batch-size or --limit\n", o.checkpoint);
      return 1;
    }
    CHECK(nb_lr_scheduler_set_epoch(sched, ck.epoch) == 0);
    CHECK(nb_optimizer_set_lr(opt, 0, nb_lr_scheduler_last_lr(sched, 0)) == 0);
    if (lead)
      printf("resumed from %s: %lld epochs and %lld batches done\n", o.checkpoint,
             (long long)ck.epoch, (long long)ck.batch);
  }
  if (o.distributed) {
    double steps[2] = {(double)ck.step, (double)ck.step * ck.step};
    CHECK(sum_all(j, steps, 2) == 0);
    if (steps[0] * steps[0] != steps[1] * j->size) { /* not every rank at the same step */
      fprintf(stderr, "train_fashion: rank %d resumed at step %lld but the ranks disagree (is %s "
              "readable by every process?)\n", j->rank, (long long)ck.step, o.checkpoint);
      return 1;
    }
    /* rank 0's weights everywhere, gradients averaged from now on */
    CHECK((ddp = nb_ddp_new(net, j->comm, NULL)));
  }
  nb_metrics *log = nb_metrics_open(lead ? o.metrics : NULL, o.resume ? ck.step : -1);
  nb_progress *prog = nb_progress_new(stdout, o.epochs > 0 ? o.epochs : 1, batches,
                                      lead ? NB_PROGRESS_AUTO : NB_PROGRESS_QUIET);
  CHECK(log && prog);
  CHECK(nb_interrupt_install("\nstopping after this batch (Ctrl-C again to quit now)\n") == 0);

  nb_class_eval test = {0};
  bool stop = false;
  for (int64_t epoch = ck.epoch; epoch < o.epochs; epoch++) {
    /* The epoch's order is a function of (seed, epoch): a resumed epoch skips what was done. */
    CHECK(nb_dataloader_start_epoch(train_dl, epoch) == 0);
    nb_tensor *x, *y;
    for (int64_t b = 0; b < ck.batch; b++) {
      nb_scope_begin();
      CHECK(nb_dataloader_next(train_dl, &x, &y) == 1);
      nb_scope_end();
    }
    double right = 0, seen = 0, lr = nb_optimizer_get_lr(opt, 0);
    nb_progress_epoch_begin(prog, epoch + 1, ck.batch);
    for (int rc = 1; rc == 1;) {
      nb_scope_begin(); /* everything one step makes dies at its end */
      if ((rc = nb_dataloader_next(train_dl, &x, &y)) == 1) {
        CHECK(nb_optimizer_zero_grad(opt, true) == 0);
        nb_tensor *logits = nb_module_forward(net, x);
        nb_tensor *loss = nb_cross_entropy(logits, y, NULL, "mean", -100, 0);
        CHECK(loss && nb_backward(loss, NULL, 0) == 0);
        if (ddp) CHECK(nb_ddp_finish(ddp) == 0); /* .grad: the average over every rank */
        CHECK(nb_optimizer_step(opt) == 0);
        ck.step++, ck.batch++;
        /* the global batch's loss and hits, and whether any rank was interrupted (the
         * ranks must stop at the same batch) */
        double v[4] = {nb_item(loss), (double)nb_count_correct(logits, y), (double)nb_numel(y),
                       nb_interrupted() ? 1 : 0};
        CHECK(sum_all(j, v, 4) == 0);
        double hit = v[1], n = v[2], l = v[0] / j->size;
        stop = v[3] > 0;
        right += hit, seen += n;
        nb_progress_update(prog, (int64_t)n, l);
        CHECK(nb_metrics_log(log, "batch", epoch + 1, ck.step, 3, (nb_metric[]){
              {"loss", l}, {"acc", hit / n}, {"lr", lr}}) == 0);
      }
      nb_scope_end();
      CHECK(rc >= 0);
      if (stop && rc == 1 && ck.batch < batches) break; /* Ctrl-C: stop here */
    }
    if (ck.batch < batches) break;
    CHECK(evaluate(net, test_dl, j, &test) == 0);
    nb_progress_epoch_end(prog, "test loss %.4f  acc %.2f%%", test.loss, 100 * test.accuracy);
    CHECK(nb_metrics_log(log, "epoch", epoch + 1, ck.step, 7, (nb_metric[]){
          {"loss", nb_progress_loss(prog)}, {"acc", right / seen}, {"test_loss", test.loss},
          {"test_acc", test.accuracy}, {"lr", lr}, {"seconds", nb_progress_seconds(prog)},
          {"images_per_s", nb_progress_images_per_second(prog)}}) == 0);
    CHECK(nb_lr_scheduler_step(sched) == 0);
    ck.epoch = epoch + 1, ck.batch = 0;
    if (o.checkpoint && lead) CHECK(nb_checkpoint_save(&ck, o.checkpoint) == 0);
    if (o.plot && lead) CHECK(nb_plot_training_svg(log, o.plot, "LeNet on Fashion-MNIST") == 0);
    double irq = nb_interrupted() ? 1 : 0; /* Ctrl-C during the evaluation: every rank stops */
    CHECK(sum_all(j, &irq, 1) == 0);
    if (stop || irq > 0) {
      stop = true;
      break;
    }
  }
  if (stop) { /* Ctrl-C: save where we are (mid-epoch too), then stop */
    if (o.checkpoint && lead) CHECK(nb_checkpoint_save(&ck, o.checkpoint) == 0);
    nb_progress_message(prog, "interrupted after %lld epochs and %lld batches%s%s", (long long)ck.epoch,
                        (long long)ck.batch, o.checkpoint ? "; checkpoint saved to " : "",
                        o.checkpoint ? o.checkpoint : "");
  } else { /* the summary: accuracy per class, with Fashion-MNIST's class names */
    if (!test.n) CHECK(evaluate(net, test_dl, j, &test) == 0);
    if (o.checkpoint && o.epochs == 0 && !o.resume && lead)
      CHECK(nb_checkpoint_save(&ck, o.checkpoint) == 0);
  }
  if (lead && !stop) {
    printf("test accuracy %.2f%% (loss %.4f); per class:\n", 100 * test.accuracy, test.loss);
    for (int c = 0; c < 10; c++)
      printf("  %-12s %6.2f%%  (%lld/%lld)\n", nb_fashion_mnist_class_name(c),
             100.0 * (double)test.correct[c] / (double)test.total[c], (long long)test.correct[c],
             (long long)test.total[c]);
  }

  nb_interrupt_uninstall();
  nb_class_eval_clear(&test);
  nb_ddp_free(ddp);
  nb_progress_free(prog);
  nb_metrics_close(log);
  nb_lr_scheduler_free(sched);
  nb_optimizer_free(opt);
  nb_named_tensors_free(params);
  nb_module_free(net);
  nb_generator_free(gen);
  nb_dataloader_free(train_dl);
  nb_dataloader_free(test_dl);
  if (train != train_set) nb_dataset_free(train);
  if (test_part != test_set) nb_dataset_free(test_part);
  nb_dataset_free(train_set);
  nb_dataset_free(test_set);
  return stop ? 130 : 0;
}

int main(int argc, char **argv) {
  options o;
  int pr = parse_args(argc, argv, &o);
  if (pr == 1) usage(stdout);
  if (pr) return pr == 1 ? 0 : 2;
  job j = {NULL, 0, 1};
  if (o.distributed) {
    j.comm = nb_comm_open(NULL); /* mpi under mpirun, else one process alone */
    CHECK(j.comm);
    j.rank = nb_comm_rank(j.comm);
    j.size = nb_comm_size(j.comm);
  } else if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE")) {
    fprintf(stderr, "train_fashion: started by an MPI launcher without --distributed: every "
            "process trains alone\n");
  }
  /* threads: --threads, else (distributed) this rank's share of the cores, else 1 */
  if (o.threads) CHECK(nb_set_num_threads((int)o.threads) == 0);
  else if (j.comm) CHECK(nb_set_num_threads(nb_comm_suggested_threads(j.comm)) == 0);
  else CHECK(nb_set_num_threads(1) == 0);
  int rc = train(&o, &j);
  if (rc == 1 && j.size > 1) /* a failure on one rank: end the job, the others would wait */
    nb_comm_abort(j.comm, 1);
  if (j.comm && nb_comm_close(j.comm) < 0 && rc == 0) {
    fprintf(stderr, "train_fashion: %s\n", nb_last_error());
    rc = 1;
  }
  return rc;
}
