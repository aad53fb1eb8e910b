/* plugins/optim/optim_util.h — pieces every optimizer plugin (sgd, adam, rmsprop) shares:
 * the param/grad check and lazily created zero state (the update loops' parallel grain
 * and AVX2 clones are the SDK's NB_PARALLEL_GRAIN and NB_SIMD_CLONES). Header-only (static
 * inline), so each plugin stays one self-contained shared module. Plugin-internal: not
 * installed.
 */
#ifndef NB_PLUGIN_OPTIM_UTIL_H
#define NB_PLUGIN_OPTIM_UTIL_H

#include <nabla/sdk.h>

/* 0 when param and grad are contiguous with the same dtype and number of elements (the
 * update loops run flat over both); else NB_EINVAL with "what: param [2,3] float32 and
 * grad ... must be contiguous and alike". */
static inline int optim_check_param_grad(const char *what, nb_tensor *param, nb_tensor *grad) {
  nb_dtype dt = nb_dtype_of(param);
  if (!nb_is_contiguous(param) || !nb_is_contiguous(grad) || nb_dtype_of(grad) != dt ||
      nb_numel(grad) != nb_numel(param))
    return nb_set_error(NB_EINVAL, "%s: param %s %s and grad %s %s must be contiguous and alike",
                        what, nb_shape_of(param), nb_dtype_name(dt), nb_shape_of(grad),
                        nb_dtype_name(nb_dtype_of(grad)));
  return 0;
}

/* State slot k, created as zeros like param (kept alive by the optimizer) on first use.
 * NULL with an error set when it cannot be allocated. */
static inline nb_tensor *optim_zero_state(nb_tensor **state, int k, nb_tensor *param) {
  if (!state[k]) state[k] = nb_keep(nb_zeros_like(param));
  return state[k];
}

#endif
