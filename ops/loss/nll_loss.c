/* ops/loss/nll_loss.c — "nll_loss": PyTorch's F.nll_loss over log-probabilities
 * (N, C), (N, C, d...) or (C) and int64 class targets: loss = −w_t·x[t] per position,
 * ignore_index contributes nothing, mean divides by the sum of the targets' weights.
 * Gradient: −w_t·g' at the target class, zero elsewhere.
 */
#include "loss_util.h"

#define NLL_KERNELS(T, SUF)                                                                  \
  LOSS_CLS_FWD(T, SUF, l = -(w ? (double)w[t] : 1.0) * (double)x[t * g->S];)                 \
  LOSS_CLS_BWD(T, SUF,                                                                       \
    for (int64_t c = 0; c < g->C; c++) dx[c * g->S] = 0;                                     \
    dx[t * g->S] = (T)(-(w ? (double)w[t] : 1.0) * gp);)

NLL_KERNELS(float, f32)
NLL_KERNELS(double, f64)

static const loss_cls_op op = {"nll_loss", false, fwd_f32, fwd_f64, bwd_f32, bwd_f64};
LOSS_CLS_ENTRIES(nll_loss, op)

static int nll_loss_samples(nb_sample_sink *s) {
  nb_generator *gen = nb_sample_generator(s);
  int rc = 0;
  nb_tensor *a[3] = {nb_rand_range(2, (int64_t[]){4, 3}, -3, -0.1, NB_F64, gen),
                     nb_from_data((int64_t[]){0, 2, 1, 2}, 1, (int64_t[]){4}, NB_I64), NULL};
  rc |= nb_sample_add(s, "(N, C), mean", 3, a, 0, NULL, 0);
  rc |= nb_sample_add(s, "(N, C), none", 3, a, 1, (nb_attr[]){NB_A_STR("reduction", "none")}, 0);
  nb_tensor *b[3] = {nb_rand_range(2, (int64_t[]){4, 3}, -3, -0.1, NB_F64, gen),
                     nb_from_data((int64_t[]){1, 7, 0, 2}, 1, (int64_t[]){4}, NB_I64),
                     nb_rand_range(1, (int64_t[]){3}, 0.5, 2, NB_F64, gen)};
  rc |= nb_sample_add(s, "weights, ignore_index 7, sum", 3, b, 2,
                      (nb_attr[]){NB_A_STR("reduction", "sum"), NB_A_INT("ignore_index", 7)}, 0);
  nb_tensor *c[3] = {nb_rand_range(3, (int64_t[]){2, 3, 2}, -3, -0.1, NB_F64, gen),
                     nb_from_data((int64_t[]){0, 2, 1, 1}, 2, (int64_t[]){2, 2}, NB_I64), NULL};
  rc |= nb_sample_add(s, "(N, C, d1), mean", 3, c, 0, NULL, 0);
  return rc < 0 ? NB_EINVAL : 0;
}

static int nll_loss_backward_graph(nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  return loss_cls_backward_graph(&op, ctx, grad_out, grad_in);
}

static const nb_input_spec inputs[] = {
    {"input", NB_DT_FLOAT, 0, "log-probabilities (N, C), (N, C, d1, ...) or (C)"},
    LOSS_CLS_TARGET_WEIGHT_INPUTS,
};
static const nb_attr_spec attrs[] = {
    LOSS_CLS_REDUCTION_ATTR,
    {"ignore_index", NB_ATTR_INT, 0, {.i = -100}, 0, 0, NULL, "target value that contributes nothing"},
};

const nb_op_desc op_nll_loss = {
    .struct_size = NB_OP_DESC_SIZE,
    .name = "nll_loss",
    .doc = "Negative log-likelihood of log-probabilities at int64 class targets, as "
           "PyTorch's F.nll_loss: -weight[t] * input[t] per position, ignore_index skipped, "
           "mean divides by the sum of the weights of the non-ignored targets.",
    .n_inputs = 3,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = loss_cls_outputs,
    .n_attrs = 2,
    .attrs = attrs,
    .forward = nll_loss_forward,
    .backward = nll_loss_backward,
    .backward_graph = nll_loss_backward_graph,
    .samples = nll_loss_samples,
    .saves = "target and weight; blob with the weight sum",
};
