/* libcore/clip.c — gradient clipping over a parameter list, as torch.nn.utils does:
 * clip_grad_norm_ (total norm of all grads as one vector, scale by
 * min(1, max_norm/(total + 1e-6)), return the norm before clipping) and
 * clip_grad_value_ (clamp every element to [-c, c]). Parameters without grad are skipped.
 * Gradients are read and written in place (strided ones too), not recorded.
 */
#include <math.h>

#include <nabla/nabla.h>
#include <nabla/sdk/kernel.h> /* nb_iter: strided loops over the gradients */

/* Accumulate |x|^p (or max |x| for p = inf) of one gradient into *acc, in double. */
static int grad_norm_acc(nb_tensor *g, double p, double *acc) {
  nb_iter it;
  if (nb_iter_init(&it, 1, (nb_tensor *[]){g}) < 0) return nb_last_status();
  bool f32 = nb_dtype_of(g) == NB_F32;
  double a = *acc;
  do {
    const char *ptr = it.ptr[0];
    for (int64_t k = 0; k < it.n; k++) {
      const char *e = ptr + k * it.step[0];
      double x = fabs(f32 ? (double)*(const float *)e : *(const double *)e);
      if (isinf(p)) a = (x > a || isnan(x)) ? x : a;
      else if (p == 2) a += x * x;
      else if (p == 1) a += x;
      else a += pow(x, p);
    }
  } while (nb_iter_next(&it));
  *acc = a;
  return 0;
}

/* Multiply (mode 0) by s, or clamp (mode 1) to [-s, s], every element of g in place. */
static int grad_apply(nb_tensor *g, int mode, double s) {
  nb_iter it;
  if (nb_iter_init(&it, 1, (nb_tensor *[]){g}) < 0) return nb_last_status();
  bool f32 = nb_dtype_of(g) == NB_F32;
  const float sf = (float)s;
  do {
    char *ptr = it.ptr[0];
    for (int64_t k = 0; k < it.n; k++) {
      char *e = ptr + k * it.step[0];
      if (f32) {
        float *x = (float *)e;
        *x = mode == 0 ? *x * sf : (*x < -sf ? -sf : (*x > sf ? sf : *x));
      } else {
        double *x = (double *)e;
        *x = mode == 0 ? *x * s : (*x < -s ? -s : (*x > s ? s : *x));
      }
    }
  } while (nb_iter_next(&it));
  nb_bump_version(g);
  return 0;
}

static int check_list(const char *fn, int n, nb_tensor *const *params) {
  if (n < 0 || (n > 0 && !params))
    return nb_set_error(NB_EINVAL, "%s: %d parameters with a NULL list", fn, n);
  for (int i = 0; i < n; i++) {
    if (!params[i]) return nb_set_error(NB_EINVAL, "%s: parameter %d is NULL", fn, i);
    nb_tensor *g = nb_grad(params[i]);
    if (g && !nb_dtype_is_floating(nb_dtype_of(g)))
      return nb_set_error(NB_EDTYPE, "%s: grad of parameter %d is %s", fn, i,
                          nb_dtype_name(nb_dtype_of(g)));
  }
  return 0;
}

int nb_clip_grad_norm(int n_params, nb_tensor *const *params, double max_norm, double norm_type,
                      bool error_if_nonfinite, double *total_norm) {
  const char *fn = "nb_clip_grad_norm";
  int rc = check_list(fn, n_params, params);
  if (rc < 0) return rc;
  if (!(max_norm >= 0))
    return nb_set_error(NB_EINVAL, "%s: max_norm must be >= 0, got %g", fn, max_norm);
  if (!(norm_type > 0))
    return nb_set_error(NB_EINVAL, "%s: norm_type must be > 0 or INFINITY, got %g", fn, norm_type);
  double acc = 0;
  for (int i = 0; i < n_params; i++) {
    nb_tensor *g = nb_grad(params[i]);
    if (g && (rc = grad_norm_acc(g, norm_type, &acc)) < 0) return rc;
  }
  double total = isinf(norm_type) ? acc
                 : norm_type == 2 ? sqrt(acc)
                 : norm_type == 1 ? acc
                                  : pow(acc, 1.0 / norm_type);
  if (total_norm) *total_norm = total;
  if (error_if_nonfinite && !isfinite(total))
    return nb_set_error(NB_EINVAL, "%s: the total norm of order %g of the gradients is "
                        "non-finite (%g), so it cannot be clipped", fn, norm_type, total);
  double coef = max_norm / (total + 1e-6);
  if (coef >= 1.0) return 0; /* clamped to 1: multiplying by 1 changes nothing (NaN goes on) */
  for (int i = 0; i < n_params; i++) {
    nb_tensor *g = nb_grad(params[i]);
    if (g && (rc = grad_apply(g, 0, coef)) < 0) return rc;
  }
  return 0;
}

int nb_clip_grad_value(int n_params, nb_tensor *const *params, double clip) {
  const char *fn = "nb_clip_grad_value";
  int rc = check_list(fn, n_params, params);
  if (rc < 0) return rc;
  if (!(clip >= 0)) return nb_set_error(NB_EINVAL, "%s: clip value must be >= 0, got %g", fn, clip);
  for (int i = 0; i < n_params; i++) {
    nb_tensor *g = nb_grad(params[i]);
    if (g && (rc = grad_apply(g, 1, clip)) < 0) return rc;
  }
  return 0;
}
