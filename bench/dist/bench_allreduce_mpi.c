/* bench/dist/bench_allreduce_mpi.c — the yardstick as a program of its own: the
 * allreduces of bench_allreduce.c written directly against MPI (MPI_Allreduce,
 * MPI_Iallreduce + MPI_Wait, the average as a division after it), and nothing else.
 * bench_allreduce.c runs the same code next to nabla's in one job. */
#include <mpi.h>

#include "bench_allreduce.h"

static float *g_buf;
static int g_size;

static int op(int side, int mode, int64_t n, void *user) {
  if (mode == 0) return MPI_Allreduce(MPI_IN_PLACE, g_buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
  MPI_Request r;
  if (MPI_Iallreduce(MPI_IN_PLACE, g_buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &r) != MPI_SUCCESS ||
      MPI_Wait(&r, MPI_STATUS_IGNORE) != MPI_SUCCESS)
    return -1;
  if (mode == 2)
    for (int64_t i = 0; i < n; i++) g_buf[i] /= (float)g_size;
  return 0;
}
static int barrier(void *user) { return MPI_Barrier(MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1; }
static int bcast_int(int *v, void *user) {
  return MPI_Bcast(v, 1, MPI_INT, 0, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  g_buf = calloc((size_t)bench_sizes[BENCH_N_SIZES - 1] / 4, sizeof *g_buf);
  int rc = bench_run(rank, 1, op, barrier, bcast_int, NULL);
  free(g_buf);
  MPI_Finalize();
  return rc < 0;
}
