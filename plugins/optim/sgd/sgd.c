/* sgd — stochastic gradient descent with momentum, dampening, Nesterov, L2 weight decay
 * and maximize, exactly as torch.optim.SGD (single-tensor path):
 *
 *   g = maximize ? -grad : grad;   g += wd·p                    (when wd != 0)
 *   μ != 0: buf = g on the first step, else buf = μ·buf + (1−τ)·g
 *           g = nesterov ? g + μ·buf : buf
 *   p += −lr·g
 *
 * One fused pass over contiguous data (the core hands us contiguous param and grad),
 * split across the core's threads for large tensors.
 */
#include <math.h>
#include <nabla/sdk.h>

#include "sgd.h"

enum { HP_LR, HP_MOMENTUM, HP_DAMPENING, HP_WD, HP_NESTEROV, HP_MAXIMIZE, HP_COUNT };

static const nb_attr_spec sgd_hparams[HP_COUNT] = {
    {"lr", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN, {.f = 1e-3}, 0, 0, NULL, "learning rate"},
    {"momentum", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN, {.f = 0}, 0, 0, NULL, "momentum factor μ"},
    {"dampening", NB_ATTR_FLOAT, 0, {.f = 0}, 0, 0, NULL, "dampening τ for momentum"},
    {"weight_decay", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN, {.f = 0}, 0, 0, NULL,
     "L2 penalty added to the gradient"},
    {"nesterov", NB_ATTR_BOOL, 0, {.i = 0}, 0, 0, NULL,
     "Nesterov momentum (needs momentum > 0 and dampening 0)"},
    {"maximize", NB_ATTR_BOOL, 0, {.i = 0}, 0, 0, NULL, "maximize the objective"},
};

static const char *const sgd_state[] = {"momentum_buffer"};

static int sgd_validate(const nb_attr_value *hp) {
  if (hp[HP_NESTEROV].i && (hp[HP_MOMENTUM].f <= 0 || hp[HP_DAMPENING].f != 0))
    return nb_set_error(NB_EINVAL,
                        "sgd: nesterov requires momentum > 0 and dampening 0 (got momentum %g, "
                        "dampening %g)",
                        hp[HP_MOMENTUM].f, hp[HP_DAMPENING].f);
  return 0;
}

typedef struct sgd_job {
  void *p;
  const void *g;
  void *buf; /* NULL when momentum == 0 */
  double lr, mu, damp, wd;
  bool nesterov, maximize, first;
} sgd_job;

/* The element update, specialised (always inlined with constant flags) so each case is a
 * branch-free loop the compiler vectorises. Scalars are rounded to T first, as PyTorch
 * does when it hands Python floats to a float32 kernel. mode: 0 no momentum, 1 first
 * momentum step (buf = g), 2 later steps. sgn = -1 for maximize (exact). */
#define SGD_LOOP(NAME, T)                                                                   \
  static inline __attribute__((always_inline)) void NAME(                                   \
      int64_t b, int64_t e, T *restrict p, const T *restrict g, T *restrict buf, T sgn, T nlr, \
      T mu, T keep, T wd, const bool use_wd, const int mode, const bool nesterov) {         \
    for (int64_t i = b; i < e; i++) {                                                       \
      T d = sgn * g[i];                                                                     \
      if (use_wd) d = d + wd * p[i];                                                        \
      if (mode == 1) {                                                                      \
        buf[i] = d;                                                                         \
        if (nesterov) d = d + mu * d;                                                       \
      } else if (mode == 2) {                                                               \
        T v = buf[i] * mu + keep * d;                                                       \
        buf[i] = v;                                                                         \
        d = nesterov ? d + mu * v : v;                                                      \
      }                                                                                     \
      p[i] = p[i] + nlr * d;                                                                \
    }                                                                                       \
  }

#define SGD_RANGE(NAME, LOOP, T)                                                            \
  NB_SIMD_CLONES static void NAME(int64_t b, int64_t e, void *user) {                       \
    const sgd_job *j = user;                                                                \
    T *p = (T *)j->p, *buf = (T *)j->buf;                                                   \
    const T *g = (const T *)j->g;                                                           \
    const T sgn = j->maximize ? (T)-1 : (T)1, nlr = (T)(-j->lr), mu = (T)j->mu,             \
            keep = (T)(1.0 - j->damp), wd = (T)j->wd;                                       \
    const int mode = buf ? (j->first ? 1 : 2) : 0;                                          \
    switch ((j->wd != 0 ? 6 : 0) + 2 * mode + (j->nesterov ? 1 : 0)) {                      \
    case 0: case 1: LOOP(b, e, p, g, buf, sgn, nlr, mu, keep, wd, false, 0, false); break;  \
    case 2: LOOP(b, e, p, g, buf, sgn, nlr, mu, keep, wd, false, 1, false); break;          \
    case 3: LOOP(b, e, p, g, buf, sgn, nlr, mu, keep, wd, false, 1, true); break;           \
    case 4: LOOP(b, e, p, g, buf, sgn, nlr, mu, keep, wd, false, 2, false); break;          \
    case 5: LOOP(b, e, p, g, buf, sgn, nlr, mu, keep, wd, false, 2, true); break;           \
    case 6: case 7: LOOP(b, e, p, g, buf, sgn, nlr, mu, keep, wd, true, 0, false); break;   \
    case 8: LOOP(b, e, p, g, buf, sgn, nlr, mu, keep, wd, true, 1, false); break;           \
    case 9: LOOP(b, e, p, g, buf, sgn, nlr, mu, keep, wd, true, 1, true); break;            \
    case 10: LOOP(b, e, p, g, buf, sgn, nlr, mu, keep, wd, true, 2, false); break;          \
    default: LOOP(b, e, p, g, buf, sgn, nlr, mu, keep, wd, true, 2, true); break;           \
    }                                                                                       \
  }
SGD_LOOP(sgd_loop_f32, float)
SGD_LOOP(sgd_loop_f64, double)
SGD_RANGE(sgd_range_f32, sgd_loop_f32, float)
SGD_RANGE(sgd_range_f64, sgd_loop_f64, double)

static int sgd_step(const nb_attr_value *hp, int64_t step, nb_tensor *param, nb_tensor *grad,
                    nb_tensor **state) {
  (void)step;
  int rc = optim_check_param_grad("sgd", param, grad);
  if (rc < 0) return rc;
  nb_dtype dt = nb_dtype_of(param);
  sgd_job j = {.p = nb_data(param), .g = nb_data(grad), .lr = hp[HP_LR].f,
               .mu = hp[HP_MOMENTUM].f, .damp = hp[HP_DAMPENING].f, .wd = hp[HP_WD].f,
               .nesterov = hp[HP_NESTEROV].i != 0, .maximize = hp[HP_MAXIMIZE].i != 0};
  if (j.mu != 0) {
    if (!state[0]) {
      state[0] = nb_keep(nb_empty_like(param));
      if (!state[0]) return nb_last_status();
      j.first = true; /* PyTorch: buf = clone(g) on the first step */
    }
    j.buf = nb_data(state[0]);
  }
  int64_t n = nb_numel(param);
  nb_parallel_for(n, NB_PARALLEL_GRAIN, dt == NB_F32 ? sgd_range_f32 : sgd_range_f64, &j);
  return 0;
}

const nb_optim_desc optim_sgd = {
    .struct_size = NB_OPTIM_DESC_SIZE,
    .name = "sgd",
    .doc = "Stochastic gradient descent (torch.optim.SGD): momentum with dampening, Nesterov, "
           "L2 weight decay and maximize. State: momentum_buffer (when momentum != 0).",
    .n_hparams = HP_COUNT,
    .hparams = sgd_hparams,
    .n_state = 1,
    .state_names = sgd_state,
    .validate = sgd_validate,
    .step = sgd_step,
};
