/* tests/models/test_resnet18_golden.c — torchvision's ResNet-18 topology (models/resnet18.c)
 * against PyTorch, two training steps in float32, from the files of gen_resnet18_golden.py:
 * PREFIX_init.safetensors (a state_dict, loaded with nb_module_load) and
 * PREFIX_golden.safetensors (what PyTorch computed from it).
 *
 *   step 1: logits = model(x); loss = (logits - labels).sum(); backward;
 *           SGD(lr, momentum).step()        -> logits, loss, every parameter's gradient,
 *                                              the batch-norm buffers after the forward,
 *                                              the weights after the step
 *   step 2: zero_grad; loss = cross_entropy(model(x), target); backward; step
 *                                           -> logits, loss, batch-norm buffers, every
 *                                              gradient, the momentum buffers (against
 *                                              PyTorch's 0.9 grad1 + grad2, in double),
 *                                              the weights
 *
 * Step 2 starts from PyTorch's state after step 1: its weights, batch-norm buffers and
 * momentum buffers (= its step-1 gradients) are copied into the model and into the
 * optimizer's state before the second forward. Float32 rounding in step 1 is enough to flip
 * a ReLU whose input is within ~1e-5 of zero; at full width one such flip in layer4.1 moves
 * step-2 gradients by 2% — in PyTorch's own float32 run against float64 too (max-pool
 * argmax changes show the same) — so each step is checked from the same state.
 *
 * Criterion per element: |got - want| <= RTOL (|want| + max|want|), max over the tensor:
 * relative for the largest elements, absolute RTOL max|want| for small ones (float32 sums
 * and GEMMs err relative to the size of their terms, not of each result); and per tensor
 * ||got - want||_2 <= RTOL ||want||_2. num_batches_tracked must match exactly. The worst of
 * both, per quantity, is printed with where it occurs.
 *
 * PREFIX: $NABLA_RESNET18_GOLDEN, else $NABLA_SOURCE_ROOT/tests/models/resnet18_w4.
 * With $NABLA_RESNET18_DUMP set, nabla's values are also written there (safetensors, the
 * golden file's key names) for a closer look, e.g. against a --float64 golden.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"
#include "testutil.h"

#define RTOL 1e-4

typedef struct quantity {
  const char *name;
  double worst;      /* max |got - want| / (|want| + max|want|) */
  char where[640];    /* where it occurs */
  double worst_l2;    /* max over tensors of ||got - want|| / ||want|| */
  char where_l2[520]; /* which tensor */
  int64_t count;     /* elements compared */
} quantity;

enum {
  Q_LOGITS1, Q_LOSS1, Q_GRAD1, Q_MEAN1, Q_VAR1, Q_NBT1, Q_PARAM1,
  Q_LOGITS2, Q_LOSS2, Q_MEAN2, Q_VAR2, Q_NBT2, Q_GRAD2, Q_MOMBUF2, Q_PARAM2, Q_COUNT
};

static quantity q[Q_COUNT] = {
    {.name = "step1 logits"},
    {.name = "step1 loss (pred - labels).sum()"},
    {.name = "step1 gradients"},
    {.name = "step1 bn running_mean"},
    {.name = "step1 bn running_var"},
    {.name = "step1 bn num_batches_tracked"},
    {.name = "step1 weights after SGD step"},
    {.name = "step2 logits"},
    {.name = "step2 loss cross_entropy"},
    {.name = "step2 bn running_mean"},
    {.name = "step2 bn running_var"},
    {.name = "step2 bn num_batches_tracked"},
    {.name = "step2 gradients"},
    {.name = "step2 momentum buffers"},
    {.name = "step2 weights after SGD step"},
};

static nb_safetensors *golden;
static char prefix[1024];

/* ---- $NABLA_RESNET18_DUMP: what nabla computed, under the golden file's keys ---------- */

enum { MAX_DUMP = 1024 };
static int n_dump;
static char *dump_names[MAX_DUMP];
static nb_tensor *dump_tensors[MAX_DUMP];

static void dump_keep(const char *key, const nb_tensor *t) {
  if (!getenv("NABLA_RESNET18_DUMP") || n_dump >= MAX_DUMP || !t) return;
  dump_names[n_dump] = strdup(key);
  dump_tensors[n_dump++] = nb_keep(nb_copy_data(t));
}

static void dump_write(void) {
  const char *path = getenv("NABLA_RESNET18_DUMP");
  if (path && n_dump)
    ck_assert_msg(nb_safetensors_save(path, n_dump, (const char *const *)dump_names, dump_tensors,
                                      NULL) == 0, "%s: %s", path, nb_last_error());
  for (int i = 0; i < n_dump; i++) {
    free(dump_names[i]);
    nb_release(dump_tensors[i]);
  }
  n_dump = 0;
}

/* ---- comparing ------------------------------------------------------------------------ */

/* The golden tensor `fmt` % name (a scoped copy). */
static nb_tensor *want(const char *fmt, const char *name) { return nb_test_golden(golden, fmt, name); }

/* Fold nabla's `got` vs the expected `exp` (called `key`) into quantity k. */
static void compare_to(int k, const nb_tensor *got, const char *key, const nb_tensor *exp) {
  ck_assert_msg(got != NULL, "%s: nabla's %s is NULL: %s", q[k].name, key, nb_last_error());
  ck_assert_msg(exp != NULL, "%s: %s: %s", q[k].name, key, nb_last_error());
  dump_keep(key, got);
  ck_assert_msg(nb_same_shape(got, exp), "%s: nabla's %s is %s, PyTorch's %s", q[k].name, key,
                nb_shape_of(got), nb_shape_of(exp));
  int64_t n = nb_numel(exp);
  double *g = malloc(sizeof(double) * (size_t)(n + 1)), *w = malloc(sizeof(double) * (size_t)(n + 1));
  ck_assert(g && w);
  ck_assert_int_eq(nb_to_doubles(got, g, n), 0);
  ck_assert_int_eq(nb_to_doubles(exp, w, n), 0);
  double amax = 0, dd = 0, ww = 0;
  for (int64_t i = 0; i < n; i++) {
    amax = fmax(amax, fabs(w[i]));
    dd += (g[i] - w[i]) * (g[i] - w[i]);
    ww += w[i] * w[i];
  }
  for (int64_t i = 0; i < n; i++) {
    double d = fabs(g[i] - w[i]), den = fabs(w[i]) + amax;
    double r = d == 0 ? 0 : den > 0 ? d / den : INFINITY;
    if (!(r <= q[k].worst)) { /* also catches NaN */
      q[k].worst = isnan(r) ? INFINITY : r;
      snprintf(q[k].where, sizeof q[k].where, "%s[%lld] %.9g vs %.9g", key, (long long)i, g[i], w[i]);
    }
  }
  double l2 = dd == 0 ? 0 : ww > 0 ? sqrt(dd / ww) : INFINITY;
  if (!(l2 <= q[k].worst_l2)) {
    q[k].worst_l2 = isnan(l2) ? INFINITY : l2;
    snprintf(q[k].where_l2, sizeof q[k].where_l2, "%s", key);
  }
  q[k].count += n;
  free(g);
  free(w);
}

/* Fold nabla's `got` vs PyTorch's tensor `fmt` % name into quantity k. */
static void compare(int k, const nb_tensor *got, const char *fmt, const char *name) {
  char key[512];
  snprintf(key, sizeof key, fmt, name);
  compare_to(k, got, key, want("%s", key));
}

/* The batch-norm buffers of step `step`: running_mean, running_var, num_batches_tracked. */
static void compare_buffers(const nb_module *m, int step) {
  nb_named_tensors *bufs = nb_module_named_buffers(m);
  ck_assert_ptr_nonnull(bufs);
  ck_assert_int_eq(bufs->n, 3 * 20); /* ResNet-18 has 20 batch norms */
  char fmt[64];
  snprintf(fmt, sizeof fmt, "step%d.buffer.%%s", step);
  for (int i = 0; i < bufs->n; i++) {
    const char *name = bufs->names[i];
    if (strstr(name, "num_batches_tracked")) {
      int k = step == 1 ? Q_NBT1 : Q_NBT2;
      double got = nb_item(bufs->tensors[i]), exp = nb_item(want(fmt, name));
      ck_assert_msg(got == exp, "%s: %s is %g, PyTorch's %g", q[k].name, name, got, exp);
      q[k].count++;
    } else {
      bool mean = strstr(name, "running_mean") != NULL;
      compare(step == 1 ? (mean ? Q_MEAN1 : Q_VAR1) : (mean ? Q_MEAN2 : Q_VAR2), bufs->tensors[i],
              fmt, name);
    }
  }
  nb_named_tensors_free(bufs);
}

/* Loss as a [1] tensor, as the generator stores it. */
static nb_tensor *as_1d(nb_tensor *loss) { return loss ? nb_reshape(loss, 1, (int64_t[]){1}) : NULL; }

START_TEST(test_resnet18_two_steps_match_torch) {
  char path[1100];
  snprintf(path, sizeof path, "%s_golden.safetensors", prefix);
  golden = nb_safetensors_load(path);
  ck_assert_msg(golden != NULL, "%s: %s", path, nb_last_error());
  const char *ws = nb_safetensors_metadata(golden, "width"), *cs = nb_safetensors_metadata(golden, "classes");
  const char *lrs = nb_safetensors_metadata(golden, "lr"), *ms = nb_safetensors_metadata(golden, "momentum");
  ck_assert(ws && cs && lrs && ms);
  nb_module *model = resnet18_new_width(atoll(ws), atoll(cs), NULL);
  ck_assert_msg(model != NULL, "%s", nb_last_error());
  snprintf(path, sizeof path, "%s_init.safetensors", prefix);
  int loaded = nb_module_load(model, path, true);
  ck_assert_msg(loaded == 62 + 60, "nb_module_load(%s): %d: %s", path, loaded, nb_last_error());
  nb_module_train(model, true);
  printf("ResNet-18 width %s, %s classes, %lld parameters; PyTorch %s (%s, %s)\n", ws, cs,
         (long long)nb_module_num_parameters(model, false), nb_safetensors_metadata(golden, "torch"),
         nb_safetensors_metadata(golden, "model"), nb_safetensors_metadata(golden, "dtype"));

  nb_scope_begin();
  nb_named_tensors *params = nb_module_named_parameters(model);
  nb_named_tensors *bufs = nb_module_named_buffers(model);
  ck_assert(params && bufs);
  ck_assert_int_eq(params->n, 62);
  nb_optimizer *opt = nb_optimizer_new("sgd", params->n, params->tensors, 2,
                                       (nb_attr[]){NB_A_FLOAT("lr", strtod(lrs, NULL)),
                                                   NB_A_FLOAT("momentum", strtod(ms, NULL))});
  ck_assert_msg(opt != NULL, "%s", nb_last_error());
  /* float32 always (a --float64 golden records float64 results of float32 inputs) */
  nb_tensor *x = nb_convert(want("%s", "input.x"), NB_F32);
  nb_tensor *labels = nb_convert(want("%s", "input.labels"), NB_F32);
  nb_tensor *target = want("%s", "input.target");

  /* step 1: the seed's loss */
  nb_tensor *logits = nb_module_forward(model, x);
  compare(Q_LOGITS1, logits, "%s", "step1.logits");
  nb_tensor *loss = nb_sum(nb_sub(logits, labels));
  compare(Q_LOSS1, as_1d(loss), "%s", "step1.loss");
  ck_assert_msg(nb_backward(loss, NULL, 0) == 0, "%s", nb_last_error());
  for (int i = 0; i < params->n; i++)
    compare(Q_GRAD1, nb_grad(params->tensors[i]), "step1.grad.%s", params->names[i]);
  compare_buffers(model, 1);
  ck_assert_msg(nb_optimizer_step(opt) == 0, "%s", nb_last_error());
  for (int i = 0; i < params->n; i++)
    compare(Q_PARAM1, params->tensors[i], "step1.param.%s", params->names[i]);

  /* step 2 from PyTorch's step-1 state; cross-entropy, the momentum buffers carry step 1 */
  for (int i = 0; i < params->n; i++) {
    nb_tensor *buf = nb_optimizer_param_state(opt, 0, i, "momentum_buffer");
    ck_assert_msg(buf != NULL, "no momentum buffer for %s after step 1", params->names[i]);
    ck_assert_int_eq(nb_copy_into(params->tensors[i], want("step1.param.%s", params->names[i])), 0);
    ck_assert_int_eq(nb_copy_into(buf, want("step1.grad.%s", params->names[i])), 0);
  }
  for (int i = 0; i < bufs->n; i++)
    ck_assert_int_eq(nb_copy_into(bufs->tensors[i], want("step1.buffer.%s", bufs->names[i])), 0);
  ck_assert_int_eq(nb_optimizer_zero_grad(opt, true), 0);
  logits = nb_module_forward(model, x);
  compare(Q_LOGITS2, logits, "%s", "step2.logits");
  loss = nb_cross_entropy(logits, target, NULL, "mean", -100, 0);
  compare(Q_LOSS2, as_1d(loss), "%s", "step2.loss");
  ck_assert_msg(nb_backward(loss, NULL, 0) == 0, "%s", nb_last_error());
  compare_buffers(model, 2);
  for (int i = 0; i < params->n; i++)
    compare(Q_GRAD2, nb_grad(params->tensors[i]), "step2.grad.%s", params->names[i]);
  ck_assert_msg(nb_optimizer_step(opt) == 0, "%s", nb_last_error());
  double mu = strtod(ms, NULL);
  for (int i = 0; i < params->n; i++) {
    char key[512];
    snprintf(key, sizeof key, "step2.momentum_buffer.%s", params->names[i]);
    nb_tensor *g1 = nb_convert(want("step1.grad.%s", params->names[i]), NB_F64);
    nb_tensor *g2 = nb_convert(want("step2.grad.%s", params->names[i]), NB_F64);
    compare_to(Q_MOMBUF2, nb_optimizer_param_state(opt, 0, i, "momentum_buffer"), key,
               nb_add(nb_mul_scalar(g1, mu), g2));
    compare(Q_PARAM2, params->tensors[i], "step2.param.%s", params->names[i]);
  }

  printf("worst error per quantity (tolerance %g): elementwise |nabla - torch| / (|torch| + "
         "max|torch|), and per tensor ||nabla - torch|| / ||torch||\n", RTOL);
  for (int k = 0; k < Q_COUNT; k++) {
    if (k == Q_NBT1 || k == Q_NBT2) {
      printf("  %-32s exact (%lld buffers)\n", q[k].name, (long long)q[k].count);
      continue;
    }
    printf("  %-32s %8.2e  l2 %8.2e  (%lld values; worst at %s; l2 at %s)\n", q[k].name,
           q[k].worst, q[k].worst_l2, (long long)q[k].count, q[k].where[0] ? q[k].where : "-",
           q[k].where_l2[0] ? q[k].where_l2 : "-");
  }
  fflush(stdout);
  dump_write();
  for (int k = 0; k < Q_COUNT; k++) {
    ck_assert_msg(q[k].worst <= RTOL, "%s: worst error %.3g > %g at %s", q[k].name, q[k].worst,
                  RTOL, q[k].where);
    ck_assert_msg(q[k].worst_l2 <= RTOL, "%s: l2 error %.3g > %g in %s", q[k].name,
                  q[k].worst_l2, RTOL, q[k].where_l2);
  }
  nb_optimizer_free(opt);
  nb_named_tensors_free(params);
  nb_named_tensors_free(bufs);
  nb_scope_end();
  nb_module_free(model);
  nb_safetensors_free(golden);
}
END_TEST

int main(void) {
  const char *p = getenv("NABLA_RESNET18_GOLDEN"), *root = getenv("NABLA_SOURCE_ROOT");
  if (p && *p) snprintf(prefix, sizeof prefix, "%s", p);
  else snprintf(prefix, sizeof prefix, "%s/tests/models/resnet18_w4", root ? root : ".");
  Suite *s = suite_create("resnet18_golden");
  TCase *tc = tcase_create("torch");
  tcase_set_timeout(tc, 900);
  tcase_add_test(tc, test_resnet18_two_steps_match_torch);
  suite_add_tcase(s, tc);
  return nb_test_run(s);
}
