/* Core: the thread-local error state and the log callback. */
#include <pthread.h>
#include <string.h>

#include "testutil.h"

START_TEST(test_set_and_clear) {
  nb_clear_error();
  ck_assert_str_eq(nb_last_error(), "");
  ck_assert_int_eq(nb_last_status(), NB_OK);
  ck_assert_int_eq(nb_set_error(NB_ESHAPE, "mul: shapes %s and %s cannot be broadcast", "[2,3]", "[4]"),
                   NB_ESHAPE);
  ck_assert_str_eq(nb_last_error(), "mul: shapes [2,3] and [4] cannot be broadcast");
  ck_assert_int_eq(nb_last_status(), NB_ESHAPE);
  nb_error_prefix("layer %d", 3);
  ck_assert_str_eq(nb_last_error(), "layer 3: mul: shapes [2,3] and [4] cannot be broadcast");
  /* the message may be built from the previous one */
  nb_set_error(NB_EINVAL, "outer (%s)", nb_last_error());
  ck_assert_str_eq(nb_last_error(), "outer (layer 3: mul: shapes [2,3] and [4] cannot be broadcast)");
  nb_clear_error();
  ck_assert_str_eq(nb_last_error(), "");
  ck_assert_int_eq(nb_last_status(), NB_OK);
}
END_TEST

START_TEST(test_long_messages_truncate) {
  char big[3000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  nb_set_error(NB_EINVAL, "%s", big);
  size_t n = strlen(nb_last_error());
  ck_assert(n > 500 && n < 3000);
  nb_error_prefix("ctx");
  ck_assert(strncmp(nb_last_error(), "ctx: xxx", 8) == 0);
  ck_assert(strlen(nb_last_error()) < 3000);
}
END_TEST

START_TEST(test_status_names) {
  ck_assert_str_eq(nb_status_name(NB_OK), "NB_OK");
  ck_assert_str_eq(nb_status_name(NB_EINVAL), "NB_EINVAL");
  ck_assert_str_eq(nb_status_name(NB_ESHAPE), "NB_ESHAPE");
  ck_assert_str_eq(nb_status_name(NB_EUNSUPPORTED), "NB_EUNSUPPORTED");
  ck_assert_str_eq(nb_status_name(-1000), "NB_E?");
}
END_TEST

static void *thread_sets_error(void *arg) {
  (void)arg;
  nb_set_error(NB_EIO, "from the other thread");
  return NULL;
}

START_TEST(test_errors_are_per_thread) {
  nb_set_error(NB_EDTYPE, "main thread");
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, thread_sets_error, NULL), 0);
  pthread_join(th, NULL);
  ck_assert_str_eq(nb_last_error(), "main thread");
  ck_assert_int_eq(nb_last_status(), NB_EDTYPE);
}
END_TEST

typedef struct logged {
  int calls, level;
  char msg[128];
} logged;
static void capture(int level, const char *msg, void *user) {
  logged *l = user;
  l->calls++;
  l->level = level;
  snprintf(l->msg, sizeof l->msg, "%s", msg);
}

START_TEST(test_log_callback) {
  logged l = {0};
  nb_set_log_callback(capture, &l);
  nb_log_message(NB_LOG_WARN, "plugin %s skipped (%d)", "x", 7);
  ck_assert_int_eq(l.calls, 1);
  ck_assert_int_eq(l.level, NB_LOG_WARN);
  ck_assert_str_eq(l.msg, "plugin x skipped (7)");
  nb_log_message(NB_LOG_DEBUG, "debug");
  ck_assert_int_eq(l.calls, 2);
  ck_assert_int_eq(l.level, NB_LOG_DEBUG);
  nb_set_log_callback(NULL, NULL); /* default again: NABLA_QUIET keeps the test output clean */
  nb_log_message(NB_LOG_WARN, "not captured");
  ck_assert_int_eq(l.calls, 2);
}
END_TEST

static Suite *make(void) {
  Suite *s = suite_create("core_errors");
  TCase *tc = tcase_create("errors");
  tcase_add_test(tc, test_set_and_clear);
  tcase_add_test(tc, test_long_messages_truncate);
  tcase_add_test(tc, test_status_names);
  tcase_add_test(tc, test_errors_are_per_thread);
  tcase_add_test(tc, test_log_callback);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(make()); }
