/* Core: reference counts, scopes, nb_keep/adopt, storage sharing and the live count. */
#include <pthread.h>
#include <string.h>

#include "testutil.h"

START_TEST(test_owned_outside_scope) {
  int64_t live = nb_live_tensors();
  ck_assert_int_eq(nb_scope_depth(), 0);
  nb_tensor *t = nb_zeros(1, (int64_t[]){3}, NB_F32);
  ck_assert_int_eq(nb_live_tensors(), live + 1);
  ck_assert_ptr_eq(nb_retain(t), t);
  nb_release(t);
  ck_assert_int_eq(nb_live_tensors(), live + 1);
  nb_release(t);
  ck_assert_int_eq(nb_live_tensors(), live);
  nb_release(NULL);
  ck_assert_ptr_null(nb_retain(NULL));
}
END_TEST

START_TEST(test_scope_releases) {
  int64_t live = nb_live_tensors();
  ck_assert_int_eq(nb_scope_begin(), 1);
  nb_zeros(1, (int64_t[]){3}, NB_F32);
  nb_ones(0, NULL, NB_F64);
  nb_arange(0, 10, 1, NB_I64);
  ck_assert_int_eq(nb_live_tensors(), live + 3);
  ck_assert_int_eq(nb_scope_end(), 0);
  ck_assert_int_eq(nb_live_tensors(), live);
  ck_assert_int_eq(nb_scope_depth(), 0);
  ck_assert_int_eq(nb_scope_end(), NB_ESTATE);
  ck_assert_error_contains("nb_scope_end: no scope is open");
}
END_TEST

START_TEST(test_ten_thousand_scoped_creations) {
  int64_t live = nb_live_tensors();
  for (int i = 0; i < 10000; i++) {
    nb_scope_begin();
    nb_tensor *a = nb_zeros(1, (int64_t[]){4}, NB_F32);
    nb_tensor *v = nb_as_strided(a, 1, (int64_t[]){2}, (int64_t[]){2}, 0);
    nb_copy_data(v);
    nb_scalar(i, NB_F64);
    nb_scope_end();
  }
  ck_assert_int_eq(nb_live_tensors(), live);
  /* the same inside an outer scope that stays open */
  nb_scope_begin();
  for (int i = 0; i < 10000; i++) {
    nb_scope_begin();
    nb_ones(2, (int64_t[]){2, 2}, NB_F32);
    nb_scope_end();
  }
  ck_assert_int_eq(nb_live_tensors(), live);
  nb_scope_end();
}
END_TEST

START_TEST(test_nested_and_end_return) {
  int64_t live = nb_live_tensors();
  ck_assert_int_eq(nb_scope_begin(), 1);
  ck_assert_int_eq(nb_scope_begin(), 2);
  nb_zeros(1, (int64_t[]){2}, NB_F32);
  nb_tensor *r = nb_full(1, (int64_t[]){2}, 5, NB_F32);
  ck_assert_ptr_eq(nb_scope_end_return(r), r);
  ck_assert_int_eq(nb_scope_depth(), 1);
  ck_assert_int_eq(nb_live_tensors(), live + 1); /* the temporary is gone, r moved out */
  double e[] = {5, 5};
  ck_assert_tensor_values(r, e, 2, 0);
  ck_assert_int_eq(nb_scope_end(), 0); /* the outer scope now owns r */
  ck_assert_int_eq(nb_live_tensors(), live);

  /* At depth 1, end_return hands the tensor to the caller. */
  nb_scope_begin();
  nb_tensor *mine = nb_scope_end_return(nb_ones(0, NULL, NB_F32));
  ck_assert_int_eq(nb_scope_depth(), 0);
  ck_assert_int_eq(nb_live_tensors(), live + 1);
  ck_assert_double_eq(nb_item(mine), 1);
  nb_release(mine);
  ck_assert_int_eq(nb_live_tensors(), live);

  /* NULL passes through and keeps the failing call's error. */
  nb_scope_begin();
  nb_tensor *bad = nb_empty(2, NULL, NB_F32);
  ck_assert_ptr_null(nb_scope_end_return(bad));
  ck_assert_error_contains("nb_empty: shape is NULL");
  ck_assert_int_eq(nb_scope_depth(), 0);
  ck_assert_ptr_null(nb_scope_end_return(NULL));
  ck_assert_int_eq(nb_last_status(), NB_ESTATE);
}
END_TEST

START_TEST(test_keep_and_adopt) {
  int64_t live = nb_live_tensors();
  nb_scope_begin();
  nb_tensor *k = nb_keep(nb_arange(0, 3, 1, NB_F32));
  nb_scope_end();
  ck_assert_int_eq(nb_live_tensors(), live + 1);
  double e[] = {0, 1, 2};
  ck_assert_tensor_values(k, e, 3, 0);
  nb_scope_begin();
  ck_assert_ptr_eq(nb_scope_adopt(k), k); /* the scope takes over the caller's reference */
  nb_scope_end();
  ck_assert_int_eq(nb_live_tensors(), live);
  ck_assert_ptr_null(nb_scope_adopt(NULL));
}
END_TEST

START_TEST(test_views_keep_storage) {
  int64_t live = nb_live_tensors();
  nb_scope_begin();
  nb_tensor *base = nb_arange(0, 8, 1, NB_F64);
  nb_tensor *view = nb_keep(nb_as_strided(base, 1, (int64_t[]){4}, (int64_t[]){2}, 1));
  nb_scope_end(); /* base is freed; its storage lives on in the view */
  ck_assert_int_eq(nb_live_tensors(), live + 1);
  double e[] = {1, 3, 5, 7};
  ck_assert_tensor_values(view, e, 4, 0);
  nb_bump_version(view);
  ck_assert_int_eq(nb_version(view), 1);
  nb_release(view);
  ck_assert_int_eq(nb_live_tensors(), live);
}
END_TEST

static void *thread_leaves_scope_open(void *arg) {
  (void)arg;
  nb_scope_begin();
  nb_scope_begin();
  for (int i = 0; i < 100; i++)
    nb_zeros(1, (int64_t[]){8}, NB_F32);
  /* exits with two scopes open: the thread-exit destructor must release them */
  return NULL;
}

static void *thread_scoped_work(void *arg) {
  int *depth_seen = arg;
  *depth_seen = nb_scope_depth(); /* scopes are per thread */
  nb_scope_begin();
  nb_tensor *own = nb_keep(nb_ones(1, (int64_t[]){3}, NB_F32));
  nb_scope_end();
  nb_release(own);
  return NULL;
}

START_TEST(test_scopes_are_per_thread) {
  int64_t live = nb_live_tensors();
  nb_scope_begin();
  nb_zeros(1, (int64_t[]){2}, NB_F32);
  pthread_t th;
  int seen = -1;
  ck_assert_int_eq(pthread_create(&th, NULL, thread_scoped_work, &seen), 0);
  pthread_join(th, NULL);
  ck_assert_int_eq(seen, 0);
  ck_assert_int_eq(nb_scope_depth(), 1);
  ck_assert_int_eq(pthread_create(&th, NULL, thread_leaves_scope_open, NULL), 0);
  pthread_join(th, NULL);
  ck_assert_int_eq(nb_live_tensors(), live + 1);
  nb_scope_end();
  ck_assert_int_eq(nb_live_tensors(), live);
}
END_TEST

static Suite *make(void) {
  Suite *s = suite_create("core_scope");
  TCase *tc = tcase_create("scope");
  tcase_add_test(tc, test_owned_outside_scope);
  tcase_add_test(tc, test_scope_releases);
  tcase_add_test(tc, test_ten_thousand_scoped_creations);
  tcase_add_test(tc, test_nested_and_end_return);
  tcase_add_test(tc, test_keep_and_adopt);
  tcase_add_test(tc, test_views_keep_storage);
  tcase_add_test(tc, test_scopes_are_per_thread);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(make()); }
