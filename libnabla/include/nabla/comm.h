/* nabla/comm.h — the processes of one job and the collectives between them, through a
 * communication backend ("mpi" from plugins/dist/mpi, "single" built into the core, or
 * any plugin's; see sdk/comm.h for writing one).
 *
 *   nb_comm *c = nb_comm_open(NULL);          // "mpi" under mpirun, else "single"
 *   if (!c) { fprintf(stderr, "%s\n", nb_last_error()); return 1; }
 *   printf("rank %d of %d\n", nb_comm_rank(c), nb_comm_size(c));
 *   nb_comm_allreduce(c, loss_sum, NB_REDUCE_SUM);   // in place, every rank the same
 *   nb_comm_close(c);                        // MPI_Finalize with the last close
 *
 * Every rank must call the collectives (allreduce, broadcast, barrier, and the
 * non-blocking allreduce) in the same order. Errors of the transport (a peer died, an
 * operation timed out, an MPI error) return NB_ECOMM with the transport's message and
 * *break* the communicator: later calls fail at once with the first error, since a
 * job that lost a process cannot go on. End it then with a non-zero exit (mpirun then
 * stops the other ranks) or nb_comm_abort.
 */
#ifndef NABLA_COMM_H
#define NABLA_COMM_H

#include <nabla/core.h>
#include <nabla/sdk/comm.h> /* nb_reduce_op: NB_REDUCE_SUM, NB_REDUCE_AVG */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_comm nb_comm;           /* an open backend: this process in its job */
typedef struct nb_comm_work nb_comm_work; /* a non-blocking operation in flight */

/* Seconds a wait may take before it fails with NB_ECOMM when nothing sets another
 * (NABLA_COMM_TIMEOUT overrides it; 0 there means no limit). */
#define NB_COMM_DEFAULT_TIMEOUT 300.0

/* Open (and, the first time, start: MPI_Init) a backend by name. NULL, "" or "auto"
 * choose: $NABLA_COMM when set, else "mpi" when an MPI launcher started the process
 * (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK or MV2_COMM_WORLD_SIZE in the environment;
 * an error if no "mpi" backend is available then, rather than N independent jobs),
 * else "single" (one process). Opening an open backend again returns the same
 * communicator with one more reference. NULL with an error on failure. */
nb_comm *nb_comm_open(const char *backend);
/* Drop a reference; the last one stops the backend (MPI_Finalize), which cannot start
 * again in this process. Refused (NB_ESTATE) while non-blocking operations are in
 * flight. A broken communicator is released without stopping (that would wait for the
 * lost peer). Backends still open at exit are stopped then. NULL-safe. */
int nb_comm_close(nb_comm *c);

/* This process's rank in [0, size), the number of processes, and the same among the
 * processes on this machine (1 process per machine when the backend cannot tell). */
int nb_comm_rank(const nb_comm *c);
int nb_comm_size(const nb_comm *c);
int nb_comm_local_rank(const nb_comm *c);
int nb_comm_local_size(const nb_comm *c);
/* The backend's name ("mpi", "single", ...). */
const char *nb_comm_backend(const nb_comm *c);
/* Threads this process should compute with: NABLA_NUM_THREADS when set; else the cores
 * it is bound to when the launcher bound it to fewer than the machine has; else the
 * machine's cores divided among its local processes (at least 1). Pass it to
 * nb_set_num_threads. */
int nb_comm_suggested_threads(const nb_comm *c);

/* Time limit of waits (non-blocking waits, broadcast, barrier) in seconds; 0 or less
 * means none. The default is NB_COMM_DEFAULT_TIMEOUT or NABLA_COMM_TIMEOUT. The blocking
 * nb_comm_allreduce is the transport's own blocking call and has no limit: use
 * nb_comm_allreduce_start + nb_comm_wait for one. */
int nb_comm_set_timeout(nb_comm *c, double seconds);
double nb_comm_timeout(const nb_comm *c);
/* The error that broke the communicator (NULL while it works). */
const char *nb_comm_broken(const nb_comm *c);

/* Reduce a contiguous float32/float64 tensor in place across every process: the sum, or
 * the average (the sum divided by size, the same bits on every rank). Not recorded by
 * autograd; bumps t's version. */
int nb_comm_allreduce(nb_comm *c, nb_tensor *t, nb_reduce_op op);
/* Start the same reduction and return at once; t is kept alive and must not be read or
 * written until the work finishes. NULL with an error if it could not start. */
nb_comm_work *nb_comm_allreduce_start(nb_comm *c, nb_tensor *t, nb_reduce_op op);
/* Wait for a work to finish (within the timeout) and free it. 0, or NB_ECOMM (the
 * communicator is broken then; the tensor stays allocated, as the transport may still
 * write to it). */
int nb_comm_wait(nb_comm_work *w);
/* Poll a work, letting the transport progress: *done = true when it finished, and then
 * it is freed (the status is its result, as nb_comm_wait's); false: still in flight. */
int nb_comm_test(nb_comm_work *w, bool *done);
/* Copy rank `root`'s contiguous tensor (any dtype) into t on every other rank; shapes
 * and dtypes must agree. Not recorded; bumps t's version. */
int nb_comm_broadcast(nb_comm *c, nb_tensor *t, int root);
/* Return once every rank has called it. */
int nb_comm_barrier(nb_comm *c);
/* End the whole job with exit code `code` after a fatal error (MPI_Abort): for programs
 * that cannot go on. Returns only when the backend cannot abort (NB_EUNSUPPORTED). */
int nb_comm_abort(nb_comm *c, int code);

#ifdef __cplusplus
}
#endif
#endif
