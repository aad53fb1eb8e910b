/* tests/plugins/test_plugins.c — the plugin loader and registry (spec/plugins.md).
 *
 * Every test runs in its own forked process (Check's default), so each one starts with
 * a fresh loader and chooses its own search path (fx_isolate) before the first load.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fxutil.h"
#include "testutil.h"

/* Message of the report entry for fixture `name` (loaded before). */
static const nb_plugin_info *entry_of(const char *name) {
  char suffix[256];
  snprintf(suffix, sizeof suffix, "/%s.so", name);
  int i = fx_report_find(suffix);
  ck_assert_msg(i >= 0, "no report entry for %s", name);
  return nb_plugin_report_at(i);
}

#define ck_assert_str_contains(hay, needle)                                                 \
  ck_assert_msg((hay) && strstr((hay), (needle)), "\"%s\" lacks \"%s\"", (hay) ? (hay) : "(null)", \
                (needle))

/* The dlerror() text the system gives for this file (for "kept verbatim" checks). */
static void system_dlerror(const char *path, const char *sym, char *buf, size_t size) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h) {
    dlerror();
    void *s = dlsym(h, sym);
    const char *e = dlerror();
    ck_assert_ptr_null(s);
    snprintf(buf, size, "%s", e ? e : "");
    dlclose(h);
  } else {
    snprintf(buf, size, "%s", dlerror());
  }
}

static nb_tensor *run_scale(nb_tensor *x, int n_attrs, const nb_attr *attrs) {
  return nb_call1("plugtest_scale", 1, &x, n_attrs, attrs);
}

/* ---- a good plugin ------------------------------------------------------------------ */

START_TEST(test_good_explicit) {
  fx_isolate(fx_tmpdir());
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_good")), 0);
  const nb_op *op = nb_op_find("plugtest_scale");
  ck_assert_ptr_nonnull(op);
  ck_assert_str_eq(nb_op_plugin_name(op), "plugtest_good");
  ck_assert_str_contains(nb_op_plugin_path(op), "/fx_good.so");
  const nb_op_desc *d = nb_op_descriptor(op);
  ck_assert_str_eq(d->node_name, "PlugtestScaleBackward");
  ck_assert_int_eq(d->n_attrs, 4);
  ck_assert_ptr_nonnull(nb_optim_find("plugtest_sgd"));
  ck_assert_str_eq(nb_optim_plugin_name(nb_optim_find("plugtest_sgd")), "plugtest_good");

  ck_assert_int_eq(nb_plugin_report_count(), 1);
  const nb_plugin_info *p = nb_plugin_report_at(0);
  ck_assert_int_eq(p->state, NB_PLUGIN_LOADED);
  ck_assert_str_eq(p->name, "plugtest_good");
  ck_assert_str_eq(p->version, "1.2.3");
  ck_assert_str_eq(p->license, "MIT");
  ck_assert_str_eq(p->message, "");
  ck_assert_int_eq(p->n_ops, 1);
  ck_assert_int_eq(p->n_optimizers, 1);
  const char *names[4];
  ck_assert_int_eq(nb_plugin_report_ops(0, names, 4), 1);
  ck_assert_str_eq(names[0], "plugtest_scale");
  ck_assert_int_eq(nb_plugin_report_optimizers(0, names, 4), 1);
  ck_assert_str_eq(names[0], "plugtest_sgd");
  /* loading the same file again (through another path spelling) is a no-op */
  char again[4096];
  snprintf(again, sizeof again, "%s/./fx_good.so", FIXTURE_DIR);
  ck_assert_int_eq(nb_plugin_load(again), 0);
  ck_assert_int_eq(nb_plugin_report_count(), 1);
}
END_TEST

START_TEST(test_good_op_runs) {
  fx_isolate("");
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_good")), 0);
  nb_scope_begin();
  double xs[3] = {1, 2, 3};
  nb_tensor *x = nb_from_doubles(xs, 3, NB_F64);
  nb_attr bias = NB_A_FLOAT("bias", 0.5);
  double e1[3] = {2.5, 4.5, 6.5}; /* factor 2 (default) */
  ck_assert_tensor_values(run_scale(x, 1, &bias), e1, 3, 1e-12);
  /* backward through the plugin's op: d/dx = factor * sign * prod(size) */
  nb_requires_grad_(x);
  nb_attr a[] = {NB_A_FLOAT("bias", 0), NB_A_STR("mode", "negate"), NB_A_INT("size", 3)};
  nb_tensor *y = run_scale(x, 3, a);
  ck_assert_ptr_nonnull(y);
  ck_assert_str_eq(nb_node_name(nb_grad_fn(y)), "PlugtestScaleBackward");
  ck_assert_int_eq(nb_backward(y, nb_ones(1, (int64_t[]){3}, NB_F64), 0), 0);
  double g[3] = {-18, -18, -18};
  ck_assert_tensor_values(nb_grad(x), g, 3, 1e-12);
  nb_scope_end();
}
END_TEST

START_TEST(test_attribute_resolution) {
  fx_isolate("");
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_good")), 0);
  nb_scope_begin();
  nb_tensor *x = nb_from_doubles((double[]){1}, 1, NB_F64);
  /* INT given for FLOAT, INTS given as one INT is broadcast to the default's length */
  nb_attr a1[] = {NB_A_FLOAT("bias", 0), NB_A_INT("factor", 3), NB_A_INT("size", 2)};
  ck_assert_tensor_values(run_scale(x, 3, a1), ((double[]){12}), 1, 1e-12);
  nb_attr a2[] = {NB_A_FLOAT("bias", 1), NB_A_INTS("size", 2, 3), NB_A_STR("mode", "negate")};
  ck_assert_tensor_values(run_scale(x, 3, a2), ((double[]){-11}), 1, 1e-12);
  nb_attr a3[] = {NB_A_FLOAT("bias", 0), NB_A_INTS("size", 5)}; /* one value for all */
  ck_assert_tensor_values(run_scale(x, 2, a3), ((double[]){50}), 1, 1e-12);

  nb_attr unknown[] = {NB_A_FLOAT("bias", 0), NB_A_INT("stride", 2)};
  ck_assert_ptr_null(run_scale(x, 2, unknown));
  ck_assert_int_eq(nb_last_status(), NB_EINVAL);
  ck_assert_error_contains("plugtest_scale: unknown attribute 'stride'");
  ck_assert_error_contains("accepted: factor, mode, size, bias");
  ck_assert_ptr_null(run_scale(x, 0, NULL));
  ck_assert_error_contains("plugtest_scale: missing required attribute 'bias'");
  nb_attr big[] = {NB_A_FLOAT("bias", 0), NB_A_FLOAT("factor", 1000)};
  ck_assert_ptr_null(run_scale(x, 2, big));
  ck_assert_error_contains("'factor' = 1000 is above the maximum 100");
  nb_attr small[] = {NB_A_FLOAT("bias", 0), NB_A_INTS("size", 1, 0)};
  ck_assert_ptr_null(run_scale(x, 2, small));
  ck_assert_error_contains("'size' = 0 is below the minimum 1");
  nb_attr choice[] = {NB_A_FLOAT("bias", 0), NB_A_STR("mode", "double")};
  ck_assert_ptr_null(run_scale(x, 2, choice));
  ck_assert_error_contains("\"double\" is not one of: plain,negate");
  nb_attr len[] = {NB_A_FLOAT("bias", 0), NB_A_INTS("size", 1, 2, 3)};
  ck_assert_ptr_null(run_scale(x, 2, len));
  ck_assert_error_contains("'size' expects 2 values");
  nb_attr type[] = {NB_A_FLOAT("bias", 0), NB_A_STR("factor", "big")};
  ck_assert_ptr_null(run_scale(x, 2, type));
  ck_assert_error_contains("'factor' expects float, got string");
  nb_attr twice[] = {NB_A_FLOAT("bias", 0), NB_A_FLOAT("bias", 1)};
  ck_assert_ptr_null(run_scale(x, 2, twice));
  ck_assert_error_contains("'bias' given twice");
  /* the process keeps working */
  ck_assert_tensor_values(run_scale(x, 3, a1), ((double[]){12}), 1, 1e-12);
  nb_scope_end();
}
END_TEST

START_TEST(test_samples) {
  fx_isolate("");
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_good")), 0);
  int64_t live = nb_live_tensors();
  nb_sample_sink *sink = nb_sample_sink_new(7);
  ck_assert_ptr_nonnull(sink);
  ck_assert_int_eq(nb_op_collect_samples(nb_op_find("plugtest_scale"), sink), 0);
  ck_assert_int_eq(nb_sample_count(sink), 2);
  nb_sample s;
  ck_assert_int_eq(nb_sample_get(sink, 1, &s), 0);
  ck_assert_str_eq(s.desc, "negate, size (2,3)");
  ck_assert_int_eq(s.n_in, 1);
  ck_assert_int_eq(nb_numel(s.in[0]), 6); /* kept alive after the samples' scope ended */
  ck_assert_int_eq(s.n_attrs, 3);
  ck_assert_str_eq(s.attrs[1].name, "mode");
  ck_assert_str_eq(s.attrs[1].v.s, "negate");
  ck_assert_int_eq(s.attrs[2].v.ints.n, 2);
  ck_assert_int_eq(nb_sample_get(sink, 2, &s), NB_EINVAL);
  /* the same seed gives the same inputs */
  nb_sample_sink *again = nb_sample_sink_new(7);
  ck_assert_int_eq(nb_op_collect_samples(nb_op_find("plugtest_scale"), again), 0);
  nb_sample s2;
  nb_sample_get(again, 0, &s2);
  nb_sample_get(sink, 0, &s);
  double v1[6], v2[6];
  nb_to_doubles(s.in[0], v1, 6);
  nb_to_doubles(s2.in[0], v2, 6);
  ck_assert_mem_eq(v1, v2, sizeof v1);
  nb_sample_sink_free(again);
  nb_sample_sink_free(sink);
  ck_assert_int_eq(nb_live_tensors(), live);
}
END_TEST

/* ---- broken plugins: each is reported, nothing aborts ------------------------------- */

START_TEST(test_no_entry_symbol) {
  fx_isolate("");
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_noentry")), NB_EPLUGIN);
  ck_assert_error_contains("nabla_plugin_entry");
  char expect[1024];
  system_dlerror(fx_path("fx_noentry"), NB_PLUGIN_ENTRY_SYMBOL, expect, sizeof expect);
  ck_assert(expect[0]);
  ck_assert_error_contains(expect);
  const nb_plugin_info *p = entry_of("fx_noentry");
  ck_assert_int_eq(p->state, NB_PLUGIN_FAILED);
  ck_assert_ptr_null(p->name);
  ck_assert_str_contains(p->message, expect); /* dlerror() text verbatim */
}
END_TEST

START_TEST(test_dlopen_fails) {
  const char *dir = fx_tmpdir();
  fx_isolate(dir);
  ck_assert_int_eq(fx_write(dir, "garbage.so", "this is not an ELF file\n"), 0);
  ck_assert_int_eq(nb_plugins_load_all(), 0); /* one bad file does not fail discovery */
  char path[4096], expect[1024];
  snprintf(path, sizeof path, "%s/garbage.so", dir);
  char *real = realpath(path, NULL); /* the loader opens the resolved path */
  snprintf(path, sizeof path, "%s", real);
  free(real);
  system_dlerror(path, NB_PLUGIN_ENTRY_SYMBOL, expect, sizeof expect);
  const nb_plugin_info *p = entry_of("garbage");
  ck_assert_int_eq(p->state, NB_PLUGIN_FAILED);
  ck_assert_str_contains(p->message, "dlopen failed: ");
  ck_assert_str_contains(p->message, expect);
}
END_TEST

START_TEST(test_wrong_magic) {
  fx_isolate("");
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_badmagic")), NB_EPLUGIN);
  const nb_plugin_info *p = entry_of("fx_badmagic");
  ck_assert_int_eq(p->state, NB_PLUGIN_REJECTED);
  ck_assert_str_contains(p->message, "wrong magic 0x0000000000001234");
  ck_assert_str_contains(p->message, "rebuild the plugin against this nabla");
  ck_assert_ptr_null(nb_op_find("plugtest_baddesc"));
}
END_TEST

START_TEST(test_abi_major_mismatch) {
  fx_isolate("");
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_abimajor")), NB_EPLUGIN);
  char expect[256];
  snprintf(expect, sizeof expect,
           "plugin built against ABI %d.%d, core is %d.%d: rebuild the plugin against this nabla",
           NB_ABI_MAJOR + 1, NB_ABI_MINOR, NB_ABI_MAJOR, NB_ABI_MINOR);
  ck_assert_error_contains(expect);
  const nb_plugin_info *p = entry_of("fx_abimajor");
  ck_assert_int_eq(p->state, NB_PLUGIN_REJECTED);
  ck_assert_str_contains(p->message, expect);
  ck_assert_ptr_null(nb_op_find("plugtest_baddesc"));
}
END_TEST

START_TEST(test_abi_minor_newer) {
  fx_isolate("");
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_abiminor")), NB_EPLUGIN);
  char expect[256];
  snprintf(expect, sizeof expect, "plugin built against ABI %d.%d, core is %d.%d", NB_ABI_MAJOR,
           NB_ABI_MINOR + 1, NB_ABI_MAJOR, NB_ABI_MINOR);
  const nb_plugin_info *p = entry_of("fx_abiminor");
  ck_assert_int_eq(p->state, NB_PLUGIN_REJECTED);
  ck_assert_str_contains(p->message, expect);
  ck_assert_str_contains(p->message, "upgrade nabla");
}
END_TEST

START_TEST(test_descriptor_too_small) {
  fx_isolate("");
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_smalldesc")), NB_EPLUGIN);
  const nb_plugin_info *p = entry_of("fx_smalldesc");
  ck_assert_int_eq(p->state, NB_PLUGIN_REJECTED);
  char expect[128];
  snprintf(expect, sizeof expect, "plugin descriptor is 24 bytes, ABI %d.%d needs at least %u",
           NB_ABI_MAJOR, NB_ABI_MINOR, (unsigned)NB_PLUGIN_DESC_MIN_SIZE);
  ck_assert_str_contains(p->message, expect);
}
END_TEST

/* An init that loads its own file, and two plugins that load each other (issue 16):
 * the nested load is refused, no recursion until the stack overflows. */
START_TEST(test_init_loads_itself) {
  fx_isolate("");
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_loadself")), NB_EPLUGIN);
  ck_assert_error_contains("being initialised already");
  ck_assert_int_eq(entry_of("fx_loadself")->state, NB_PLUGIN_FAILED);
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_good")), 0); /* the loader still works */
}
END_TEST

START_TEST(test_plugins_load_each_other) {
  fx_isolate("");
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_peer_a")), NB_EPLUGIN);
  ck_assert_error_contains("fx_peer_a.so: this file is being initialised already");
  ck_assert_int_eq(entry_of("fx_peer_a")->state, NB_PLUGIN_FAILED);
  ck_assert_int_eq(entry_of("fx_peer_b")->state, NB_PLUGIN_FAILED);
}
END_TEST

/* A program that loads a plugin whose init crashes still dies (nothing can be done in
 * its process), but first says which file it was initialising. */
START_TEST(test_crash_in_init_names_the_file) {
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    fx_isolate("");
    nb_plugin_load(fx_path("fx_crash"));
    _exit(0); /* not reached */
  }
  close(fds[1]);
  char buf[4096] = "";
  size_t len = 0;
  ssize_t n;
  while (len < sizeof buf - 1 && (n = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0)
    len += (size_t)n;
  buf[len] = '\0';
  close(fds[0]);
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 0), "the child survived");
  ck_assert_msg(strstr(buf, "nabla: fatal signal while initialising plugin ") &&
                    strstr(buf, "fx_crash.so"),
                "stderr lacks the plugin's name: %s", buf);
}
END_TEST

START_TEST(test_init_failure_rolls_back) {
  fx_isolate("");
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_initfail")), NB_EPLUGIN);
  ck_assert_error_contains("deliberate failure after registering an op");
  const nb_plugin_info *p = entry_of("fx_initfail");
  ck_assert_int_eq(p->state, NB_PLUGIN_FAILED);
  ck_assert_str_contains(p->message, "init failed: plugtest_initfail: deliberate failure");
  ck_assert_str_contains(p->message, "rolled back 1 op and 0 optimizers (plugtest_rollback)");
  ck_assert_int_eq(p->n_ops, 0);
  ck_assert_ptr_null(nb_op_find("plugtest_rollback"));
  ck_assert_int_eq(nb_op_count(), 0);
  /* the process keeps working: a good plugin loads and its op runs */
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_good")), 0);
  nb_scope_begin();
  nb_tensor *x = nb_from_doubles((double[]){1, 2}, 2, NB_F64);
  nb_attr bias = NB_A_FLOAT("bias", 1);
  ck_assert_tensor_values(run_scale(x, 1, &bias), ((double[]){3, 5}), 2, 1e-12);
  nb_scope_end();
}
END_TEST

START_TEST(test_invalid_schema_rolls_back) {
  fx_isolate("");
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_badschema")), NB_EPLUGIN);
  const nb_plugin_info *p = entry_of("fx_badschema");
  ck_assert_int_eq(p->state, NB_PLUGIN_FAILED);
  ck_assert_str_contains(p->message, "op 'plugtest_schema_bad': invalid schema: input 'x' accepts "
                                     "no dtype");
  ck_assert_str_contains(p->message, "rolled back 1 op");
  ck_assert_ptr_null(nb_op_find("plugtest_schema_ok"));
  ck_assert_ptr_null(nb_op_find("plugtest_schema_bad"));
}
END_TEST

START_TEST(test_duplicate_op_explicit) {
  fx_isolate("");
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_dup_a")), 0);
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_dup_b")), NB_EPLUGIN);
  ck_assert_error_contains("op 'plugtest_dup' is already registered by plugin 'plugtest_dup_a'");
  ck_assert_error_contains("/fx_dup_a.so");
  ck_assert_error_contains("plugin 'plugtest_dup_b'");
  ck_assert_error_contains("/fx_dup_b.so");
  ck_assert_str_eq(nb_op_plugin_name(nb_op_find("plugtest_dup")), "plugtest_dup_a");
  ck_assert_ptr_nonnull(nb_op_find("plugtest_dup_a_only"));
  ck_assert_ptr_null(nb_op_find("plugtest_dup_b_only")); /* b rolled back entirely */
  ck_assert_int_eq(entry_of("fx_dup_b")->state, NB_PLUGIN_FAILED);
}
END_TEST

START_TEST(test_duplicate_op_discovery_first_wins) {
  const char *dir = fx_tmpdir();
  fx_link(dir, "fx_dup_a.so", "fx_dup_a");
  fx_link(dir, "fx_dup_b.so", "fx_dup_b");
  fx_isolate(dir);
  ck_assert_int_eq(nb_plugins_load_all(), 0);
  ck_assert_str_eq(nb_op_plugin_name(nb_op_find("plugtest_dup")), "plugtest_dup_a");
  ck_assert_ptr_nonnull(nb_op_find("plugtest_dup_b_only")); /* b loads, minus the duplicate */
  const nb_plugin_info *b = entry_of("fx_dup_b");
  ck_assert_int_eq(b->state, NB_PLUGIN_LOADED);
  ck_assert_int_eq(b->n_ops, 1);
  ck_assert_str_contains(b->message, "op 'plugtest_dup' skipped: already registered by plugin "
                                     "'plugtest_dup_a'");
  ck_assert_str_contains(b->message, "/fx_dup_a.so");
  ck_assert_str_contains(b->message, "/fx_dup_b.so");
}
END_TEST

/* ---- communication backends: a third kind, mirroring optimizers ---------------------- */

START_TEST(test_comm_backends) {
  fx_isolate(fx_tmpdir());
  /* the core's own backend is there without any plugin, provided by "core" */
  ck_assert_int_ge(nb_comm_count(), 1);
  ck_assert_str_eq(nb_comm_descriptor(nb_comm_at(0))->name, "single");
  ck_assert_str_eq(nb_comm_plugin_name(nb_comm_find("single")), "core");
  ck_assert_ptr_null(nb_comm_at(nb_comm_count()));
  ck_assert_ptr_null(nb_comm_find("mpi_nope"));
  ck_assert_error_contains("no communication backend 'mpi_nope'; registered: single");

  ck_assert_int_eq(nb_plugin_load(fx_path("fx_comm")), 0);
  const nb_comm_kind *k = nb_comm_find("plugtest_loop");
  ck_assert_ptr_nonnull(k);
  ck_assert_str_eq(nb_comm_plugin_name(k), "plugtest_comm");
  ck_assert_str_eq(nb_comm_descriptor(k)->doc, "A test backend of one process.");
  ck_assert_int_eq(nb_comm_count(), 2);
  const nb_plugin_info *p = entry_of("fx_comm");
  ck_assert_int_eq(p->n_comms, 1);
  ck_assert_int_eq(p->n_ops, 0);
  const char *names[2];
  ck_assert_int_eq(nb_plugin_report_comms(fx_report_find("/fx_comm.so"), names, 2), 1);
  ck_assert_str_eq(names[0], "plugtest_loop");

  /* a descriptor without a required function is refused, the plugin rolled back */
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_comm_bad")), NB_EPLUGIN);
  ck_assert_str_contains(entry_of("fx_comm_bad")->message, "communication backend "
                         "'plugtest_loop': invalid descriptor: no wait function");
  /* the built-in name cannot be taken by a plugin loaded explicitly */
  ck_assert_int_eq(nb_plugin_load(fx_path("fx_comm_dup")), NB_EPLUGIN);
  ck_assert_str_contains(entry_of("fx_comm_dup")->message, "communication backend 'single' is "
                         "already registered by plugin 'core' (built in)");
}
END_TEST

START_TEST(test_comm_builtin_wins_discovery) {
  const char *dir = fx_tmpdir();
  fx_link(dir, "fx_comm_dup.so", "fx_comm_dup");
  fx_isolate(dir);
  ck_assert_int_eq(nb_plugins_load_all(), 0);
  ck_assert_str_eq(nb_comm_plugin_name(nb_comm_find("single")), "core");
  const nb_plugin_info *p = entry_of("fx_comm_dup");
  ck_assert_int_eq(p->state, NB_PLUGIN_LOADED);
  ck_assert_int_eq(p->n_comms, 0);
  ck_assert_str_contains(p->message, "communication backend 'single' skipped: already registered "
                         "by plugin 'core'");
}
END_TEST

START_TEST(test_name_order_scanning) {
  /* names chosen so that b sorts first: then b's op wins */
  const char *dir = fx_tmpdir();
  fx_link(dir, "zz_a.so", "fx_dup_a");
  fx_link(dir, "aa_b.so", "fx_dup_b");
  fx_link(dir, "mm_good.so", "fx_good");
  fx_write(dir, "README", "not a plugin\n"); /* ignored: not *.so */
  fx_write(dir, ".hidden.so", "ignored\n");
  fx_isolate(dir);
  ck_assert_int_eq(nb_plugins_load_all(), 0);
  ck_assert_str_eq(nb_op_plugin_name(nb_op_find("plugtest_dup")), "plugtest_dup_b");
  ck_assert_int_eq(nb_plugin_report_count(), 3);
  ck_assert_str_eq(nb_plugin_report_at(0)->name, "plugtest_dup_b");
  ck_assert_str_eq(nb_plugin_report_at(1)->name, "plugtest_good");
  ck_assert_str_eq(nb_plugin_report_at(2)->name, "plugtest_dup_a");
  ck_assert_str_contains(nb_plugin_report_at(2)->message, "skipped");
}
END_TEST

START_TEST(test_symlink_loads_once) {
  const char *d1 = fx_tmpdir(), *d2 = fx_tmpdir();
  fx_link(d1, "a.so", "fx_good");
  fx_link(d1, "b.so", "fx_good");
  fx_link(d2, "c.so", "fx_good");
  char dirs[1024];
  snprintf(dirs, sizeof dirs, "%s:%s:%s", d1, d2, d1); /* d1 listed twice, too */
  fx_isolate(dirs);
  ck_assert_int_eq(nb_plugins_load_all(), 0);
  ck_assert_int_eq(nb_plugin_report_count(), 1);
  ck_assert_int_eq(nb_plugin_report_at(0)->state, NB_PLUGIN_LOADED);
  ck_assert_str_eq(nb_plugin_report_at(0)->path, fx_path("fx_good")); /* resolved path */
  ck_assert_ptr_nonnull(nb_op_find("plugtest_scale"));
}
END_TEST

START_TEST(test_duplicate_plugin_name) {
  /* two different files (copies) with the same plugin name: the one found first wins;
   * directories added in code come before NABLA_PLUGIN_PATH */
  const char *code = fx_tmpdir(), *env = fx_tmpdir();
  fx_copy(code, "good.so", "fx_good");
  fx_copy(env, "good.so", "fx_good");
  fx_isolate(env);
  ck_assert_int_eq(nb_plugin_add_path(code), 0);
  ck_assert_int_eq(nb_plugins_load_all(), 0);
  ck_assert_int_eq(nb_plugin_report_count(), 2);
  const nb_plugin_info *first = nb_plugin_report_at(0), *second = nb_plugin_report_at(1);
  ck_assert_int_eq(first->state, NB_PLUGIN_LOADED);
  ck_assert_str_contains(first->path, code);
  ck_assert_int_eq(second->state, NB_PLUGIN_DUPLICATE);
  ck_assert_str_contains(second->message, "plugin 'plugtest_good' is already loaded from");
  ck_assert_str_contains(second->message, first->path);
  ck_assert_str_contains(second->message, second->path);
  ck_assert_str_eq(nb_op_plugin_path(nb_op_find("plugtest_scale")), first->path);
}
END_TEST

/* Every schema rule, one case of fx_schemas each (case 0: valid ops). */
static const char *const schema_errors[] = {
    NULL,
    "op name 'BadName' is not lower_snake_case",
    "op '': invalid schema: op has no name",
    "op 'no_forward': invalid schema: no forward function",
    "op 'many_inputs': invalid schema: n_inputs 17 is outside [0, 16]",
    "op 'no_outputs': invalid schema: n_outputs 0 is outside [1, 8]",
    "op 'input_noname': invalid schema: input 0 has no name",
    "op 'bad_mask': invalid schema: input 'x' has dtype mask 0x80 with bits outside NB_DT_ANY",
    "op 'attr_twice': invalid schema: attribute 'a' is declared twice",
    "attribute 'reduction' default \"max\" is not one of its choices \"none,mean,sum\"",
    "op 'bad_range': invalid schema: default of attribute 'k' = 0 is below the minimum 1",
    "op 'long_ints': invalid schema: attribute 'size' default has 9 values (at most 8)",
    "descriptor struct_size 8 is smaller than the ABI 1.0 nb_op_desc",
    "op 'input_twice': invalid schema: input name 'x' is used twice",
    "op 'output_noname': invalid schema: output 0 has no name",
    "optimizer 'opt_nostep': invalid schema: no step function",
    "optimizer 'opt_badhp': invalid schema: default of hyperparameter 'lr' = 2 is above the maximum 1",
    "nb_register_op: descriptor is NULL",
    "op 'mul' is registered twice",
};
#define N_SCHEMA_CASES ((int)(sizeof schema_errors / sizeof schema_errors[0]))

START_TEST(test_schema_validation) {
  char c[16];
  snprintf(c, sizeof c, "%d", _i);
  setenv("PLUGTEST_SCHEMA_CASE", c, 1);
  fx_isolate("");
  int rc = nb_plugin_load(fx_path("fx_schemas"));
  if (_i == 0) { /* valid: derived and explicit node names */
    ck_assert_msg(rc == 0, "%s", nb_last_error());
    ck_assert_str_eq(nb_op_descriptor(nb_op_find("max_pool2d"))->node_name, "MaxPool2dBackward");
    ck_assert_str_eq(nb_op_descriptor(nb_op_find("binary_cross_entropy"))->node_name,
                     "BinaryCrossEntropyBackward");
    ck_assert_str_eq(nb_op_descriptor(nb_op_find("mul"))->node_name, "MulBackward");
    ck_assert_str_eq(nb_op_descriptor(nb_op_find("named"))->node_name, "CustomNode");
    ck_assert_str_eq(nb_op_descriptor(nb_op_find("mul"))->outputs[0].name, "out");
    return;
  }
  ck_assert_int_eq(rc, NB_EPLUGIN);
  const nb_plugin_info *p = entry_of("fx_schemas");
  ck_assert_int_eq(p->state, NB_PLUGIN_FAILED);
  ck_assert_str_contains(p->message, "init failed: plugin 'plugtest_schemas': ");
  ck_assert_str_contains(p->message, schema_errors[_i]);
  ck_assert_int_eq(nb_op_count(), 0);
  ck_assert_int_eq(nb_optim_count(), 0);
}
END_TEST

/* ---- search path ------------------------------------------------------------------- */

START_TEST(test_search_path_order) {
  const char *a = fx_tmpdir(), *b = fx_tmpdir(), *c = fx_tmpdir(), *s = fx_tmpdir();
  char env[1024];
  snprintf(env, sizeof env, "%s::%s", b, c); /* empty entries are skipped */
  setenv("NABLA_PLUGIN_PATH", env, 1);
  setenv("NABLA_PLUGIN_SYSTEM_PATH", s, 1);
  ck_assert_int_eq(nb_plugin_add_path(a), 0);
  ck_assert_int_eq(nb_plugin_path_count(), 4);
  const char *origin;
  ck_assert_str_eq(nb_plugin_path_at(0, &origin), a);
  ck_assert_str_eq(origin, "added in code");
  ck_assert_str_eq(nb_plugin_path_at(1, &origin), b);
  ck_assert_str_eq(origin, "NABLA_PLUGIN_PATH");
  ck_assert_str_eq(nb_plugin_path_at(2, &origin), c);
  ck_assert_str_eq(origin, "NABLA_PLUGIN_PATH");
  ck_assert_str_eq(nb_plugin_path_at(3, &origin), s);
  ck_assert_str_eq(origin, "NABLA_PLUGIN_SYSTEM_PATH");
  ck_assert_ptr_null(nb_plugin_path_at(4, &origin));
  /* plugins in the later directory lose to the earlier one */
  fx_copy(s, "x.so", "fx_good");
  fx_copy(b, "y.so", "fx_good");
  ck_assert_int_eq(nb_plugins_load_all(), 0);
  ck_assert_str_contains(nb_op_plugin_path(nb_op_find("plugtest_scale")), b);
  /* too late to add a path now */
  ck_assert_int_eq(nb_plugin_add_path(a), NB_ESTATE);
  ck_assert_error_contains("after plugin discovery");
}
END_TEST

START_TEST(test_system_path_empty_replaces_default) {
  fx_isolate("");
  ck_assert_int_eq(nb_plugin_path_count(), 0);
  ck_assert_int_eq(nb_plugins_load_all(), 0);
  ck_assert_int_eq(nb_plugin_report_count(), 0);
  ck_assert_ptr_null(nb_op_find("plugtest_scale"));
  ck_assert_error_contains("no plugins were found on the search path (it is empty)");
}
END_TEST

START_TEST(test_default_dir) {
  unsetenv("NABLA_PLUGIN_PATH");
  unsetenv("NABLA_PLUGIN_SYSTEM_PATH");
  const char *def = nb_plugin_default_dir();
  ck_assert_ptr_nonnull(def);
  /* <directory of libnabla.so>/nabla-<major>/plugins */
  Dl_info info;
  ck_assert(dladdr((void *)nb_plugin_load, &info));
  char *lib = realpath(info.dli_fname, NULL);
  *strrchr(lib, '/') = '\0';
  char expect[4096];
  snprintf(expect, sizeof expect, "%s/nabla-%d/plugins", lib, NB_ABI_MAJOR);
  free(lib);
  ck_assert_str_eq(def, expect);
  ck_assert_int_eq(nb_plugin_path_count(), 1);
  const char *origin;
  ck_assert_str_eq(nb_plugin_path_at(0, &origin), def);
  ck_assert_str_eq(origin, "default");
}
END_TEST

START_TEST(test_unreadable_path) {
  fx_isolate("/nonexistent/nabla/plugins");
  ck_assert_int_eq(nb_plugins_load_all(), NB_ENOTFOUND);
  ck_assert_error_contains("/nonexistent/nabla/plugins [NABLA_PLUGIN_PATH]");
  nb_clear_error();
  ck_assert_int_eq(nb_plugins_load_all(), NB_ENOTFOUND); /* the first result, again */
  ck_assert_ptr_null(nb_op_find("mul"));
  ck_assert_error_contains("No such file or directory");
  ck_assert_int_eq(nb_plugin_add_path("/nonexistent/dir"), NB_ENOTFOUND);
}
END_TEST

START_TEST(test_missing_op_names_failures) {
  const char *dir = fx_tmpdir();
  fx_link(dir, "fx_good.so", "fx_good");
  fx_link(dir, "fx_noentry.so", "fx_noentry");
  fx_isolate(dir);
  ck_assert_ptr_null(nb_op_find("plugtest_scal"));
  ck_assert_int_eq(nb_last_status(), NB_ENOTFOUND);
  ck_assert_error_contains("no loaded plugin provides op 'plugtest_scal'");
  ck_assert_error_contains("did you mean 'plugtest_scale'?");
  ck_assert_error_contains("1 plugin did not load: ");
  ck_assert_error_contains("fx_noentry.so: no entry point nabla_plugin_entry");
  ck_assert_ptr_null(nb_optim_find("adamw"));
  ck_assert_error_contains("no optimizer 'adamw'; registered optimizers: plugtest_sgd");
  ck_assert_ptr_null(nb_op_find(NULL));
  ck_assert_int_eq(nb_last_status(), NB_EINVAL);
  ck_assert_int_eq(nb_plugin_load("/nonexistent/x.so"), NB_ENOTFOUND);
  ck_assert_ptr_null(nb_plugin_report_at(99));
}
END_TEST

static void *find_in_thread(void *arg) {
  (void)arg;
  return (void *)nb_op_find("plugtest_scale");
}

START_TEST(test_concurrent_first_lookup) {
  const char *dir = fx_tmpdir();
  fx_link(dir, "fx_good.so", "fx_good");
  fx_link(dir, "fx_dup_a.so", "fx_dup_a");
  fx_isolate(dir);
  pthread_t th[4];
  void *res[4];
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, find_in_thread, NULL);
  for (int i = 0; i < 4; i++) pthread_join(th[i], &res[i]);
  ck_assert_ptr_nonnull(res[0]);
  for (int i = 1; i < 4; i++) ck_assert_ptr_eq(res[i], res[0]);
  ck_assert_int_eq(nb_plugin_report_count(), 2); /* discovery ran once */
  ck_assert_int_eq(nb_op_count(), 3);
  ck_assert_ptr_nonnull(nb_op_at(2));
  ck_assert_ptr_null(nb_op_at(3));
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("plugins");
  TCase *good = tcase_create("good");
  tcase_add_test(good, test_good_explicit);
  tcase_add_test(good, test_good_op_runs);
  tcase_add_test(good, test_attribute_resolution);
  tcase_add_test(good, test_samples);
  suite_add_tcase(s, good);
  TCase *bad = tcase_create("broken");
  tcase_add_test(bad, test_no_entry_symbol);
  tcase_add_test(bad, test_dlopen_fails);
  tcase_add_test(bad, test_wrong_magic);
  tcase_add_test(bad, test_abi_major_mismatch);
  tcase_add_test(bad, test_abi_minor_newer);
  tcase_add_test(bad, test_descriptor_too_small);
  tcase_add_test(bad, test_init_failure_rolls_back);
  tcase_add_test(bad, test_init_loads_itself);
  tcase_add_test(bad, test_plugins_load_each_other);
  tcase_add_test(bad, test_crash_in_init_names_the_file);
  tcase_add_test(bad, test_invalid_schema_rolls_back);
  tcase_add_test(bad, test_duplicate_op_explicit);
  tcase_add_test(bad, test_duplicate_op_discovery_first_wins);
  tcase_add_test(bad, test_comm_backends);
  tcase_add_test(bad, test_comm_builtin_wins_discovery);
  tcase_add_loop_test(bad, test_schema_validation, 0, N_SCHEMA_CASES);
  suite_add_tcase(s, bad);
  TCase *disc = tcase_create("discovery");
  tcase_add_test(disc, test_name_order_scanning);
  tcase_add_test(disc, test_symlink_loads_once);
  tcase_add_test(disc, test_duplicate_plugin_name);
  tcase_add_test(disc, test_search_path_order);
  tcase_add_test(disc, test_system_path_empty_replaces_default);
  tcase_add_test(disc, test_default_dir);
  tcase_add_test(disc, test_unreadable_path);
  tcase_add_test(disc, test_missing_op_names_failures);
  tcase_add_test(disc, test_concurrent_first_lookup);
  suite_add_tcase(s, disc);
  return s;
}

int main(void) { return nb_test_run(suite()); }
