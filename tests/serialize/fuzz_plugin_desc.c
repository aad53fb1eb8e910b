/* tests/serialize/fuzz_plugin_desc.c — fuzz target for the plugin loader's validation of
 * what a plugin hands it: the plugin descriptor (magic, ABI, size, name, init) and the
 * op and optimizer descriptors its init registers (names, struct sizes, counts, input and
 * output specs, dtype masks, flags, attribute and hyperparameter schemas with defaults,
 * ranges and choices, state slots).
 *
 * Descriptors cannot come from raw bytes (they hold pointers), so each input is decoded
 * into descriptors whose every field is chosen by the input while every pointer stays
 * valid (arrays as long as the counts they claim, or NULL). They reach the core the real
 * way: the plugin fx_fuzzdesc.so returns the host's descriptor from its entry point, and
 * each input loads it under a new hard-linked file name (the loader loads a file once;
 * glibc maps the same inode once, so only the entry point runs again).
 *
 * Invariants: a refused plugin has a message, in the error and in its load report entry;
 * a loaded one is in the report as loaded, and every op and optimizer it registered can
 * be found by name and carries that name. Sanitizers catch bad reads of the descriptors
 * (or of our strings after a rollback). Usage: as fuzz_driver, with FUZZ_DESC_PLUGIN
 * naming fx_fuzzdesc.so. Each input leaves a load report entry and a name of the mapped
 * file behind (both searched linearly by the next load), so keep runs to a few thousand
 * inputs (4000 take about a second without sanitizers).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nabla/nabla.h>
#include <nabla/sdk.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const nb_plugin_desc *fuzz_plugin_descriptor(void);

static void quiet(int level, const char *msg, void *user) { (void)level, (void)msg, (void)user; }

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_plugin_desc: invariant violated: %s (%s)\n", what, detail ? detail : "");
  abort();
}

/* ---- decoding the input ---------------------------------------------------------------- */

static const uint8_t *g_in;
static size_t g_left;
static unsigned g_counter; /* makes names unique */

static uint8_t u8(void) {
  if (!g_left) return 0;
  g_left--;
  return *g_in++;
}
static uint64_t u64(void) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | u8();
  return v;
}
static double f64(void) {
  static const double special[] = {0, 1, -1, 0.5, 1e-3, 100, 1e300, -1e300, INFINITY, -INFINITY, NAN, 2.5};
  uint8_t b = u8();
  if (b < 200) return special[b % (sizeof special / sizeof special[0])];
  uint64_t bits = u64();
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

/* Every allocation of one input, freed unless the plugin loaded (the registry then keeps
 * pointers to its strings and arrays for good). */
static void **g_allocs;
static size_t g_nallocs, g_capallocs;
static void *keep_alloc(void *p) {
  if (!p) fail("out of memory", NULL);
  if (g_nallocs == g_capallocs) {
    g_capallocs = g_capallocs ? 2 * g_capallocs : 256;
    g_allocs = realloc(g_allocs, g_capallocs * sizeof *g_allocs);
    if (!g_allocs) fail("out of memory", NULL);
  }
  return g_allocs[g_nallocs++] = p;
}
static void *zalloc(size_t n) { return keep_alloc(calloc(n ? n : 1, 1)); }

static const char *const words[] = {"x", "y", "weight", "bias", "lr", "alpha", "reduction", "mean",
                                    "sum", "none", "fz_op", "momentum", "out", "dim", "keepdim", "Bad Name",
                                    "9lives", "a.b", "__init__", "very_long_name_that_goes_on_and_on_past_forty_eight_chars"};

/* A string chosen by the input: NULL, empty, a word, a unique word, raw bytes. */
static const char *str(void) {
  uint8_t b = u8();
  switch (b % 8) {
  case 0: return NULL;
  case 1: return "";
  case 6: {
    size_t n = u8() % 24;
    char *s = zalloc(n + 1);
    for (size_t i = 0; i < n; i++) s[i] = (char)u8();
    return s;
  }
  case 7: {
    char *s = zalloc(80);
    snprintf(s, 80, "%s_%u", words[u8() % (sizeof words / sizeof words[0])], ++g_counter);
    return s;
  }
  default: return words[u8() % (sizeof words / sizeof words[0])];
  }
}

/* A count in [-1, max] (mostly small and valid). */
static int count(int max) { return (int)(u8() % (unsigned)(max + 2)) - 1; }

static void attr_spec(nb_attr_spec *a) {
  a->name = str();
  uint8_t t = u8();
  a->type = (nb_attr_type)(t < 240 ? t % 5 : t); /* now and then not a type at all */
  a->flags = u8() & 0x1f;
  a->def.i = u8() < 128 ? (int64_t)(int8_t)u8() : (int64_t)u64();
  a->def.f = f64();
  a->def.s = str();
  a->def.ints.n = count(NB_MAX_DIMS + 1);
  for (int k = 0; k < NB_MAX_DIMS; k++) a->def.ints.v[k] = (int64_t)(int8_t)u8();
  a->min = f64();
  a->max = f64();
  static const char *const choices[] = {"none,mean,sum", "plain,negate", "", ",", "a,,b", "mean"};
  uint8_t c = u8();
  a->choices = c % 3 == 0 ? NULL : c % 3 == 1 ? choices[u8() % 6] : str();
  a->doc = str();
}

static int fwd(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *a, nb_tensor **out) {
  (void)ctx, (void)in, (void)a, (void)out;
  return nb_set_error(NB_EINVAL, "fuzz op");
}
static int bwd(nb_ctx *ctx, nb_tensor *const *go, nb_tensor **gi) {
  (void)ctx, (void)go, (void)gi;
  return nb_set_error(NB_EINVAL, "fuzz op");
}
static int step(const nb_attr_value *hp, int64_t s, nb_tensor *p, nb_tensor *g, nb_tensor **st) {
  (void)hp, (void)s, (void)p, (void)g, (void)st;
  return 0;
}
static int validate(const nb_attr_value *hp) {
  (void)hp;
  return 0;
}

static nb_op_desc *op_desc(void) {
  nb_op_desc *d = zalloc(sizeof *d);
  uint8_t sz = u8();
  d->struct_size = sz < 224 ? NB_OP_DESC_SIZE : sz < 240 ? (uint32_t)u8() * 2 : (uint32_t)u64();
  d->name = str();
  d->doc = str();
  d->node_name = u8() < 200 ? NULL : str();
  d->flags = u8() & 0x0f;
  d->n_inputs = count(5);
  if (d->n_inputs > 0 && u8() > 16) {
    nb_input_spec *in = zalloc((size_t)d->n_inputs * sizeof *in);
    for (int i = 0; i < d->n_inputs; i++) {
      in[i].name = str();
      uint8_t m = u8();
      in[i].dtypes = m < 200 ? (m % 2 ? NB_DT_ANY : 1u << (m % 5)) : m;
      in[i].flags = u8() & 7;
      in[i].doc = str();
    }
    d->inputs = in;
  }
  d->n_outputs = count(4);
  if (d->n_outputs > 0 && u8() > 64) {
    nb_output_spec *out = zalloc((size_t)d->n_outputs * sizeof *out);
    for (int j = 0; j < d->n_outputs; j++) {
      out[j].name = str();
      out[j].flags = u8() & 3;
      out[j].doc = str();
    }
    d->outputs = out;
  }
  d->n_attrs = count(4);
  if (d->n_attrs > 0 && u8() > 16) {
    nb_attr_spec *a = zalloc((size_t)d->n_attrs * sizeof *a);
    for (int k = 0; k < d->n_attrs; k++) attr_spec(&a[k]);
    d->attrs = a;
  }
  d->forward = u8() < 16 ? NULL : fwd;
  d->backward = u8() < 64 ? NULL : bwd;
  d->saves = str();
  return d;
}

static nb_optim_desc *optim_desc(void) {
  nb_optim_desc *d = zalloc(sizeof *d);
  uint8_t sz = u8();
  d->struct_size = sz < 224 ? NB_OPTIM_DESC_SIZE : (uint32_t)u8();
  d->name = str();
  d->doc = str();
  d->n_hparams = count(4);
  if (d->n_hparams > 0 && u8() > 16) {
    nb_attr_spec *a = zalloc((size_t)d->n_hparams * sizeof *a);
    for (int k = 0; k < d->n_hparams; k++) attr_spec(&a[k]);
    d->hparams = a;
  }
  d->n_state = count(3);
  if (d->n_state > 0 && u8() > 16) {
    const char **names = zalloc((size_t)d->n_state * sizeof *names);
    for (int s = 0; s < d->n_state; s++) names[s] = str();
    d->state_names = names;
  }
  d->validate = u8() < 128 ? NULL : validate;
  d->step = u8() < 16 ? NULL : step;
  return d;
}

static int init(nb_registrar *r) {
  for (int i = 0, n = u8() % 4; i < n; i++) nb_register_op(r, u8() < 8 ? NULL : op_desc());
  for (int i = 0, n = u8() % 3; i < n; i++) nb_register_optimizer(r, u8() < 8 ? NULL : optim_desc());
  return u8() < 24 ? -1 : 0;
}

static nb_plugin_desc g_desc;

const nb_plugin_desc *fuzz_plugin_descriptor(void) {
  if (u8() < 4) return NULL;
  memset(&g_desc, 0, sizeof g_desc);
  g_desc.magic = u8() < 16 ? u64() : NB_PLUGIN_MAGIC;
  uint8_t sz = u8();
  g_desc.struct_size = sz < 224 ? (uint32_t)sizeof g_desc : sz < 240 ? (uint32_t)u8() : (uint32_t)u64();
  g_desc.abi_major = u8() < 16 ? (uint16_t)u64() : NB_ABI_MAJOR;
  g_desc.abi_minor = u8() < 16 ? (uint16_t)u64() : NB_ABI_MINOR;
  if (u8() < 64) {
    g_desc.name = str();
  } else { /* mostly unique, so that init runs */
    char *s = zalloc(32);
    snprintf(s, 32, "fzplugin_%u", ++g_counter);
    g_desc.name = s;
  }
  g_desc.version = str();
  g_desc.description = str();
  g_desc.license = str();
  g_desc.init = u8() < 8 ? NULL : init;
  return &g_desc;
}

/* ---- the target --------------------------------------------------------------------------- */

static char g_dir[PATH_MAX], g_base[PATH_MAX + 16];
static unsigned g_file;

static void setup(void) {
  nb_set_log_callback(quiet, NULL);
  setenv("NABLA_PLUGIN_PATH", "", 1); /* nb_op_find must not discover anything else */
  setenv("NABLA_PLUGIN_SYSTEM_PATH", "", 1);
  const char *so = getenv("FUZZ_DESC_PLUGIN"), *tmp = getenv("TMPDIR");
  if (!so) fail("setup", "FUZZ_DESC_PLUGIN is not set");
  snprintf(g_dir, sizeof g_dir, "%s/nabla-fuzzdesc.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(g_dir)) fail("setup", strerror(errno));
  snprintf(g_base, sizeof g_base, "%s/base.so", g_dir); /* a copy, so hard links stay on one file system */
  FILE *in = fopen(so, "rb"), *out = fopen(g_base, "wb");
  if (!in || !out) fail("setup: cannot copy the plugin", so);
  char buf[65536];
  for (size_t n; (n = fread(buf, 1, sizeof buf, in)) > 0;)
    if (fwrite(buf, 1, n, out) != n) fail("setup: cannot copy the plugin", so);
  fclose(in);
  if (fclose(out) != 0) fail("setup: cannot copy the plugin", so);
  nb_plugins_load_all();
}

static void cleanup(void) {
  if (g_base[0]) unlink(g_base);
  if (g_dir[0]) rmdir(g_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_base[0]) {
    setup();
    atexit(cleanup);
  }
  g_in = data;
  g_left = size;
  g_nallocs = 0;
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/p%u.so", g_dir, g_file++);
  if (link(g_base, path) < 0) fail("link", strerror(errno));
  int before = nb_plugin_report_count();
  nb_clear_error();
  int rc = nb_plugin_load(path);
  unlink(path);
  const nb_plugin_info *p = nb_plugin_report_count() > before ? nb_plugin_report_at(before) : NULL;
  if (!p) fail("no load report entry", path);
  if (rc < 0) {
    if (!nb_last_error()[0] || !p->message || !p->message[0]) fail("refused without a message", path);
    if (p->state == NB_PLUGIN_LOADED) fail("refused but reported as loaded", p->message);
    for (size_t i = 0; i < g_nallocs; i++) free(g_allocs[i]); /* rolled back: nothing points here */
  } else {
    if (p->state != NB_PLUGIN_LOADED) fail("loaded but reported otherwise", p->message);
    const char *names[16];
    int n = nb_plugin_report_ops(before, names, 16);
    for (int i = 0; i < n && i < 16; i++) {
      const nb_op *op = nb_op_find(names[i]);
      if (!op || strcmp(nb_op_descriptor(op)->name, names[i]) != 0) fail("registered op not found", names[i]);
    }
    n = nb_plugin_report_optimizers(before, names, 16);
    for (int i = 0; i < n && i < 16; i++) {
      const nb_optim_kind *k = nb_optim_find(names[i]);
      if (!k || strcmp(nb_optim_descriptor(k)->name, names[i]) != 0) fail("registered optimizer not found", names[i]);
    }
    /* kept: the registry points into these (a leak by design, reachable from here) */
    static void ***kept;
    static size_t nkept;
    void ***nk = realloc(kept, (nkept + 1) * sizeof *nk);
    void **copy = malloc((g_nallocs + 1) * sizeof *copy);
    if (!nk || !copy) fail("out of memory", NULL);
    memcpy(copy, g_allocs, g_nallocs * sizeof *copy);
    kept = nk;
    kept[nkept++] = copy;
  }
  return 0;
}
