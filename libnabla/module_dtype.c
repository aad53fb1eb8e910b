/* libnabla/module_dtype.c — nb_module_to_dtype, PyTorch's model.double() / model.float():
 * every floating parameter and buffer of the tree, and each parameter's .grad, takes the
 * new dtype in place (nb_set_data), so the module and any optimizer keep the same tensor
 * objects. Integer buffers (num_batches_tracked) are left alone, as PyTorch does.
 */
#include <nabla/nabla.h>

/* Convert one tensor (and its grad) when floating and not already dt. */
static int convert_one(nb_tensor *t, nb_dtype dt) {
  if (!nb_dtype_is_floating(nb_dtype_of(t)) || nb_dtype_of(t) == dt) return 0;
  nb_tensor *c = nb_convert(t, dt), *g = nb_grad(t), *gc = NULL;
  if (!c || (g && !(gc = nb_convert(g, dt)))) return nb_last_status();
  if (g && nb_set_grad(t, NULL) < 0) return nb_last_status();
  if (nb_set_data(t, c) < 0) return nb_last_status();
  return g ? nb_set_grad(t, gc) : 0;
}

int nb_module_to_dtype(nb_module *m, nb_dtype dt) {
  if (!m) return nb_set_error(NB_EINVAL, "nb_module_to_dtype: module is NULL");
  if (dt != NB_F32 && dt != NB_F64)
    return nb_set_error(NB_EDTYPE, "nb_module_to_dtype: dtype must be float32 or float64 (got %s)",
                        nb_dtype_name(dt));
  nb_named_tensors *all = nb_module_state_dict(m);
  if (!all) return nb_last_status();
  int rc = nb_scope_begin();
  if (rc < 0) {
    nb_named_tensors_free(all);
    return rc;
  }
  for (int i = 0; rc >= 0 && i < all->n; i++) {
    rc = convert_one(all->tensors[i], dt);
    if (rc < 0) nb_error_prefix("nb_module_to_dtype (%s)", all->names[i]);
  }
  nb_scope_end();
  nb_named_tensors_free(all);
  return rc < 0 ? rc : 0;
}
