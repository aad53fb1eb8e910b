/* adamw — torch.optim.AdamW: decoupled weight decay (p *= 1 − lr·wd first, nothing added
 * to the gradient), then the Adam update of adam.c. Default weight_decay 1e-2. */
#include <nabla/sdk.h>

#include "adam.h"

static int adamw_validate(const nb_attr_value *hp) { return adam_validate_common("adamw", hp); }

static int adamw_step(const nb_attr_value *hp, int64_t step, nb_tensor *param, nb_tensor *grad,
                      nb_tensor **state) {
  return adam_update("adamw", true, hp, step, param, grad, state);
}

const nb_optim_desc optim_adamw = {
    .struct_size = NB_OPTIM_DESC_SIZE,
    .name = "adamw",
    .doc = "AdamW (torch.optim.AdamW): Adam with decoupled weight decay; betas are the "
           "hyperparameters beta1 and beta2. State: exp_avg, exp_avg_sq, max_exp_avg_sq "
           "(amsgrad).",
    .n_hparams = ADAM_NHP,
    .hparams = adamw_hparams,
    .n_state = 3,
    .state_names = adam_state_names,
    .validate = adamw_validate,
    .step = adamw_step,
};
