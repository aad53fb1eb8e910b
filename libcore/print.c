/* print.c — PyTorch-style tensor printing (rules of torch/_tensor_str.py, default
 * print options: precision 4, threshold 1000, edgeitems 3, linewidth 80).
 *
 * One formatter per tensor decides, from the (summarised) nonzero finite values,
 * between integer mode ("12."), fixed ("0.1000") and scientific ("1.0000e-05") and the
 * common width; the body is then written with nested brackets, line wrapping and "..."
 * for summarised dimensions, followed by dtype/grad_fn/requires_grad suffixes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PRECISION 4
#define THRESHOLD 1000
#define EDGEITEMS 3
#define LINEWIDTH 80

/* ---- the formatter -------------------------------------------------------------------- */

typedef struct fmt {
  int dtype;
  bool int_mode, sci_mode;
  int width;
  /* statistics over nonzero finite values */
  bool any;
  double amin, amax;
} fmt;

static double elem(const nb_tensor *t, int64_t off) {
  const char *p = (const char *)t->storage->data + (size_t)off * nb__dtype_size((nb_dtype)t->dtype);
  switch (t->dtype) {
  case NB_F32: return *(const float *)p;
  case NB_F64: return *(const double *)p;
  case NB_I64: return (double)*(const int64_t *)p;
  default: return *(const uint8_t *)p ? 1.0 : 0.0;
  }
}

/* Text of one value without padding, as the formatter's mode says. */
static int value_text(const fmt *f, const nb_tensor *t, int64_t off, char *buf, size_t size) {
  if (t->dtype == NB_I64) {
    const char *p = (const char *)t->storage->data + (size_t)off * 8;
    return snprintf(buf, size, "%lld", (long long)*(const int64_t *)p);
  }
  double v = elem(t, off);
  if (t->dtype == NB_BOOL)
    return snprintf(buf, size, "%s", v != 0 ? "True" : "False");
  if (isnan(v))
    return snprintf(buf, size, "nan");
  if (isinf(v))
    return snprintf(buf, size, v > 0 ? "inf" : "-inf");
  if (f->sci_mode)
    return snprintf(buf, size, "%.*e", PRECISION, v);
  if (f->int_mode)
    return snprintf(buf, size, "%.0f.", v);
  return snprintf(buf, size, "%.*f", PRECISION, v);
}

/* Visit the elements the printout shows (all, or the edge items when summarising). */
typedef void (*visit_fn)(const nb_tensor *t, int64_t off, void *user);
static void walk(const nb_tensor *t, int dim, int64_t off, bool summarize, visit_fn fn, void *user) {
  if (dim == t->ndim) {
    fn(t, off, user);
    return;
  }
  int64_t n = t->shape[dim], s = t->strides[dim];
  for (int64_t i = 0; i < n; i++) {
    if (summarize && n > 2 * EDGEITEMS && i == EDGEITEMS)
      i = n - EDGEITEMS;
    walk(t, dim + 1, off + i * s, summarize, fn, user);
  }
}

static void observe_stats(const nb_tensor *t, int64_t off, void *user) {
  fmt *f = user;
  double v = elem(t, off);
  if (!isfinite(v) || v == 0)
    return;
  double a = fabs(v);
  if (!f->any || a < f->amin)
    f->amin = a;
  if (!f->any || a > f->amax)
    f->amax = a;
  f->any = true;
  if (v != ceil(v))
    f->int_mode = false;
}

static void observe_width(const nb_tensor *t, int64_t off, void *user) {
  fmt *f = user;
  if (nb__is_floating((nb_dtype)t->dtype)) {
    double v = elem(t, off);
    if (!isfinite(v) || v == 0)
      return; /* PyTorch sizes the columns from nonzero finite values only */
  }
  char buf[64];
  int w = value_text(f, t, off, buf, sizeof buf);
  if (w > f->width)
    f->width = w;
}

static void fmt_init(fmt *f, const nb_tensor *t, bool summarize) {
  memset(f, 0, sizeof *f);
  f->dtype = t->dtype;
  f->int_mode = true;
  f->width = 1;
  if (nb__is_floating((nb_dtype)t->dtype)) {
    walk(t, 0, t->offset, summarize, observe_stats, f);
    if (!f->any)
      return;
    double ratio = f->amax / f->amin;
    if (f->int_mode)
      f->sci_mode = ratio > 1000.0 || f->amax > 1.0e8;
    else
      f->sci_mode = ratio > 1000.0 || f->amax > 1.0e8 || f->amin < 1.0e-4;
  }
  walk(t, 0, t->offset, summarize, observe_width, f);
}

static void put_value(nb_text *b, const fmt *f, const nb_tensor *t, int64_t off) {
  char buf[64];
  int w = value_text(f, t, off, buf, sizeof buf);
  if (w < 0)
    w = 0;
  nb_text_spaces(b, f->width - w);
  nb_text_puts(b, buf);
}

/* ---- the body --------------------------------------------------------------------------- */

static void put_vector(nb_text *b, const fmt *f, const nb_tensor *t, int dim, int64_t off, int indent,
                       bool summarize) {
  int64_t n = t->shape[dim], s = t->strides[dim];
  int per_line = (LINEWIDTH - indent) / (f->width + 2);
  if (per_line < 1)
    per_line = 1;
  nb_text_puts(b, "[");
  int64_t item = 0; /* items written (values and the "..." marker) */
  for (int64_t i = 0; i < n; i++) {
    bool dots = summarize && n > 2 * EDGEITEMS && i == EDGEITEMS;
    if (item > 0) {
      if (item % per_line == 0) {
        nb_text_puts(b, ",\n");
        nb_text_spaces(b, indent + 1);
      } else {
        nb_text_puts(b, ", ");
      }
    }
    item++;
    if (dots) {
      nb_text_puts(b, " ...");
      i = n - EDGEITEMS - 1;
      continue;
    }
    put_value(b, f, t, off + i * s);
  }
  nb_text_puts(b, "]");
}

static void put_tensor(nb_text *b, const fmt *f, const nb_tensor *t, int dim, int64_t off, int indent,
                       bool summarize) {
  int sub_ndim = t->ndim - dim;
  if (sub_ndim == 0) {
    put_value(b, f, t, off);
    return;
  }
  if (sub_ndim == 1) {
    put_vector(b, f, t, dim, off, indent, summarize);
    return;
  }
  int64_t n = t->shape[dim], s = t->strides[dim];
  nb_text_puts(b, "[");
  for (int64_t i = 0; i < n; i++) {
    if (i > 0) {
      nb_text_puts(b, ",");
      for (int k = 0; k < sub_ndim - 1; k++)
        nb_text_puts(b, "\n");
      nb_text_spaces(b, indent + 1);
    }
    if (summarize && n > 2 * EDGEITEMS && i == EDGEITEMS) {
      nb_text_puts(b, "...");
      i = n - EDGEITEMS - 1;
      continue;
    }
    put_tensor(b, f, t, dim + 1, off + i * s, indent + 1, summarize);
  }
  nb_text_puts(b, "]");
}

static const char *torch_dtype(int dt) {
  switch (dt) {
  case NB_F32: return "torch.float32";
  case NB_F64: return "torch.float64";
  case NB_I64: return "torch.int64";
  default: return "torch.bool";
  }
}

char *nb_to_string(const nb_tensor *t) {
  if (!t) {
    nb_set_error(NB_EINVAL, "nb_to_string: tensor argument is NULL");
    return NULL;
  }
  static const char prefix[] = "tensor(";
  const int indent = (int)sizeof prefix - 1;
  nb_text b = {0};
  nb_text_puts(&b, prefix);
  char suffixes[4][160];
  int ns = 0;
  if (t->numel == 0) {
    nb_text_puts(&b, "[]");
    if (t->ndim != 1) {
      size_t pos = (size_t)snprintf(suffixes[ns], sizeof suffixes[ns], "size=(");
      for (int d = 0; d < t->ndim && pos < sizeof suffixes[ns]; d++)
        pos += (size_t)snprintf(suffixes[ns] + pos, sizeof suffixes[ns] - pos, d ? ", %lld" : "%lld",
                                (long long)t->shape[d]);
      if (pos < sizeof suffixes[ns])
        snprintf(suffixes[ns] + pos, sizeof suffixes[ns] - pos, ")");
      ns++;
    }
    if (t->dtype != NB_F32)
      snprintf(suffixes[ns++], sizeof suffixes[0], "dtype=%s", torch_dtype(t->dtype));
  } else {
    bool summarize = t->numel > THRESHOLD;
    fmt f;
    fmt_init(&f, t, summarize);
    put_tensor(&b, &f, t, 0, t->offset, indent, summarize);
    if (t->dtype == NB_F64)
      snprintf(suffixes[ns++], sizeof suffixes[0], "dtype=%s", torch_dtype(t->dtype));
  }
  nb_node *gf = nb_grad_fn(t);
  if (gf)
    snprintf(suffixes[ns++], sizeof suffixes[0], "grad_fn=<%s>", nb_node_name(gf));
  else if (nb_requires_grad(t))
    snprintf(suffixes[ns++], sizeof suffixes[0], "requires_grad=True");

  /* _add_suffixes: wrap a suffix onto its own line when it would pass the line width. */
  if (!b.oom) {
    const char *nl = strrchr(b.s, '\n');
    int last_len = (int)(nl ? strlen(nl + 1) : b.len) + 2;
    for (int i = 0; i < ns; i++) {
      int len = (int)strlen(suffixes[i]);
      if (last_len + len + 2 > LINEWIDTH) {
        nb_text_puts(&b, ",\n");
        nb_text_spaces(&b, indent);
        last_len = indent + len;
      } else {
        nb_text_puts(&b, ", ");
        last_len += len + 2;
      }
      nb_text_puts(&b, suffixes[i]);
    }
  }
  nb_text_puts(&b, ")");
  char *str = nb_text_take(&b);
  if (!str) nb_set_error(NB_ENOMEM, "nb_to_string: out of memory");
  return str;
}

int nb_fprint(FILE *f, const nb_tensor *t) {
  if (!f)
    return nb_set_error(NB_EINVAL, "nb_fprint: FILE is NULL");
  char *s = nb_to_string(t);
  if (!s)
    return nb_last_status();
  int rc = fprintf(f, "%s\n", s) < 0 ? nb_set_error(NB_EIO, "nb_fprint: write failed") : 0;
  free(s);
  return rc;
}

int nb_print(const nb_tensor *t) { return nb_fprint(stdout, t); }
