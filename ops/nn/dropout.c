/* ops/nn/dropout.c — "dropout": PyTorch's F.dropout. In training each element is
 * zeroed with probability p and the survivors scaled by 1/(1 − p); otherwise (or with
 * p = 0) the input is copied. The mask is a counter-based hash of (seed, element
 * index), the seed drawn once per call from the core's default generator
 * (nb_generator_u64(NULL)); backward rebuilds the same mask from the saved seed, so no
 * mask is stored and any thread count gives the same mask.
 * The hash is 32-bit (two rounds of the "lowbias32" integer mixer keyed by the seed,
 * the index's high word folded into the key), so the loops vectorise; an element is
 * kept when its top 24 bits are >= p·2^24 (rounded up), i.e. with probability 1 − p
 * to within 2^-24. Compiled also for AVX2 (ifunc; integer work, same bits either way).
 */
#include "nn_util.h"
#include "../common/graph_util.h"

#include <math.h>
#include <string.h>

typedef struct dropout_blob {
  uint64_t seed;
  double p;
  int active; /* 0: identity */
} dropout_blob;

typedef struct dr_job {
  nb_dtype dt;
  uint64_t seed;
  double p, scale;
  const void *x;
  void *y;
} dr_job;

/* Chris Wellons' lowbias32 mixer (a bijection of 32-bit words). */
static inline uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

/* The kernels ignore FP exception flags (nothing reads them), so GCC if-converts the
 * select and vectorises. */
NB_FAST_FP_BEGIN
/* Elements [i0, i1) of one 2^32-element stretch (same high index word): y = x·scale where
 * the element's hash clears the threshold, else 0. */
#define DR_KERNEL(T, SUF)                                                                    \
  NB_SIMD_CLONES static void keep_##SUF(const T *x, T *y, int64_t i0, int64_t i1, uint32_t k1, uint32_t k2, \
                                int32_t thr, T sc) {                                         \
    for (int64_t i = i0; i < i1; i++) {                                                      \
      int32_t u = (int32_t)(mix32(mix32((uint32_t)i + k1) ^ k2) >> 8);                       \
      y[i] = u >= thr ? x[i] * sc : (T)0;                                                    \
    }                                                                                        \
  }
DR_KERNEL(float, f32)
DR_KERNEL(double, f64)
NB_FAST_FP_END

static void apply(int64_t i0, int64_t i1, void *u) {
  const dr_job *j = u;
  /* p·2^24 rounded up: u (uniform on [0, 2^24)) >= thr has probability 1 − p (exactly
   * when p·2^24 is an integer); p = 1 keeps nothing */
  int32_t thr = (int32_t)ceil(j->p * 16777216.0);
  uint32_t k1 = (uint32_t)j->seed;
  while (i0 < i1) {
    int64_t hi = i0 >> 32, e = (hi + 1) << 32 < i1 ? (hi + 1) << 32 : i1;
    uint32_t k2 = mix32((uint32_t)(j->seed >> 32) ^ mix32((uint32_t)hi + 0x9E3779B9u));
    if (j->dt == NB_F32)
      keep_f32(j->x, j->y, i0, e, k1, k2, thr, (float)j->scale);
    else
      keep_f64(j->x, j->y, i0, e, k1, k2, thr, j->scale);
    i0 = e;
  }
}

static int run(nb_dtype dt, uint64_t seed, double p, nb_tensor *x, nb_tensor *y) {
  dr_job j = {dt, seed, p, p < 1 ? 1.0 / (1.0 - p) : 0.0, nb_data(x), nb_data(y)};
  nb_parallel_for(nb_numel(x), NB_PARALLEL_GRAIN, apply, &j);
  return 0;
}

static int dropout_forward(nb_ctx *ctx, nb_tensor *const *in, const nb_attr_value *attrs,
                           nb_tensor **out) {
  double p = attrs[0].f;
  bool training = attrs[1].i != 0;
  dropout_blob blob = {0, p, training && p > 0};
  nb_tensor *x = ops_contig(in[0]);
  if (x == NULL) return nb_last_status();
  nb_tensor *y;
  if (!blob.active) {
    y = x == in[0] ? nb_copy_data(x) : x;
    if (y == NULL) return nb_last_status();
  } else {
    blob.seed = nb_generator_u64(NULL);
    y = nb_empty(nb_ndim(x), nb_shape(x), nb_dtype_of(x));
    if (y == NULL) return nb_last_status();
    run(nb_dtype_of(x), blob.seed, p, x, y);
  }
  if (nb_ctx_recording(ctx) && nb_ctx_save_blob(ctx, &blob, sizeof blob) < 0)
    return nb_last_status();
  out[0] = y;
  return 0;
}

static int dropout_backward(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  size_t sz = 0;
  const dropout_blob *b = nb_ctx_blob(ctx, &sz);
  if (b == NULL || sz != sizeof *b)
    return nb_set_error(NB_ESTATE, "dropout: backward found no saved seed");
  if (!b->active) {
    grad_in[0] = grad_out[0];
    return 0;
  }
  nb_tensor *g = ops_contig(grad_out[0]);
  nb_tensor *dx = g ? nb_empty(nb_ndim(g), nb_shape(g), nb_dtype_of(g)) : NULL;
  if (dx == NULL) return nb_last_status();
  run(nb_dtype_of(g), b->seed, b->p, g, dx);
  grad_in[0] = dx;
  return 0;
}

static int dropout_samples(nb_sample_sink *s) {
  nb_generator *gen = nb_sample_generator(s);
  int rc = 0;
  nb_tensor *a = nb_rand_range(2, (int64_t[]){4, 5}, -1, 1, NB_F64, gen);
  rc |= nb_sample_add(s, "training, p = 0.3", 1, &a, 2,
                      (nb_attr[]){NB_A_FLOAT("p", 0.3), NB_A_BOOL("training", 1)}, 0);
  nb_tensor *b = nb_rand_range(3, (int64_t[]){2, 3, 4}, -1, 1, NB_F64, gen);
  rc |= nb_sample_add(s, "training, p = 0.5", 1, &b, 2,
                      (nb_attr[]){NB_A_FLOAT("p", 0.5), NB_A_BOOL("training", 1)}, 0);
  nb_tensor *c = nb_rand_range(2, (int64_t[]){3, 3}, -1, 1, NB_F64, gen);
  rc |= nb_sample_add(s, "eval (identity)", 1, &c, 2,
                      (nb_attr[]){NB_A_FLOAT("p", 0.5), NB_A_BOOL("training", 0)}, 0);
  return rc < 0 ? NB_EINVAL : 0;
}

/* Linear in the input: g times the constant mask (rebuilt from the seed), recorded. */
static int dropout_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return (grad_in[0] = gu_masked(ctx, dropout_backward, grad_out[0], 0)) ? 0 : nb_last_status();
}

static const nb_input_spec inputs[] = {{"input", NB_DT_FLOAT, 0, "any shape"}};
static const nb_output_spec outputs[] = {{"out", 0, "same shape"}};
static const nb_attr_spec attrs[] = {
    {"p", NB_ATTR_FLOAT, NB_ATTR_HAS_MIN | NB_ATTR_HAS_MAX, {.f = 0.5}, 0, 1, NULL,
     "probability of zeroing an element (1 zeroes everything)"},
    {"training", NB_ATTR_BOOL, 0, {.i = 1}, 0, 0, NULL, "false: identity (a copy)"},
};

const nb_op_desc op_dropout = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "dropout",
    .doc = "Dropout as PyTorch's F.dropout: in training zero each element with probability p "
           "and scale the rest by 1/(1-p). The mask comes from a seed drawn from the default "
           "generator (nb_manual_seed(NULL, s) makes it reproducible) hashed with each "
           "element's index, independent of the thread count; backward reuses the seed.",
    .flags = NB_OP_RANDOM,
    .n_inputs = 1,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .n_attrs = 2,
    .attrs = attrs,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .backward_graph = dropout_backward_graph,
    .samples = dropout_samples,
    .saves = "a blob with the 64-bit seed and p (no mask)",
};
