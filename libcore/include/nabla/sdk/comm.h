/* nabla/sdk/comm.h — what a communication backend plugin writes: the collective
 * operations data-parallel training needs (allreduce, broadcast, barrier, a non-blocking
 * allreduce), on raw contiguous buffers, for the processes of one job.
 *
 * A backend is registered by name with nb_register_comm (sdk/plugin.h) during its
 * plugin's init; registering must not start anything (no MPI_Init at load time). Users
 * open it through the user library (<nabla/comm.h>: nb_comm_open), which calls `start`
 * once per process, checks tensors (contiguous, float32/float64 for reductions) and
 * hands the backend their memory. The core itself registers "single", a one-process
 * backend whose operations do nothing, so a program runs the same without any launcher.
 *
 * Every function returns 0 or a negative status with an error set (nb_set_error);
 * failures of the transport (a peer died, a timeout, an MPI error) are NB_ECOMM with
 * the transport's own message. No function may abort or exit the process, except
 * `abort`, whose job that is.
 */
#ifndef NABLA_SDK_COMM_H
#define NABLA_SDK_COMM_H

#include "../core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reductions: the elementwise sum over every process, or that sum divided by the number
 * of processes (the same division on every process, so results stay bit-identical). */
typedef enum nb_reduce_op { NB_REDUCE_SUM = 0, NB_REDUCE_AVG = 1 } nb_reduce_op;

/* A non-blocking operation in flight; what it is belongs to the backend. */
typedef struct nb_comm_request nb_comm_request;

typedef struct nb_comm_desc {
  uint32_t struct_size; /* NB_COMM_DESC_SIZE */
  const char *name;     /* "mpi", "single", ...: lower_snake_case */
  const char *doc;
  /* Join the job (MPI_Init): called the first time a program opens this backend, never at
   * plugin load. *state receives whatever the backend keeps (handed back to every call). */
  int (*start)(void **state);
  /* Leave the job (MPI_Finalize) once no operation is in flight. Called when the last
   * user closes the backend, or at process exit if none did. A backend that cannot
   * start again afterwards (MPI) says so from its next `start`. */
  int (*stop)(void *state);
  /* This process's rank in [0, size) and the number of processes (both >= 0 / >= 1). */
  int (*rank)(void *state);
  int (*size)(void *state);
  /* Reduce `count` elements of dtype dt (NB_F32 or NB_F64) at data, in place, across
   * every process; op SUM or AVG. Every process calls collectives in the same order. */
  int (*allreduce)(void *state, void *data, int64_t count, nb_dtype dt, nb_reduce_op op);
  /* Copy `nbytes` at data from process `root` to every other process. */
  int (*broadcast)(void *state, void *data, int64_t nbytes, int root, double timeout_s);
  /* Return once every process has called it. */
  int (*barrier)(void *state, double timeout_s);
  /* Start an allreduce and return at once with *request set; data must stay valid and
   * untouched until `wait` or `test` reports it finished. */
  int (*allreduce_start)(void *state, void *data, int64_t count, nb_dtype dt, nb_reduce_op op,
                         nb_comm_request **request);
  /* Wait until the request finishes, at most timeout_s seconds (<= 0: no limit). Returns 0
   * when it finished, NB_ECOMM when it failed or the time ran out (message says which).
   * The request is consumed either way: after a timeout the backend keeps it internally
   * (the data it points to must then stay allocated: collectives cannot be cancelled). */
  int (*wait)(void *state, nb_comm_request *request, double timeout_s);
  /* Poll once, letting the transport make progress: *done = true when the request
   * finished (it is then consumed, and the status is its result), false otherwise. */
  int (*test)(void *state, nb_comm_request *request, bool *done);
  /* Optional (may be NULL): rank and size among the processes on this machine. */
  int (*local_rank)(void *state);
  int (*local_size)(void *state);
  /* Optional: end the whole job after a fatal error (MPI_Abort); may not return. */
  int (*abort)(void *state, int code);
} nb_comm_desc;
#define NB_COMM_DESC_SIZE ((uint32_t)sizeof(nb_comm_desc))

#ifdef __cplusplus
}
#endif
#endif
