/* libnabla/evaluate.c — a classifier's loss and accuracy, overall and per class, over a
 * data loader (evaluate.h).
 */
#include <stdlib.h>
#include <string.h>

#include <nabla/nabla.h>

void nb_class_eval_clear(nb_class_eval *e) {
  if (!e) return;
  free(e->correct);
  free(e->total);
  memset(e, 0, sizeof *e);
}

/* argmax of each row into pred (int64 [N]), checked against labels' shape. */
static nb_tensor *predictions(nb_tensor *logits, nb_tensor *labels, const char *fn) {
  if (!logits || !labels || nb_ndim(logits) != 2 || nb_ndim(labels) != 1 ||
      nb_size(logits, 0) != nb_size(labels, 0) || nb_dtype_of(labels) != NB_I64) {
    nb_set_error(NB_ESHAPE, "%s: needs logits [N,C] and int64 labels [N], got %s and %s", fn,
                 logits ? nb_shape_of(logits) : "NULL", labels ? nb_shape_of(labels) : "NULL");
    return NULL;
  }
  nb_tensor *idx = NULL;
  nb_no_grad_begin();
  nb_tensor *mx = nb_max_dim(logits, 1, false, &idx);
  nb_grad_mode_end();
  if (!mx) return NULL;
  return nb_is_contiguous(idx) ? idx : nb_copy_data(idx);
}

int64_t nb_count_correct(nb_tensor *logits, nb_tensor *labels) {
  if (nb_scope_begin() < 0) return nb_last_status();
  nb_tensor *pred = predictions(logits, labels, "nb_count_correct");
  int64_t hits = pred ? 0 : nb_last_status();
  nb_tensor *tc = pred ? (nb_is_contiguous(labels) ? labels : nb_copy_data(labels)) : NULL;
  if (pred && !tc) hits = nb_last_status();
  if (tc) {
    const int64_t *p = nb_data(pred), *t = nb_data(tc);
    for (int64_t i = 0, n = nb_numel(pred); i < n; i++) hits += p[i] == t[i];
  }
  nb_scope_end();
  return hits;
}

double nb_accuracy(nb_tensor *logits, nb_tensor *labels) {
  int64_t hits = nb_count_correct(logits, labels);
  if (hits < 0) return (double)hits;
  int64_t n = nb_size(labels, 0);
  return n > 0 ? (double)hits / (double)n : 0.0;
}

/* One batch: add its summed loss and per-class counts. */
static int eval_batch(nb_module *model, nb_tensor *x, nb_tensor *y, nb_class_eval *e, double *loss_sum) {
  nb_tensor *logits = nb_module_forward(model, x);
  if (!logits) return nb_last_status();
  if (nb_ndim(logits) != 2 || nb_size(logits, 1) != e->n_classes)
    return nb_set_error(NB_ESHAPE, "nb_evaluate_classifier: the model gave %s, not [N,%d] logits",
                        nb_shape_of(logits), e->n_classes);
  nb_tensor *pred = predictions(logits, y, "nb_evaluate_classifier");
  nb_tensor *loss = pred ? nb_cross_entropy(logits, y, NULL, "sum", -100, 0) : NULL;
  nb_tensor *yc = loss ? (nb_is_contiguous(y) ? y : nb_copy_data(y)) : NULL;
  if (!yc) return nb_last_status();
  *loss_sum += nb_item(loss);
  const int64_t *p = nb_data(pred), *t = nb_data(yc);
  for (int64_t i = 0, n = nb_numel(yc); i < n; i++) {
    if (t[i] < 0 || t[i] >= e->n_classes)
      return nb_set_error(NB_EINVAL, "nb_evaluate_classifier: label %lld outside [0, %d)",
                          (long long)t[i], e->n_classes);
    e->total[t[i]]++;
    e->correct[t[i]] += p[i] == t[i];
  }
  e->n += nb_numel(yc);
  return 0;
}

int nb_evaluate_classifier(nb_module *model, nb_dataloader *dl, int n_classes, nb_class_eval *out) {
  if (!model || !dl || !out || n_classes < 1)
    return nb_set_error(NB_EINVAL, "nb_evaluate_classifier: need a model, a loader, n_classes >= 1 "
                        "and a result");
  nb_class_eval_clear(out);
  nb_class_eval e = {.n_classes = n_classes};
  e.correct = calloc((size_t)n_classes, sizeof *e.correct);
  e.total = calloc((size_t)n_classes, sizeof *e.total);
  if (!e.correct || !e.total) {
    nb_class_eval_clear(&e);
    return nb_set_error(NB_ENOMEM, "nb_evaluate_classifier: out of memory");
  }
  bool was_training = nb_module_is_training(model);
  nb_module_train(model, false);
  nb_no_grad_begin();
  double loss_sum = 0;
  int rc = nb_dataloader_start_epoch(dl, 0);
  while (rc >= 0) {
    nb_scope_begin();
    nb_tensor *x, *y;
    rc = nb_dataloader_next(dl, &x, &y);
    if (rc == 1) rc = eval_batch(model, x, y, &e, &loss_sum);
    else if (rc == 0) rc = 1; /* the pass is over */
    nb_scope_end();
    if (rc == 1) break;
  }
  nb_grad_mode_end();
  nb_module_train(model, was_training);
  if (rc < 0) {
    nb_class_eval_clear(&e);
    return rc;
  }
  int64_t right = 0;
  for (int c = 0; c < n_classes; c++) right += e.correct[c];
  e.loss = e.n ? loss_sum / (double)e.n : 0;
  e.accuracy = e.n ? (double)right / (double)e.n : 0;
  *out = e;
  return 0;
}
