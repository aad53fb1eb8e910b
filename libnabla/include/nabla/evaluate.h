/* nabla/evaluate.h — evaluating a classifier: its mean cross-entropy loss, accuracy and
 * accuracy per class over a data loader, in evaluation mode and without autograd.
 *
 *   nb_class_eval e = {0};
 *   nb_evaluate_classifier(model, test_loader, 10, &e);
 *   printf("test accuracy %.2f%%, loss %.4f\n", 100 * e.accuracy, e.loss);
 *   for (int c = 0; c < 10; c++) printf("%lld/%lld\n", e.correct[c], e.total[c]);
 *   nb_class_eval_clear(&e);
 */
#ifndef NABLA_EVALUATE_H
#define NABLA_EVALUATE_H

#include <nabla/core.h>
#include <nabla/data.h>
#include <nabla/module.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_class_eval {
  int64_t n;        /* examples seen */
  double loss;      /* mean cross-entropy of the logits against the labels */
  double accuracy;  /* fraction whose highest logit is the label */
  int n_classes;
  int64_t *correct; /* per label: examples predicted right, and examples, */
  int64_t *total;   /*   [n_classes] each (owned; nb_class_eval_clear frees them) */
} nb_class_eval;

/* Run `model` (logits [N, n_classes] for a batch) over one pass of `dl` (its epoch 0:
 * give it a loader without shuffling) with labels y [N] (int64, 0 <= y < n_classes), in
 * evaluation mode (restored afterwards) and under no-grad. Fills *out (its old arrays are
 * freed). Returns 0 or a negative status (then *out holds nothing). */
int nb_evaluate_classifier(nb_module *model, nb_dataloader *dl, int n_classes, nb_class_eval *out);
/* Free the per-class arrays and zero *e (NULL-safe). */
void nb_class_eval_clear(nb_class_eval *e);

/* How many rows of logits [N, C] have their highest value (the first, on ties) at the
 * label of labels [N] (int64). Runs under no-grad. Returns the count or a negative status. */
int64_t nb_count_correct(nb_tensor *logits, nb_tensor *labels);
/* A training loop's metric in one call: the fraction of rows of logits [N, C] whose
 * highest value is at the label (nb_count_correct / N; 0 for N = 0). Returns it in
 * [0, 1], or a negative status (error set) on bad input. */
double nb_accuracy(nb_tensor *logits, nb_tensor *labels);

#ifdef __cplusplus
}
#endif
#endif
