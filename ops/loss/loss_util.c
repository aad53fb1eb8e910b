/* ops/loss/loss_util.c — helpers shared by the loss operators (see loss_util.h). */
#include "loss_util.h"
#include "../common/graph_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct lb_job {
  loss_block_fn fn;
  void *user;
  double *partial;
  int64_t n;
} lb_job;

static void lb_run(int64_t b0, int64_t b1, void *u) {
  lb_job *j = u;
  for (int64_t b = b0; b < b1; b++) {
    int64_t i0 = b * LOSS_BLOCK, i1 = i0 + LOSS_BLOCK < j->n ? i0 + LOSS_BLOCK : j->n;
    double acc = 0;
    j->fn(i0, i1, j->user, &acc);
    j->partial[b] = acc;
  }
}

double loss_blocks(int64_t n, loss_block_fn fn, void *user) {
  if (n <= 0) return 0.0;
  int64_t nblk = (n + LOSS_BLOCK - 1) / LOSS_BLOCK;
  double one, *partial = nblk == 1 ? &one : nb_scratch(3, sizeof(double) * (size_t)nblk);
  if (partial == NULL) return NAN;
  lb_job j = {fn, user, partial, n};
  nb_parallel_for(nblk, 8, lb_run, &j);
  double s = 0;
  for (int64_t b = 0; b < nblk; b++) s += partial[b];
  return s;
}

nb_tensor *loss_expand(const char *op, nb_tensor *t, int nd, const int64_t *shape) {
  if (t == NULL) return NULL;
  bool same = nb_ndim(t) == nd;
  for (int d = 0; same && d < nd; d++) same = nb_shape(t)[d] == shape[d];
  if (same && nb_is_contiguous(t)) return t;
  nb_tensor *c = nb_empty(nd, shape, nb_dtype_of(t));
  if (c == NULL) return NULL;
  if (nb_copy_into(c, t) < 0) {
    char buf[128];
    nb_set_error(NB_ESHAPE, "%s: shape %s cannot be broadcast to %s", op, nb_shape_of(t),
                 nb_shape_str(nd, shape, buf, sizeof buf));
    return NULL;
  }
  return c;
}

nb_tensor *loss_scalar(double total, double denom, int red, nb_dtype dt) {
  return nb_scalar(red == LOSS_MEAN ? total / denom : total, dt);
}

double loss_grad_scale(nb_tensor *grad_out, int red, double denom, nb_tensor **gvec) {
  *gvec = NULL;
  if (red == LOSS_NONE) {
    *gvec = nb_is_contiguous(grad_out) ? grad_out : nb_copy_data(grad_out);
    return 0;
  }
  double g = nb_item(grad_out);
  return red == LOSS_MEAN ? g / denom : g;
}

const nb_attr_spec loss_reduction_attr[1] = {
    {"reduction", NB_ATTR_STRING, 0, {.s = "mean", .i = LOSS_MEAN}, 0, 0, LOSS_REDUCTION_CHOICES,
     LOSS_REDUCTION_DOC},
};

/* The common shape of an elementwise loss's inputs, as contiguous tensors in x[0..3]
 * (input, target, weight, pos_weight; absent optional ones stay NULL). */
static int pw_prepare(const loss_pw_op *op, nb_tensor *const *in, nb_tensor **x, int *nd, int64_t *shape) {
  static const char *names[] = {"input", "target", "weight", "pos_weight"};
  for (int i = 1; i < 2 + op->n_extra; i++)
    if (ops_same_dtype(op->name, in[0], "input", in[i], names[i]) < 0) return NB_EDTYPE;
  if (op->broadcast) {
    if (nb_broadcast_shapes(op->name, 2, (const nb_tensor *const[]){in[0], in[1]}, nd, shape) < 0)
      return nb_last_status();
  } else {
    if (!nb_same_shape(in[0], in[1]))
      return nb_set_error(NB_ESHAPE, "%s: target %s must have the same shape as input %s", op->name,
                          nb_shape_of(in[1]), nb_shape_of(in[0]));
    *nd = nb_ndim(in[0]);
    memcpy(shape, nb_shape(in[0]), sizeof(int64_t) * (size_t)*nd);
  }
  for (int i = 0; i < 4; i++) {
    x[i] = i < 2 + op->n_extra && in[i] ? loss_expand(op->name, in[i], *nd, shape) : NULL;
    if (i < 2 + op->n_extra && in[i] && x[i] == NULL) return nb_last_status();
  }
  return 0;
}

int loss_pw_forward(const loss_pw_op *op, nb_ctx *ctx, nb_tensor *const *in, int red, nb_tensor **out) {
  nb_tensor *x[4];
  int nd;
  int64_t shape[NB_MAX_DIMS];
  if (pw_prepare(op, in, x, &nd, shape) < 0 || (op->check && op->check(x[0], in[0]) < 0))
    return nb_last_status();
  nb_dtype dt = nb_dtype_of(x[0]);
  int64_t n = nb_numel(x[0]);
  nb_tensor *y = red == LOSS_NONE ? nb_empty(nd, shape, dt) : NULL;
  if (red == LOSS_NONE && y == NULL) return nb_last_status();
  loss_pw_job j = {.x = nb_data(x[0]), .t = nb_data(x[1]), .w = x[2] ? nb_data(x[2]) : NULL,
                   .pw = x[3] ? nb_data(x[3]) : NULL, .out = y ? nb_data(y) : NULL};
  double total = loss_blocks(n, dt == NB_F32 ? op->fwd_f32 : op->fwd_f64, &j);
  if (red != LOSS_NONE) y = loss_scalar(total, (double)n, red, dt);
  if (y == NULL) return nb_last_status();
  if (nb_ctx_recording(ctx)) {
    int has[2] = {op->n_extra > 0 && in[2] != NULL, op->n_extra > 1 && in[3] != NULL};
    if (nb_ctx_save(ctx, in[0]) < 0 || nb_ctx_save(ctx, in[1]) < 0 || (has[0] && nb_ctx_save(ctx, in[2]) < 0) ||
        (has[1] && nb_ctx_save(ctx, in[3]) < 0) || nb_ctx_save_blob(ctx, has, sizeof has) < 0)
      return nb_last_status();
  }
  out[0] = y;
  return 0;
}

int loss_pw_backward(const loss_pw_op *op, nb_ctx *ctx, nb_tensor *const *grad_out, nb_tensor **grad_in) {
  size_t bsz = 0;
  const int *has = nb_ctx_blob(ctx, &bsz);
  if (has == NULL || bsz != 2 * sizeof *has)
    return nb_set_error(NB_ESTATE, "%s: backward found no saved state", op->name);
  int si = 2;
  nb_tensor *saved[4] = {nb_ctx_saved(ctx, 0), nb_ctx_saved(ctx, 1), NULL, NULL};
  if (has[0]) saved[2] = nb_ctx_saved(ctx, si++);
  if (has[1]) saved[3] = nb_ctx_saved(ctx, si++);
  if (!saved[0] || !saved[1] || (has[0] && !saved[2]) || (has[1] && !saved[3])) return nb_last_status();
  nb_tensor *x[4];
  int nd;
  int64_t shape[NB_MAX_DIMS];
  if (pw_prepare(op, saved, x, &nd, shape) < 0) return nb_last_status();
  nb_dtype dt = nb_dtype_of(x[0]);
  int64_t n = nb_numel(x[0]);
  int red = (int)nb_ctx_attrs(ctx)[0].i;
  nb_tensor *gv;
  double gs = loss_grad_scale(grad_out[0], red, (double)n, &gv);
  bool nx = nb_ctx_needs_input_grad(ctx, 0), nt = nb_ctx_needs_input_grad(ctx, 1);
  nb_tensor *gx = nx ? nb_empty(nd, shape, dt) : NULL;
  nb_tensor *gt = nt ? nb_empty(nd, shape, dt) : NULL;
  if ((nx && !gx) || (nt && !gt) || (red == LOSS_NONE && gv == NULL)) return nb_last_status();
  loss_pw_job j = {.x = nb_data(x[0]), .t = nb_data(x[1]), .w = x[2] ? nb_data(x[2]) : NULL,
                   .pw = x[3] ? nb_data(x[3]) : NULL, .g = gv ? nb_data(gv) : NULL, .gs = gs,
                   .gx = gx ? nb_data(gx) : NULL, .gt = gt ? nb_data(gt) : NULL};
  loss_blocks(n, dt == NB_F32 ? op->bwd_f32 : op->bwd_f64, &j);
  grad_in[0] = gx; /* broadcast shape: the core sums it back to each input's shape */
  grad_in[1] = gt;
  return 0;
}

int loss_pw_graph_prep(nb_ctx *ctx, nb_tensor *grad_out, loss_pw_graph *p) {
  size_t bsz = 0;
  const int *has = nb_ctx_blob(ctx, &bsz);
  if (has == NULL || bsz != 2 * sizeof *has)
    return nb_set_error(NB_ESTATE, "%s: backward found no saved state", nb_ctx_op_name(ctx));
  int si = 2;
  memset(p, 0, sizeof *p);
  p->x = nb_ctx_saved(ctx, 0);
  p->t = nb_ctx_saved(ctx, 1);
  if (has[0]) p->w = nb_ctx_saved(ctx, si++);
  if (has[1]) p->pw = nb_ctx_saved(ctx, si++);
  if (!p->x || !p->t || (has[0] && !p->w) || (has[1] && !p->pw)) return nb_last_status();
  p->gs = grad_out;
  if ((int)nb_ctx_attrs(ctx)[0].i == LOSS_MEAN) {
    int nd;
    int64_t shape[NB_MAX_DIMS], n = 1;
    if (nb_broadcast_shapes(nb_ctx_op_name(ctx), 2, (const nb_tensor *const[]){p->x, p->t}, &nd,
                            shape) < 0)
      return nb_last_status();
    for (int d = 0; d < nd; d++) n *= shape[d];
    p->gs = gu_scalar("mul", p->gs, n > 0 ? 1.0 / (double)n : 0.0);
  }
  return p->gs ? 0 : nb_last_status();
}

int loss_pw_graph_set(nb_ctx *ctx, const loss_pw_graph *p, nb_tensor *vx, nb_tensor *vt,
                      nb_tensor **grad_in) {
  nb_tensor *v[2] = {vx, vt};
  for (int i = 0; i < 2; i++) {
    if (!nb_ctx_needs_input_grad(ctx, i) || !v[i]) continue;
    nb_tensor *gv = NB_CALL("mul", v[i], p->gs);
    if (gv && p->w) gv = NB_CALL("mul", gv, p->w);
    if (!(grad_in[i] = gv)) return nb_last_status();
  }
  return 0;
}

int loss_reduction_samples(nb_sample_sink *s, int nin, double xlo, double xhi, bool signed_target) {
  nb_generator *gen = nb_sample_generator(s);
  int rc = 0;
  static const char *reds[] = {"none", "mean", "sum"};
  for (int r = 0; r < 3; r++) {
    nb_tensor *in[4] = {nb_rand_range(2, (int64_t[]){3, 4}, xlo, xhi, NB_F64, gen),
                        nb_rand_range(2, (int64_t[]){3, 4}, signed_target ? -1 : 0, 1, NB_F64, gen),
                        NULL, NULL};
    char desc[64];
    snprintf(desc, sizeof desc, "reduction %s", reds[r]);
    rc |= nb_sample_add(s, desc, nin, in, 1, (nb_attr[]){NB_A_STR("reduction", reds[r])}, 0);
  }
  return rc < 0 ? NB_EINVAL : 0;
}

int loss_pair_samples(nb_sample_sink *s) {
  nb_generator *gen = nb_sample_generator(s);
  int rc = loss_reduction_samples(s, 2, -1, 1, true);
  nb_tensor *b[2] = {nb_rand_range(2, (int64_t[]){3, 4}, -1, 1, NB_F64, gen),
                     nb_rand_range(2, (int64_t[]){3, 1}, -1, 1, NB_F64, gen)};
  rc |= nb_sample_add(s, "broadcast target, mean", 2, b, 0, NULL, NB_SAMPLE_BROADCAST);
  return rc < 0 ? NB_EINVAL : 0;
}

const nb_input_spec loss_pair_inputs[2] = {
    {"input", NB_DT_FLOAT, 0, "any shape"},
    {"target", NB_DT_FLOAT, 0, "broadcastable with input; same dtype (differentiable)"},
};
const nb_output_spec loss_pair_outputs[1] = {{"out", 0, "0-d for mean/sum, the broadcast shape for none"}};

/* ---- class-index losses ------------------------------------------------------------- */

/* (N, C, S) view of an input shape of nd dims. */
static void cls_dims(int nd, const int64_t *shape, loss_cls *g) {
  g->N = nd == 1 ? 1 : shape[0];
  g->C = nd == 1 ? shape[0] : shape[1];
  g->S = 1;
  for (int d = 2; d < nd; d++) g->S *= shape[d];
  g->npos = g->N * g->S;
}

/* Check shapes and dtypes (weight (C), same dtype as input), that every target is
 * ignore_index or in [0, C), and compute wsum. target and weight must be contiguous. */
static int cls_setup(const char *op, const nb_tensor *input, const nb_tensor *target,
                     const nb_tensor *weight, int64_t ignore_index, loss_cls *g) {
  int nd = nb_ndim(input), td = nb_ndim(target);
  const int64_t *is = nb_shape(input), *ts = nb_shape(target);
  if (ops_same_dtype(op, input, "input", weight, "weight") < 0) return NB_EDTYPE;
  if (nd < 1)
    return nb_set_error(NB_ESHAPE, "%s: input must be (C) or (N, C, ...), got %s", op, nb_shape_of(input));
  bool ok = td == (nd == 1 ? 0 : nd - 1);
  for (int d = 0; ok && d < td; d++) ok = ts[d] == is[d == 0 ? 0 : d + 1];
  if (!ok)
    return nb_set_error(NB_ESHAPE, "%s: target %s does not fit input %s (expected the input's shape without dim 1)",
                        op, nb_shape_of(target), nb_shape_of(input));
  cls_dims(nd, is, g);
  if (weight && (nb_ndim(weight) != 1 || nb_shape(weight)[0] != g->C))
    return nb_set_error(NB_ESHAPE, "%s: weight %s must have shape [%lld] (one per class) for input %s", op,
                        nb_shape_of(weight), (long long)g->C, nb_shape_of(input));
  const int64_t *t = nb_data(target);
  double ws = 0;
  for (int64_t p = 0; p < g->npos; p++) {
    if (t[p] == ignore_index) continue;
    if (t[p] < 0 || t[p] >= g->C)
      return nb_set_error(NB_EINVAL, "%s: target %lld at position %lld is out of bounds for %lld classes (input %s, target %s)",
                          op, (long long)t[p], (long long)p, (long long)g->C, nb_shape_of(input),
                          nb_shape_of(target));
    if (weight == NULL)
      ws += 1;
    else if (nb_dtype_of(weight) == NB_F32)
      ws += ((const float *)nb_data(weight))[t[p]];
    else
      ws += ((const double *)nb_data(weight))[t[p]];
  }
  g->wsum = ws;
  return 0;
}

/* Σ_c w_c (C without weight). */
static double weight_total(const nb_tensor *w, int64_t C) {
  if (w == NULL) return (double)C;
  double s = 0;
  for (int64_t c = 0; c < C; c++)
    s += nb_dtype_of(w) == NB_F32 ? ((const float *)nb_data(w))[c] : ((const double *)nb_data(w))[c];
  return s;
}

/* State a class loss keeps for backward in its blob. */
typedef struct cls_blob {
  double wsum;
  int has_weight;
} cls_blob;

int loss_cls_forward(const loss_cls_op *op, nb_ctx *ctx, nb_tensor *const *in,
                     const nb_attr_value *attrs, nb_tensor **out) {
  int red = (int)attrs[0].i;
  int64_t ignore = attrs[1].i;
  nb_tensor *x = ops_contig(in[0]), *t = ops_contig(in[1]), *w = ops_contig(in[2]);
  loss_cls g;
  if (x == NULL || t == NULL || (in[2] && w == NULL) || cls_setup(op->name, in[0], t, w, ignore, &g) < 0)
    return nb_last_status();
  nb_dtype dt = nb_dtype_of(x);
  nb_tensor *lse = op->logits ? nb_empty(1, &g.npos, NB_F64) : NULL;
  nb_tensor *y = red == LOSS_NONE ? nb_empty(nb_ndim(t), nb_shape(t), dt) : NULL;
  if ((op->logits && lse == NULL) || (red == LOSS_NONE && y == NULL)) return nb_last_status();
  loss_cls_job j = {.g = &g, .x = nb_data(x), .w = w ? nb_data(w) : NULL, .t = nb_data(t),
                    .ignore = ignore, .out = y ? nb_data(y) : NULL};
  if (op->logits) {
    j.eps = attrs[2].f;
    j.wall = weight_total(w, g.C);
    j.lse = nb_data(lse);
  }
  double total = loss_blocks(g.npos, dt == NB_F32 ? op->fwd_f32 : op->fwd_f64, &j);
  if (red != LOSS_NONE) y = loss_scalar(total, g.wsum, red, dt);
  if (y == NULL) return nb_last_status();
  if (nb_ctx_recording(ctx)) { /* logits: input, target, lse[, weight]; else target[, weight] */
    cls_blob b = {g.wsum, w != NULL};
    if ((lse && nb_ctx_save(ctx, in[0]) < 0) || nb_ctx_save(ctx, in[1]) < 0 ||
        (lse && nb_ctx_save(ctx, lse) < 0) || (w && nb_ctx_save(ctx, in[2]) < 0) ||
        nb_ctx_save_blob(ctx, &b, sizeof b) < 0)
      return nb_last_status();
  }
  out[0] = y;
  return 0;
}

int loss_cls_backward(const loss_cls_op *op, nb_ctx *ctx, nb_tensor *const *grad_out,
                      nb_tensor **grad_in) {
  size_t bsz = 0;
  const cls_blob *b = nb_ctx_blob(ctx, &bsz);
  if (b == NULL || bsz != sizeof *b)
    return nb_set_error(NB_ESTATE, "%s: backward found no saved state", op->name);
  int k = 0;
  nb_tensor *x = op->logits ? nb_ctx_saved(ctx, k++) : NULL, *t = nb_ctx_saved(ctx, k++);
  nb_tensor *lse = op->logits ? nb_ctx_saved(ctx, k++) : NULL;
  nb_tensor *w = b->has_weight ? nb_ctx_saved(ctx, k) : NULL;
  if ((op->logits && (x == NULL || lse == NULL)) || t == NULL || (b->has_weight && w == NULL))
    return nb_last_status();
  x = ops_contig(x);
  t = ops_contig(t);
  w = ops_contig(w);
  if ((op->logits && x == NULL) || t == NULL || (b->has_weight && w == NULL)) return nb_last_status();
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  int red = (int)attrs[0].i, nd;
  const int64_t *xs = nb_ctx_input_shape(ctx, 0, &nd);
  nb_dtype dt = nb_ctx_input_dtype(ctx, 0);
  loss_cls g = {0};
  cls_dims(nd, xs, &g);
  nb_tensor *gv;
  double gs = loss_grad_scale(grad_out[0], red, b->wsum, &gv);
  nb_tensor *dx = nb_empty(nd, xs, dt);
  if (dx == NULL || (red == LOSS_NONE && gv == NULL)) return nb_last_status();
  loss_cls_job j = {.g = &g, .x = x ? nb_data(x) : NULL, .w = w ? nb_data(w) : NULL,
                    .t = nb_data(t), .ignore = attrs[1].i, .gv = gv ? nb_data(gv) : NULL,
                    .gs = gs, .dx = nb_data(dx)};
  if (op->logits) {
    j.eps = attrs[2].f;
    j.wall = weight_total(w, g.C);
    j.lse = nb_data(lse);
  }
  loss_blocks(g.npos, dt == NB_F32 ? op->bwd_f32 : op->bwd_f64, &j);
  grad_in[0] = dx;
  return 0;
}

/* A of loss_cls_backward_graph as a tensor of the input's shape and dtype. */
static nb_tensor *cls_target_dist(nb_ctx *ctx, const loss_cls_op *op, nb_tensor *t, nb_tensor *w,
                                  double wsum) {
  const nb_attr_value *attrs = nb_ctx_attrs(ctx);
  int red = (int)attrs[0].i, nd;
  int64_t ignore = attrs[1].i;
  double eps = op->logits ? attrs[2].f : 0.0;
  const int64_t *xs = nb_ctx_input_shape(ctx, 0, &nd);
  loss_cls g = {0};
  cls_dims(nd, xs, &g);
  nb_tensor *a = nb_zeros(nd, xs, NB_F64), *wd = w ? nb_convert(w, NB_F64) : NULL;
  t = ops_contig(t);
  if (!a || !t || (w && !wd)) return NULL;
  double *av = nb_data(a), scale = red == LOSS_MEAN ? (wsum != 0 ? 1.0 / wsum : 0.0) : 1.0;
  const double *wv = wd ? nb_data(wd) : NULL;
  const int64_t *tv = nb_data(t);
  for (int64_t p = 0; p < g.npos; p++) {
    if (tv[p] == ignore) continue;
    double *row = av + loss_cls_off(&g, p);
    row[tv[p] * g.S] += (1 - eps) * (wv ? wv[tv[p]] : 1.0) * scale;
    for (int64_t c = 0; eps != 0 && c < g.C; c++) row[c * g.S] += eps / (double)g.C * (wv ? wv[c] : 1.0) * scale;
  }
  return nb_convert(a, nb_ctx_input_dtype(ctx, 0));
}

int loss_cls_backward_graph(const loss_cls_op *op, nb_ctx *ctx, nb_tensor *const *grad_out,
                            nb_tensor **grad_in) {
  size_t bsz = 0;
  const cls_blob *b = nb_ctx_blob(ctx, &bsz);
  if (b == NULL || bsz != sizeof *b)
    return nb_set_error(NB_ESTATE, "%s: backward found no saved state", op->name);
  int k = 0, nd;
  nb_tensor *x = op->logits ? nb_ctx_saved(ctx, k++) : NULL, *t = nb_ctx_saved(ctx, k++);
  if (op->logits) k++; /* the logsumexp: recomputed by softmax, recorded */
  nb_tensor *w = b->has_weight ? nb_ctx_saved(ctx, k) : NULL;
  if ((op->logits && !x) || !t || (b->has_weight && !w)) return nb_last_status();
  const int64_t *xs = nb_ctx_input_shape(ctx, 0, &nd);
  nb_tensor *a = cls_target_dist(ctx, op, t, w, b->wsum);
  if (!a) return nb_last_status();
  int cdim = nd == 1 ? 0 : 1;
  nb_tensor *g = grad_out[0];
  if (nb_ndim(g) > 0) { /* reduction none: one gradient per position, broadcast over classes */
    int64_t kept[NB_MAX_DIMS];
    for (int d = 0; d < nd; d++) kept[d] = d == cdim ? 1 : xs[d];
    g = gu_reshape(g, nd, kept);
  }
  nb_tensor *d = NULL;
  if (!op->logits) {
    d = g ? gu_scalar("mul", a, -1.0) : NULL;
  } else {
    nb_tensor *s = g ? nb_call1("softmax", 1, &x, 1, (nb_attr[]){NB_A_INT("dim", cdim)}) : NULL;
    nb_tensor *r = s ? nb_call1("sum", 1, &a, 2, (nb_attr[]){NB_A_INTS("dim", cdim), NB_A_BOOL("keepdim", true)}) : NULL;
    nb_tensor *sr = r ? NB_CALL("mul", s, r) : NULL;
    d = sr ? NB_CALL("sub", sr, a) : NULL;
  }
  grad_in[0] = d ? NB_CALL("mul", g, d) : NULL;
  return grad_in[0] ? 0 : nb_last_status();
}

const nb_output_spec loss_cls_outputs[1] = {{"out", 0, "0-d for mean/sum, the target's shape for none"}};
