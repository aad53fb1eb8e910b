/* libcore/schedule.c — learning-rate schedules (StepLR, MultiStepLR, ExponentialLR,
 * CosineAnnealingLR) with PyTorch's closed forms: lr(epoch) = f(base_lr, epoch). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/nabla.h>
#include "nabla/schedule.h"

typedef enum { SCHED_STEP, SCHED_MULTISTEP, SCHED_EXP, SCHED_COSINE } sched_kind;

struct nb_lr_scheduler {
  sched_kind kind;
  nb_optimizer *opt; /* borrowed */
  int n_groups;
  double *base_lr;   /* [n_groups] */
  double *last_lr;   /* [n_groups] */
  int64_t epoch;
  int64_t step_size; /* StepLR; t_max for cosine */
  double gamma, eta_min;
  int n_milestones;
  int64_t *milestones;
};

static double closed_form(const nb_lr_scheduler *s, double base, int64_t e) {
  switch (s->kind) {
  case SCHED_STEP: return base * pow(s->gamma, (double)(e / s->step_size));
  case SCHED_MULTISTEP: {
    int k = 0; /* bisect_right(milestones, e) */
    while (k < s->n_milestones && s->milestones[k] <= e) k++;
    return base * pow(s->gamma, (double)k);
  }
  case SCHED_EXP: return base * pow(s->gamma, (double)e);
  case SCHED_COSINE:
    return s->eta_min +
           (base - s->eta_min) * (1 + cos(M_PI * (double)e / (double)s->step_size)) / 2;
  }
  return NAN;
}

int nb_lr_scheduler_set_epoch(nb_lr_scheduler *s, int64_t epoch) {
  if (!s) return nb_set_error(NB_EINVAL, "nb_lr_scheduler_set_epoch: schedule is NULL");
  if (epoch < 0)
    return nb_set_error(NB_EINVAL, "nb_lr_scheduler_set_epoch: epoch must be >= 0, got %lld",
                        (long long)epoch);
  for (int g = 0; g < s->n_groups; g++) {
    double lr = closed_form(s, s->base_lr[g], epoch);
    int rc = nb_optimizer_set_lr(s->opt, g, lr);
    if (rc < 0) return rc;
    s->last_lr[g] = lr;
  }
  s->epoch = epoch;
  return 0;
}

int nb_lr_scheduler_step(nb_lr_scheduler *s) {
  if (!s) return nb_set_error(NB_EINVAL, "nb_lr_scheduler_step: schedule is NULL");
  return nb_lr_scheduler_set_epoch(s, s->epoch + 1);
}

int64_t nb_lr_scheduler_epoch(const nb_lr_scheduler *s) { return s ? s->epoch : -1; }

double nb_lr_scheduler_last_lr(const nb_lr_scheduler *s, int group) {
  if (!s || group < 0 || group >= s->n_groups) {
    nb_set_error(NB_EINVAL, "nb_lr_scheduler_last_lr: group %d out of range", group);
    return NAN;
  }
  return s->last_lr[group];
}

void nb_lr_scheduler_free(nb_lr_scheduler *s) {
  if (!s) return;
  free(s->base_lr);
  free(s->last_lr);
  free(s->milestones);
  free(s);
}

static nb_lr_scheduler *sched_new(const char *fn, nb_optimizer *o, sched_kind kind, double gamma) {
  if (!o) {
    nb_set_error(NB_EINVAL, "%s: optimizer is NULL", fn);
    return NULL;
  }
  if (kind != SCHED_COSINE && !(gamma >= 0 && isfinite(gamma))) {
    nb_set_error(NB_EINVAL, "%s: gamma must be finite and >= 0, got %g", fn, gamma);
    return NULL;
  }
  nb_lr_scheduler *s = calloc(1, sizeof *s);
  int n = nb_optimizer_num_groups(o);
  if (s) {
    s->base_lr = calloc((size_t)n + 1, sizeof *s->base_lr);
    s->last_lr = calloc((size_t)n + 1, sizeof *s->last_lr);
  }
  if (!s || !s->base_lr || !s->last_lr) {
    nb_lr_scheduler_free(s);
    nb_set_error(NB_ENOMEM, "%s: out of memory", fn);
    return NULL;
  }
  s->kind = kind;
  s->opt = o;
  s->n_groups = n;
  s->gamma = gamma;
  for (int g = 0; g < n; g++) {
    s->base_lr[g] = s->last_lr[g] = nb_optimizer_get_lr(o, g);
    if (isnan(s->base_lr[g])) { /* optimizer without an "lr" hyperparameter */
      nb_error_prefix("%s", fn);
      nb_lr_scheduler_free(s);
      return NULL;
    }
  }
  return s;
}

/* Finish construction: epoch 0 sets each group's lr (PyTorch's initial step). */
static nb_lr_scheduler *sched_start(nb_lr_scheduler *s) {
  if (s && nb_lr_scheduler_set_epoch(s, 0) < 0) {
    nb_lr_scheduler_free(s);
    return NULL;
  }
  return s;
}

nb_lr_scheduler *nb_step_lr_new(nb_optimizer *o, int64_t step_size, double gamma) {
  if (step_size < 1) {
    nb_set_error(NB_EINVAL, "nb_step_lr_new: step_size must be >= 1, got %lld",
                 (long long)step_size);
    return NULL;
  }
  nb_lr_scheduler *s = sched_new("nb_step_lr_new", o, SCHED_STEP, gamma);
  if (s) s->step_size = step_size;
  return sched_start(s);
}

nb_lr_scheduler *nb_multistep_lr_new(nb_optimizer *o, int n_milestones, const int64_t *milestones,
                                     double gamma) {
  const char *fn = "nb_multistep_lr_new";
  if (n_milestones < 0 || (n_milestones > 0 && !milestones)) {
    nb_set_error(NB_EINVAL, "%s: %d milestones with a NULL array", fn, n_milestones);
    return NULL;
  }
  for (int i = 1; i < n_milestones; i++)
    if (milestones[i] < milestones[i - 1]) {
      nb_set_error(NB_EINVAL, "%s: milestones must be increasing (%lld after %lld)", fn,
                   (long long)milestones[i], (long long)milestones[i - 1]);
      return NULL;
    }
  nb_lr_scheduler *s = sched_new(fn, o, SCHED_MULTISTEP, gamma);
  if (s && n_milestones > 0) {
    s->milestones = malloc((size_t)n_milestones * sizeof *s->milestones);
    if (!s->milestones) {
      nb_lr_scheduler_free(s);
      nb_set_error(NB_ENOMEM, "%s: out of memory", fn);
      return NULL;
    }
    memcpy(s->milestones, milestones, (size_t)n_milestones * sizeof *milestones);
    s->n_milestones = n_milestones;
  }
  return sched_start(s);
}

nb_lr_scheduler *nb_exponential_lr_new(nb_optimizer *o, double gamma) {
  return sched_start(sched_new("nb_exponential_lr_new", o, SCHED_EXP, gamma));
}

nb_lr_scheduler *nb_cosine_annealing_lr_new(nb_optimizer *o, int64_t t_max, double eta_min) {
  const char *fn = "nb_cosine_annealing_lr_new";
  if (t_max < 1 || !isfinite(eta_min) || eta_min < 0) {
    nb_set_error(NB_EINVAL, "%s: t_max must be >= 1 and eta_min finite and >= 0 (got %lld, %g)",
                 fn, (long long)t_max, eta_min);
    return NULL;
  }
  nb_lr_scheduler *s = sched_new(fn, o, SCHED_COSINE, 1.0);
  if (s) {
    s->step_size = t_max;
    s->eta_min = eta_min;
  }
  return sched_start(s);
}
