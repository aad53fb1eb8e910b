/* libnabla/progress.c — the training progress reporter (progress.h): a bar redrawn in
 * place on a terminal, one summary line per epoch everywhere.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "nabla/progress.h"

#define REDRAW_SECONDS 0.1 /* at most ten redraws a second */
#define BAR_MIN 10
#define BAR_MAX 30

struct nb_progress {
  FILE *out;
  nb_progress_mode mode;
  bool bar;           /* draw the bar */
  bool drawn;         /* a bar is on the current line */
  int64_t epochs, per_epoch;
  int64_t epoch;      /* current epoch (1-based), 0 before the first */
  int64_t done;       /* batches of the epoch done, including those before a resume */
  int64_t counted;    /* batches whose loss is in loss_sum (since epoch_begin) */
  int64_t images;     /* images since epoch_begin */
  double loss_sum;
  double t0, t_last;  /* epoch begin; the last update (or < 0 before the first) */
  double last_draw;
  char period[16], unit[16]; /* what an epoch and an image are called in the output */
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

nb_progress *nb_progress_new(FILE *out, int64_t epochs, int64_t batches_per_epoch,
                             nb_progress_mode mode) {
  if (!out || epochs < 1 || batches_per_epoch < 1 || mode < NB_PROGRESS_AUTO ||
      mode > NB_PROGRESS_QUIET) {
    nb_set_error(NB_EINVAL, "nb_progress_new: need an output stream, epochs >= 1, "
                 "batches_per_epoch >= 1 and a valid mode (got %s, %lld, %lld, %d)",
                 out ? "a stream" : "NULL", (long long)epochs, (long long)batches_per_epoch, (int)mode);
    return NULL;
  }
  nb_progress *p = calloc(1, sizeof *p);
  if (!p) {
    nb_set_error(NB_ENOMEM, "nb_progress_new: out of memory");
    return NULL;
  }
  p->out = out;
  p->mode = mode;
  p->bar = mode == NB_PROGRESS_BAR || (mode == NB_PROGRESS_AUTO && isatty(fileno(out)));
  p->epochs = epochs;
  p->per_epoch = batches_per_epoch;
  strcpy(p->period, "epoch");
  strcpy(p->unit, "img");
  p->t0 = now();
  p->t_last = -1;
  return p;
}

static void clear_bar(nb_progress *p) {
  if (p->drawn) fputs("\r\033[K", p->out);
  p->drawn = false;
}

void nb_progress_free(nb_progress *p) {
  if (!p) return;
  if (p->drawn) {
    fputc('\n', p->out);
    fflush(p->out);
  }
  free(p);
}

int nb_progress_epoch_begin(nb_progress *p, int64_t epoch, int64_t batches_done) {
  if (!p || epoch < 1 || batches_done < 0)
    return nb_set_error(NB_EINVAL, "nb_progress_epoch_begin: need a reporter, epoch >= 1 and "
                        "batches_done >= 0");
  p->epoch = epoch;
  p->done = batches_done;
  p->counted = p->images = 0;
  p->loss_sum = 0;
  p->t0 = now();
  p->t_last = -1;
  p->last_draw = -1;
  return 0;
}

double nb_progress_seconds(const nb_progress *p) {
  if (!p) return NAN;
  return p->t_last >= 0 ? p->t_last - p->t0 : 0;
}

double nb_progress_loss(const nb_progress *p) {
  return p && p->counted ? p->loss_sum / (double)p->counted : NAN;
}

double nb_progress_images_per_second(const nb_progress *p) {
  if (!p) return NAN;
  double s = nb_progress_seconds(p);
  return s > 0 ? (double)p->images / s : 0;
}

int64_t nb_progress_batches(const nb_progress *p) { return p ? p->done : -1; }

bool nb_progress_is_bar(const nb_progress *p) { return p && p->bar; }

/* "1:05" or "1:02:03"; "?" when unknown. */
static void fmt_duration(char *buf, size_t n, double s) {
  if (!(s >= 0) || s > 1e8) {
    snprintf(buf, n, "?");
    return;
  }
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static int terminal_width(FILE *out) {
  struct winsize ws;
  if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40) return ws.ws_col;
  return 80;
}

static void draw(nb_progress *p) {
  double rate = nb_progress_images_per_second(p), secs = nb_progress_seconds(p);
  double per_batch = p->counted ? secs / (double)p->counted : NAN;
  char left[32], tail[160], head[48];
  fmt_duration(left, sizeof left, per_batch * (double)(p->per_epoch - p->done));
  snprintf(head, sizeof head, "%s %lld/%lld ", p->period, (long long)p->epoch, (long long)p->epochs);
  snprintf(tail, sizeof tail, "  %lld/%lld  loss %.4f  %.0f %s/s  %s left", (long long)p->done,
           (long long)p->per_epoch, nb_progress_loss(p), rate, p->unit, left);
  int width = terminal_width(p->out) - 1 - (int)strlen(head) - (int)strlen(tail) - 2;
  if (width > BAR_MAX) width = BAR_MAX;
  if (width < BAR_MIN) width = BAR_MIN;
  int fill = (int)((double)width * (double)p->done / (double)p->per_epoch);
  if (fill > width) fill = width;
  char bar[BAR_MAX + 1];
  memset(bar, '#', (size_t)fill);
  memset(bar + fill, '.', (size_t)(width - fill));
  bar[width] = 0;
  fprintf(p->out, "\r%s[%s]%s\033[K", head, bar, tail);
  fflush(p->out);
  p->drawn = true;
}

int nb_progress_set_names(nb_progress *p, const char *period, const char *unit) {
  if (!p || !period || !unit || !*period || !*unit || strlen(period) >= sizeof p->period ||
      strlen(unit) >= sizeof p->unit)
    return nb_set_error(NB_EINVAL, "nb_progress_set_names: need a reporter and two names of 1 to "
                        "%zu characters", sizeof p->period - 1);
  strcpy(p->period, period);
  strcpy(p->unit, unit);
  return 0;
}

int nb_progress_update(nb_progress *p, int64_t images, double loss) {
  if (!p || images < 0) return nb_set_error(NB_EINVAL, "nb_progress_update: need a reporter and images >= 0");
  if (p->epoch == 0) nb_progress_epoch_begin(p, 1, 0);
  p->done++;
  p->counted++;
  p->images += images;
  p->loss_sum += loss;
  double t = p->t_last = now();
  if (p->bar) {
    if (p->last_draw < 0 || t - p->last_draw >= REDRAW_SECONDS || p->done >= p->per_epoch) {
      draw(p);
      p->last_draw = t;
    }
  }
  return 0;
}

int nb_progress_epoch_end(nb_progress *p, const char *fmt, ...) {
  if (!p) return nb_set_error(NB_EINVAL, "nb_progress_epoch_end: NULL reporter");
  if (p->mode == NB_PROGRESS_QUIET) return 0;
  clear_bar(p);
  fprintf(p->out, "%s %lld/%lld  %lld batches  loss %.4f  %.0f %s/s  %.1f s", p->period,
          (long long)p->epoch, (long long)p->epochs, (long long)p->done, nb_progress_loss(p),
          nb_progress_images_per_second(p), p->unit, nb_progress_seconds(p));
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    fputs("  | ", p->out);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
  }
  fputc('\n', p->out);
  return fflush(p->out) == 0 ? 0 : nb_set_error(NB_EIO, "nb_progress_epoch_end: writing failed");
}

int nb_progress_message(nb_progress *p, const char *fmt, ...) {
  if (!p || !fmt) return nb_set_error(NB_EINVAL, "nb_progress_message: NULL argument");
  if (p->mode == NB_PROGRESS_QUIET) return 0;
  clear_bar(p);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(p->out, fmt, ap);
  va_end(ap);
  fputc('\n', p->out);
  p->last_draw = -1; /* redraw at the next update */
  return fflush(p->out) == 0 ? 0 : nb_set_error(NB_EIO, "nb_progress_message: writing failed");
}
