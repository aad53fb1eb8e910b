/* Fixture: a communication backend plugin. By default "plugtest_loop" (rank 0 of 1, like
 * the core's "single"); -DFX_COMM_NAME="single" takes the built-in backend's name (a
 * duplicate); -DFX_NO_WAIT leaves out a required function (an invalid descriptor). */
#include <nabla/sdk.h>

#ifndef FX_NAME
#define FX_NAME "plugtest_comm"
#endif
#ifndef FX_COMM_NAME
#define FX_COMM_NAME "plugtest_loop"
#endif

static char g_req;
static int loop_start(void **state) {
  *state = &g_req;
  return 0;
}
static int loop_stop(void *state) { return 0; }
static int loop_rank(void *state) { return 0; }
static int loop_size(void *state) { return 1; }
static int loop_allreduce(void *state, void *data, int64_t count, nb_dtype dt, nb_reduce_op op) {
  return 0;
}
static int loop_broadcast(void *state, void *data, int64_t nbytes, int root, double timeout_s) {
  return 0;
}
static int loop_barrier(void *state, double timeout_s) { return 0; }
static int loop_start_op(void *state, void *data, int64_t count, nb_dtype dt, nb_reduce_op op,
                         nb_comm_request **req) {
  *req = (nb_comm_request *)&g_req;
  return 0;
}
__attribute__((unused)) static int loop_wait(void *state, nb_comm_request *req, double timeout_s) { return 0; }
static int loop_test(void *state, nb_comm_request *req, bool *done) {
  *done = true;
  return 0;
}

static const nb_comm_desc loop_desc = {
    .struct_size = NB_COMM_DESC_SIZE,
    .name = FX_COMM_NAME,
    .doc = "A test backend of one process.",
    .start = loop_start,
    .stop = loop_stop,
    .rank = loop_rank,
    .size = loop_size,
    .allreduce = loop_allreduce,
    .broadcast = loop_broadcast,
    .barrier = loop_barrier,
    .allreduce_start = loop_start_op,
#ifndef FX_NO_WAIT
    .wait = loop_wait,
#endif
    .test = loop_test,
};

static int fx_init(nb_registrar *r) { return nb_register_comm(r, &loop_desc); }

NB_PLUGIN_DEFINE(FX_NAME, "0.1", "communication backend fixture", "MIT", fx_init)
