/* plugins/adam/adam.h — the Adam update shared by adam.c and adamw.c (plugin-internal). */
#ifndef NB_PLUGIN_ADAM_H
#define NB_PLUGIN_ADAM_H

#include <nabla/sdk.h>

#include "../optim_util.h" /* shared param/grad check and zero state */

/* Hyperparameter order of both "adam" and "adamw" (betas are two floats). */
enum { ADAM_LR, ADAM_BETA1, ADAM_BETA2, ADAM_EPS, ADAM_WD, ADAM_AMSGRAD, ADAM_MAXIMIZE,
       ADAM_NHP };

/* Schema shared by both (weight_decay default differs: 0 for Adam, 1e-2 for AdamW);
 * `what` names the optimizer in messages. */
int adam_validate_common(const char *what, const nb_attr_value *hp);
/* One Adam/AdamW step: decoupled selects AdamW (p *= 1 − lr·wd first, no wd in g). */
int adam_update(const char *what, bool decoupled, const nb_attr_value *hp, int64_t step,
                nb_tensor *param, nb_tensor *grad, nb_tensor **state);

extern const char *const adam_state_names[3];
extern const nb_optim_desc optim_adam;
extern const nb_optim_desc optim_adamw;
extern const nb_attr_spec adamw_hparams[ADAM_NHP];

#endif
