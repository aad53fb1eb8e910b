/* tests/optim/test_optim.c — optimizers against float64 trajectories computed here from
 * the spec's formulas (and a few by hand), hyperparameter checking, groups, frozen and
 * grad-less parameters, zero_grad, state save/load, clipping and lr schedules. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define N 4
#define STEPS 9

static nb_tensor *param(const double *v, int n) {
  nb_tensor *t = nb_from_doubles(v, n, NB_F64);
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(nb_set_requires_grad(t, true), 0);
  return t;
}

static void set_grad(nb_tensor *p, const double *g, int n) {
  ck_assert_int_eq(nb_set_grad(p, nb_from_doubles(g, n, NB_F64)), 0);
}

/* A deterministic gradient for step t, element i, with exact zeros at some places. */
static double grad_at(int t, int i) {
  if (t == 4) return 0.0;
  if (t == 2 && i == 1) return 0.0;
  return sin(1.0 + 0.7 * t + 1.3 * i) * (1 + i);
}

static const double P0[N] = {0.5, -1.25, 2.0, 0.125};

static void assert_traj(const nb_tensor *p, const double *expect, const char *what, int t) {
  double got[N];
  ck_assert_int_eq(nb_to_doubles(p, got, N), 0);
  for (int i = 0; i < N; i++)
    ck_assert_msg(fabs(got[i] - expect[i]) <= 1e-15 * (1 + fabs(expect[i])),
                  "%s step %d elem %d: %.17g vs %.17g", what, t, i, got[i], expect[i]);
}

/* ---- reference implementations (scalar double, straight from spec/autograd.md) ---- */

typedef struct ref_state {
  double buf[N], m[N], v[N], vmax[N], ga[N];
  int step;
} ref_state;

static void ref_sgd(double *p, const double *g0, ref_state *s, double lr, double mu, double damp,
                    double wd, bool nesterov, bool maximize) {
  for (int i = 0; i < N; i++) {
    double g = maximize ? -g0[i] : g0[i];
    if (wd != 0) g += wd * p[i];
    if (mu != 0) {
      s->buf[i] = s->step == 0 ? g : mu * s->buf[i] + (1 - damp) * g;
      g = nesterov ? g + mu * s->buf[i] : s->buf[i];
    }
    p[i] -= lr * g;
  }
  s->step++;
}

static void ref_adam(double *p, const double *g0, ref_state *s, double lr, double b1, double b2,
                     double eps, double wd, bool amsgrad, bool maximize, bool decoupled) {
  int t = ++s->step;
  for (int i = 0; i < N; i++) {
    double g = maximize ? -g0[i] : g0[i];
    if (decoupled) p[i] *= 1 - lr * wd;
    else if (wd != 0) g += wd * p[i];
    s->m[i] = b1 * s->m[i] + (1 - b1) * g;
    s->v[i] = b2 * s->v[i] + (1 - b2) * g * g;
    double v = s->v[i];
    if (amsgrad) v = s->vmax[i] = fmax(s->vmax[i], v);
    p[i] -= (lr / (1 - pow(b1, t))) * s->m[i] / (sqrt(v) / sqrt(1 - pow(b2, t)) + eps);
  }
}

static void ref_rmsprop(double *p, const double *g0, ref_state *s, double lr, double alpha,
                        double eps, double wd, double mu, bool centered, bool maximize) {
  for (int i = 0; i < N; i++) {
    double g = maximize ? -g0[i] : g0[i];
    if (wd != 0) g += wd * p[i];
    s->v[i] = alpha * s->v[i] + (1 - alpha) * g * g;
    double avg;
    if (centered) {
      s->ga[i] = alpha * s->ga[i] + (1 - alpha) * g;
      avg = sqrt(s->v[i] - s->ga[i] * s->ga[i]) + eps;
    } else {
      avg = sqrt(s->v[i]) + eps;
    }
    if (mu > 0) {
      s->buf[i] = mu * s->buf[i] + g / avg;
      p[i] -= lr * s->buf[i];
    } else {
      p[i] -= lr * g / avg;
    }
  }
  s->step++;
}

typedef enum { K_SGD, K_ADAM, K_ADAMW, K_RMS } kind;
typedef struct cfg {
  const char *name;
  kind k;
  double lr, a, b, c, wd; /* sgd: mu, damp; adam: b1, b2, eps; rms: alpha, eps, mu */
  bool f1, f2;            /* sgd: nesterov, maximize; adam: amsgrad, maximize; rms: centered, maximize */
} cfg;

static const cfg CFGS[] = {
    {"sgd", K_SGD, 0.1, 0, 0, 0, 0, false, false},
    {"sgd", K_SGD, 0.1, 0.9, 0, 0, 0, false, false},
    {"sgd", K_SGD, 0.05, 0.8, 0.3, 0, 0.02, false, true},
    {"sgd", K_SGD, 0.1, 0.9, 0, 0, 0.1, true, false},
    {"adam", K_ADAM, 0.01, 0.9, 0.999, 1e-8, 0, false, false},
    {"adam", K_ADAM, 0.05, 0.8, 0.95, 1e-6, 0.1, true, true},
    {"adamw", K_ADAMW, 0.01, 0.9, 0.999, 1e-8, 0.05, false, false},
    {"adamw", K_ADAMW, 0.02, 0.85, 0.99, 1e-7, 0.01, true, true},
    {"rmsprop", K_RMS, 0.01, 0.99, 1e-8, 0, 0, false, false},
    {"rmsprop", K_RMS, 0.01, 0.9, 1e-6, 0.9, 0.1, true, false},
    {"rmsprop", K_RMS, 0.02, 0.95, 1e-8, 0.5, 0, false, true},
};

static nb_optimizer *make(const cfg *c, nb_tensor *p) {
  nb_attr hp[8];
  int n = 0;
  hp[n++] = NB_A_FLOAT("lr", c->lr);
  if (c->k == K_SGD) {
    hp[n++] = NB_A_FLOAT("momentum", c->a);
    hp[n++] = NB_A_FLOAT("dampening", c->b);
    hp[n++] = NB_A_FLOAT("weight_decay", c->wd);
    hp[n++] = NB_A_BOOL("nesterov", c->f1);
  } else if (c->k == K_RMS) {
    hp[n++] = NB_A_FLOAT("alpha", c->a);
    hp[n++] = NB_A_FLOAT("eps", c->b);
    hp[n++] = NB_A_FLOAT("momentum", c->c);
    hp[n++] = NB_A_FLOAT("weight_decay", c->wd);
    hp[n++] = NB_A_BOOL("centered", c->f1);
  } else {
    hp[n++] = NB_A_FLOAT("beta1", c->a);
    hp[n++] = NB_A_FLOAT("beta2", c->b);
    hp[n++] = NB_A_FLOAT("eps", c->c);
    hp[n++] = NB_A_FLOAT("weight_decay", c->wd);
    hp[n++] = NB_A_BOOL("amsgrad", c->f1);
  }
  hp[n++] = NB_A_BOOL("maximize", c->f2);
  nb_optimizer *o = nb_optimizer_new(c->name, 1, &p, n, hp);
  ck_assert_msg(o != NULL, "%s: %s", c->name, nb_last_error());
  return o;
}

static void ref_step(const cfg *c, double *p, const double *g, ref_state *s) {
  switch (c->k) {
  case K_SGD: ref_sgd(p, g, s, c->lr, c->a, c->b, c->wd, c->f1, c->f2); break;
  case K_ADAM: ref_adam(p, g, s, c->lr, c->a, c->b, c->c, c->wd, c->f1, c->f2, false); break;
  case K_ADAMW: ref_adam(p, g, s, c->lr, c->a, c->b, c->c, c->wd, c->f1, c->f2, true); break;
  case K_RMS: ref_rmsprop(p, g, s, c->lr, c->a, c->b, c->wd, c->c, c->f1, c->f2); break;
  }
}

START_TEST(test_closed_form_trajectories) {
  const cfg *c = &CFGS[_i];
  nb_tensor *p = param(P0, N);
  nb_optimizer *o = make(c, p);
  double ref[N];
  memcpy(ref, P0, sizeof ref);
  ref_state s = {0};
  for (int t = 0; t < STEPS; t++) {
    double g[N];
    for (int i = 0; i < N; i++) g[i] = grad_at(t, i);
    set_grad(p, g, N);
    uint32_t v0 = nb_version(p);
    ck_assert_msg(nb_optimizer_step(o) == 0, "%s", nb_last_error());
    ck_assert_uint_eq(nb_version(p), v0 + 1);
    ref_step(c, ref, g, &s);
    assert_traj(p, ref, c->name, t);
  }
  ck_assert_int_eq(nb_optimizer_param_step(o, 0, 0), STEPS);
  nb_optimizer_free(o);
}
END_TEST

START_TEST(test_by_hand) {
  /* SGD momentum 0.9, lr 0.1, g = 1: p = 1, 0.9, 0.71, 0.439. */
  nb_tensor *p = param((double[]){1.0}, 1);
  nb_optimizer *o = nb_optimizer_new("sgd", 1, &p, 2,
                                     (nb_attr[]){NB_A_FLOAT("lr", 0.1), NB_A_FLOAT("momentum", 0.9)});
  ck_assert_ptr_nonnull(o);
  const double want[] = {0.9, 0.71, 0.439};
  for (int t = 0; t < 3; t++) {
    set_grad(p, (double[]){1.0}, 1);
    ck_assert_int_eq(nb_optimizer_step(o), 0);
    ck_assert_close(nb_item(p), want[t], 1e-15, 0);
  }
  ck_assert_close(nb_item(nb_optimizer_param_state(o, 0, 0, "momentum_buffer")), 2.71, 1e-15, 0);
  nb_optimizer_free(o);
  /* Adam's first step moves by lr·g/(|g| + eps): 3 - 0.1·2/(2 + 1e-8). */
  nb_tensor *q = param((double[]){3.0}, 1);
  o = nb_optimizer_new("adam", 1, &q, 1, (nb_attr[]){NB_A_FLOAT("lr", 0.1)});
  set_grad(q, (double[]){2.0}, 1);
  ck_assert_int_eq(nb_optimizer_step(o), 0);
  ck_assert_close(nb_item(q), 3.0 - 0.1 * 2.0 / (2.0 + 1e-8), 1e-15, 0);
  nb_optimizer_free(o);
}
END_TEST

START_TEST(test_errors_list_accepted) {
  nb_tensor *p = param(P0, N);
  ck_assert_ptr_null(nb_optimizer_new("sgdx", 1, &p, 0, NULL));
  ck_assert_error_contains("sgdx");
  ck_assert_error_contains("sgd");
  ck_assert_error_contains("adam");
  ck_assert_ptr_null(nb_optimizer_new("sgd", 1, &p, 1, (nb_attr[]){NB_A_FLOAT("lrr", 0.1)}));
  ck_assert_error_contains("lrr");
  ck_assert_error_contains("sgd accepts: lr (float, default 0.001, >= 0), momentum");
  ck_assert_ptr_null(nb_optimizer_new("sgd", 1, &p, 1, (nb_attr[]){NB_A_FLOAT("lr", -0.1)}));
  ck_assert_error_contains("lr");
  ck_assert_error_contains("accepts");
  ck_assert_ptr_null(nb_optimizer_new("sgd", 1, &p, 1, (nb_attr[]){NB_A_BOOL("nesterov", 1)}));
  ck_assert_error_contains("nesterov requires momentum > 0");
  ck_assert_ptr_null(nb_optimizer_new("sgd", 1, &p, 3, (nb_attr[]){NB_A_BOOL("nesterov", 1),
                     NB_A_FLOAT("momentum", 0.9), NB_A_FLOAT("dampening", 0.1)}));
  ck_assert_error_contains("dampening");
  ck_assert_ptr_null(nb_optimizer_new("adam", 1, &p, 1, (nb_attr[]){NB_A_FLOAT("beta1", 1.0)}));
  ck_assert_error_contains("beta1");
  ck_assert_ptr_null(nb_optimizer_new("rmsprop", 1, &p, 1, (nb_attr[]){NB_A_FLOAT("eps", -1)}));
  ck_assert_error_contains("eps");
  ck_assert_ptr_null(nb_optimizer_new("sgd", 1, &p, 1, (nb_attr[]){NB_A_FLOAT("momentum", NAN)}));
  /* parameters: duplicates, non-leaf, integer, empty list */
  ck_assert_ptr_null(nb_optimizer_new("sgd", 2, (nb_tensor *[]){p, p}, 0, NULL));
  ck_assert_error_contains("more than once");
  nb_tensor *y = nb_mul_scalar(p, 2.0);
  ck_assert_ptr_nonnull(y);
  ck_assert_ptr_null(nb_optimizer_new("sgd", 1, &y, 0, NULL));
  ck_assert_error_contains("non-leaf");
  nb_tensor *i64 = nb_zeros(1, (int64_t[]){3}, NB_I64);
  ck_assert_ptr_null(nb_optimizer_new("sgd", 1, &i64, 0, NULL));
  ck_assert_error_contains("int64");
  ck_assert_ptr_null(nb_optimizer_new("sgd", 0, NULL, 0, NULL));
  ck_assert_error_contains("empty parameter list");
}
END_TEST

START_TEST(test_frozen_gradless_zero) {
  /* Momentum + weight decay: a frozen param (even with a stale grad) and a grad-less one
   * never move; one with an all-zero grad is stepped (weight decay shrinks it). */
  nb_tensor *frozen = param(P0, N), *nograd = param(P0, N), *zero = param(P0, N);
  nb_optimizer *o = nb_optimizer_new("sgd", 3, (nb_tensor *[]){frozen, nograd, zero}, 3,
                                     (nb_attr[]){NB_A_FLOAT("lr", 0.1), NB_A_FLOAT("momentum", 0.9),
                                                 NB_A_FLOAT("weight_decay", 0.5)});
  ck_assert_ptr_nonnull(o);
  set_grad(frozen, (double[]){1, 1, 1, 1}, N);
  ck_assert_int_eq(nb_set_requires_grad(frozen, false), 0);
  set_grad(zero, (double[]){0, 0, 0, 0}, N);
  uint32_t vf = nb_version(frozen), vn = nb_version(nograd);
  ck_assert_int_eq(nb_optimizer_step(o), 0);
  ck_assert_int_eq(nb_optimizer_step(o), 0);
  assert_traj(frozen, P0, "frozen", 0);
  assert_traj(nograd, P0, "nograd", 0);
  ck_assert_uint_eq(nb_version(frozen), vf);
  ck_assert_uint_eq(nb_version(nograd), vn);
  ck_assert_int_eq(nb_optimizer_param_step(o, 0, 0), 0);
  ck_assert_ptr_null(nb_optimizer_param_state(o, 0, 1, "momentum_buffer"));
  ck_assert_int_eq(nb_optimizer_param_step(o, 0, 2), 2);
  double ref[N];
  memcpy(ref, P0, sizeof ref);
  ref_state s = {0};
  for (int t = 0; t < 2; t++) ref_sgd(ref, (double[]){0, 0, 0, 0}, &s, 0.1, 0.9, 0, 0.5, false, false);
  assert_traj(zero, ref, "zero grad", 1);
  /* zero_grad: fill keeps the tensors, set_to_none drops them */
  set_grad(nograd, (double[]){1, 2, 3, 4}, N);
  nb_tensor *g = nb_grad(nograd);
  ck_assert_int_eq(nb_optimizer_zero_grad(o, false), 0);
  ck_assert_ptr_eq(nb_grad(nograd), g);
  ck_assert_tensor_values(g, ((double[]){0, 0, 0, 0}), N, 0);
  ck_assert_int_eq(nb_optimizer_zero_grad(o, true), 0);
  ck_assert_ptr_null(nb_grad(nograd));
  ck_assert_ptr_null(nb_grad(zero));
  ck_assert_ptr_null(nb_grad(frozen));
  nb_optimizer_free(o);
}
END_TEST

START_TEST(test_groups_and_hparams) {
  nb_tensor *a = param(P0, N), *b = param(P0, N);
  nb_optimizer *o = nb_optimizer_new("sgd", 1, &a, 2,
                                     (nb_attr[]){NB_A_FLOAT("lr", 0.1), NB_A_FLOAT("momentum", 0.9)});
  ck_assert_ptr_nonnull(o);
  /* group 1 overrides lr and inherits momentum 0.9 from the constructor */
  ck_assert_int_eq(nb_optimizer_add_group(o, 1, &b, 1, (nb_attr[]){NB_A_FLOAT("lr", 0.01)}), 1);
  ck_assert_int_eq(nb_optimizer_add_group(o, 1, &a, 0, NULL), NB_EINVAL); /* already in group 0 */
  ck_assert_int_eq(nb_optimizer_num_groups(o), 2);
  ck_assert_double_eq(nb_optimizer_get_hparam(o, 1, "momentum"), 0.9);
  ck_assert_double_eq(nb_optimizer_get_lr(o, 1), 0.01);
  ck_assert(isnan(nb_optimizer_get_hparam(o, 1, "nope")));
  ck_assert_error_contains("nope");
  ck_assert_int_lt(nb_optimizer_set_lr(o, 0, -1.0), 0);
  ck_assert_int_eq(nb_optimizer_set_hparam(o, 0, "momentum", 0.5), 0);
  ck_assert_double_eq(nb_optimizer_get_hparam(o, 0, "momentum"), 0.5);
  double ra[N], rb[N];
  memcpy(ra, P0, sizeof ra);
  memcpy(rb, P0, sizeof rb);
  ref_state sa = {0}, sb = {0};
  for (int t = 0; t < 3; t++) {
    double g[N];
    for (int i = 0; i < N; i++) g[i] = grad_at(t, i);
    set_grad(a, g, N);
    set_grad(b, g, N);
    ck_assert_int_eq(nb_optimizer_step(o), 0);
    ref_sgd(ra, g, &sa, 0.1, 0.5, 0, 0, false, false);
    ref_sgd(rb, g, &sb, 0.01, 0.9, 0, 0, false, false);
  }
  assert_traj(a, ra, "group 0", 2);
  assert_traj(b, rb, "group 1", 2);
  nb_optimizer_free(o);
}
END_TEST

START_TEST(test_nesterov_setter_check) {
  nb_tensor *a = param(P0, N);
  nb_optimizer *o = nb_optimizer_new("sgd", 1, &a, 0, NULL);
  ck_assert_int_eq(nb_optimizer_set_hparam(o, 0, "nesterov", 1), NB_EINVAL);
  ck_assert_error_contains("nesterov");
  ck_assert_double_eq(nb_optimizer_get_hparam(o, 0, "nesterov"), 0);
  nb_optimizer_free(o);
}
END_TEST

/* Run `steps` steps of config c from the optimizer's current state. */
static void run(nb_optimizer *o, nb_tensor *p, int t0, int steps) {
  for (int t = t0; t < t0 + steps; t++) {
    double g[N];
    for (int i = 0; i < N; i++) g[i] = grad_at(t, i);
    set_grad(p, g, N);
    ck_assert_msg(nb_optimizer_step(o) == 0, "%s", nb_last_error());
  }
}

START_TEST(test_state_save_load_bitwise) {
  const cfg *c = &CFGS[_i];
  char path[64];
  snprintf(path, sizeof path, "optim_state_%d_%d.safetensors", (int)getpid(), _i);
  nb_tensor *p = param(P0, N);
  nb_optimizer *o = make(c, p);
  ck_assert_int_eq(nb_optimizer_set_lr(o, 0, c->lr * 0.5), 0); /* a scheduled lr is saved too */
  run(o, p, 0, 5);
  nb_tensor *mid = nb_copy_data(p);
  ck_assert_msg(nb_optimizer_save(o, path) == 0, "%s", nb_last_error());
  run(o, p, 5, 4);
  /* a fresh optimizer over a fresh parameter holding the step-5 values */
  nb_tensor *q = nb_copy_data(mid);
  ck_assert_int_eq(nb_set_requires_grad(q, true), 0);
  nb_optimizer *o2 = make(c, q);
  ck_assert_msg(nb_optimizer_load(o2, path) == 0, "%s", nb_last_error());
  ck_assert_int_eq(nb_optimizer_param_step(o2, 0, 0), 5);
  ck_assert_double_eq(nb_optimizer_get_lr(o2, 0), c->lr * 0.5);
  run(o2, q, 5, 4);
  double a[N], b[N];
  nb_to_doubles(p, a, N);
  nb_to_doubles(q, b, N);
  ck_assert_msg(memcmp(a, b, sizeof a) == 0, "%s: resumed run differs", c->name);
  /* loading into another kind or layout fails and changes nothing */
  nb_tensor *r = param(P0, N);
  nb_optimizer *o3 = nb_optimizer_new(c->k == K_SGD ? "adam" : "sgd", 1, &r, 0, NULL);
  ck_assert_int_lt(nb_optimizer_load(o3, path), 0);
  ck_assert_error_contains(c->name);
  ck_assert_int_eq(nb_optimizer_param_step(o3, 0, 0), 0);
  nb_optimizer *o4 = make(c, r);
  ck_assert_int_eq(nb_optimizer_add_group(o4, 1, (nb_tensor *[]){param(P0, 2)}, 0, NULL), 1);
  ck_assert_int_lt(nb_optimizer_load(o4, path), 0);
  ck_assert_error_contains("groups");
  /* the in-memory state holds what the file holds, and loads the same way */
  nb_optimizer_state *st = nb_optimizer_state_get(o2);
  ck_assert_ptr_nonnull(st);
  nb_safetensors *f = nb_safetensors_load(path);
  ck_assert_int_eq(st->n, nb_safetensors_count(f));
  int nmeta = 0;
  for (; st->metadata[2 * nmeta]; nmeta++)
    ck_assert_ptr_nonnull(st->metadata[2 * nmeta + 1]);
  ck_assert_str_eq(st->metadata[0], "nabla.optimizer");
  ck_assert_str_eq(st->metadata[1], c->k == K_SGD ? "sgd" : nb_optimizer_name(o2));
  ck_assert_int_eq(nb_safetensors_save(path, st->n, (const char *const *)st->names, st->tensors,
                                       (const char *const *)st->metadata), 0);
  nb_safetensors_free(f);
  f = nb_safetensors_load(path);
  nb_tensor *s2 = param(P0, N);
  nb_optimizer *o5 = make(c, s2);
  ck_assert_msg(nb_optimizer_load_safetensors(o5, f) == 0, "%s", nb_last_error());
  ck_assert_int_eq(nb_optimizer_param_step(o5, 0, 0), 9);
  nb_optimizer_state_free(st);
  nb_safetensors_free(f);
  nb_optimizer_free(o5);
  nb_optimizer_free(o);
  nb_optimizer_free(o2);
  nb_optimizer_free(o3);
  nb_optimizer_free(o4);
  unlink(path);
}
END_TEST

START_TEST(test_float32_param) {
  /* float32 parameters update in float32 and agree with the float64 reference closely */
  float v[N] = {0.5f, -1.25f, 2.0f, 0.125f};
  nb_tensor *p = nb_from_data(v, 1, (int64_t[]){N}, NB_F32);
  nb_set_requires_grad(p, true);
  nb_optimizer *o = nb_optimizer_new("adam", 1, &p, 1, (nb_attr[]){NB_A_FLOAT("lr", 0.01)});
  double ref[N];
  memcpy(ref, P0, sizeof ref);
  ref_state s = {0};
  for (int t = 0; t < STEPS; t++) {
    double g[N];
    for (int i = 0; i < N; i++) g[i] = grad_at(t, i);
    ck_assert_int_eq(nb_set_grad(p, nb_from_doubles(g, N, NB_F32)), 0);
    ck_assert_int_eq(nb_optimizer_step(o), 0);
    ref_adam(ref, g, &s, 0.01, 0.9, 0.999, 1e-8, 0, false, false, false);
  }
  ck_assert_tensor_values(p, ref, N, 1e-6);
  nb_optimizer_free(o);
}
END_TEST

START_TEST(test_clip_grad_norm) {
  nb_tensor *a = param((double[]){0, 0}, 2), *b = param((double[]){0}, 1), *c = param((double[]){0}, 1);
  set_grad(a, (double[]){3, 0}, 2);
  set_grad(b, (double[]){4}, 1);
  double total = 0;
  ck_assert_int_eq(nb_clip_grad_norm(3, (nb_tensor *[]){a, b, c}, 1.0, 2.0, false, &total), 0);
  ck_assert_double_eq(total, 5.0);
  double s = 1.0 / (5.0 + 1e-6);
  ck_assert_tensor_values(nb_grad(a), ((double[]){3 * s, 0}), 2, 1e-16);
  ck_assert_tensor_values(nb_grad(b), ((double[]){4 * s}), 1, 1e-16);
  ck_assert_ptr_null(nb_grad(c));
  /* below the limit: untouched; inf norm is the max |g| */
  set_grad(a, (double[]){-3, 1}, 2);
  set_grad(b, (double[]){2}, 1);
  ck_assert_int_eq(nb_clip_grad_norm(2, (nb_tensor *[]){a, b}, 10.0, INFINITY, false, &total), 0);
  ck_assert_double_eq(total, 3.0);
  ck_assert_tensor_values(nb_grad(a), ((double[]){-3, 1}), 2, 0);
  ck_assert_int_eq(nb_clip_grad_norm(2, (nb_tensor *[]){a, b}, 1.0, 1.0, false, &total), 0);
  ck_assert_double_eq(total, 6.0);
  ck_assert_tensor_values(nb_grad(b), ((double[]){2 / (6 + 1e-6)}), 1, 1e-16);
  set_grad(b, (double[]){NAN}, 1);
  ck_assert_int_eq(nb_clip_grad_norm(2, (nb_tensor *[]){a, b}, 1.0, 2.0, true, &total), NB_EINVAL);
  ck_assert_error_contains("non-finite");
  ck_assert_int_lt(nb_clip_grad_norm(1, &a, -1.0, 2.0, false, NULL), 0);
  /* clip by value */
  set_grad(a, (double[]){-3, 0.25}, 2);
  ck_assert_int_eq(nb_clip_grad_value(2, (nb_tensor *[]){a, c}, 0.5), 0);
  ck_assert_tensor_values(nb_grad(a), ((double[]){-0.5, 0.25}), 2, 0);
  ck_assert_int_lt(nb_clip_grad_value(1, &a, -0.5), 0);
}
END_TEST

START_TEST(test_schedules_closed_form) {
  nb_tensor *a = param(P0, N), *b = param(P0, N);
  nb_optimizer *o = nb_optimizer_new("sgd", 1, &a, 1, (nb_attr[]){NB_A_FLOAT("lr", 0.1)});
  nb_optimizer_add_group(o, 1, &b, 1, (nb_attr[]){NB_A_FLOAT("lr", 0.2)});
  nb_lr_scheduler *s = nb_step_lr_new(o, 3, 0.5);
  ck_assert_ptr_nonnull(s);
  for (int e = 0; e <= 10; e++) {
    ck_assert_int_eq(nb_lr_scheduler_epoch(s), e);
    ck_assert_double_eq(nb_optimizer_get_lr(o, 0), 0.1 * pow(0.5, e / 3));
    ck_assert_double_eq(nb_optimizer_get_lr(o, 1), 0.2 * pow(0.5, e / 3));
    ck_assert_int_eq(nb_lr_scheduler_step(s), 0);
  }
  nb_lr_scheduler_free(s);
  ck_assert_int_eq(nb_optimizer_set_lr(o, 0, 0.1), 0);
  ck_assert_int_eq(nb_optimizer_set_lr(o, 1, 0.2), 0);
  s = nb_cosine_annealing_lr_new(o, 10, 0.001);
  for (int e = 0; e <= 20; e++) {
    ck_assert_double_eq(nb_lr_scheduler_last_lr(s, 0),
                        0.001 + (0.1 - 0.001) * (1 + cos(M_PI * e / 10)) / 2);
    nb_lr_scheduler_step(s);
  }
  ck_assert_int_eq(nb_lr_scheduler_set_epoch(s, 10), 0);
  ck_assert_double_eq(nb_optimizer_get_lr(o, 1), 0.001);
  ck_assert_int_lt(nb_lr_scheduler_set_epoch(s, -1), 0);
  nb_lr_scheduler_free(s);
  ck_assert_ptr_null(nb_step_lr_new(o, 0, 0.5));
  ck_assert_ptr_null(nb_cosine_annealing_lr_new(o, 0, 0.0));
  ck_assert_ptr_null(nb_multistep_lr_new(o, 2, (int64_t[]){5, 2}, 0.1));
  nb_optimizer_free(o);
}
END_TEST

/* print(optimizer) as PyTorch 2.x (2.7+) shows it: class name, sorted keys, Python values,
 * PyTorch's extra switches at their defaults, Adam's betas as a tuple. */
static void assert_repr(nb_optimizer *o, const char *want) {
  ck_assert_msg(o != NULL, "%s", nb_last_error());
  char *got = nb_optimizer_to_string(o);
  ck_assert_ptr_nonnull(got);
  ck_assert_msg(!strcmp(got, want), "got:\n%s\nwant:\n%s", got, want);
  free(got);
}

START_TEST(test_repr_like_torch) {
  nb_tensor *a = param(P0, N), *b = param(P0, N);
  nb_optimizer *o = nb_optimizer_new("sgd", 1, &a, 2,
                                     (nb_attr[]){NB_A_FLOAT("lr", 1e-2), NB_A_FLOAT("momentum", 0.9)});
  assert_repr(o, "SGD (\nParameter Group 0\n    dampening: 0\n    differentiable: False\n"
                 "    foreach: None\n    fused: None\n    lr: 0.01\n    maximize: False\n"
                 "    momentum: 0.9\n    nesterov: False\n    weight_decay: 0\n)");
  /* a second group; a non-default integral float prints as a Python float */
  ck_assert_int_eq(nb_optimizer_add_group(o, 1, &b, 2, (nb_attr[]){NB_A_FLOAT("lr", 1e-4),
                                                                   NB_A_FLOAT("weight_decay", 1.0)}), 1);
  char *two = nb_optimizer_to_string(o);
  ck_assert_ptr_nonnull(two);
  ck_assert_ptr_nonnull(strstr(two, "    weight_decay: 0\n\nParameter Group 1\n    dampening: 0\n"));
  ck_assert_ptr_nonnull(strstr(two, "    lr: 0.0001\n    maximize: False\n    momentum: 0.9\n"
                                    "    nesterov: False\n    weight_decay: 1.0\n)"));
  free(two);
  /* floats as Python's repr() writes them (expected strings from python3) */
  static const struct { double v; const char *s; } fl[] = {
      {1e-05, "1e-05"}, {0.0001, "0.0001"}, {100.0, "100.0"}, {1.0 / 3, "0.3333333333333333"},
      {1e+16, "1e+16"}, {1e15, "1000000000000000.0"}, {2.5e-07, "2.5e-07"},
      {123456.789, "123456.789"}, {0.1 + 0.2, "0.30000000000000004"}, {5e-324, "5e-324"},
      {1.7976931348623157e+308, "1.7976931348623157e+308"},
      {12345678901234567.0, "1.2345678901234568e+16"}, {0.5, "0.5"}, {3.0, "3.0"}};
  for (size_t i = 0; i < sizeof fl / sizeof *fl; i++) {
    ck_assert_int_eq(nb_optimizer_set_lr(o, 0, fl[i].v), 0);
    char *t = nb_optimizer_to_string(o), line[64];
    snprintf(line, sizeof line, "\n    lr: %s\n", fl[i].s);
    ck_assert_msg(t && strstr(t, line), "lr %.17g: want \"%s\" in\n%s", fl[i].v, fl[i].s, t);
    free(t);
  }
  FILE *f = tmpfile(); /* nb_optimizer_print writes the same text and a newline */
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(nb_optimizer_print(o, f), 0);
  char *t = nb_optimizer_to_string(o), buf[1024] = "";
  rewind(f);
  size_t got = fread(buf, 1, sizeof buf - 1, f);
  ck_assert_uint_eq(got, strlen(t) + 1);
  ck_assert(!strncmp(buf, t, strlen(t)) && buf[strlen(t)] == '\n');
  free(t);
  fclose(f);
  nb_optimizer_free(o);

  assert_repr(o = nb_optimizer_new("adam", 1, &a, 0, NULL),
              "Adam (\nParameter Group 0\n    amsgrad: False\n    betas: (0.9, 0.999)\n"
              "    capturable: False\n    decoupled_weight_decay: False\n"
              "    differentiable: False\n    eps: 1e-08\n    foreach: None\n    fused: None\n"
              "    lr: 0.001\n    maximize: False\n    weight_decay: 0\n)");
  nb_optimizer_free(o);
  assert_repr(o = nb_optimizer_new("adamw", 1, &a, 1, (nb_attr[]){NB_A_FLOAT("beta1", 0.5)}),
              "AdamW (\nParameter Group 0\n    amsgrad: False\n    betas: (0.5, 0.999)\n"
              "    capturable: False\n    decoupled_weight_decay: True\n"
              "    differentiable: False\n    eps: 1e-08\n    foreach: None\n    fused: None\n"
              "    lr: 0.001\n    maximize: False\n    weight_decay: 0.01\n)");
  nb_optimizer_free(o);
  assert_repr(o = nb_optimizer_new("rmsprop", 1, &a, 0, NULL),
              "RMSprop (\nParameter Group 0\n    alpha: 0.99\n    capturable: False\n"
              "    centered: False\n    differentiable: False\n    eps: 1e-08\n"
              "    foreach: None\n    lr: 0.01\n    maximize: False\n    momentum: 0\n"
              "    weight_decay: 0\n)");
  nb_optimizer_free(o);
  ck_assert_ptr_null(nb_optimizer_to_string(NULL));
  ck_assert_error_contains("NULL");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("optim");
  TCase *tc = tcase_create("optim");
  tcase_add_checked_fixture(tc, nb_test_scope_setup, nb_test_scope_teardown);
  int ncfg = (int)(sizeof CFGS / sizeof CFGS[0]);
  tcase_add_loop_test(tc, test_closed_form_trajectories, 0, ncfg);
  tcase_add_test(tc, test_by_hand);
  tcase_add_test(tc, test_errors_list_accepted);
  tcase_add_test(tc, test_frozen_gradless_zero);
  tcase_add_test(tc, test_groups_and_hparams);
  tcase_add_test(tc, test_nesterov_setter_check);
  tcase_add_loop_test(tc, test_state_save_load_bitwise, 0, ncfg);
  tcase_add_test(tc, test_float32_param);
  tcase_add_test(tc, test_clip_grad_norm);
  tcase_add_test(tc, test_schedules_closed_form);
  tcase_add_test(tc, test_repr_like_torch);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(suite()); }
