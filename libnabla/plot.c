/* libnabla/plot.c — SVG line plots (plot.h) and the training figure from a metrics log.
 *
 * The SVG is built in memory (open_memstream) and written atomically (atomic_file.h). Each
 * panel is PANEL_W x PANEL_H user units with fixed margins; data coordinates map
 * linearly into the plot area, y upwards. Text is XML-escaped.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "nabla/plot.h"

#define PANEL_W 480
#define PANEL_H 360
#define TITLE_H 36
#define M_LEFT 64
#define M_RIGHT 16
#define M_TOP 34
#define M_BOTTOM 48
#define MAX_PANELS 8
#define MAX_DRAWN 2000 /* longer series are averaged down to this many points */

static const char *const palette[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

static void put_escaped(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
  }
}

/* A colour is safe to put in an attribute: letters, digits, '#'. */
static bool plain_colour(const char *c) {
  if (!c || !*c || strlen(c) > 32) return false;
  for (; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '#'))
      return false;
  return true;
}

/* Nice tick step for a span: 1, 2 or 5 times a power of ten, about `want` ticks. */
static double nice_step(double span, int want) {
  double raw = span / want, p = pow(10, floor(log10(raw))), r = raw / p;
  return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * p;
}

typedef struct axis {
  double lo, hi, step;
} axis;

/* Fit an axis to [lo, hi]: widened when empty or a single value, rounded to ticks. */
static axis fit_axis(double lo, double hi, bool round_ends) {
  if (!(lo <= hi)) lo = 0, hi = 1;
  if (hi - lo < 1e-12 * fmax(1, fabs(hi))) {
    double d = fabs(hi) > 0 ? 0.1 * fabs(hi) : 1;
    lo -= d;
    hi += d;
  }
  axis a = {lo, hi, nice_step(hi - lo, 5)};
  if (round_ends) {
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
  }
  return a;
}

/* Tick label: %g of the value with the step's precision; "0" for values within a
 * rounding error of zero. */
static void tick_label(char *buf, size_t n, double v, double step) {
  if (fabs(v) < 1e-9 * step) v = 0;
  int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
  if (fabs(v) >= 1e6 || (v != 0 && fabs(v) < 1e-4)) snprintf(buf, n, "%.3g", v);
  else snprintf(buf, n, "%.*f", dec, v);
}

typedef struct frame {
  double x0, y0, w, h; /* plot area in SVG units, y0 its top */
  axis ax, ay;
} frame;

static double sx(const frame *fr, double x) { return fr->x0 + (x - fr->ax.lo) / (fr->ax.hi - fr->ax.lo) * fr->w; }
static double sy(const frame *fr, double y) { return fr->y0 + fr->h - (y - fr->ay.lo) / (fr->ay.hi - fr->ay.lo) * fr->h; }

/* Draw one series: polylines between non-finite values; means of runs of points when
 * there are more than MAX_DRAWN. */
static void draw_series(FILE *f, const frame *fr, const nb_plot_series *s, const char *colour) {
  int64_t run = s->n > MAX_DRAWN ? (s->n + MAX_DRAWN - 1) / MAX_DRAWN : 1;
  bool open = false;
  const char *style = s->faint ? "stroke-width=\"1\" stroke-opacity=\"0.35\"" : "stroke-width=\"2\"";
  for (int64_t i = 0; i < s->n; i += run) {
    double x = 0, y = 0;
    int64_t k = 0;
    for (int64_t j = i; j < i + run && j < s->n; j++)
      if (isfinite(s->x[j]) && isfinite(s->y[j])) {
        x += s->x[j];
        y += s->y[j];
        k++;
      }
    if (!k) {
      if (open) fputs("\"/>\n", f);
      open = false;
      continue;
    }
    x /= (double)k;
    y /= (double)k;
    if (!open) fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" %s points=\"", colour, style);
    fprintf(f, "%s%.1f,%.1f", open ? " " : "", sx(fr, x), sy(fr, y));
    open = true;
  }
  if (open) fputs("\"/>\n", f);
  if (s->markers)
    for (int64_t i = 0; i < s->n; i++)
      if (isfinite(s->x[i]) && isfinite(s->y[i]))
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", sx(fr, s->x[i]),
                sy(fr, s->y[i]), colour);
}

static void draw_panel(FILE *f, const nb_plot_panel *p, int index, double left, double top,
                       int *next_colour) {
  /* data ranges */
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (int i = 0; i < p->n_series; i++)
    for (int64_t j = 0; j < p->series[i].n; j++) {
      double x = p->series[i].x[j], y = p->series[i].y[j];
      if (!isfinite(x) || !isfinite(y)) continue;
      xlo = fmin(xlo, x), xhi = fmax(xhi, x), ylo = fmin(ylo, y), yhi = fmax(yhi, y);
    }
  frame fr = {left + M_LEFT, top + M_TOP, PANEL_W - M_LEFT - M_RIGHT, PANEL_H - M_TOP - M_BOTTOM,
              fit_axis(xlo, xhi, false), fit_axis(ylo, yhi, true)};
  char lab[64];
  /* frame, grid and ticks */
  fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" "
          "stroke=\"#444\"/>\n", fr.x0, fr.y0, fr.w, fr.h);
  for (double v = ceil(fr.ax.lo / fr.ax.step - 1e-9) * fr.ax.step; v <= fr.ax.hi + 1e-9 * fr.ax.step;
       v += fr.ax.step) {
    double x = sx(&fr, v);
    tick_label(lab, sizeof lab, v, fr.ax.step);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", x, fr.y0, x,
            fr.y0 + fr.h);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", x, fr.y0 + fr.h + 16, lab);
  }
  for (double v = fr.ay.lo; v <= fr.ay.hi + 1e-9 * fr.ay.step; v += fr.ay.step) {
    double y = sy(&fr, v);
    tick_label(lab, sizeof lab, v, fr.ay.step);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", fr.x0, y,
            fr.x0 + fr.w, y);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", fr.x0 - 6, y + 4, lab);
  }
  if (p->title) {
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"15\" "
            "font-weight=\"bold\">", fr.x0 + fr.w / 2, top + 22);
    put_escaped(f, p->title);
    fputs("</text>\n", f);
  }
  if (p->x_label) {
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", fr.x0 + fr.w / 2, fr.y0 + fr.h + 36);
    put_escaped(f, p->x_label);
    fputs("</text>\n", f);
  }
  if (p->y_label) {
    double cx = left + 16, cy = fr.y0 + fr.h / 2;
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 %.1f %.1f)\">",
            cx, cy, cx, cy);
    put_escaped(f, p->y_label);
    fputs("</text>\n", f);
  }
  /* series, clipped to the plot area */
  int id = index;
  fprintf(f, "<clipPath id=\"clip%d\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>"
          "</clipPath>\n<g clip-path=\"url(#clip%d)\">\n", id, fr.x0, fr.y0, fr.w, fr.h, id);
  const char *colours[64];
  for (int i = 0; i < p->n_series && i < 64; i++) {
    const nb_plot_series *s = &p->series[i];
    colours[i] = plain_colour(s->color) ? s->color : palette[(*next_colour)++ % 10];
    draw_series(f, &fr, s, colours[i]);
  }
  fputs("</g>\n", f);
  /* legend on a translucent white box, in the right-hand corner (top or bottom) that
   * covers fewer points */
  int row = 0, rows = 0;
  for (int i = 0; i < p->n_series && i < 64; i++) rows += p->series[i].label && p->series[i].n;
  double box_x = fr.x0 + fr.w - 188, box_h = 16 * rows + 6, box_y = fr.y0 + 3;
  int64_t hits[2] = {0, 0}; /* points under a top and a bottom box */
  for (int i = 0; i < p->n_series; i++)
    for (int64_t j = 0; j < p->series[i].n; j++) {
      double px = sx(&fr, p->series[i].x[j]), py = sy(&fr, p->series[i].y[j]);
      if (px < box_x) continue;
      hits[0] += py <= fr.y0 + 3 + box_h;
      hits[1] += py >= fr.y0 + fr.h - 3 - box_h;
    }
  if (hits[1] < hits[0]) box_y = fr.y0 + fr.h - 3 - box_h;
  if (rows)
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"184\" height=\"%.0f\" fill=\"white\" "
            "fill-opacity=\"0.8\" stroke=\"#ccc\"/>\n", box_x, box_y, box_h);
  for (int i = 0; i < p->n_series && i < 64; i++) {
    const nb_plot_series *s = &p->series[i];
    if (!s->label || !s->n) continue;
    double y = box_y + 14 + 16 * row++, x = box_x + 8;
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" %s/>\n", x, y - 4,
            x + 22, y - 4, colours[i], s->faint ? "stroke-width=\"1.5\" stroke-opacity=\"0.5\"" : "stroke-width=\"2\"");
    if (s->markers) fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", x + 11, y - 4, colours[i]);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", x + 28, y);
    put_escaped(f, s->label);
    fputs("</text>\n", f);
  }
}

int nb_plot_svg(const char *path, const char *title, int n_panels, const nb_plot_panel *panels) {
  if (!path || n_panels < 1 || n_panels > MAX_PANELS || !panels)
    return nb_set_error(NB_EINVAL, "nb_plot_svg: need a path and 1 to %d panels", MAX_PANELS);
  for (int i = 0; i < n_panels; i++) {
    if (panels[i].n_series < 0 || panels[i].n_series > 64 || (panels[i].n_series && !panels[i].series))
      return nb_set_error(NB_EINVAL, "nb_plot_svg: panel %d: bad series list", i);
    for (int j = 0; j < panels[i].n_series; j++) {
      const nb_plot_series *s = &panels[i].series[j];
      if (s->n < 0 || (s->n && (!s->x || !s->y)))
        return nb_set_error(NB_EINVAL, "nb_plot_svg: panel %d series %d: bad points", i, j);
    }
  }
  char *buf = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&buf, &size);
  if (!f) return nb_set_error(NB_ENOMEM, "nb_plot_svg: out of memory");
  int top = title ? TITLE_H : 0, w = PANEL_W * n_panels, h = PANEL_H + top;
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
          "font-family=\"sans-serif\" font-size=\"12\">\n"
          "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", w, h, w, h);
  if (title) {
    fprintf(f, "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"17\" font-weight=\"bold\">", w / 2);
    put_escaped(f, title);
    fputs("</text>\n", f);
  }
  int next_colour = 0;
  for (int i = 0; i < n_panels; i++) draw_panel(f, &panels[i], i, (double)(PANEL_W * i), top, &next_colour);
  fputs("</svg>\n", f);
  int rc = fclose(f) == 0 ? 0 : nb_set_error(NB_ENOMEM, "nb_plot_svg: out of memory");
  if (rc == 0) rc = nb__write_file_atomic(path, buf, size, "nb_plot_svg");
  free(buf);
  return rc;
}

/* ---- the training figure ------------------------------------------------------------- */

typedef struct series_buf {
  double *x, *y;
  int64_t n;
} series_buf;

static int fetch(const nb_metrics *m, const char *kind, const char *name, series_buf *b) {
  int64_t n = nb_metrics_series(m, kind, name, NULL, NULL, 0);
  if (n < 0) return (int)n;
  b->x = malloc((size_t)n * sizeof *b->x + 1);
  b->y = malloc((size_t)n * sizeof *b->y + 1);
  if (!b->x || !b->y) return nb_set_error(NB_ENOMEM, "nb_plot_training_svg: out of memory");
  b->n = nb_metrics_series(m, kind, name, b->x, b->y, n);
  return 0;
}

int nb_plot_training_svg(const nb_metrics *m, const char *path, const char *title) {
  if (!m || !path) return nb_set_error(NB_EINVAL, "nb_plot_training_svg: NULL argument");
  static const struct {
    const char *kind, *name, *label, *colour;
    bool markers, faint;
  } spec[6] = {
      {"batch", "loss", "train (batch)", "#1f77b4", false, true},
      {"epoch", "loss", "train (epoch mean)", "#1f77b4", true, false},
      {"epoch", "test_loss", "test", "#d62728", true, false},
      {"batch", "acc", "train (batch)", "#1f77b4", false, true},
      {"epoch", "acc", "train (epoch mean)", "#1f77b4", true, false},
      {"epoch", "test_acc", "test", "#d62728", true, false},
  };
  series_buf b[6] = {{0}};
  nb_plot_series s[6];
  int rc = 0;
  for (int i = 0; i < 6 && rc >= 0; i++) {
    rc = fetch(m, spec[i].kind, spec[i].name, &b[i]);
    s[i] = (nb_plot_series){spec[i].label, b[i].n, b[i].x, b[i].y, spec[i].colour, spec[i].markers,
                            spec[i].faint};
  }
  if (rc >= 0) { /* the accuracy panel only when the log has accuracies (not a language model's) */
    nb_plot_panel panels[2] = {{"loss", "step (batches)", "cross-entropy loss", 3, s},
                               {"accuracy", "step (batches)", "accuracy", 3, s + 3}};
    rc = nb_plot_svg(path, title, b[3].n + b[4].n + b[5].n > 0 ? 2 : 1, panels);
  }
  for (int i = 0; i < 6; i++) {
    free(b[i].x);
    free(b[i].y);
  }
  return rc < 0 ? rc : 0;
}
