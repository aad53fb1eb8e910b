/* nabla/clip.h — gradient clipping over a list of parameters, as PyTorch's
 * torch.nn.utils.clip_grad_norm_ and clip_grad_value_.
 */
#ifndef NABLA_CLIP_H
#define NABLA_CLIP_H

#include <nabla/core.h>
#include <nabla/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* PyTorch's clip_grad_norm_: total = norm_type-norm of all gradients as one vector
 * (norm_type 1, 2, ... or INFINITY); every grad is scaled by min(1, max_norm/(total+1e-6)).
 * Parameters without grad are skipped. *total_norm (may be NULL) gets the norm before
 * clipping. Returns 0 or a negative status (NB_EINVAL for a non-finite norm when
 * error_if_nonfinite). */
int nb_clip_grad_norm(int n_params, nb_tensor *const *params, double max_norm, double norm_type,
                      bool error_if_nonfinite, double *total_norm);
/* PyTorch's clip_grad_value_: clamp every gradient element to [-clip, clip] (clip >= 0).
 * Parameters without grad are skipped. Returns 0 or a negative status. */
int nb_clip_grad_value(int n_params, nb_tensor *const *params, double clip);

#ifdef __cplusplus
}
#endif
#endif
