/* bench/dist/bench_allreduce.c — allreduce through nabla's communicator (nb_comm_*, the
 * "mpi" plugin) against the same operations written directly against MPI
 * (bench_allreduce_mpi.c's code), in one job with the samples alternating, so that on a
 * shared machine both sides see the same load. The program starts MPI itself, as a host
 * program may: the plugin then uses it and leaves MPI_Finalize to the program. Run by
 * run.sh under mpirun. */
#include <mpi.h>
#include <nabla/nabla.h>

#include "bench_allreduce.h"

static nb_comm *g_c;
static nb_tensor *g_t[BENCH_N_SIZES];
static float *g_buf;
static int g_size;

static nb_tensor *tensor_of(int64_t n) {
  for (int s = 0; s < BENCH_N_SIZES; s++)
    if (bench_sizes[s] / 4 == n) return g_t[s];
  return NULL;
}

/* side 0: bare MPI (as bench_allreduce_mpi.c); side 1: nabla */
static int op(int side, int mode, int64_t n, void *user) {
  if (side == 0) {
    if (mode == 0)
      return MPI_Allreduce(MPI_IN_PLACE, g_buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
    MPI_Request r;
    if (MPI_Iallreduce(MPI_IN_PLACE, g_buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &r) != MPI_SUCCESS ||
        MPI_Wait(&r, MPI_STATUS_IGNORE) != MPI_SUCCESS)
      return -1;
    if (mode == 2)
      for (int64_t i = 0; i < n; i++) g_buf[i] /= (float)g_size;
    return 0;
  }
  nb_tensor *t = tensor_of(n);
  if (mode == 0) return nb_comm_allreduce(g_c, t, NB_REDUCE_SUM);
  nb_comm_work *w = nb_comm_allreduce_start(g_c, t, mode == 2 ? NB_REDUCE_AVG : NB_REDUCE_SUM);
  return w ? nb_comm_wait(w) : -1;
}
static int barrier(void *user) { return MPI_Barrier(MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1; }
static int bcast_int(int *v, void *user) {
  return MPI_Bcast(v, 1, MPI_INT, 0, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  g_c = nb_comm_open("mpi");
  if (!g_c) {
    fprintf(stderr, "bench_allreduce: %s\n", nb_last_error());
    return 1;
  }
  g_buf = calloc((size_t)bench_sizes[BENCH_N_SIZES - 1] / 4, sizeof *g_buf);
  for (int s = 0; s < BENCH_N_SIZES; s++) g_t[s] = nb_zeros(1, (int64_t[]){bench_sizes[s] / 4}, NB_F32);
  int rc = bench_run(nb_comm_rank(g_c), 2, op, barrier, bcast_int, NULL);
  if (rc < 0) fprintf(stderr, "bench_allreduce: %s\n", nb_last_error());
  for (int s = 0; s < BENCH_N_SIZES; s++) nb_release(g_t[s]);
  free(g_buf);
  nb_comm_close(g_c);
  MPI_Finalize();
  return rc < 0;
}
