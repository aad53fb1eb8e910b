/* tests/dist/test_comm_single.c — the communicator and the data-parallel wrapper in one
 * process, on the core's "single" backend (no MPI needed): choosing a backend, argument
 * checks, non-blocking work, and the wrapper's rules (frozen parameters, sync off, a
 * second gradient in one step, freezing after the wrap). Each test runs in its own
 * forked process (Check's default), so each opens its communicator afresh.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

START_TEST(open_picks_single_without_launcher) {
  unsetenv("NABLA_COMM");
  unsetenv("OMPI_COMM_WORLD_SIZE");
  nb_comm *c = nb_comm_open(NULL);
  ck_assert_msg(c, "%s", nb_last_error());
  ck_assert_str_eq(nb_comm_backend(c), "single");
  ck_assert_int_eq(nb_comm_rank(c), 0);
  ck_assert_int_eq(nb_comm_size(c), 1);
  ck_assert_int_eq(nb_comm_local_size(c), 1);
  ck_assert_int_ge(nb_comm_suggested_threads(c), 1);
  ck_assert_ptr_eq(nb_comm_open("single"), c); /* one communicator per backend */
  ck_assert_int_eq(nb_comm_close(c), 0);
  ck_assert_int_eq(nb_comm_close(c), 0); /* the last reference stops it */
  ck_assert_int_eq(nb_comm_close(c), NB_ESTATE);
  ck_assert_ptr_eq(nb_comm_open(NULL), c); /* and "single" starts again */
  ck_assert_int_eq(nb_comm_close(c), 0);
}
END_TEST

START_TEST(open_names_what_is_missing) {
  setenv("NABLA_PLUGIN_PATH", "", 1); /* no plugins at all, so no mpi plugin */
  setenv("NABLA_COMM", "carrier_pigeon", 1);
  ck_assert_ptr_null(nb_comm_open(NULL));
  ck_assert_error_contains("NABLA_COMM=carrier_pigeon");
  ck_assert_error_contains("no communication backend 'carrier_pigeon'; registered: single");
  unsetenv("NABLA_COMM");
  setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  ck_assert_ptr_null(nb_comm_open(NULL));
  ck_assert_error_contains("started by an MPI launcher (OMPI_COMM_WORLD_SIZE=4)");
}
END_TEST

START_TEST(tensors_are_checked) {
  nb_comm *c = nb_comm_open("single");
  ck_assert_ptr_nonnull(c);
  nb_scope_begin();
  nb_tensor *f = nb_ones(2, (int64_t[]){2, 3}, NB_F32);
  ck_assert_int_eq(nb_comm_allreduce(c, f, NB_REDUCE_AVG), 0);
  double ones[6] = {1, 1, 1, 1, 1, 1};
  ck_assert_tensor_values(f, ones, 6, 0);
  ck_assert_int_eq(nb_comm_allreduce(c, nb_zeros(1, (int64_t[]){3}, NB_I64), NB_REDUCE_SUM),
                   NB_EDTYPE);
  ck_assert_error_contains("float32 or float64");
  nb_tensor *t = nb_as_strided(f, 2, (int64_t[]){3, 2}, (int64_t[]){1, 3}, 0);
  ck_assert_int_eq(nb_comm_allreduce(c, t, NB_REDUCE_SUM), NB_EINVAL);
  ck_assert_error_contains("contiguous");
  ck_assert_int_eq(nb_comm_allreduce(c, f, (nb_reduce_op)7), NB_EINVAL);
  ck_assert_int_eq(nb_comm_allreduce(NULL, f, NB_REDUCE_SUM), NB_EINVAL);
  /* broadcast takes any dtype; the root must be a rank */
  ck_assert_int_eq(nb_comm_broadcast(c, nb_zeros(1, (int64_t[]){3}, NB_I64), 0), 0);
  ck_assert_int_eq(nb_comm_broadcast(c, f, 1), NB_EINVAL);
  ck_assert_error_contains("root 1 is not a rank of this job of 1 process");
  ck_assert_int_eq(nb_comm_barrier(c), 0);
  /* non-blocking: the work keeps the tensor and finishes */
  uint32_t v = nb_version(f);
  nb_comm_work *w = nb_comm_allreduce_start(c, f, NB_REDUCE_SUM);
  ck_assert_ptr_nonnull(w);
  bool done = false;
  ck_assert_int_eq(nb_comm_test(w, &done), 0);
  ck_assert(done);
  ck_assert_uint_gt(nb_version(f), v);
  ck_assert_int_eq(nb_comm_wait(nb_comm_allreduce_start(c, f, NB_REDUCE_AVG)), 0);
  ck_assert_int_eq(nb_comm_set_timeout(c, 2.5), 0);
  ck_assert_double_eq(nb_comm_timeout(c), 2.5);
  ck_assert_ptr_null(nb_comm_broken(c));
  ck_assert_int_eq(nb_comm_abort(c, 1), NB_EUNSUPPORTED); /* single cannot end a job */
  nb_scope_end();
  ck_assert_int_eq(nb_comm_close(c), 0);
}
END_TEST

/* Linear(3, 2) then Linear(2, 1) in a Sequential. */
static nb_module *small_net(void) {
  nb_generator *g = nb_generator_new(1);
  nb_module *a = nb_linear_new(3, 2, true, g), *b = nb_linear_new(2, 1, true, g);
  nb_generator_free(g);
  return nb_sequential_new(2, (nb_module *[]){a, b});
}

static int backward_once(nb_module *net) {
  nb_scope_begin();
  nb_tensor *x = nb_ones(2, (int64_t[]){4, 3}, NB_F32);
  int rc = nb_backward(nb_sum(nb_module_forward(net, x)), NULL, 0);
  nb_scope_end();
  return rc;
}

START_TEST(ddp_rules) {
  nb_comm *c = nb_comm_open("single");
  nb_module *net = small_net();
  ck_assert_int_eq(nb_set_requires_grad(nb_module_get(net, "0.bias"), false), 0); /* frozen */
  nb_ddp_opts o = nb_ddp_defaults();
  ck_assert_double_eq(o.bucket_mb, 25);
  o.bucket_mb = 0;
  ck_assert_ptr_null(nb_ddp_new(net, c, &o));
  ck_assert_error_contains("bucket sizes must be > 0");
  nb_ddp *d = nb_ddp_new(net, c, NULL);
  ck_assert_msg(d, "%s", nb_last_error());
  ck_assert_int_eq(nb_ddp_num_buckets(d), 1);
  nb_ddp_bucket_info bi;
  ck_assert_int_eq(nb_ddp_get_bucket(d, 0, &bi), 0);
  ck_assert_int_eq(bi.n_params, 3); /* 1.bias, 1.weight, 0.weight: the frozen one left out */
  ck_assert_int_eq(bi.numel, 1 + 2 + 6);
  ck_assert_str_eq(bi.first_param, "1.bias");
  ck_assert_int_eq(nb_ddp_get_bucket(d, 1, &bi), NB_EINVAL);

  /* one step: sent from the hook of the last gradient, averages written back */
  ck_assert_int_eq(backward_once(net), 0);
  ck_assert_int_eq(nb_ddp_set_sync(d, false), NB_ESTATE); /* between backward and finish */
  ck_assert_int_eq(nb_ddp_finish(d), 0);
  ck_assert_int_eq(nb_ddp_get_bucket(d, 0, &bi), 0);
  ck_assert(bi.sent_in_backward);
  ck_assert_ptr_null(nb_grad(nb_module_get(net, "0.bias")));
  ck_assert_ptr_nonnull(nb_grad(nb_module_get(net, "0.weight")));

  /* a second backward before finish: the bucket went already */
  nb_module_zero_grad(net, true);
  ck_assert_int_eq(backward_once(net), 0);
  ck_assert_int_eq(backward_once(net), NB_ESTATE);
  ck_assert_error_contains("got a second gradient in this step after its bucket was sent");
  ck_assert_int_lt(nb_ddp_finish(d), 0);
  ck_assert_error_contains("a gradient hook failed during backward");

  /* sync off: gradients accumulate locally, finish does nothing */
  nb_module_zero_grad(net, true);
  ck_assert_int_eq(nb_ddp_set_sync(d, false), 1);
  ck_assert_int_eq(backward_once(net), 0);
  ck_assert_int_eq(backward_once(net), 0);
  ck_assert_int_eq(nb_ddp_finish(d), 0);
  ck_assert_int_eq(nb_ddp_set_sync(d, true), 0);
  ck_assert_int_eq(backward_once(net), 0);
  ck_assert_int_eq(nb_ddp_finish(d), 0);

  /* unfreezing after the wrap is refused: that gradient would not be averaged */
  ck_assert_int_eq(nb_set_requires_grad(nb_module_get(net, "0.bias"), true), 0);
  ck_assert_int_eq(backward_once(net), 0);
  ck_assert_int_eq(nb_ddp_finish(d), NB_ESTATE);
  ck_assert_error_contains("parameter '0.bias' was frozen when the model was wrapped");
  nb_ddp_free(d);
  nb_module_free(net);
  ck_assert_int_eq(nb_comm_close(c), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("comm_single");
  TCase *tc = tcase_create("single");
  tcase_add_test(tc, open_picks_single_without_launcher);
  tcase_add_test(tc, open_names_what_is_missing);
  tcase_add_test(tc, tensors_are_checked);
  tcase_add_test(tc, ddp_rules);
  suite_add_tcase(s, tc);
  return nb_test_run(s);
}
