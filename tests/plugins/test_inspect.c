/* tests/plugins/test_inspect.c — the nabla-inspect tool, run as a separate process
 * (its path comes from meson in $NABLA_INSPECT) over a temporary plugin directory.
 */
#include <cjson/cJSON.h>
#include <string.h>

#include "fxutil.h"
#include "testutil.h"

static char *g_out;

/* Run nabla-inspect with up to 4 arguments; output in g_out. */
static int inspect(const char *a1, const char *a2, const char *a3, const char *a4) {
  const char *exe = getenv("NABLA_INSPECT");
  ck_assert_msg(exe != NULL, "NABLA_INSPECT is not set");
  char *argv[] = {(char *)exe, (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL};
  free(g_out);
  g_out = NULL;
  int rc = fx_run(argv, &g_out);
  ck_assert_msg(rc >= 0 && g_out, "could not run %s", exe);
  return rc;
}

#define ck_assert_out_contains(needle) \
  ck_assert_msg(strstr(g_out, (needle)) != NULL, "output lacks \"%s\":\n%s", (needle), g_out)

/* A directory with the good plugin and one that fails to load. */
static const char *setup_dir(void) {
  const char *dir = fx_tmpdir();
  fx_link(dir, "fx_good.so", "fx_good");
  fx_link(dir, "fx_noentry.so", "fx_noentry");
  fx_isolate(dir);
  return dir;
}

START_TEST(test_help) {
  ck_assert_int_eq(inspect("--help", NULL, NULL, NULL), 0);
  ck_assert_out_contains("Usage: nabla-inspect");
  ck_assert_int_eq(inspect("--bogus", NULL, NULL, NULL), 2);
  ck_assert_out_contains("unknown option '--bogus'");
}
END_TEST

START_TEST(test_list) {
  setup_dir();
  ck_assert_int_eq(inspect(NULL, NULL, NULL, NULL), 0);
  ck_assert_out_contains("plugtest_good 1.2.3");
  ck_assert_out_contains("fx_good.so");
  ck_assert_out_contains("plugtest_scale");
  ck_assert_out_contains("optimizers (1):");
  ck_assert_out_contains("1 plugin loaded: 1 op, 1 optimizer. 1 plugin file did not load");
  ck_assert_int_eq(inspect("--json", NULL, NULL, NULL), 0);
  cJSON *j = cJSON_Parse(g_out);
  ck_assert_msg(j != NULL, "not JSON: %s", g_out);
  cJSON *plugins = cJSON_GetObjectItem(j, "plugins");
  ck_assert_int_eq(cJSON_GetArraySize(plugins), 1);
  ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(plugins, 0), "name")->valuestring,
                   "plugtest_good");
  ck_assert_int_eq(cJSON_GetObjectItem(j, "not_loaded")->valueint, 1);
  cJSON_Delete(j);
}
END_TEST

START_TEST(test_op_schema) {
  setup_dir();
  ck_assert_int_eq(inspect("plugtest_scale", NULL, NULL, NULL), 0);
  ck_assert_out_contains("Op plugtest_scale  (plugin plugtest_good");
  ck_assert_out_contains("x * factor * sign * prod(size) + bias");
  ck_assert_out_contains("float32, float64");
  ck_assert_out_contains("factor         float   default 2, range [-100, 100]");
  ck_assert_out_contains("mode           string  default \"plain\", choices: plain, negate");
  ck_assert_out_contains("size           int[]   default (1, 1), range >= 1");
  ck_assert_out_contains("bias           float   required");
  ck_assert_out_contains("Graph node:  PlugtestScaleBackward");
  ck_assert_out_contains("Backward:    yes");
  ck_assert_out_contains("Samples:     yes");

  ck_assert_int_eq(inspect("--json", "plugtest_scale", NULL, NULL), 0);
  cJSON *j = cJSON_Parse(g_out);
  ck_assert_msg(j != NULL, "not JSON: %s", g_out);
  ck_assert_str_eq(cJSON_GetObjectItem(j, "kind")->valuestring, "op");
  cJSON *in0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "inputs"), 0);
  ck_assert_str_eq(cJSON_GetObjectItem(in0, "name")->valuestring, "x");
  ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(in0, "differentiable")));
  cJSON *attrs = cJSON_GetObjectItem(j, "attributes");
  ck_assert_int_eq(cJSON_GetArraySize(attrs), 4);
  ck_assert_double_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(attrs, 0), "default")->valuedouble, 2);
  ck_assert_double_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(attrs, 0), "max")->valuedouble, 100);
  ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(attrs, 1), "choices")), 2);
  ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(attrs, 3), "required")));
  cJSON_Delete(j);
}
END_TEST

START_TEST(test_optimizer_and_plugin_names) {
  setup_dir();
  ck_assert_int_eq(inspect("plugtest_sgd", NULL, NULL, NULL), 0);
  ck_assert_out_contains("Optimizer plugtest_sgd  (plugin plugtest_good)");
  ck_assert_out_contains("lr             float   default 0.1, range >= 0");
  ck_assert_int_eq(inspect("plugtest_good", NULL, NULL, NULL), 0);
  ck_assert_out_contains("license: MIT");
}
END_TEST

START_TEST(test_comm_backends_listed) {
  const char *dir = setup_dir();
  fx_link(dir, "fx_comm.so", "fx_comm");
  ck_assert_int_eq(inspect(NULL, NULL, NULL, NULL), 0);
  ck_assert_out_contains("communication backends (1):\n    plugtest_loop");
  ck_assert_out_contains("2 plugins loaded: 1 op, 1 optimizer, 1 communication backend.");
  ck_assert_out_contains("Built into the core: communication backend single.");
  ck_assert_int_eq(inspect("single", NULL, NULL, NULL), 0);
  ck_assert_out_contains("Communication backend single  (plugin core)");
  ck_assert_out_contains("allreduce (sum, average), allreduce_start / wait / test, broadcast");
  ck_assert_int_eq(inspect("--json", "plugtest_loop", NULL, NULL), 0);
  cJSON *j = cJSON_Parse(g_out);
  ck_assert_msg(j != NULL, "not JSON: %s", g_out);
  ck_assert_str_eq(cJSON_GetObjectItem(j, "kind")->valuestring, "communication backend");
  ck_assert_str_eq(cJSON_GetObjectItem(j, "plugin")->valuestring, "plugtest_comm");
  cJSON_Delete(j);
}
END_TEST

START_TEST(test_missing_name) {
  setup_dir();
  ck_assert_int_eq(inspect("no_such_op", NULL, NULL, NULL), 1);
  ck_assert_out_contains("no op, optimizer, communication backend or plugin named 'no_such_op'");
  ck_assert_out_contains("fx_noentry.so"); /* why: the plugin that failed */
  ck_assert_int_eq(inspect("--json", "no_such_op", NULL, NULL), 1);
  cJSON *j = cJSON_Parse(g_out);
  ck_assert_msg(j && cJSON_GetObjectItem(j, "error"), "not a JSON error: %s", g_out);
  cJSON_Delete(j);
}
END_TEST

START_TEST(test_failed) {
  setup_dir();
  ck_assert_int_eq(inspect("--failed", NULL, NULL, NULL), 0);
  ck_assert_out_contains("fx_noentry.so  failed");
  ck_assert_out_contains("no entry point nabla_plugin_entry");
  ck_assert_out_contains("1 plugin file did not load.");
  ck_assert_msg(strstr(g_out, "plugtest_good") == NULL, "good plugin listed as failed:\n%s", g_out);
  ck_assert_int_eq(inspect("--failed", "--json", NULL, NULL), 0);
  cJSON *j = cJSON_Parse(g_out);
  ck_assert_msg(j != NULL, "not JSON: %s", g_out);
  cJSON *f = cJSON_GetObjectItem(j, "failed");
  ck_assert_int_eq(cJSON_GetArraySize(f), 1);
  ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(f, 0), "state")->valuestring, "failed");
  cJSON_Delete(j);
}
END_TEST

START_TEST(test_paths) {
  const char *dir = setup_dir(), *extra = fx_tmpdir();
  ck_assert_int_eq(inspect("--plugin-path", extra, "--paths", NULL), 0);
  ck_assert_out_contains(" 1. ");
  ck_assert_out_contains("[added in code]");
  ck_assert_out_contains("[NABLA_PLUGIN_PATH]");
  ck_assert_out_contains(dir);
  ck_assert_out_contains("not searched: NABLA_PLUGIN_SYSTEM_PATH is set");
  ck_assert_int_eq(inspect("--paths", "--json", NULL, NULL), 0);
  cJSON *j = cJSON_Parse(g_out);
  ck_assert_msg(j != NULL, "not JSON: %s", g_out);
  cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "paths"), 0);
  ck_assert_str_eq(cJSON_GetObjectItem(p0, "origin")->valuestring, "NABLA_PLUGIN_PATH");
  ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(p0, "exists")));
  cJSON_Delete(j);
  ck_assert_int_eq(inspect("--plugin-path", "/nonexistent/dir", NULL, NULL), 2);
}
END_TEST

START_TEST(test_file_mode) {
  fx_isolate("");
  ck_assert_int_eq(inspect(fx_path("fx_good"), NULL, NULL, NULL), 0);
  ck_assert_out_contains("plugtest_good 1.2.3");
  ck_assert_out_contains("plugtest_scale");
  ck_assert_out_contains("OK, loads and validates");
  ck_assert_int_eq(inspect(fx_path("fx_abimajor"), NULL, NULL, NULL), 1);
  ck_assert_out_contains("rebuild the plugin against this nabla");
  ck_assert_out_contains("FAILED");
  ck_assert_int_eq(inspect(fx_path("fx_initfail"), "--json", NULL, NULL), 1);
  cJSON *j = cJSON_Parse(g_out);
  ck_assert_msg(j != NULL, "not JSON: %s", g_out);
  ck_assert_str_eq(cJSON_GetObjectItem(j, "state")->valuestring, "failed");
  cJSON_Delete(j);
  ck_assert_int_eq(inspect("/nonexistent/x.so", NULL, NULL, NULL), 1);
}
END_TEST

START_TEST(test_file_mode_crash) {
  fx_isolate("");
  ck_assert_int_eq(inspect(fx_path("fx_crash"), NULL, NULL, NULL), 1); /* not killed itself */
  ck_assert_out_contains("CRASHED");
  ck_assert_out_contains("SIGSEGV");
  ck_assert_int_eq(inspect("--json", fx_path("fx_crash"), NULL, NULL), 1);
  char *brace = strchr(g_out, '{'); /* a sanitizer may have written its report first */
  cJSON *j = brace ? cJSON_Parse(brace) : NULL;
  ck_assert_msg(j != NULL, "not JSON: %s", g_out);
  ck_assert_str_eq(cJSON_GetObjectItem(j, "state")->valuestring, "crashed");
  ck_assert_str_eq(cJSON_GetObjectItem(j, "signal")->valuestring, "SIGSEGV");
  cJSON_Delete(j);
}
END_TEST

/* Issue 16: a plugin crashing, calling exit() or hanging in its init killed (or froze)
 * nabla-inspect in every mode. Now it is scanned in a child, named, and the rest load. */
static const char *setup_crash_dir(bool hang) {
  const char *dir = fx_tmpdir();
  fx_link(dir, "a_crash.so", "fx_crash");
  fx_link(dir, "b_exit.so", "fx_exit");
  if (hang) fx_link(dir, "c_hang.so", "fx_hang"); /* costs the 1 s time limit per run */
  fx_link(dir, "fx_good.so", "fx_good");
  fx_isolate(dir);
  setenv("NABLA_PLUGIN_SCAN_TIMEOUT", "1", 1);
  return dir;
}

static const cJSON *find_file(const cJSON *arr, const char *suffix) {
  const cJSON *e;
  cJSON_ArrayForEach(e, arr) {
    const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(e, "file"));
    if (f && strlen(f) >= strlen(suffix) && !strcmp(f + strlen(f) - strlen(suffix), suffix)) return e;
  }
  return NULL;
}

START_TEST(test_list_survives_crashing_plugins) {
  setup_crash_dir(true);
  ck_assert_int_eq(inspect(NULL, NULL, NULL, NULL), 0);
  ck_assert_out_contains("plugtest_good 1.2.3");
  ck_assert_out_contains("fx_crash.so  crashed");
  ck_assert_out_contains("the plugin crashed while loading: killed by SIGSEGV");
  ck_assert_out_contains("fx_exit.so  exited");
  ck_assert_out_contains("plugin called exit(3) during loading");
  ck_assert_out_contains("fx_hang.so  timeout");
  ck_assert_out_contains("did not finish loading within 1 s");
  ck_assert_out_contains("1 plugin loaded: 1 op, 1 optimizer. 3 plugin files did not load");

  ck_assert_int_eq(inspect("--json", NULL, NULL, NULL), 0);
  cJSON *j = cJSON_Parse(g_out);
  ck_assert_msg(j != NULL, "not JSON: %s", g_out);
  ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "plugins")), 1);
  const cJSON *crashed = cJSON_GetObjectItem(j, "crashed");
  const cJSON *c = find_file(crashed, "fx_crash.so"), *x = find_file(crashed, "fx_exit.so");
  ck_assert_msg(c && x, "crashed entries missing: %s", g_out);
  ck_assert_str_eq(cJSON_GetObjectItem(c, "state")->valuestring, "crashed");
  ck_assert_str_eq(cJSON_GetObjectItem(c, "signal")->valuestring, "SIGSEGV");
  ck_assert_str_eq(cJSON_GetObjectItem(x, "state")->valuestring, "exited");
  ck_assert_int_eq(cJSON_GetObjectItem(x, "exit_status")->valueint, 3);
  ck_assert_str_eq(cJSON_GetObjectItem(x, "message")->valuestring, "plugin called exit(3) during loading");
  ck_assert_int_eq(cJSON_GetObjectItem(j, "not_loaded")->valueint, 3);
  ck_assert_str_eq(cJSON_GetObjectItem(find_file(crashed, "fx_hang.so"), "state")->valuestring, "timeout");
  cJSON_Delete(j);
}
END_TEST

START_TEST(test_failed_and_names_survive_crashing_plugins) {
  setup_crash_dir(false);
  ck_assert_int_eq(inspect("--failed", NULL, NULL, NULL), 0);
  ck_assert_out_contains("fx_crash.so  crashed");
  ck_assert_out_contains("plugin called exit(3) during loading");
  ck_assert_out_contains("2 plugin files did not load.");
  ck_assert_int_eq(inspect("--failed", "--json", NULL, NULL), 0);
  cJSON *j = cJSON_Parse(g_out);
  ck_assert_msg(j != NULL, "not JSON: %s", g_out);
  const cJSON *failed = cJSON_GetObjectItem(j, "failed");
  ck_assert_int_eq(cJSON_GetArraySize(failed), 2);
  ck_assert_str_eq(cJSON_GetObjectItem(find_file(failed, "fx_crash.so"), "state")->valuestring, "crashed");
  cJSON_Delete(j);
  /* an op of the plugin that survived */
  ck_assert_int_eq(inspect("plugtest_scale", NULL, NULL, NULL), 0);
  ck_assert_out_contains("Op plugtest_scale  (plugin plugtest_good");
  /* a name nobody provides: the crashed plugins are among the reasons */
  ck_assert_int_eq(inspect("no_such_op", NULL, NULL, NULL), 1);
  ck_assert_out_contains("fx_crash.so: the plugin crashed while loading");
}
END_TEST

START_TEST(test_file_mode_exit) {
  fx_isolate("");
  ck_assert_int_eq(inspect(fx_path("fx_exit"), NULL, NULL, NULL), 1);
  ck_assert_out_contains("EXITED: plugin called exit(3) during loading");
  ck_assert_int_eq(inspect("--json", fx_path("fx_exit"), NULL, NULL), 1);
  cJSON *j = cJSON_Parse(g_out);
  ck_assert_msg(j != NULL, "not JSON: %s", g_out);
  ck_assert_str_eq(cJSON_GetObjectItem(j, "state")->valuestring, "exited");
  ck_assert_int_eq(cJSON_GetObjectItem(j, "exit_status")->valueint, 3);
  ck_assert_str_eq(cJSON_GetObjectItem(j, "message")->valuestring, "plugin called exit(3) during loading");
  cJSON_Delete(j);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("inspect");
  TCase *tc = tcase_create("modes");
  tcase_add_test(tc, test_help);
  tcase_add_test(tc, test_list);
  tcase_add_test(tc, test_op_schema);
  tcase_add_test(tc, test_optimizer_and_plugin_names);
  tcase_add_test(tc, test_comm_backends_listed);
  tcase_add_test(tc, test_missing_name);
  tcase_add_test(tc, test_failed);
  tcase_add_test(tc, test_paths);
  tcase_add_test(tc, test_file_mode);
  tcase_add_test(tc, test_file_mode_crash);
  tcase_add_test(tc, test_file_mode_exit);
  tcase_add_test(tc, test_list_survives_crashing_plugins);
  tcase_add_test(tc, test_failed_and_names_survive_crashing_plugins);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(suite()); }
