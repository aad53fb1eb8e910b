/* nabla/plot.h — line plots written as SVG files (a browser, an image viewer or
 * rsvg-convert shows them; no plotting library needed).
 *
 * A figure is a row of panels; each panel has axes with "nice" ticks (1, 2 or 5 times a
 * power of ten) fitted to its data, a title, axis labels, a legend, and series drawn as
 * lines, optionally with a marker on every point. Non-finite y values break a line.
 * Series of more than 2000 points are drawn as the means of consecutive runs of points
 * so files stay small.
 *
 * nb_plot_training_svg draws the usual training figure from a metrics log (metrics.h):
 * loss and accuracy against optimizer steps, per batch (faint) and per epoch (markers).
 */
#ifndef NABLA_PLOT_H
#define NABLA_PLOT_H

#include <nabla/core.h>
#include <nabla/metrics.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_plot_series {
  const char *label;   /* legend text (NULL: not in the legend) */
  int64_t n;           /* number of points */
  const double *x, *y; /* the points, x increasing */
  const char *color;   /* an SVG colour ("#1f77b4", "crimson"); NULL: the next of ten */
  bool markers;        /* a dot on every point (few points, e.g. one per epoch) */
  bool faint;          /* thin and translucent (many noisy points, e.g. one per batch) */
} nb_plot_series;

typedef struct nb_plot_panel {
  const char *title, *x_label, *y_label; /* any may be NULL */
  int n_series;
  const nb_plot_series *series;
} nb_plot_panel;

/* Write a figure of n_panels panels side by side (1..8), with an optional overall
 * title, to `path` (atomically: a temporary file renamed over it). Returns 0 or a
 * negative status. */
int nb_plot_svg(const char *path, const char *title, int n_panels, const nb_plot_panel *panels);

/* The training figure from a metrics log: a "loss" panel with the records' "loss" per
 * batch (kind "batch") and per epoch (kind "epoch") and "test_loss" per epoch, and an
 * "accuracy" panel with "acc" per batch and per epoch and "test_acc" per epoch; x is the
 * step. Series the log does not have are left out, and the accuracy panel when it has
 * no accuracy at all. */
int nb_plot_training_svg(const nb_metrics *m, const char *path, const char *title);

#ifdef __cplusplus
}
#endif
#endif
