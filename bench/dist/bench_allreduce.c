/* bench/dist/bench_allreduce.c — allreduce through nabla's communicator (nb_comm_*, the
 * "mpi" plugin), timed exactly as bench_allreduce_mpi.c times bare MPI. One tensor per
 * size, made before timing. Run by run.sh under mpirun. */
#include <nabla/nabla.h>

#include "bench_allreduce.h"

static nb_comm *g_c;
static nb_tensor *g_t[BENCH_N_SIZES];

static nb_tensor *tensor_of(int64_t n) {
  for (int s = 0; s < BENCH_N_SIZES; s++)
    if (bench_sizes[s] / 4 == n) return g_t[s];
  return NULL;
}

static int op(int mode, int64_t n, void *user) {
  nb_tensor *t = tensor_of(n);
  if (mode == 0) return nb_comm_allreduce(g_c, t, NB_REDUCE_SUM);
  nb_comm_work *w = nb_comm_allreduce_start(g_c, t, mode == 2 ? NB_REDUCE_AVG : NB_REDUCE_SUM);
  return w ? nb_comm_wait(w) : -1;
}
static int barrier(void *user) { return nb_comm_barrier(g_c); }
static int bcast_int(int *v, void *user) {
  nb_tensor *t = nb_scalar(*v, NB_I64);
  int rc = nb_comm_broadcast(g_c, t, 0);
  *v = (int)nb_item(t);
  nb_release(t);
  return rc;
}

int main(void) {
  g_c = nb_comm_open("mpi");
  if (!g_c) {
    fprintf(stderr, "bench_allreduce: %s\n", nb_last_error());
    return 1;
  }
  for (int s = 0; s < BENCH_N_SIZES; s++) g_t[s] = nb_zeros(1, (int64_t[]){bench_sizes[s] / 4}, NB_F32);
  int rc = bench_run(nb_comm_rank(g_c), op, barrier, bcast_int, NULL);
  if (rc < 0) fprintf(stderr, "bench_allreduce: %s\n", nb_last_error());
  for (int s = 0; s < BENCH_N_SIZES; s++) nb_release(g_t[s]);
  nb_comm_close(g_c);
  return rc < 0;
}
