/* nabla/progress.h — a training progress reporter.
 *
 * On a terminal it draws one bar per epoch, redrawn in place at most ten times a second:
 *
 *   epoch 2/5 [###########.............]  412/937  loss 0.3521  6012 img/s  0:05 left
 *
 * and replaces it at the end of the epoch by that epoch's summary line. When the output
 * is not a terminal (a pipe, a log file, CI) only the summary line is written, one per
 * epoch, so logs stay readable:
 *
 *   epoch 2/5  937 batches  loss 0.3521  6012 img/s  9.8 s  | test loss 0.3312  acc 88.10%
 *
 * The part after " | " is whatever the caller passes to nb_progress_epoch_end (often test
 * metrics); without it the line ends after the time. Numbers: loss is the mean training
 * loss over the epoch's batches so far; the time is the training time, from
 * nb_progress_epoch_begin to the last batch's update (so an evaluation between the last
 * batch and nb_progress_epoch_end is not counted); img/s is the images of those batches
 * over that time; time left is the epoch's remaining batches at that rate.
 *
 *   nb_progress *p = nb_progress_new(stdout, epochs, batches_per_epoch, NB_PROGRESS_AUTO);
 *   for (epoch = 1; epoch <= epochs; epoch++) {
 *     nb_progress_epoch_begin(p, epoch, 0);
 *     for each batch: ...; nb_progress_update(p, batch_size, loss);
 *     nb_progress_epoch_end(p, "test acc %.2f%%", acc);
 *   }
 *   nb_progress_free(p);
 */
#ifndef NABLA_PROGRESS_H
#define NABLA_PROGRESS_H

#include <stdio.h>

#include <nabla/core.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nb_progress_mode {
  NB_PROGRESS_AUTO = 0, /* a bar when `out` is a terminal (isatty), else lines */
  NB_PROGRESS_BAR,      /* always the bar (and the summary lines) */
  NB_PROGRESS_LINES,    /* only the per-epoch summary lines */
  NB_PROGRESS_QUIET     /* nothing (the numbers are still kept, see the getters) */
} nb_progress_mode;

typedef struct nb_progress nb_progress;

/* A reporter writing to `out` (borrowed) for a run of `epochs` epochs of
 * `batches_per_epoch` batches each (both >= 1). NULL with an error. */
nb_progress *nb_progress_new(FILE *out, int64_t epochs, int64_t batches_per_epoch,
                             nb_progress_mode mode);
/* What the output calls an epoch and an image (default "epoch" and "img"; a language
 * model may count "round"s of steps and "tok"ens). 1 to 15 characters each. */
int nb_progress_set_names(nb_progress *p, const char *period, const char *unit);
/* Free it (NULL-safe); a bar still drawn is ended with a newline. */
void nb_progress_free(nb_progress *p);

/* Start epoch `epoch` (1-based, as shown) with `batches_done` batches of it already done
 * (0, or the position of a run resumed mid-epoch). Resets the epoch's loss and rate. */
int nb_progress_epoch_begin(nb_progress *p, int64_t epoch, int64_t batches_done);
/* One batch done: `images` in it and its loss (a NaN or infinite loss is shown as such
 * and leaves the mean NaN). Redraws the bar when due. */
int nb_progress_update(nb_progress *p, int64_t images, double loss);
/* End the epoch: write its summary line, followed by " | " and the printf-formatted
 * `fmt` when fmt is not NULL. Returns 0 or a negative status. */
int nb_progress_epoch_end(nb_progress *p, const char *fmt, ...) NB_PRINTF(2, 3);
/* Write one line of text (e.g. a warning) without garbling a bar being drawn: the bar
 * is cleared first and redrawn at the next update. */
int nb_progress_message(nb_progress *p, const char *fmt, ...) NB_PRINTF(2, 3);

/* The current (or just ended) epoch's numbers: mean training loss of its batches, images
 * per second, training seconds (nb_progress_epoch_begin to the last update; 0 before
 * it), and batches done (counting those done before a resume). NaN / -1 for NULL. */
double nb_progress_loss(const nb_progress *p);
double nb_progress_images_per_second(const nb_progress *p);
double nb_progress_seconds(const nb_progress *p);
int64_t nb_progress_batches(const nb_progress *p);
/* Whether this reporter draws the bar (mode BAR, or AUTO on a terminal). */
bool nb_progress_is_bar(const nb_progress *p);

#ifdef __cplusplus
}
#endif
#endif
