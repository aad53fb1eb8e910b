/* nabla/schedule.h — learning-rate schedules over an optimizer's groups, with PyTorch's
 * closed forms (torch.optim.lr_scheduler's _get_closed_form_lr), so the lr at epoch e is a
 * function of e alone and a resumed run only needs the epoch back.
 *
 * Creating a schedule records each group's current lr as its base lr and sets epoch 0
 * (PyTorch's first implicit step). Call nb_lr_scheduler_step() after each epoch's
 * optimizer steps. A schedule borrows its optimizer: free it first.
 */
#ifndef NABLA_SCHEDULE_H
#define NABLA_SCHEDULE_H

#include <nabla/core.h>
#include <nabla/optim.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_lr_scheduler nb_lr_scheduler;

/* StepLR: lr = base_lr · gamma^floor(epoch / step_size); step_size >= 1, gamma >= 0. */
nb_lr_scheduler *nb_step_lr_new(nb_optimizer *o, int64_t step_size, double gamma);
/* MultiStepLR: lr = base_lr · gamma^(number of milestones <= epoch); milestones increasing. */
nb_lr_scheduler *nb_multistep_lr_new(nb_optimizer *o, int n_milestones, const int64_t *milestones,
                                     double gamma);
/* ExponentialLR: lr = base_lr · gamma^epoch. */
nb_lr_scheduler *nb_exponential_lr_new(nb_optimizer *o, double gamma);
/* CosineAnnealingLR: lr = eta_min + (base_lr − eta_min)·(1 + cos(π·epoch/t_max))/2;
 * t_max >= 1. */
nb_lr_scheduler *nb_cosine_annealing_lr_new(nb_optimizer *o, int64_t t_max, double eta_min);
/* Free a schedule (NULL-safe); the optimizer keeps its current lrs. */
void nb_lr_scheduler_free(nb_lr_scheduler *s);

/* Advance one epoch and set every group's lr. Returns 0 or a negative status. */
int nb_lr_scheduler_step(nb_lr_scheduler *s);
/* Jump to `epoch` (>= 0) and set the lrs for it (for resuming). */
int nb_lr_scheduler_set_epoch(nb_lr_scheduler *s, int64_t epoch);
/* The current epoch (0 after creation), or -1 for NULL. */
int64_t nb_lr_scheduler_epoch(const nb_lr_scheduler *s);
/* The lr this schedule last set for `group` (PyTorch's get_last_lr); NaN on error. */
double nb_lr_scheduler_last_lr(const nb_lr_scheduler *s, int group);

#ifdef __cplusplus
}
#endif
#endif
