/* nabla/metrics.h — a training metrics log in JSON Lines: one JSON object per line, e.g.
 *
 *   {"kind":"batch","epoch":1,"step":100,"loss":0.5234,"acc":0.8125,"lr":0.001}
 *   {"kind":"epoch","epoch":1,"step":937,"loss":0.4102,"test_loss":0.3511,"test_acc":0.8741}
 *
 * Every record has "kind" (what it describes: "batch", "epoch", ...), "epoch" and "step"
 * (integers: the epoch and the number of optimizer steps so far), then named numbers;
 * a NaN or infinite number is written as null. Each line is flushed when logged, so a
 * killed run keeps everything logged before. Read it with any JSON Lines reader
 * (pandas.read_json(path, lines=True), jq, a line loop over json.loads).
 *
 * The log also keeps its records in memory, so curves can be drawn from it at any time
 * (plot.h: nb_plot_training_svg). A run resumed from a checkpoint reopens the file at
 * the checkpoint's step: records logged after that step (by the interrupted run, which
 * the resumed run repeats) are dropped, the rest are kept and read back.
 */
#ifndef NABLA_METRICS_H
#define NABLA_METRICS_H

#include <nabla/core.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_metrics nb_metrics;

/* One named number of a record. */
typedef struct nb_metric {
  const char *name;
  double value;
} nb_metric;

/* Open a log. path NULL: in memory only. resume_step < 0: a new run, the file is created
 * (or truncated). resume_step >= 0: the records of an existing file with step <=
 * resume_step are read back and kept (the file is rewritten atomically without the
 * others), and new records are appended; a missing file is an empty log. A file that is
 * not a metrics log (a line that is not such a JSON object) is refused, naming the line.
 * NULL with an error. */
nb_metrics *nb_metrics_open(const char *path, int64_t resume_step);
/* Flush and close the file, free the records (NULL-safe). */
void nb_metrics_close(nb_metrics *m);

/* Log a record: `kind` (non-empty; letters, digits and '_'), epoch, step and n named
 * values (names as for kind, none of "kind", "epoch", "step"). Writes and flushes one
 * line. Returns 0 or a negative status. */
int nb_metrics_log(nb_metrics *m, const char *kind, int64_t epoch, int64_t step, int n,
                   const nb_metric *values);

/* Number of records (read back and logged). */
int64_t nb_metrics_count(const nb_metrics *m);
/* The series of value `name` over the records of `kind`, in order: their steps into
 * steps[i] and values into values[i] (NaN for null), for the first `cap` of them (either
 * array may be NULL). Returns how many records of that kind have that value (may exceed
 * cap), or a negative status. */
int64_t nb_metrics_series(const nb_metrics *m, const char *kind, const char *name, double *steps,
                          double *values, int64_t cap);

#ifdef __cplusplus
}
#endif
#endif
