/* adam — torch.optim.Adam (single-tensor path of PyTorch 1.13, the spec's formulas):
 *
 *   g = maximize ? -grad : grad;   g += wd·p                      (L2, when wd != 0)
 *   m = β1·m + (1−β1)·g;   v = β2·v + ((1−β2)·g)·g;   amsgrad: v̂ = max(v̂, v)
 *   p += (−lr/(1−β1ᵗ))·m / (√v/√(1−β2ᵗ) + eps)
 *
 * The betas are two FLOAT hyperparameters "beta1" and "beta2" (PyTorch's betas tuple).
 * The update is one fused pass over contiguous data; adamw.c reuses it with decoupled
 * weight decay.
 */
#include <math.h>
#include <nabla/sdk.h>

#include "adam.h"

const char *const adam_state_names[3] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};

int adam_validate_common(const char *what, const nb_attr_value *hp) {
  for (int k = ADAM_BETA1; k <= ADAM_BETA2; k++)
    if (!(hp[k].f >= 0 && hp[k].f < 1))
      return nb_set_error(NB_EINVAL, "%s: beta%d must be in [0, 1), got %g", what,
                          k - ADAM_BETA1 + 1, hp[k].f);
  return 0;
}

static int adam_validate(const nb_attr_value *hp) { return adam_validate_common("adam", hp); }

typedef struct adam_job {
  void *p, *m, *v, *vmax; /* vmax NULL without amsgrad */
  const void *g;
  double beta1, beta2, eps, wd, decay, nstep, bc2_sqrt;
  bool decoupled, maximize;
} adam_job;

/* Element update for one dtype, specialised (always inlined with constant flags) so each
 * case is a branch-free loop the compiler vectorises. Scalars are rounded to T as PyTorch
 * does when a Python float meets a float32 tensor, and the operation order follows its
 * kernels (addcmul: self + (value·t1)·t2, addcdiv: self + (value·t1)/t2). wdmode: 0 none,
 * 1 L2 (Adam), 2 decoupled (AdamW). sgn = -1 for maximize (exact). */
#define ADAM_LOOP(NAME, T, SQRT)                                                           \
  static inline __attribute__((always_inline)) void NAME(                                  \
      int64_t b, int64_t e, T *restrict p, const T *restrict g, T *restrict m,             \
      T *restrict v, T *restrict vmax, const adam_job *j, const int wdmode, const bool ams) { \
    const T sgn = j->maximize ? (T)-1 : (T)1, b1 = (T)j->beta1, omb1 = (T)(1.0 - j->beta1), \
            b2 = (T)j->beta2, omb2 = (T)(1.0 - j->beta2), wd = (T)j->wd,                   \
            decay = (T)j->decay, nstep = (T)j->nstep, bc2s = (T)j->bc2_sqrt, eps = (T)j->eps; \
    for (int64_t i = b; i < e; i++) {                                                      \
      T d = sgn * g[i];                                                                    \
      T pi = p[i];                                                                         \
      if (wdmode == 2) pi = pi * decay;                                                    \
      if (wdmode == 1) d = d + wd * pi;                                                    \
      T mi = m[i] * b1 + omb1 * d;                                                         \
      T vi = v[i] * b2 + (omb2 * d) * d;                                                   \
      m[i] = mi;                                                                           \
      v[i] = vi;                                                                           \
      if (ams) {                                                                           \
        T a = vmax[i];                                                                     \
        vi = (a != a || a > vi) ? a : vi; /* torch.maximum: NaN propagates */              \
        vmax[i] = vi;                                                                      \
      }                                                                                    \
      p[i] = pi + (nstep * mi) / (SQRT(vi) / bc2s + eps);                                  \
    }                                                                                      \
  }

#define ADAM_RANGE(NAME, LOOP, T)                                                          \
  NB_SIMD_CLONES static void NAME(int64_t b, int64_t e, void *user) {                      \
    const adam_job *j = user;                                                              \
    T *p = (T *)j->p, *m = (T *)j->m, *v = (T *)j->v, *vmax = (T *)j->vmax;                \
    const T *g = (const T *)j->g;                                                          \
    int wdmode = j->decoupled ? 2 : (j->wd != 0 ? 1 : 0);                                  \
    switch (wdmode * 2 + (vmax != NULL)) {                                                 \
    case 0: LOOP(b, e, p, g, m, v, vmax, j, 0, false); break;                              \
    case 1: LOOP(b, e, p, g, m, v, vmax, j, 0, true); break;                               \
    case 2: LOOP(b, e, p, g, m, v, vmax, j, 1, false); break;                              \
    case 3: LOOP(b, e, p, g, m, v, vmax, j, 1, true); break;                               \
    case 4: LOOP(b, e, p, g, m, v, vmax, j, 2, false); break;                              \
    default: LOOP(b, e, p, g, m, v, vmax, j, 2, true); break;                              \
    }                                                                                      \
  }
ADAM_LOOP(adam_loop_f32, float, sqrtf)
ADAM_LOOP(adam_loop_f64, double, sqrt)
ADAM_RANGE(adam_range_f32, adam_loop_f32, float)
ADAM_RANGE(adam_range_f64, adam_loop_f64, double)

int adam_update(const char *what, bool decoupled, const nb_attr_value *hp, int64_t step,
                nb_tensor *param, nb_tensor *grad, nb_tensor **state) {
  int rc = optim_check_param_grad(what, param, grad);
  if (rc < 0) return rc;
  nb_dtype dt = nb_dtype_of(param);
  if (step < 1) return nb_set_error(NB_EINVAL, "%s: step must be >= 1, got %lld", what,
                                    (long long)step);
  bool ams = hp[ADAM_AMSGRAD].i != 0;
  if (!optim_zero_state(state, 0, param) || !optim_zero_state(state, 1, param) ||
      (ams && !optim_zero_state(state, 2, param)))
    return nb_last_status();
  double lr = hp[ADAM_LR].f, b1 = hp[ADAM_BETA1].f, b2 = hp[ADAM_BETA2].f;
  double bc1 = 1.0 - pow(b1, (double)step), bc2 = 1.0 - pow(b2, (double)step);
  adam_job j = {.p = nb_data(param), .g = nb_data(grad), .m = nb_data(state[0]),
                .v = nb_data(state[1]), .vmax = ams ? nb_data(state[2]) : NULL,
                .beta1 = b1, .beta2 = b2, .eps = hp[ADAM_EPS].f, .wd = hp[ADAM_WD].f,
                .decay = 1.0 - lr * hp[ADAM_WD].f, .nstep = -(lr / bc1),
                .bc2_sqrt = sqrt(bc2), .decoupled = decoupled,
                .maximize = hp[ADAM_MAXIMIZE].i != 0};
  nb_parallel_for(nb_numel(param), NB_PARALLEL_GRAIN,
                  dt == NB_F32 ? adam_range_f32 : adam_range_f64, &j);
  return 0;
}

static int adam_step(const nb_attr_value *hp, int64_t step, nb_tensor *param, nb_tensor *grad,
                     nb_tensor **state) {
  return adam_update("adam", false, hp, step, param, grad, state);
}

#define ADAM_HPARAMS(WD_DEFAULT, WD_DOC)                                                   \
  {                                                                                        \
    {"lr", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN, {.f = 1e-3}, 0, 0, NULL, "learning rate"},      \
    {"beta1", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN | NB_ATTR_HAS_MAX, {.f = 0.9}, 0, 1, NULL,    \
     "decay of the gradient average, in [0, 1) (PyTorch's betas[0])"},                     \
    {"beta2", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN | NB_ATTR_HAS_MAX, {.f = 0.999}, 0, 1, NULL,  \
     "decay of the squared-gradient average, in [0, 1) (PyTorch's betas[1])"},             \
    {"eps", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN, {.f = 1e-8}, 0, 0, NULL,                       \
     "added to the denominator"},                                                          \
    {"weight_decay", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN, {.f = (WD_DEFAULT)}, 0, 0, NULL,      \
     WD_DOC},                                                                              \
    {"amsgrad", NB_ATTR_BOOL, 0, {.i = 0}, 0, 0, NULL,                                     \
     "use the maximum of past squared-gradient averages"},                                 \
    {"maximize", NB_ATTR_BOOL, 0, {.i = 0}, 0, 0, NULL, "maximize the objective"},         \
  }

static const nb_attr_spec adam_hparams[ADAM_NHP] =
    ADAM_HPARAMS(0.0, "L2 penalty added to the gradient");

const nb_optim_desc optim_adam = {
    .struct_size = NB_OPTIM_DESC_SIZE,
    .name = "adam",
    .doc = "Adam (torch.optim.Adam) with L2 weight decay, amsgrad and maximize; betas are the "
           "hyperparameters beta1 and beta2. State: exp_avg, exp_avg_sq, max_exp_avg_sq "
           "(amsgrad).",
    .n_hparams = ADAM_NHP,
    .hparams = adam_hparams,
    .n_state = 3,
    .state_names = adam_state_names,
    .validate = adam_validate,
    .step = adam_step,
};

/* Shared with adamw.c so both schemas stay in one place. */
const nb_attr_spec adamw_hparams[ADAM_NHP] =
    ADAM_HPARAMS(1e-2, "decoupled weight decay: p *= 1 - lr*weight_decay before the update");
