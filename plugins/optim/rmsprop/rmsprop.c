/* rmsprop — torch.optim.RMSprop (single-tensor path):
 *
 *   g = maximize ? -grad : grad;   g += wd·p                       (when wd != 0)
 *   sq = α·sq + ((1−α)·g)·g
 *   centered: ga = α·ga + (1−α)·g;  avg = √(sq − ga²) + eps,  else avg = √sq + eps
 *   μ > 0: buf = μ·buf + g/avg;  p += −lr·buf,   else p += (−lr·g)/avg
 *
 * One fused pass over contiguous data, split across the core's threads.
 */
#include <math.h>
#include <nabla/sdk.h>

#include "rmsprop.h"

enum { HP_LR, HP_ALPHA, HP_EPS, HP_WD, HP_MOMENTUM, HP_CENTERED, HP_MAXIMIZE, HP_COUNT };

static const nb_attr_spec rmsprop_hparams[HP_COUNT] = {
    {"lr", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN, {.f = 1e-2}, 0, 0, NULL, "learning rate"},
    {"alpha", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN, {.f = 0.99}, 0, 0, NULL,
     "smoothing constant of the squared-gradient average"},
    {"eps", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN, {.f = 1e-8}, 0, 0, NULL, "added to the denominator"},
    {"weight_decay", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN, {.f = 0}, 0, 0, NULL,
     "L2 penalty added to the gradient"},
    {"momentum", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN, {.f = 0}, 0, 0, NULL, "momentum factor"},
    {"centered", NB_ATTR_BOOL, 0, {.i = 0}, 0, 0, NULL,
     "normalise by an estimate of the gradient's variance"},
    {"maximize", NB_ATTR_BOOL, 0, {.i = 0}, 0, 0, NULL, "maximize the objective"},
};

static const char *const rmsprop_state[] = {"square_avg", "momentum_buffer", "grad_avg"};

typedef struct rms_job {
  void *p, *sq, *buf, *ga; /* buf: NULL without momentum; ga: NULL unless centered */
  const void *g;
  double lr, alpha, eps, wd, mu;
  bool maximize;
} rms_job;

/* Element update for one dtype in PyTorch's operation order with T-rounded scalars,
 * specialised (always inlined with constant flags) into branch-free vectorisable loops.
 * sgn = -1 for maximize (exact). */
#define RMS_LOOP(NAME, T, SQRT)                                                              \
  static inline __attribute__((always_inline)) void NAME(                                    \
      int64_t b, int64_t e, T *restrict p, const T *restrict g, T *restrict sq,              \
      T *restrict buf, T *restrict ga, const rms_job *j, const bool use_wd,                  \
      const bool centered, const bool momentum) {                                            \
    const T sgn = j->maximize ? (T)-1 : (T)1, nlr = (T)(-j->lr), al = (T)j->alpha,           \
            oma = (T)(1.0 - j->alpha), eps = (T)j->eps, wd = (T)j->wd, mu = (T)j->mu;        \
    for (int64_t i = b; i < e; i++) {                                                        \
      T d = sgn * g[i];                                                                      \
      if (use_wd) d = d + wd * p[i];                                                         \
      T s = sq[i] * al + (oma * d) * d;                                                      \
      sq[i] = s;                                                                             \
      T avg;                                                                                 \
      if (centered) {                                                                        \
        T a = ga[i] * al + oma * d;                                                          \
        ga[i] = a;                                                                           \
        avg = SQRT(s + ((T)-1 * a) * a) + eps;                                               \
      } else {                                                                               \
        avg = SQRT(s) + eps;                                                                 \
      }                                                                                      \
      if (momentum) {                                                                        \
        T v = buf[i] * mu + d / avg;                                                         \
        buf[i] = v;                                                                          \
        p[i] = p[i] + nlr * v;                                                               \
      } else {                                                                               \
        p[i] = p[i] + (nlr * d) / avg;                                                       \
      }                                                                                      \
    }                                                                                        \
  }

#define RMS_RANGE(NAME, LOOP, T)                                                             \
  NB_SIMD_CLONES static void NAME(int64_t b, int64_t e, void *user) {                        \
    const rms_job *j = user;                                                                 \
    T *p = (T *)j->p, *sq = (T *)j->sq, *buf = (T *)j->buf, *ga = (T *)j->ga;                \
    const T *g = (const T *)j->g;                                                            \
    switch ((j->wd != 0 ? 4 : 0) + (ga ? 2 : 0) + (buf ? 1 : 0)) {                           \
    case 0: LOOP(b, e, p, g, sq, buf, ga, j, false, false, false); break;                    \
    case 1: LOOP(b, e, p, g, sq, buf, ga, j, false, false, true); break;                     \
    case 2: LOOP(b, e, p, g, sq, buf, ga, j, false, true, false); break;                     \
    case 3: LOOP(b, e, p, g, sq, buf, ga, j, false, true, true); break;                      \
    case 4: LOOP(b, e, p, g, sq, buf, ga, j, true, false, false); break;                     \
    case 5: LOOP(b, e, p, g, sq, buf, ga, j, true, false, true); break;                      \
    case 6: LOOP(b, e, p, g, sq, buf, ga, j, true, true, false); break;                      \
    default: LOOP(b, e, p, g, sq, buf, ga, j, true, true, true); break;                      \
    }                                                                                        \
  }
RMS_LOOP(rms_loop_f32, float, sqrtf)
RMS_LOOP(rms_loop_f64, double, sqrt)
RMS_RANGE(rms_range_f32, rms_loop_f32, float)
RMS_RANGE(rms_range_f64, rms_loop_f64, double)

static int rmsprop_step(const nb_attr_value *hp, int64_t step, nb_tensor *param, nb_tensor *grad,
                        nb_tensor **state) {
  (void)step;
  int rc = optim_check_param_grad("rmsprop", param, grad);
  if (rc < 0) return rc;
  nb_dtype dt = nb_dtype_of(param);
  bool momentum = hp[HP_MOMENTUM].f > 0, centered = hp[HP_CENTERED].i != 0;
  if (!optim_zero_state(state, 0, param) || (momentum && !optim_zero_state(state, 1, param)) ||
      (centered && !optim_zero_state(state, 2, param)))
    return nb_last_status();
  rms_job j = {.p = nb_data(param), .g = nb_data(grad), .sq = nb_data(state[0]),
               .buf = momentum ? nb_data(state[1]) : NULL,
               .ga = centered ? nb_data(state[2]) : NULL, .lr = hp[HP_LR].f,
               .alpha = hp[HP_ALPHA].f, .eps = hp[HP_EPS].f, .wd = hp[HP_WD].f,
               .mu = hp[HP_MOMENTUM].f, .maximize = hp[HP_MAXIMIZE].i != 0};
  nb_parallel_for(nb_numel(param), NB_PARALLEL_GRAIN,
                  dt == NB_F32 ? rms_range_f32 : rms_range_f64, &j);
  return 0;
}

const nb_optim_desc optim_rmsprop = {
    .struct_size = NB_OPTIM_DESC_SIZE,
    .name = "rmsprop",
    .doc = "RMSprop (torch.optim.RMSprop): squared-gradient average with optional centering, "
           "momentum, L2 weight decay and maximize. State: square_avg, momentum_buffer "
           "(momentum > 0), grad_avg (centered).",
    .n_hparams = HP_COUNT,
    .hparams = rmsprop_hparams,
    .n_state = 3,
    .state_names = rmsprop_state,
    .validate = NULL,
    .step = rmsprop_step,
};
