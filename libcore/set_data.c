/* libcore/set_data.c — nb_set_data, PyTorch's `t.data = src`: a leaf takes another
 * tensor's values (storage, dtype, shape, strides) while staying the same object, so
 * whoever holds it (a module, an optimizer) sees the change. model.double() is built on it.
 */
#include <string.h>

#include "internal.h"

int nb_set_data(nb_tensor *t, nb_tensor *src) {
  if (!t || !src) return nb_set_error(NB_EINVAL, "nb_set_data: tensor is NULL");
  if (t->grad_fn)
    return nb_set_error(NB_EINVAL, "nb_set_data: only a leaf's data can be replaced (the tensor "
                        "was produced by %s)", t->grad_fn->name);
  if (t->view_base)
    return nb_set_error(NB_EINVAL, "nb_set_data: the tensor %s is a view; replace its base's data",
                        nb_shape_of(t));
  if (t->requires_grad && !nb__is_floating((nb_dtype)src->dtype))
    return nb_set_error(NB_EDTYPE, "nb_set_data: a tensor that requires grad can't take %s data",
                        nb_dtype_name((nb_dtype)src->dtype));
  if (t == src) return NB_OK;
  __atomic_add_fetch(&src->storage->refcount, 1, __ATOMIC_RELAXED);
  nb__storage_release(t->storage);
  t->storage = src->storage;
  t->dtype = src->dtype;
  t->ndim = src->ndim;
  t->numel = src->numel;
  t->offset = src->offset;
  memcpy(t->shape, src->shape, sizeof t->shape);
  memcpy(t->strides, src->strides, sizeof t->strides);
  return NB_OK;
}
