/* tools/gradcheck/result.c — one op's report: its failures, notes and verdict as JSON
 * (gc_result), and the lines a checking child sends its parent (runner.c): progress
 * ("S <sample> <desc>", so a crash names the sample) and the result ("R <json>"). Every
 * check file writes here; none of them calls back into another.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gradcheck.h"

/* ---- results ---------------------------------------------------------------------------- */

void gc_result_init(gc_result *r, const nb_op *op) {
  memset(r, 0, sizeof *r);
  r->d = nb_op_descriptor(op);
  r->json = cJSON_CreateObject();
  cJSON_AddStringToObject(r->json, "op", r->d->name);
  const char *pn = nb_op_plugin_name(op), *pp = nb_op_plugin_path(op);
  cJSON_AddStringToObject(r->json, "plugin", pn ? pn : "");
  cJSON_AddStringToObject(r->json, "plugin_path", pp ? pp : "");
  cJSON_AddBoolToObject(r->json, "double_backward", r->d->backward_graph != NULL);
  r->failures = cJSON_AddArrayToObject(r->json, "failures");
  r->notes = cJSON_AddArrayToObject(r->json, "notes");
}

void gc_fail(gc_result *r, int sample, const char *check, int output, int input, cJSON *entries,
             const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  r->n_failed++;
  cJSON *f = cJSON_CreateObject();
  cJSON_AddNumberToObject(f, "sample", sample);
  if (sample >= 0) cJSON_AddStringToObject(f, "desc", r->cur_desc ? r->cur_desc : "");
  cJSON_AddStringToObject(f, "check", check);
  if (output >= 0) {
    cJSON_AddNumberToObject(f, "output", output);
    if (output < r->d->n_outputs && r->d->outputs[output].name)
      cJSON_AddStringToObject(f, "output_name", r->d->outputs[output].name);
  }
  if (input >= 0) {
    cJSON_AddNumberToObject(f, "input", input);
    if (input < r->d->n_inputs && r->d->inputs[input].name)
      cJSON_AddStringToObject(f, "input_name", r->d->inputs[input].name);
  }
  cJSON_AddStringToObject(f, "message", msg);
  if (entries) cJSON_AddItemToObject(f, "entries", entries);
  cJSON_AddItemToArray(r->failures, f);
}

void gc_note(gc_result *r, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cJSON *it;
  cJSON_ArrayForEach(it, r->notes) if (strcmp(it->valuestring, msg) == 0) return;
  cJSON_AddItemToArray(r->notes, cJSON_CreateString(msg));
}

void gc_json_num(cJSON *obj, const char *key, double v) {
  if (isfinite(v))
    cJSON_AddNumberToObject(obj, key, v);
  else
    cJSON_AddStringToObject(obj, key, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

cJSON *gc_result_finish(gc_result *r) {
  const char *verdict = r->n_failed ? "fail" : r->not_diff ? "not differentiable" : r->samples ? "pass" : "no samples";
  cJSON_AddNumberToObject(r->json, "samples", r->samples);
  cJSON_AddNumberToObject(r->json, "checks", r->checks);
  gc_json_num(r->json, "worst_abs", r->worst_abs);
  gc_json_num(r->json, "worst_rel", r->worst_rel);
  cJSON_AddStringToObject(r->json, "verdict", verdict);
  cJSON *j = r->json;
  r->json = NULL;
  return j;
}

/* ---- the child's lines to its parent ------------------------------------------------------ */

static int progress_fd = -1;

static void write_all(int fd, const char *s, size_t n) {
  while (n) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

void gc_progress_open(int fd) { progress_fd = fd; }

void gc_report_result(const char *json) {
  if (progress_fd < 0) return;
  write_all(progress_fd, "R ", 2);
  write_all(progress_fd, json, strlen(json));
  write_all(progress_fd, "\n", 1);
}

void gc_progress(int sample, const char *desc) {
  if (progress_fd < 0) return;
  char line[256];
  int len = snprintf(line, sizeof line, "S %d %.200s", sample, desc ? desc : "");
  if (len < 0) return;
  if ((size_t)len >= sizeof line - 1) len = (int)sizeof line - 2;
  for (int i = 0; i < len; i++)
    if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
  line[len++] = '\n';
  write_all(progress_fd, line, (size_t)len);
}
