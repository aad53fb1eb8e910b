/* tools/gradcheck/nabla-gradcheck.c — the op-gradient conformance harness.
 *
 * Loads plugins (all discovered ones, or the files given with --plugin; after scanning
 * them in a child process, so one crashing in its init is named, not fatal), runs every
 * selected op's samples through the checks in checks.c — each op in its own forked
 * child so a crash or a hang is reported by name — and prints one table row per op (or
 * JSON with --json). Exit status: 0 when every check passed, 1 when any failed, crashed
 * or timed out, 2 on usage or loading errors.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gradcheck.h"
#include "plugscan.h"

static void usage(FILE *f) {
  fprintf(f,
"Usage: nabla-gradcheck [OPTION]...\n"
"Check the gradients (and forward values) of every operator that has samples, among all\n"
"discovered plugins or only those given with --plugin.\n"
"\n"
"Selection:\n"
"  --plugin FILE.so    load FILE.so and check only its ops (repeatable)\n"
"  --plugin-path DIR   search DIR for plugins before NABLA_PLUGIN_PATH (repeatable)\n"
"  --op NAME           check only the op NAME (repeatable)\n"
"  --list              list the selected ops (samples, backward) and exit\n"
"\n"
"Checks, per sample, in float64 unless said otherwise:\n"
"  - the forward succeeds and writes finite values;\n"
"  - the analytic Jacobian (one backward per output element, one-hot output gradient)\n"
"    matches central differences element by element: |a - n| <= atol + rtol*|n|;\n"
"  - a second backward over the retained graph is bit-identical;\n"
"  - zero output gradients give zero input gradients of the input's shape and dtype\n"
"    (broadcasting samples included);\n"
"  - with only one input requiring grad, nb_backward fills exactly that input's .grad;\n"
"    with none, the outputs do not require grad;\n"
"  - the float32 forward agrees with float64: |y32 - y64| <= f32-atol*max(1,max|y64|) +\n"
"    f32-rtol*|y64|;\n"
"  - outputs and gradients do not change when an input is given in a non-contiguous\n"
"    layout (transposed in memory, storage offset);\n"
"  - no tensor leaks.\n"
"  Inputs flagged NB_IN_NONDIFF and non-floating inputs are not differentiated; ops\n"
"  flagged NB_OP_RANDOM are reseeded (nb_manual_seed) before every evaluation. An op\n"
"  without backward is \"not differentiable\" when declared so (no differentiable input\n"
"  or all outputs NB_OUT_NONDIFF), a failure otherwise.\n"
"\n"
"Tolerances:\n"
"  --eps X             finite-difference step (default 1e-6)\n"
"  --atol X            absolute tolerance of the Jacobian comparison (default 1e-5)\n"
"  --rtol X            relative tolerance of the Jacobian comparison (default 1e-3)\n"
"  --f32-atol X        float32 forward, absolute, scaled by max(1, max|y|) (default 1e-5)\n"
"  --f32-rtol X        float32 forward, relative (default 1e-4)\n"
"  The table's errors are the worst |a - n| and |a - n| / max(|n|, atol) over all Jacobian\n"
"  entries of the op.\n"
"\n"
"PyTorch reference data:\n"
"  --reference DIR     also compare forward values and gradients with DIR/<op>.safetensors\n"
"                      written by tests/reference/generate.py: float64 within 1e-10\n"
"                      relative, float32 within 1e-5 relative (absolute parts scaled by\n"
"                      max(1, max|ref|) with the same factors)\n"
"  --no-gradcheck      skip the gradient checks (e.g. only compare with --reference)\n"
"  --no-gradgradcheck  skip the second-order check (finite differences of the\n"
"                      vector-Jacobian product) of ops that declare a backward_graph\n"
"  --dump-samples DIR  write each op's samples (inputs; attributes as JSON metadata) to\n"
"                      DIR/<op>.safetensors for the generator, and exit\n"
"\n"
"Running and output:\n"
"  --timeout SEC       time limit per op (default 300; 0: none)\n"
"  --no-fork           run the checks in this process (for debuggers; a crash ends the run)\n"
"  --threads N         kernel threads (default 1: reproducible)\n"
"  --seed N            seed of the samples, output weights and random ops (default 1234)\n"
"  --max-entries N     differing entries listed per failure (default 5)\n"
"  --max-jacobian N    skip gradient checks of samples with a bigger Jacobian (default 4000000)\n"
"  --json              write the report as JSON instead of the table\n"
"  -o, --output FILE   write the report to FILE instead of standard output\n"
"  -v, --verbose       print notes and each sample as it is checked\n"
"  -h, --help          show this help\n"
"\n"
"Exit status: 0 all checks passed, 1 a check failed or an op crashed or timed out,\n"
"2 usage error or a plugin could not be loaded.\n");
}

typedef struct cli {
  gc_opts o;
  const char *plugins[64], *ops[256], *paths[64];
  char *plugin_real[64];
  int n_plugins, n_ops, n_paths, threads;
  bool json, list;
  const char *output;
} cli;

static bool parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v) || v < 0) return false;
  *out = v;
  return true;
}

static bool parse_int(const char *s, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 0);
  if (errno || end == s || *end || v < 0) return false;
  *out = v;
  return true;
}

static int parse_args(int argc, char **argv, cli *c) {
  enum { O_PLUGIN = 256, O_PATH, O_OP, O_LIST, O_EPS, O_ATOL, O_RTOL, O_F32A, O_F32R, O_REF, O_NOGC, O_NOGG, O_DUMP,
         O_TIMEOUT, O_NOFORK, O_THREADS, O_SEED, O_MAXE, O_MAXJ, O_JSON };
  static const struct option longopts[] = {
      {"plugin", required_argument, 0, O_PLUGIN}, {"plugin-path", required_argument, 0, O_PATH},
      {"op", required_argument, 0, O_OP},         {"list", no_argument, 0, O_LIST},
      {"eps", required_argument, 0, O_EPS},       {"atol", required_argument, 0, O_ATOL},
      {"rtol", required_argument, 0, O_RTOL},     {"f32-atol", required_argument, 0, O_F32A},
      {"f32-rtol", required_argument, 0, O_F32R}, {"reference", required_argument, 0, O_REF},
      {"no-gradcheck", no_argument, 0, O_NOGC},   {"dump-samples", required_argument, 0, O_DUMP},
      {"no-gradgradcheck", no_argument, 0, O_NOGG},
      {"timeout", required_argument, 0, O_TIMEOUT}, {"no-fork", no_argument, 0, O_NOFORK},
      {"threads", required_argument, 0, O_THREADS}, {"seed", required_argument, 0, O_SEED},
      {"max-entries", required_argument, 0, O_MAXE}, {"max-jacobian", required_argument, 0, O_MAXJ},
      {"json", no_argument, 0, O_JSON},           {"output", required_argument, 0, 'o'},
      {"verbose", no_argument, 0, 'v'},           {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  int ch;
  long long iv;
  while ((ch = getopt_long(argc, argv, "o:vh", longopts, NULL)) != -1) {
    bool ok = true;
    switch (ch) {
    case O_PLUGIN: ok = c->n_plugins < 64; if (ok) c->plugins[c->n_plugins++] = optarg; break;
    case O_PATH: ok = c->n_paths < 64; if (ok) c->paths[c->n_paths++] = optarg; break;
    case O_OP: ok = c->n_ops < 256; if (ok) c->ops[c->n_ops++] = optarg; break;
    case O_LIST: c->list = true; break;
    case O_EPS: ok = parse_double(optarg, &c->o.eps) && c->o.eps > 0; break;
    case O_ATOL: ok = parse_double(optarg, &c->o.atol); break;
    case O_RTOL: ok = parse_double(optarg, &c->o.rtol); break;
    case O_F32A: ok = parse_double(optarg, &c->o.f32_atol); break;
    case O_F32R: ok = parse_double(optarg, &c->o.f32_rtol); break;
    case O_REF: c->o.reference_dir = optarg; break;
    case O_NOGC: c->o.gradcheck = false; break;
    case O_NOGG: c->o.gradgrad = false; break;
    case O_DUMP: c->o.dump_dir = optarg; break;
    case O_TIMEOUT: ok = parse_double(optarg, &c->o.timeout); break;
    case O_NOFORK: c->o.fork = false; break;
    case O_THREADS: ok = parse_int(optarg, &iv) && iv >= 1 && iv <= 1024; c->threads = (int)iv; break;
    case O_SEED: ok = parse_int(optarg, &iv); c->o.seed = (uint64_t)iv; break;
    case O_MAXE: ok = parse_int(optarg, &iv) && iv <= 1000; c->o.max_entries = (int)iv; break;
    case O_MAXJ: ok = parse_int(optarg, &iv); c->o.max_jacobian = iv; break;
    case O_JSON: c->json = true; break;
    case 'o': c->output = optarg; break;
    case 'v': c->o.verbose = true; break;
    case 'h': usage(stdout); exit(0);
    default: return -1;
    }
    if (!ok) {
      const char *name = "?";
      for (const struct option *lo = longopts; lo->name; lo++)
        if (lo->val == ch) name = lo->name;
      fprintf(stderr, "nabla-gradcheck: invalid value \"%s\" for --%s\n", optarg ? optarg : "", name);
      return -1;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "nabla-gradcheck: unexpected argument \"%s\"\n", argv[optind]);
    return -1;
  }
  return 0;
}

/* ---- selection ---------------------------------------------------------------------------- */

static bool selected(const cli *c, const nb_op *op) {
  const nb_op_desc *d = nb_op_descriptor(op);
  if (c->n_ops) {
    bool hit = false;
    for (int k = 0; k < c->n_ops && !hit; k++) hit = strcmp(c->ops[k], d->name) == 0;
    if (!hit) return false;
  }
  if (c->n_plugins) {
    const char *pp = nb_op_plugin_path(op);
    char *rp = pp ? realpath(pp, NULL) : NULL;
    bool hit = false;
    for (int k = 0; k < c->n_plugins && rp && !hit; k++) hit = c->plugin_real[k] && strcmp(rp, c->plugin_real[k]) == 0;
    free(rp);
    if (!hit) return false;
  }
  return true;
}

static plugscan g_scan; /* plugin files that crashed, hung or exited while loading */

/* Load the --plugin files, then the discovered plugins, after scanning them all in a
 * child process (tools/common/plugscan.h) unless --no-fork: a plugin crashing in its
 * init is reported by name instead of taking the harness down. */
static int load_plugins(cli *c, FILE *err) {
  for (int k = 0; k < c->n_paths; k++) {
    struct stat st;
    if (stat(c->paths[k], &st) != 0 || !S_ISDIR(st.st_mode)) {
      fprintf(err, "nabla-gradcheck: --plugin-path %s: not a directory (%s)\n", c->paths[k],
              stat(c->paths[k], &st) != 0 ? strerror(errno) : "not a directory");
      return -1;
    }
  }
  bool scanned = false;
  if (c->o.fork) {
    scanned = plugscan_run(&g_scan, c->paths, c->n_paths, c->plugins, c->n_plugins) == 0;
    if (!scanned) fprintf(err, "nabla-gradcheck: warning: %s; loading plugins without a scan\n", g_scan.error);
  }
  for (int k = 0; k < c->n_plugins; k++) {
    const plugscan_bad *bad = scanned ? plugscan_find(&g_scan, c->plugins[k]) : NULL;
    if (bad) {
      fprintf(err, "nabla-gradcheck: cannot load plugin %s: %s\n", c->plugins[k], bad->message);
      return -1;
    }
    if (nb_plugin_load(c->plugins[k]) < 0) {
      fprintf(err, "nabla-gradcheck: cannot load plugin %s: %s\n", c->plugins[k], nb_last_error());
      return -1;
    }
    c->plugin_real[k] = realpath(c->plugins[k], NULL);
  }
  /* Discovered plugins too: ops may use other ops (clone for in-place ops, ...). */
  int rc;
  if (scanned) {
    rc = plugscan_load_discovered(&g_scan, c->paths, c->n_paths);
    if (rc < 0 && g_scan.error[0]) {
      fprintf(err, "nabla-gradcheck: %s\n", g_scan.error);
      return -1;
    }
  } else {
    for (int k = 0; k < c->n_paths; k++) nb_plugin_add_path(c->paths[k]);
    rc = nb_plugins_load_all();
  }
  if (rc < 0 && !c->n_plugins)
    fprintf(err, "nabla-gradcheck: plugin discovery failed: %s\n", nb_last_error());
  for (int k = 0; k < c->n_ops; k++) {
    bool found = false;
    for (int i = 0; i < nb_op_count() && !found; i++) found = strcmp(nb_op_descriptor(nb_op_at(i))->name, c->ops[k]) == 0;
    if (!found) {
      fprintf(err, "nabla-gradcheck: no loaded plugin provides an op named \"%s\"\n", c->ops[k]);
      return -1;
    }
  }
  return 0;
}

/* Plugins that failed to load (when checking everything discovered), crashed ones first. */
static cJSON *load_failures(void) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; i < g_scan.n_bad; i++) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "path", g_scan.bad[i].path);
    cJSON_AddStringToObject(e, "message", g_scan.bad[i].message);
    cJSON_AddItemToArray(a, e);
  }
  for (int i = 0; i < nb_plugin_report_count(); i++) {
    const nb_plugin_info *p = nb_plugin_report_at(i);
    if (p->state != NB_PLUGIN_FAILED && p->state != NB_PLUGIN_REJECTED) continue;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "path", p->path ? p->path : "");
    cJSON_AddStringToObject(e, "message", p->message ? p->message : "");
    cJSON_AddItemToArray(a, e);
  }
  return a;
}

/* ---- the table ------------------------------------------------------------------------------ */

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : cJSON_IsString(v) ? INFINITY : 0;
}
static const char *str(const cJSON *o, const char *k) {
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
  return s ? s : "";
}

/* A number of the report as text ("nan"/"inf" are stored as strings). */
static const char *numstr(const cJSON *o, const char *k, char *buf, size_t n) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (cJSON_IsString(v)) return v->valuestring;
  snprintf(buf, n, "%.10g", cJSON_IsNumber(v) ? v->valuedouble : 0.0);
  return buf;
}

static void print_header(FILE *f) {
  fprintf(f, "%-32s %-20s %7s %7s %12s %12s  %s\n", "op", "plugin", "samples", "checks", "max abs err",
          "max rel err", "verdict");
}

static void print_row(FILE *f, const cJSON *r, bool verbose) {
  const char *v = str(r, "verdict");
  const char *shown = strcmp(v, "fail") == 0 ? "FAIL" : strcmp(v, "crashed") == 0 ? "CRASHED"
                    : strcmp(v, "timeout") == 0 ? "TIMEOUT" : v;
  fprintf(f, "%-32s %-20s %7d %7d %12.3g %12.3g  %s\n", str(r, "op"), str(r, "plugin"), (int)num(r, "samples"),
          (int)num(r, "checks"), num(r, "worst_abs"), num(r, "worst_rel"), shown);
  const cJSON *fl;
  cJSON_ArrayForEach(fl, cJSON_GetObjectItemCaseSensitive(r, "failures")) {
    int s = (int)num(fl, "sample");
    if (s >= 0)
      fprintf(f, "    %s: sample %d (\"%s\"): %s: %s\n", str(r, "op"), s, str(fl, "desc"), str(fl, "check"),
              str(fl, "message"));
    else
      fprintf(f, "    %s: %s: %s\n", str(r, "op"), str(fl, "check"), str(fl, "message"));
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(fl, "entries")) {
      char b1[32], b2[32];
      if (cJSON_GetObjectItemCaseSensitive(e, "analytic"))
        fprintf(f, "        d out%s / d in%s: analytic %s, numeric %s\n", str(e, "out_index"), str(e, "in_index"),
                numstr(e, "analytic", b1, sizeof b1), numstr(e, "numeric", b2, sizeof b2));
      else
        fprintf(f, "        %s: got %s, expected %s\n", str(e, "index"), numstr(e, "got", b1, sizeof b1),
                numstr(e, "expected", b2, sizeof b2));
    }
  }
  if (verbose) {
    const cJSON *n;
    cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(r, "notes")) fprintf(f, "    note: %s\n", n->valuestring);
  }
  fflush(f);
}

/* ---- main -------------------------------------------------------------------------------- */

static int g_threads = 1;

static void child_check(const nb_op *op, const gc_opts *o, gc_result *r) {
  nb_set_num_threads(g_threads);
  gc_check_op(op, o, r);
}
static void child_dump(const nb_op *op, const gc_opts *o, gc_result *r) {
  nb_set_num_threads(g_threads);
  gc_dump_samples(op, o, r);
}

int main(int argc, char **argv) {
  cli c;
  memset(&c, 0, sizeof c);
  c.o = (gc_opts){.eps = 1e-6, .atol = 1e-5, .rtol = 1e-3, .f32_atol = 1e-5, .f32_rtol = 1e-4,
                  .ref64_atol = 1e-10, .ref64_rtol = 1e-10, .ref32_atol = 1e-5, .ref32_rtol = 1e-5,
                  .timeout = 300, .seed = 1234, .max_entries = 5, .max_jacobian = 4000000,
                  .fork = true, .gradcheck = true, .gradgrad = true};
  c.threads = 1;
  if (parse_args(argc, argv, &c) < 0) {
    fprintf(stderr, "Try 'nabla-gradcheck --help'.\n");
    return 2;
  }
  g_threads = c.threads;
  FILE *out = stdout;
  if (c.output && !(out = fopen(c.output, "w"))) {
    fprintf(stderr, "nabla-gradcheck: cannot write %s: %s\n", c.output, strerror(errno));
    return 2;
  }
  if (load_plugins(&c, stderr) < 0) return 2;
  if (c.o.dump_dir && mkdir(c.o.dump_dir, 0777) < 0 && errno != EEXIST) {
    fprintf(stderr, "nabla-gradcheck: cannot create %s: %s\n", c.o.dump_dir, strerror(errno));
    return 2;
  }
  cJSON *report = cJSON_CreateObject(), *ops = NULL, *skipped = cJSON_CreateArray();
  cJSON_AddStringToObject(report, "tool", "nabla-gradcheck");
  cJSON *tol = cJSON_AddObjectToObject(report, "tolerances");
  cJSON_AddNumberToObject(tol, "eps", c.o.eps);
  cJSON_AddNumberToObject(tol, "atol", c.o.atol);
  cJSON_AddNumberToObject(tol, "rtol", c.o.rtol);
  cJSON_AddNumberToObject(tol, "f32_atol", c.o.f32_atol);
  cJSON_AddNumberToObject(tol, "f32_rtol", c.o.f32_rtol);
  cJSON *lf = c.n_plugins ? cJSON_CreateArray() : load_failures();
  cJSON_AddItemToObject(report, "plugin_load_failures", lf);
  ops = cJSON_AddArrayToObject(report, "ops");
  int n_sel = 0, n_fail = cJSON_GetArraySize(lf), n_pass = 0, n_nd = 0;
  if (!c.json && !c.list) {
    const cJSON *e;
    cJSON_ArrayForEach(e, lf) fprintf(out, "plugin %s failed to load: %s\n", str(e, "path"), str(e, "message"));
    if (!c.o.dump_dir) print_header(out);
    fflush(out);
  }
  for (int i = 0; i < nb_op_count(); i++) {
    const nb_op *op = nb_op_at(i);
    const nb_op_desc *d = nb_op_descriptor(op);
    if (!selected(&c, op)) continue;
    n_sel++;
    if (c.list) {
      fprintf(out, "%-32s %-20s %-12s %s\n", d->name, nb_op_plugin_name(op) ? nb_op_plugin_name(op) : "",
              d->samples ? "samples" : "no samples", d->backward ? "backward" : "no backward");
      continue;
    }
    if (!d->samples) {
      cJSON_AddItemToArray(skipped, cJSON_CreateString(d->name));
      continue;
    }
    if (c.o.verbose) fprintf(stderr, "nabla-gradcheck: %s\n", d->name);
    cJSON *r = gc_run_isolated(op, &c.o, c.o.dump_dir ? child_dump : child_check);
    const char *v = str(r, "verdict");
    if (strcmp(v, "pass") == 0) n_pass++;
    else if (strcmp(v, "not differentiable") == 0) n_nd++;
    else if (strcmp(v, "no samples") != 0) n_fail++;
    if (!c.json) {
      if (c.o.dump_dir && strcmp(v, "fail") != 0)
        fprintf(out, "%-32s dumped %d samples\n", d->name, (int)num(r, "samples"));
      else
        print_row(out, r, c.o.verbose);
    }
    cJSON_AddItemToArray(ops, r);
  }
  if (c.list) return 0;
  if (!n_sel) {
    fprintf(stderr, "nabla-gradcheck: no op selected (no plugin loaded?)\n");
    n_fail++;
  }
  int n_checked = cJSON_GetArraySize(ops);
  cJSON_AddItemToObject(report, "ops_without_samples", skipped);
  cJSON *sum = cJSON_AddObjectToObject(report, "summary");
  cJSON_AddNumberToObject(sum, "ops", n_checked);
  cJSON_AddNumberToObject(sum, "passed", n_pass);
  cJSON_AddNumberToObject(sum, "not_differentiable", n_nd);
  cJSON_AddNumberToObject(sum, "failed", n_fail);
  cJSON_AddBoolToObject(report, "ok", n_fail == 0);
  if (c.json) {
    char *s = cJSON_Print(report);
    fprintf(out, "%s\n", s);
    free(s);
  } else {
    if (cJSON_GetArraySize(skipped)) {
      fprintf(out, "ops without samples (not checked):");
      const cJSON *e;
      cJSON_ArrayForEach(e, skipped) fprintf(out, " %s", e->valuestring);
      fprintf(out, "\n");
    }
    if (c.o.dump_dir)
      fprintf(out, "nabla-gradcheck: samples of %d ops written to %s, %d failed\n", n_checked, c.o.dump_dir, n_fail);
    else
      fprintf(out, "nabla-gradcheck: %d ops: %d passed, %d not differentiable, %d failed\n", n_checked, n_pass,
              n_nd, n_fail);
  }
  cJSON_Delete(report);
  plugscan_free(&g_scan);
  for (int k = 0; k < c.n_plugins; k++) free(c.plugin_real[k]);
  if (out != stdout) fclose(out);
  return n_fail ? 1 : 0;
}
