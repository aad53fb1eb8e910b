/* libnabla/metrics.c — the training metrics log (metrics.h): JSON Lines written one
 * flushed line per record, and the records kept in memory for plotting.
 *
 * Lines are written by hand (names are restricted to [A-Za-z0-9_], so nothing needs
 * escaping; numbers use the shortest "%.Ng" that reads back exactly) and read
 * back with cJSON. Resuming rewrites the kept records atomically (fileio.h), so an
 * interrupted resume never leaves a half-written log.
 */
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "nabla/metrics.h"

typedef struct record {
  char *kind;
  int64_t epoch, step;
  int n;
  char **names;
  double *values;
} record;

struct nb_metrics {
  FILE *f;    /* NULL: in memory only */
  char *path;
  record *r;
  int64_t n, cap;
};

static void record_clear(record *r) {
  free(r->kind);
  for (int i = 0; i < r->n; i++) free(r->names[i]);
  free(r->names);
  free(r->values);
}

void nb_metrics_close(nb_metrics *m) {
  if (!m) return;
  if (m->f) fclose(m->f);
  for (int64_t i = 0; i < m->n; i++) record_clear(&m->r[i]);
  free(m->r);
  free(m->path);
  free(m);
}

static bool valid_name(const char *s) {
  if (!s || !*s) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
      return false;
  return true;
}

static bool reserved(const char *s) {
  return !strcmp(s, "kind") || !strcmp(s, "epoch") || !strcmp(s, "step");
}

/* Append a copy of a record (names and kind copied). */
static int push(nb_metrics *m, const char *kind, int64_t epoch, int64_t step, int n,
                const char *const *names, const double *values) {
  if (m->n == m->cap) {
    int64_t cap = m->cap ? 2 * m->cap : 64;
    record *r = realloc(m->r, (size_t)cap * sizeof *r);
    if (!r) return nb_set_error(NB_ENOMEM, "metrics: out of memory");
    m->r = r;
    m->cap = cap;
  }
  record *r = &m->r[m->n];
  memset(r, 0, sizeof *r);
  r->kind = strdup(kind);
  r->epoch = epoch;
  r->step = step;
  r->names = calloc((size_t)n + 1, sizeof *r->names);
  r->values = calloc((size_t)n + 1, sizeof *r->values);
  bool ok = r->kind && r->names && r->values;
  for (int i = 0; ok && i < n; i++) {
    ok = (r->names[i] = strdup(names[i])) != NULL;
    r->values[i] = values[i];
    r->n = i + 1;
  }
  if (!ok) {
    record_clear(r);
    return nb_set_error(NB_ENOMEM, "metrics: out of memory");
  }
  m->n++;
  return 0;
}

/* The shortest "%.{N}g" that reads back as the same number: as a float when the value is
 * one (losses of float32 models: "0.2907336" rather than "0.29073357582092285"), else as
 * a double; "null" when not finite. */
static void fmt_number(char *buf, size_t size, double v) {
  if (!isfinite(v)) {
    snprintf(buf, size, "null");
    return;
  }
  bool is_float = fabs(v) < 3e38 && (double)(float)v == v;
  for (int prec = is_float ? 6 : 15; prec <= 17; prec++) {
    snprintf(buf, size, "%.*g", prec, v);
    if (is_float ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v) return;
  }
}

static int write_record(FILE *f, const record *r) {
  char num[40];
  fprintf(f, "{\"kind\":\"%s\",\"epoch\":%lld,\"step\":%lld", r->kind, (long long)r->epoch,
          (long long)r->step);
  for (int i = 0; i < r->n; i++) {
    fmt_number(num, sizeof num, r->values[i]);
    fprintf(f, ",\"%s\":%s", r->names[i], num);
  }
  fputs("}\n", f);
  return ferror(f) ? -1 : 0;
}

/* Parse one line into a record appended to m when its step <= max_step. */
static int parse_line(nb_metrics *m, const char *line, int64_t lineno, int64_t max_step) {
  cJSON *j = cJSON_Parse(line);
  int rc = 0;
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
  const cJSON *epoch = cJSON_GetObjectItemCaseSensitive(j, "epoch");
  const cJSON *step = cJSON_GetObjectItemCaseSensitive(j, "step");
  if (!cJSON_IsObject(j) || !cJSON_IsString(kind) || !valid_name(kind->valuestring) ||
      !cJSON_IsNumber(epoch) || !cJSON_IsNumber(step)) {
    rc = nb_set_error(NB_EINVAL, "metrics: %s:%lld is not a metrics record (a JSON object with "
                      "\"kind\", \"epoch\" and \"step\")", m->path, (long long)lineno);
  } else if ((int64_t)step->valuedouble <= max_step) {
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, j) n++;
    const char **names = calloc((size_t)n + 1, sizeof *names);
    double *values = calloc((size_t)n + 1, sizeof *values);
    int k = 0;
    if (!names || !values) rc = nb_set_error(NB_ENOMEM, "metrics: out of memory");
    cJSON_ArrayForEach(it, j) {
      if (rc < 0 || reserved(it->string)) continue;
      if (!valid_name(it->string) || !(cJSON_IsNumber(it) || cJSON_IsNull(it))) {
        rc = nb_set_error(NB_EINVAL, "metrics: %s:%lld: \"%s\" is not a named number", m->path,
                          (long long)lineno, it->string);
        continue;
      }
      names[k] = it->string;
      values[k++] = cJSON_IsNull(it) ? NAN : it->valuedouble;
    }
    if (rc >= 0)
      rc = push(m, kind->valuestring, (int64_t)epoch->valuedouble, (int64_t)step->valuedouble, k,
                names, values);
    free(names);
    free(values);
  }
  cJSON_Delete(j);
  return rc;
}

/* Read the records of `path` with step <= max_step into m; a missing file reads as
 * empty. */
static int read_back(nb_metrics *m, int64_t max_step) {
  FILE *f = fopen(m->path, "r");
  if (!f) {
    if (errno == ENOENT) return 0;
    return nb_set_error(NB_EIO, "metrics: cannot read %s: %s", m->path, strerror(errno));
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int64_t lineno = 0;
  int rc = 0;
  while (rc >= 0 && (len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    if (len == 0 || (len == 1 && line[0] == '\n')) continue;
    rc = parse_line(m, line, lineno, max_step);
  }
  if (rc >= 0 && ferror(f)) rc = nb_set_error(NB_EIO, "metrics: reading %s failed", m->path);
  free(line);
  fclose(f);
  return rc;
}

/* Rewrite the file with the records in memory (atomically), then leave it open for
 * appending. */
static int rewrite_and_open(nb_metrics *m) {
  char *buf = NULL;
  size_t size = 0;
  FILE *mem = open_memstream(&buf, &size);
  int rc = mem ? 0 : nb_set_error(NB_ENOMEM, "metrics: out of memory");
  for (int64_t i = 0; rc >= 0 && i < m->n; i++)
    if (write_record(mem, &m->r[i]) < 0) rc = nb_set_error(NB_ENOMEM, "metrics: out of memory");
  if (mem && fclose(mem) != 0 && rc >= 0) rc = nb_set_error(NB_ENOMEM, "metrics: out of memory");
  if (rc >= 0) rc = nb__write_file_atomic(m->path, buf, size, "metrics");
  free(buf);
  if (rc >= 0 && !(m->f = fopen(m->path, "a")))
    rc = nb_set_error(NB_EIO, "metrics: cannot open %s: %s", m->path, strerror(errno));
  return rc;
}

nb_metrics *nb_metrics_open(const char *path, int64_t resume_step) {
  nb_metrics *m = calloc(1, sizeof *m);
  if (!m) {
    nb_set_error(NB_ENOMEM, "metrics: out of memory");
    return NULL;
  }
  if (!path) return m;
  int rc = (m->path = strdup(path)) ? 0 : nb_set_error(NB_ENOMEM, "metrics: out of memory");
  if (rc >= 0 && resume_step >= 0) {
    rc = read_back(m, resume_step);
    if (rc >= 0) rc = rewrite_and_open(m);
  } else if (rc >= 0 && !(m->f = fopen(path, "w"))) {
    rc = nb_set_error(NB_EIO, "metrics: cannot create %s: %s", path, strerror(errno));
  }
  if (rc < 0) {
    nb_metrics_close(m);
    return NULL;
  }
  return m;
}

int nb_metrics_log(nb_metrics *m, const char *kind, int64_t epoch, int64_t step, int n,
                   const nb_metric *values) {
  if (!m || n < 0 || (n && !values)) return nb_set_error(NB_EINVAL, "nb_metrics_log: NULL argument");
  if (!valid_name(kind))
    return nb_set_error(NB_EINVAL, "nb_metrics_log: kind \"%s\" is not a name of letters, digits "
                        "and '_'", kind ? kind : "(null)");
  const char **names = calloc((size_t)n + 1, sizeof *names);
  double *v = calloc((size_t)n + 1, sizeof *v);
  int rc = names && v ? 0 : nb_set_error(NB_ENOMEM, "nb_metrics_log: out of memory");
  for (int i = 0; rc >= 0 && i < n; i++) {
    if (!valid_name(values[i].name) || reserved(values[i].name))
      rc = nb_set_error(NB_EINVAL, "nb_metrics_log: value name \"%s\" is not a name of letters, "
                        "digits and '_' other than kind, epoch and step",
                        values[i].name ? values[i].name : "(null)");
    for (int k = 0; rc >= 0 && k < i; k++)
      if (!strcmp(values[k].name, values[i].name))
        rc = nb_set_error(NB_EINVAL, "nb_metrics_log: value \"%s\" given twice", values[i].name);
    names[i] = values[i].name;
    v[i] = values[i].value;
  }
  if (rc >= 0) rc = push(m, kind, epoch, step, n, names, v);
  free(names);
  free(v);
  if (rc >= 0 && m->f && (write_record(m->f, &m->r[m->n - 1]) < 0 || fflush(m->f) != 0))
    rc = nb_set_error(NB_EIO, "nb_metrics_log: writing %s failed: %s", m->path, strerror(errno));
  return rc;
}

int64_t nb_metrics_count(const nb_metrics *m) { return m ? m->n : 0; }

int64_t nb_metrics_series(const nb_metrics *m, const char *kind, const char *name, double *steps,
                          double *values, int64_t cap) {
  if (!m || !kind || !name) return nb_set_error(NB_EINVAL, "nb_metrics_series: NULL argument");
  int64_t k = 0;
  for (int64_t i = 0; i < m->n; i++) {
    const record *r = &m->r[i];
    if (strcmp(r->kind, kind) != 0) continue;
    for (int j = 0; j < r->n; j++)
      if (!strcmp(r->names[j], name)) {
        if (k < cap) {
          if (steps) steps[k] = (double)r->step;
          if (values) values[k] = r->values[j];
        }
        k++;
        break;
      }
  }
  return k;
}
