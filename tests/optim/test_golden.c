/* tests/optim/test_golden.c — optimizers, lr schedules and gradient clipping against
 * PyTorch: float64 trajectories recorded by gen_golden.py in optim_golden.safetensors. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static nb_safetensors *golden;

static void open_golden(void) {
  const char *root = getenv("NABLA_SOURCE_ROOT");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/optim/optim_golden.safetensors", root ? root : ".");
  golden = nb_safetensors_load(path);
  ck_assert_msg(golden != NULL, "%s: %s", path, nb_last_error());
  nb_scope_begin();
}

static void close_golden(void) {
  nb_scope_end();
  nb_safetensors_free(golden);
}

static nb_tensor *get(const char *fmt, const char *name) { return nb_test_golden(golden, fmt, name); }

/* Parse "lr=0.1,momentum=0.9,nesterov=1" into attributes typed by the optimizer's schema. */
static int parse_hp(const char *opt, const char *s, nb_attr *out, char names[][32]) {
  const nb_optim_desc *d = nb_optim_descriptor(nb_optim_find(opt));
  ck_assert_ptr_nonnull(d);
  int n = 0;
  while (s && *s) {
    const char *eq = strchr(s, '='), *end = strchr(s, ',');
    ck_assert_ptr_nonnull(eq);
    snprintf(names[n], 32, "%.*s", (int)(eq - s), s);
    double v = strtod(eq + 1, NULL);
    nb_attr_type type = NB_ATTR_FLOAT;
    for (int i = 0; i < d->n_hparams; i++)
      if (!strcmp(d->hparams[i].name, names[n])) type = d->hparams[i].type;
    out[n] = type == NB_ATTR_BOOL ? NB_A_BOOL(names[n], v != 0) : NB_A_FLOAT(names[n], v);
    n++;
    s = end ? end + 1 : NULL;
  }
  return n;
}

START_TEST(test_optimizers_match_torch) {
  char configs[1024];
  const char *list = nb_safetensors_metadata(golden, "configs");
  ck_assert_ptr_nonnull(list);
  snprintf(configs, sizeof configs, "%s", list);
  int checked = 0;
  for (char *save = NULL, *name = strtok_r(configs, ";", &save); name;
       name = strtok_r(NULL, ";", &save)) {
    char spec[512], opt[512], names[16][32];
    snprintf(spec, sizeof spec, "%s", nb_safetensors_metadata(golden, name));
    char *semi = strchr(spec, ';');
    ck_assert_ptr_nonnull(semi);
    *semi = 0;
    snprintf(opt, sizeof opt, "%s", spec);
    nb_attr hp[16];
    int nhp = parse_hp(opt, semi + 1, hp, names);
    nb_tensor *p = nb_copy_data(get("%s.p0", name));
    nb_tensor *grads = get("%s.grads", name), *traj = get("%s.traj", name);
    int64_t T = nb_size(grads, 0), n = nb_size(grads, 1);
    nb_set_requires_grad(p, true);
    nb_optimizer *o = nb_optimizer_new(opt, 1, &p, nhp, hp);
    ck_assert_msg(o != NULL, "%s: %s", name, nb_last_error());
    double *g = malloc(sizeof(double) * (size_t)(T * n)), *want = malloc(sizeof(double) * (size_t)(T * n));
    nb_to_doubles(grads, g, T * n);
    nb_to_doubles(traj, want, T * n);
    double worst = 0;
    for (int64_t t = 0; t < T; t++) {
      ck_assert_int_eq(nb_set_grad(p, nb_from_doubles(g + t * n, n, NB_F64)), 0);
      ck_assert_msg(nb_optimizer_step(o) == 0, "%s: %s", name, nb_last_error());
      double got[16];
      nb_to_doubles(p, got, n);
      for (int64_t i = 0; i < n; i++) {
        double w = want[t * n + i], err = fabs(got[i] - w) / (1 + fabs(w));
        worst = fmax(worst, err);
        ck_assert_msg(err <= 1e-15, "%s (%s) step %lld elem %lld: %.17g vs torch %.17g", name,
                      opt, (long long)t, (long long)i, got[i], w);
      }
    }
    free(g);
    free(want);
    nb_optimizer_free(o);
    checked++;
  }
  ck_assert_int_ge(checked, 13);
}
END_TEST

START_TEST(test_schedules_match_torch) {
  static const char *const kinds[] = {"step", "multistep", "exponential", "cosine"};
  for (int k = 0; k < 4; k++) {
    nb_tensor *want = get("sched.%s", kinds[k]);
    int64_t E = nb_numel(want);
    nb_tensor *p = nb_zeros(1, (int64_t[]){1}, NB_F32);
    nb_set_requires_grad(p, true);
    nb_optimizer *o = nb_optimizer_new("sgd", 1, &p, 1, (nb_attr[]){NB_A_FLOAT("lr", 0.1)});
    nb_lr_scheduler *s = k == 0   ? nb_step_lr_new(o, 3, 0.5)
                         : k == 1 ? nb_multistep_lr_new(o, 2, (int64_t[]){2, 5}, 0.1)
                         : k == 2 ? nb_exponential_lr_new(o, 0.9)
                                  : nb_cosine_annealing_lr_new(o, 10, 0.001);
    ck_assert_ptr_nonnull(s);
    for (int64_t e = 0; e < E; e++) {
      double w = 0;
      int64_t idx = e;
      ck_assert_int_eq(nb_get(want, &idx, &w), 0);
      double got = nb_optimizer_get_lr(o, 0);
      ck_assert_msg(fabs(got - w) <= 1e-15 + 1e-12 * fabs(w), "%s epoch %lld: %.17g vs torch %.17g",
                    kinds[k], (long long)e, got, w);
      nb_lr_scheduler_step(s);
    }
    nb_lr_scheduler_free(s);
    nb_optimizer_free(o);
  }
}
END_TEST

START_TEST(test_clipping_matches_torch) {
  static const char *const cases[] = {"norm2", "norminf", "norm1_noclip", "norm3", "value"};
  for (int c = 0; c < 5; c++) {
    char key[64];
    snprintf(key, sizeof key, "clip.%s", cases[c]);
    const char *meta = nb_safetensors_metadata(golden, key);
    ck_assert_ptr_nonnull(meta);
    bool by_norm = !strncmp(meta, "norm;", 5);
    double arg = strtod(strchr(meta, ';') + 1, NULL);
    double norm_type = strtod(strrchr(meta, ';') + 1, NULL);
    nb_tensor *ps[3];
    for (int i = 0; i < 3; i++) {
      char gk[32];
      snprintf(gk, sizeof gk, "clip.g%d", i);
      nb_tensor *g = get("%s", gk);
      ps[i] = nb_zeros_like(g);
      nb_set_requires_grad(ps[i], true);
      ck_assert_int_eq(nb_set_grad(ps[i], nb_copy_data(g)), 0);
    }
    if (by_norm) {
      double total = 0, want;
      ck_assert_int_eq(nb_clip_grad_norm(3, ps, arg, norm_type, false, &total), 0);
      ck_assert_int_eq(nb_item_checked(get("clip.%s.total", cases[c]), &want), 0);
      ck_assert_msg(fabs(total - want) <= 1e-15 * want, "%s: norm %.17g vs torch %.17g", cases[c],
                    total, want);
    } else {
      ck_assert_int_eq(nb_clip_grad_value(3, ps, arg), 0);
    }
    for (int i = 0; i < 3; i++) {
      char gk[64];
      snprintf(gk, sizeof gk, "clip.%s.g%d", cases[c], i);
      nb_tensor *want = get("%s", gk);
      double a[8], b[8];
      int64_t n = nb_numel(want);
      nb_to_doubles(nb_grad(ps[i]), a, n);
      nb_to_doubles(want, b, n);
      for (int64_t k = 0; k < n; k++)
        ck_assert_msg(fabs(a[k] - b[k]) <= 1e-15 * (1 + fabs(b[k])), "%s g%d[%lld]: %.17g vs %.17g",
                      cases[c], i, (long long)k, a[k], b[k]);
    }
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("optim_golden");
  TCase *tc = tcase_create("torch");
  tcase_add_checked_fixture(tc, open_golden, close_golden);
  tcase_add_test(tc, test_optimizers_match_torch);
  tcase_add_test(tc, test_schedules_match_torch);
  tcase_add_test(tc, test_clipping_matches_torch);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(suite()); }
