/* nabla/sdk/optim.h — what an optimizer plugin writes: a hyperparameter schema,
 * per-parameter state slots and a step function that updates one parameter in place.
 * Users create optimizers by name through the user library (optim.h).
 */
#ifndef NABLA_SDK_OPTIM_H
#define NABLA_SDK_OPTIM_H

#include "../core.h"
#include "../tensor.h"
#include "../schema.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- what an optimizer plugin registers ----------------------------------------- */

/* Update one parameter in place. hp: the group's hyperparameters in schema order.
 * step: this parameter's step count, from 1. grad: its gradient (never NULL: the core
 * skips parameters without grad and frozen ones). state[0..n_state-1]: slots that start
 * NULL; store tensors with nb_keep() (the core releases them). Runs under no-grad.
 * Return 0 or a negative status with an error set. */
typedef int (*nb_optim_step_fn)(const nb_attr_value *hp, int64_t step, nb_tensor *param,
                                nb_tensor *grad, nb_tensor **state);
/* Cross-field checks on a group's hyperparameters (e.g. nesterov needs momentum > 0);
 * may be NULL. Return 0 or a negative status naming the offending values. */
typedef int (*nb_optim_validate_fn)(const nb_attr_value *hp);

typedef struct nb_optim_desc {
  uint32_t struct_size; /* NB_OPTIM_DESC_SIZE */
  const char *name;     /* "sgd", "adam", ... */
  const char *doc;
  int n_hparams;
  const nb_attr_spec *hparams;
  int n_state;
  const char *const *state_names; /* "momentum_buffer", "exp_avg", ... */
  nb_optim_validate_fn validate;
  nb_optim_step_fn step;
} nb_optim_desc;
#define NB_OPTIM_DESC_SIZE ((uint32_t)sizeof(nb_optim_desc))

#ifdef __cplusplus
}
#endif
#endif
