/* comm_single.c — "single", the communication backend built into the core: a job of one
 * process. Every collective is already complete (the sum or average over one process is
 * the data itself), so a data-parallel program runs unchanged without any launcher or
 * MPI. Registered by the core itself (provider NULL, shown as plugin "core").
 */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

/* Non-blocking operations finish at once; a request only has to be non-NULL. */
static char g_done_request;

static int single_start(void **state) {
  *state = NULL;
  return 0;
}
static int single_stop(void *state) { return 0; }
static int single_rank(void *state) { return 0; }
static int single_size(void *state) { return 1; }

static int single_allreduce(void *state, void *data, int64_t count, nb_dtype dt,
                            nb_reduce_op op) {
  return 0; /* one process: SUM and AVG leave the data as it is */
}

static int single_broadcast(void *state, void *data, int64_t nbytes, int root, double timeout_s) {
  if (root != 0)
    return nb_set_error(NB_EINVAL, "broadcast: root %d is not a rank of this job of 1 process "
                        "(backend 'single')", root);
  return 0;
}

static int single_barrier(void *state, double timeout_s) { return 0; }

static int single_allreduce_start(void *state, void *data, int64_t count, nb_dtype dt,
                                  nb_reduce_op op, nb_comm_request **request) {
  *request = (nb_comm_request *)&g_done_request;
  return 0;
}

static int single_wait(void *state, nb_comm_request *request, double timeout_s) { return 0; }

static int single_test(void *state, nb_comm_request *request, bool *done) {
  *done = true;
  return 0;
}

static const nb_comm_desc comm_single = {
    .struct_size = NB_COMM_DESC_SIZE,
    .name = "single",
    .doc = "One process, no communication: rank 0 of 1; every collective returns at once "
           "with the data unchanged. Built into the core, so data-parallel programs run "
           "without a launcher.",
    .start = single_start,
    .stop = single_stop,
    .rank = single_rank,
    .size = single_size,
    .allreduce = single_allreduce,
    .broadcast = single_broadcast,
    .barrier = single_barrier,
    .allreduce_start = single_allreduce_start,
    .wait = single_wait,
    .test = single_test,
    .local_rank = single_rank,
    .local_size = single_size,
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void register_once(void) {
  nb_registrar *r = nb__registrar_new(NULL, false);
  if (!r) return;
  char *msg = NULL;
  int n_ops, n_optims, n_comms;
  int rc = nb__registrar_finish(r, nb_register_comm(r, &comm_single), &msg, &n_ops, &n_optims,
                                &n_comms);
  if (rc < 0) nb_log_message(NB_LOG_ERROR, "core: built-in communication backend 'single': %s",
                             msg ? msg : "registration failed");
  free(msg);
}

void nb__register_builtin_comms(void) { pthread_once(&g_once, register_once); }
