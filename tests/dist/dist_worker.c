/* tests/dist/dist_worker.c — one process of a data-parallel test job, started by mpirun
 * (run_dist.sh) or alone. Each mode checks its own claims and exits 0 when they hold,
 * printing "FAIL: ..." and exiting 1 otherwise; every rank agrees on the outcome.
 *
 *   equiv      2 ranks with global batch B split B/2 each train a float64 MLP for 20
 *              SGD-momentum steps through the sharded data loader; rank 0 also trains
 *              the same model alone on batch B: weights agree within 1e-12, and every
 *              rank's parameters are bit-identical after every step. Ranks start from
 *              different random weights (the wrap broadcasts rank 0's). Loaders give
 *              every rank the same number of batches, even on a length not divisible.
 *   accum      no_sync accumulation over two micro-batches equals the average of all
 *              micro-batches; a parameter only rank 1 uses gets (its grad + 0) / 2 on
 *              both ranks; one nobody uses keeps .grad NULL.
 *   overlap    small buckets over a deep MLP: every bucket is sent during backward, and
 *              the first (last layers) before backward reached the first layer.
 *   mismatch   rank 1's model has another width: nb_ddp_new fails on every rank with an
 *              error naming rank 1 and the parameter.
 *   kill       rank 1 dies (SIGKILL) at step 5 of a long run: rank 0 must not hang.
 *   stall      rank 1 stops taking part at step 5: rank 0's wait times out
 *              (NABLA_COMM_TIMEOUT), it reports and aborts the job.
 *   single B   no launcher: nb_comm_open(NULL) gives backend B of size 1, and training
 *              through the wrapper gives bit-identical weights to training without it.
 *              For B = mpi also: loading the plugin neither starts MPI nor puts libmpi in
 *              the global scope; opening it does, the plugin promoting libmpi (RTLD_GLOBAL)
 *              before MPI_Init.
 *   nompi      under mpirun without the mpi plugin: nb_comm_open(NULL) refuses to run
 *              as N independent jobs.
 */
#include <dlfcn.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nabla/nabla.h>

static nb_comm *g_c;
static int g_rank;

#define FAIL(...)                                                      \
  do {                                                                 \
    fprintf(stderr, "FAIL (rank %d): ", g_rank);                       \
    fprintf(stderr, __VA_ARGS__);                                      \
    fprintf(stderr, "\n");                                             \
    return 1;                                                          \
  } while (0)
#define CHECK(cond, ...)          \
  do {                            \
    if (!(cond)) FAIL(__VA_ARGS__); \
  } while (0)
#define OK(call) CHECK((call) >= 0, "%s: %s", #call, nb_last_error())

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Every rank reports ok (0) or not; returns the number of ranks that failed. */
static int agree(int failed) {
  nb_scope_begin();
  nb_tensor *t = nb_scalar(failed ? 1 : 0, NB_F64);
  int n = nb_comm_allreduce(g_c, t, NB_REDUCE_SUM) < 0 ? 1 : (int)nb_item(t);
  nb_scope_end();
  return n;
}

/* An MLP [d] -> h -> h -> [c] with ReLUs, parameters converted to dtype dt. */
static nb_module *mlp(int64_t d, int64_t h, int64_t c, int n_hidden, nb_dtype dt, uint64_t seed) {
  nb_generator *g = nb_generator_new(seed);
  nb_module *seq = nb_sequential_new(0, NULL);
  int64_t in = d;
  for (int i = 0; i < n_hidden; i++) {
    nb_sequential_append(seq, nb_linear_new(in, h, true, g));
    nb_sequential_append(seq, nb_relu_new(false));
    in = h;
  }
  nb_sequential_append(seq, nb_linear_new(in, c, true, g));
  nb_generator_free(g);
  if (dt != NB_F32) {
    nb_named_tensors *ps = nb_module_named_parameters(seq);
    nb_scope_begin();
    for (int i = 0; i < ps->n; i++) {
      char owner[64];
      const char *dot = strrchr(ps->names[i], '.');
      snprintf(owner, sizeof owner, "%.*s", (int)(dot - ps->names[i]), ps->names[i]);
      nb_module_register_parameter(nb_module_child(seq, owner), dot + 1,
                                   nb_convert(ps->tensors[i], dt));
    }
    nb_scope_end();
    nb_named_tensors_free(ps);
  }
  return seq;
}

static nb_dataset *synthetic(int64_t n, int64_t d, int64_t c, nb_dtype dt) {
  nb_generator *g = nb_generator_new(1234);
  nb_tensor *x = nb_randn(2, (int64_t[]){n, d}, dt, g);
  nb_tensor *y = nb_randint(1, (int64_t[]){n}, 0, c, g);
  nb_dataset *ds = nb_tensor_dataset_new(x, y);
  nb_release(x);
  nb_release(y);
  nb_generator_free(g);
  return ds;
}

static nb_optimizer *sgd(nb_module *m) {
  nb_named_tensors *ps = nb_module_named_parameters(m);
  nb_optimizer *o = nb_optimizer_new("sgd", ps->n, ps->tensors, 2,
                                     (nb_attr[]){NB_A_FLOAT("lr", 0.1), NB_A_FLOAT("momentum", 0.9)});
  nb_named_tensors_free(ps);
  return o;
}

/* Every rank's parameters equal rank 0's, bit for bit. */
static int same_as_rank0(nb_module *m, const char **where) {
  nb_named_tensors *ps = nb_module_named_parameters(m);
  int bad = 0;
  nb_scope_begin();
  for (int i = 0; i < ps->n && !bad; i++) {
    nb_tensor *mine = ps->tensors[i], *r0 = nb_copy_data(mine);
    if (nb_comm_broadcast(g_c, r0, 0) < 0) bad = 1;
    else if (memcmp(nb_data(r0), nb_data(mine), (size_t)nb_numel(mine) * nb_dtype_size(nb_dtype_of(mine))))
      bad = 1, *where = ps->names[i];
  }
  nb_scope_end();
  nb_named_tensors_free(ps);
  return bad;
}

static double max_diff(nb_module *a, nb_module *b) {
  nb_named_tensors *pa = nb_module_named_parameters(a), *pb = nb_module_named_parameters(b);
  double worst = 0;
  for (int i = 0; i < pa->n; i++) {
    int64_t n = nb_numel(pa->tensors[i]);
    double *va = malloc((size_t)n * sizeof *va), *vb = malloc((size_t)n * sizeof *vb);
    nb_to_doubles(pa->tensors[i], va, n);
    nb_to_doubles(pb->tensors[i], vb, n);
    for (int64_t k = 0; k < n; k++) worst = fmax(worst, fabs(va[k] - vb[k]));
    free(va);
    free(vb);
  }
  nb_named_tensors_free(pa);
  nb_named_tensors_free(pb);
  return worst;
}

/* One step of plain training (no wrapper) or through the wrapper (ddp != NULL). */
static int step(nb_module *m, nb_optimizer *o, nb_ddp *ddp, nb_tensor *x, nb_tensor *y) {
  nb_optimizer_zero_grad(o, true);
  nb_tensor *loss = nb_cross_entropy(nb_module_forward(m, x), y, NULL, "mean", -100, 0.0);
  if (!loss || nb_backward(loss, NULL, 0) < 0) return -1;
  if (ddp && nb_ddp_finish(ddp) < 0) return -1;
  return nb_optimizer_step(o);
}

/* ---- equiv ------------------------------------------------------------------------- */

static int mode_equiv(void) {
  const int64_t N = 64, D = 10, H = 16, C = 3, B = 8, STEPS = 20;
  int size = nb_comm_size(g_c);
  CHECK(size == 2, "run with 2 ranks (got %d)", size);
  nb_dataset *ds = synthetic(N, D, C, NB_F64);
  /* different initial weights per rank: the wrap must replace them with rank 0's */
  nb_module *net = mlp(D, H, C, 2, NB_F64, 100 + (uint64_t)g_rank);
  nb_ddp *ddp = nb_ddp_new(net, g_c, NULL);
  CHECK(ddp, "nb_ddp_new: %s", nb_last_error());
  const char *where = "?";
  CHECK(agree(same_as_rank0(net, &where)) == 0, "parameters differ after the wrap (%s)", where);
  nb_optimizer *opt = sgd(net);
  nb_dataloader_opts lo = nb_dataloader_defaults();
  lo.batch_size = B / size;
  lo.shuffle = true;
  lo.seed = 7;
  lo.rank = g_rank;
  lo.world_size = size;
  nb_dataloader *dl = nb_dataloader_new(ds, &lo);
  /* the reference: rank 0 alone on the global batch */
  nb_module *ref = NULL;
  nb_optimizer *ropt = NULL;
  nb_dataloader *rdl = NULL;
  if (g_rank == 0) {
    ref = mlp(D, H, C, 2, NB_F64, 100);
    ropt = sgd(ref);
    nb_dataloader_opts ro = lo;
    ro.batch_size = B;
    ro.rank = 0;
    ro.world_size = 1;
    rdl = nb_dataloader_new(ds, &ro);
  }
  int64_t done = 0, epoch = 0;
  while (done < STEPS) {
    nb_dataloader_start_epoch(dl, epoch);
    if (rdl) nb_dataloader_start_epoch(rdl, epoch);
    for (;;) {
      nb_scope_begin();
      nb_tensor *x, *y;
      int rc = nb_dataloader_next(dl, &x, &y);
      CHECK(rc >= 0, "loader: %s", nb_last_error());
      if (rc == 0 || done == STEPS) {
        nb_scope_end();
        break;
      }
      OK(step(net, opt, ddp, x, y));
      if (rdl) {
        CHECK(nb_dataloader_next(rdl, &x, &y) == 1, "reference loader ended early");
        OK(step(ref, ropt, NULL, x, y));
      }
      nb_scope_end();
      done++;
      CHECK(agree(same_as_rank0(net, &where)) == 0,
            "parameters differ across ranks after step %lld (%s)", (long long)done, where);
    }
    epoch++;
  }
  int bad = 0;
  if (g_rank == 0) {
    double diff = max_diff(net, ref);
    printf("equiv: %lld steps, 2 ranks x batch %lld vs 1 process x batch %lld: max |w - w_ref| = "
           "%.3g\n", (long long)STEPS, (long long)(B / size), (long long)B, diff);
    if (!(diff <= 1e-12)) {
      fprintf(stderr, "FAIL: weights differ from the single-process run by %.3g > 1e-12\n", diff);
      bad = 1;
    }
  }
  CHECK(agree(bad) == 0, "the data-parallel run does not match the single-process run");

  /* every rank the same number of batches, also when the length does not divide */
  nb_dataset *odd = synthetic(67, D, C, NB_F64);
  nb_dataloader_opts oo = nb_dataloader_defaults();
  oo.batch_size = 4;
  oo.rank = g_rank;
  oo.world_size = size;
  nb_dataloader *odl = nb_dataloader_new(odd, &oo);
  int64_t counted = 0;
  nb_dataloader_start_epoch(odl, 0);
  for (;;) {
    nb_scope_begin();
    nb_tensor *x, *y;
    int rc = nb_dataloader_next(odl, &x, &y);
    nb_scope_end();
    if (rc <= 0) break;
    counted++;
  }
  nb_scope_begin();
  nb_tensor *cnt = nb_scalar((double)counted, NB_F64);
  OK(nb_comm_allreduce(g_c, cnt, NB_REDUCE_AVG));
  CHECK(nb_item(cnt) == (double)counted && counted == nb_dataloader_num_batches(odl),
        "ranks see different numbers of batches over 67 samples (%lld here, mean %g)",
        (long long)counted, nb_item(cnt));
  nb_scope_end();
  nb_dataloader_free(odl);
  nb_dataset_free(odd);

  nb_dataloader_free(dl);
  nb_dataloader_free(rdl);
  nb_optimizer_free(opt);
  nb_optimizer_free(ropt);
  nb_ddp_free(ddp);
  nb_module_free(net);
  nb_module_free(ref);
  nb_dataset_free(ds);
  return 0;
}

/* ---- accum ------------------------------------------------------------------------- */

/* A container with three Linear children: "a" used by every rank, "b" only by rank 1,
 * "c" by nobody. */
static nb_tensor *three_forward(nb_module *self, nb_tensor *x) {
  nb_tensor *out = nb_module_forward(nb_module_child(self, "a"), x);
  if (g_rank == 1) out = nb_add(out, nb_module_forward(nb_module_child(self, "b"), x));
  return out;
}

static nb_tensor *grad_copy(nb_module *m, const char *name) {
  nb_tensor *g = nb_grad(nb_module_get(m, name));
  return g ? nb_copy_data(g) : NULL;
}

static int mode_accum(void) {
  const int64_t D = 6, C = 3;
  CHECK(nb_comm_size(g_c) == 2, "run with 2 ranks");
  nb_module *net = mlp(D, 8, C, 1, NB_F64, 5 + (uint64_t)g_rank);
  nb_ddp *ddp = nb_ddp_new(net, g_c, NULL);
  CHECK(ddp, "nb_ddp_new: %s", nb_last_error());
  nb_scope_begin();
  nb_generator *g = nb_generator_new(99);
  nb_tensor *xs[2][2], *ys[2][2]; /* [rank][micro-batch], the same on every rank */
  for (int r = 0; r < 2; r++)
    for (int k = 0; k < 2; k++) {
      xs[r][k] = nb_randn(2, (int64_t[]){4, D}, NB_F64, g);
      ys[r][k] = nb_randint(1, (int64_t[]){4}, 0, C, g);
    }
  /* no_sync for micro-batch 0, sync for micro-batch 1 */
  OK(nb_ddp_set_sync(ddp, false));
  OK(nb_backward(nb_cross_entropy(nb_module_forward(net, xs[g_rank][0]), ys[g_rank][0], NULL, "mean", -100, 0.0), NULL, 0));
  OK(nb_ddp_finish(ddp));
  OK(nb_ddp_set_sync(ddp, true));
  OK(nb_backward(nb_cross_entropy(nb_module_forward(net, xs[g_rank][1]), ys[g_rank][1], NULL, "mean", -100, 0.0), NULL, 0));
  OK(nb_ddp_finish(ddp));
  /* reference: one copy of the (broadcast) model, all four micro-batches, grads / 2 */
  nb_module *ref = mlp(D, 8, C, 1, NB_F64, 5);
  for (int r = 0; r < 2; r++)
    for (int k = 0; k < 2; k++)
      OK(nb_backward(nb_cross_entropy(nb_module_forward(ref, xs[r][k]), ys[r][k], NULL, "mean", -100, 0.0), NULL, 0));
  nb_named_tensors *pn = nb_module_named_parameters(net), *pr = nb_module_named_parameters(ref);
  for (int i = 0; i < pn->n; i++) {
    nb_tensor *a = nb_grad(pn->tensors[i]), *b = nb_grad(pr->tensors[i]);
    CHECK(a && b, "no grad for %s", pn->names[i]);
    int64_t n = nb_numel(a);
    double va[n], vb[n];
    nb_to_doubles(a, va, n);
    nb_to_doubles(b, vb, n);
    for (int64_t k = 0; k < n; k++)
      CHECK(fabs(va[k] - vb[k] / 2) <= 1e-12, "no_sync: %s[%lld] = %.17g, expected %.17g",
            pn->names[i], (long long)k, va[k], vb[k] / 2);
  }
  nb_named_tensors_free(pn);
  nb_named_tensors_free(pr);
  nb_module_free(ref);
  nb_ddp_free(ddp);
  nb_module_free(net);

  /* unused parameters */
  nb_module *three = nb_module_new("Three", three_forward, NULL, NULL);
  nb_generator *g2 = nb_generator_new(3);
  nb_module_add(three, "a", nb_linear_new(D, C, true, g2));
  nb_module_add(three, "b", nb_linear_new(D, C, true, g2));
  nb_module_add(three, "c", nb_linear_new(D, C, true, g2));
  nb_generator_free(g2);
  nb_ddp_opts o = nb_ddp_defaults();
  o.first_bucket_mb = 1e-4; /* several buckets: "c" and "b" apart from "a" */
  o.bucket_mb = 1e-4;
  ddp = nb_ddp_new(three, g_c, &o);
  CHECK(ddp, "nb_ddp_new: %s", nb_last_error());
  CHECK(nb_ddp_num_buckets(ddp) >= 3, "expected several buckets, got %d", nb_ddp_num_buckets(ddp));
  nb_tensor *loss = nb_sum(nb_module_forward(three, nb_convert(xs[g_rank][0], NB_F32)));
  CHECK(loss, "forward: %s", nb_last_error());
  OK(nb_backward(loss, NULL, 0));
  nb_tensor *local_b = grad_copy(three, "b.weight");
  CHECK((local_b != NULL) == (g_rank == 1), "b.weight has a local grad on rank %d", g_rank);
  OK(nb_ddp_finish(ddp));
  nb_tensor *bw = nb_grad(nb_module_get(three, "b.weight"));
  CHECK(bw, "b.weight has no grad after finish on rank %d", g_rank);
  CHECK(nb_grad(nb_module_get(three, "c.weight")) == NULL, "c.weight (used by no rank) got a grad");
  CHECK(nb_grad(nb_module_get(three, "c.bias")) == NULL, "c.bias (used by no rank) got a grad");
  /* (rank 1's gradient + rank 0's zeros) / 2 on both ranks, bit for bit */
  nb_tensor *b1 = g_rank == 1 ? nb_mul_scalar(local_b, 0.5) : nb_zeros_like(bw);
  OK(nb_comm_broadcast(g_c, b1, 1));
  CHECK(memcmp(nb_data(b1), nb_data(bw), (size_t)nb_numel(bw) * 4) == 0,
        "b.weight's grad is not rank 1's grad / 2");
  nb_ddp_free(ddp);
  nb_module_free(three);
  nb_generator_free(g);
  nb_scope_end();
  if (g_rank == 0) printf("accum: no_sync accumulation and unused parameters OK\n");
  return 0;
}

/* ---- overlap ------------------------------------------------------------------------ */

static double g_t_first_layer;
static int record_time(nb_tensor *grad, nb_tensor **replace, void *user) {
  g_t_first_layer = now();
  return 0;
}

static int mode_overlap(void) {
  const int64_t D = 256, LAYERS = 6, BATCH = 256;
  nb_module *net = mlp(D, D, D, (int)LAYERS - 1, NB_F32, 11);
  nb_ddp_opts o = nb_ddp_defaults();
  o.first_bucket_mb = 0.25; /* one 256x256 float32 layer per bucket */
  o.bucket_mb = 0.26;
  nb_ddp *ddp = nb_ddp_new(net, g_c, &o);
  CHECK(ddp, "nb_ddp_new: %s", nb_last_error());
  int nbk = nb_ddp_num_buckets(ddp);
  CHECK(nbk >= (int)LAYERS - 1, "expected about one bucket per layer, got %d", nbk);
  nb_scope_begin();
  nb_generator *g = nb_generator_new(1);
  nb_tensor *x = nb_randn(2, (int64_t[]){BATCH, D}, NB_F32, g);
  int sent_early = 0, done_in_backward = 0, rounds = 3;
  for (int round = 0; round < rounds; round++) {
    nb_scope_begin();
    nb_module_zero_grad(net, true);
    /* the first layer's output: its gradient is among the last things backward makes */
    nb_tensor *h1 = nb_module_forward(nb_module_child(net, "0"), x);
    OK(nb_register_hook(h1, record_time, NULL));
    nb_tensor *out = h1;
    for (int i = 1; i < nb_module_num_children(net); i++)
      out = nb_module_forward(nb_module_child_at(net, i, NULL), out);
    nb_tensor *loss = nb_mean(nb_mul(out, out));
    g_t_first_layer = 0;
    OK(nb_backward(loss, NULL, 0));
    double t_end = now();
    OK(nb_ddp_finish(ddp));
    nb_scope_end();
    nb_ddp_bucket_info b0, last;
    OK(nb_ddp_get_bucket(ddp, 0, &b0));
    OK(nb_ddp_get_bucket(ddp, nbk - 1, &last));
    for (int i = 0; i < nbk; i++) {
      nb_ddp_bucket_info bi;
      OK(nb_ddp_get_bucket(ddp, i, &bi));
      CHECK(bi.sent_in_backward, "bucket %d (%s) was not sent during backward", i, bi.first_param);
      CHECK(bi.sent_at <= t_end, "bucket %d sent after backward ended", i);
      done_in_backward += bi.done_at <= t_end;
    }
    CHECK(g_t_first_layer > 0, "the hook on the first layer's output did not run");
    sent_early += b0.sent_at < g_t_first_layer;
    if (g_rank == 0)
      printf("overlap round %d: %d buckets; bucket 0 (%s) sent %.3f ms before backward reached "
             "layer 0, %.3f ms before backward ended; last bucket sent %.3f ms before the end\n",
             round, nbk, b0.first_param, 1e3 * (g_t_first_layer - b0.sent_at),
             1e3 * (t_end - b0.sent_at), 1e3 * (t_end - last.sent_at));
  }
  CHECK(sent_early == rounds, "bucket 0 was sent after backward reached the first layer in %d of "
        "%d rounds", rounds - sent_early, rounds);
  if (g_rank == 0)
    printf("overlap: %d of %d bucket allreduces had already finished when backward returned\n",
           done_in_backward, nbk * rounds);
  nb_generator_free(g);
  nb_scope_end();
  nb_ddp_free(ddp);
  nb_module_free(net);
  return 0;
}

/* ---- mismatch ------------------------------------------------------------------------- */

static int mode_mismatch(void) {
  nb_module *net = mlp(10, g_rank == 1 ? 12 : 16, 3, 1, NB_F32, 1);
  nb_ddp *ddp = nb_ddp_new(net, g_c, NULL);
  CHECK(!ddp, "a model that differs on rank 1 was accepted");
  const char *want = "rank 1's model differs from rank 0's at parameter '0.weight'";
  CHECK(strstr(nb_last_error(), want), "error \"%s\" lacks \"%s\"", nb_last_error(), want);
  printf("mismatch (rank %d): %s\n", g_rank, nb_last_error());
  nb_module_free(net);
  return 0;
}

/* ---- kill / stall ------------------------------------------------------------------------ */

static int mode_fault(bool kill_it) {
  nb_module *net = mlp(32, 64, 4, 2, NB_F32, 3);
  nb_ddp *ddp = nb_ddp_new(net, g_c, NULL);
  CHECK(ddp, "nb_ddp_new: %s", nb_last_error());
  nb_optimizer *opt = sgd(net);
  nb_generator *g = nb_generator_new(2);
  for (int s = 0; s < 100000; s++) {
    if (g_rank == 1 && s == 5) {
      fprintf(stderr, "rank 1: %s at step %d\n", kill_it ? "killing myself (SIGKILL)" :
              "stalling (no more collectives)", s);
      if (kill_it) raise(SIGKILL);
      for (;;) sleep(60);
    }
    nb_scope_begin();
    nb_tensor *x = nb_randn(2, (int64_t[]){16, 32}, NB_F32, g);
    nb_tensor *y = nb_randint(1, (int64_t[]){16}, 0, 4, g);
    int rc = step(net, opt, ddp, x, y);
    nb_scope_end();
    if (rc < 0) {
      fprintf(stderr, "rank %d: training stopped at step %d: %s\n", g_rank, s, nb_last_error());
      nb_comm_abort(g_c, 3); /* end the job: the other ranks must not wait for us */
      return 3;
    }
    usleep(2000);
  }
  FAIL("the run ended normally although rank 1 left it");
}

/* ---- single / nompi ------------------------------------------------------------------- */

static char g_log[4096];
static void capture_log(int level, const char *msg, void *user) {
  if (strlen(g_log) + strlen(msg) + 2 < sizeof g_log) {
    strcat(g_log, msg);
    strcat(g_log, "\n");
  }
}

/* Before the program opens the mpi backend, libmpi is loaded (the plugin links it) but
 * local to the plugin, and MPI is not started. */
static int mpi_plugin_is_lazy(void) {
  CHECK(nb_comm_find("mpi"), "no mpi backend: %s", nb_last_error());
  CHECK(dlsym(RTLD_DEFAULT, "MPI_Init") == NULL,
        "libmpi is in the global scope right after the plugin loaded");
  nb_set_log_callback(capture_log, NULL);
  return 0;
}

static int mode_single(const char *backend) {
  if (strcmp(backend, "mpi") == 0) {
    CHECK(strstr(g_log, "promoted to the global scope before MPI_Init"),
          "the mpi plugin did not promote libmpi before MPI_Init; its log:\n%s", g_log);
    CHECK(dlsym(RTLD_DEFAULT, "MPI_Init") != NULL, "libmpi is not global after MPI_Init");
    nb_set_log_callback(NULL, NULL);
  }
  CHECK(nb_comm_size(g_c) == 1 && g_rank == 0, "expected 1 process, got rank %d of %d", g_rank,
        nb_comm_size(g_c));
  CHECK(strcmp(nb_comm_backend(g_c), backend) == 0, "backend %s, expected %s", nb_comm_backend(g_c),
        backend);
  nb_module *a = mlp(8, 8, 2, 1, NB_F64, 4), *b = mlp(8, 8, 2, 1, NB_F64, 4);
  nb_ddp *ddp = nb_ddp_new(a, g_c, NULL);
  CHECK(ddp, "nb_ddp_new: %s", nb_last_error());
  nb_optimizer *oa = sgd(a), *ob = sgd(b);
  nb_generator *g = nb_generator_new(8);
  for (int s = 0; s < 5; s++) {
    nb_scope_begin();
    nb_tensor *x = nb_randn(2, (int64_t[]){4, 8}, NB_F64, g);
    nb_tensor *y = nb_randint(1, (int64_t[]){4}, 0, 2, g);
    OK(step(a, oa, ddp, x, y));
    OK(step(b, ob, NULL, x, y));
    nb_scope_end();
  }
  CHECK(max_diff(a, b) == 0, "one process through the wrapper differs from plain training by %g",
        max_diff(a, b));
  printf("single: backend %s, 1 process, wrapper changes nothing\n", backend);
  nb_generator_free(g);
  nb_optimizer_free(oa);
  nb_optimizer_free(ob);
  nb_ddp_free(ddp);
  nb_module_free(a);
  nb_module_free(b);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: dist_worker MODE [ARG]\n");
    return 2;
  }
  const char *mode = argv[1];
  nb_set_num_threads(1);
  if (strcmp(mode, "single") == 0 && argc > 2 && strcmp(argv[2], "mpi") == 0 &&
      mpi_plugin_is_lazy() != 0)
    return 1;
  g_c = nb_comm_open(NULL);
  if (strcmp(mode, "nompi") == 0) {
    const char *want = "started by an MPI launcher";
    if (g_c) FAIL("nb_comm_open(NULL) gave backend %s under a launcher without the mpi plugin",
                  nb_comm_backend(g_c));
    CHECK(strstr(nb_last_error(), want), "error \"%s\" lacks \"%s\"", nb_last_error(), want);
    printf("nompi: %s\n", nb_last_error());
    return 0;
  }
  if (!g_c) {
    fprintf(stderr, "FAIL: nb_comm_open: %s\n", nb_last_error());
    return 1;
  }
  g_rank = nb_comm_rank(g_c);
  int rc;
  if (strcmp(mode, "equiv") == 0) rc = mode_equiv();
  else if (strcmp(mode, "accum") == 0) rc = mode_accum();
  else if (strcmp(mode, "overlap") == 0) rc = mode_overlap();
  else if (strcmp(mode, "mismatch") == 0) rc = mode_mismatch();
  else if (strcmp(mode, "kill") == 0) rc = mode_fault(true);
  else if (strcmp(mode, "stall") == 0) rc = mode_fault(false);
  else if (strcmp(mode, "single") == 0) rc = mode_single(argc > 2 ? argv[2] : "single");
  else {
    fprintf(stderr, "dist_worker: unknown mode '%s'\n", mode);
    rc = 2;
  }
  if (rc == 0 && nb_comm_close(g_c) < 0) {
    fprintf(stderr, "FAIL: nb_comm_close: %s\n", nb_last_error());
    rc = 1;
  }
  return rc;
}
