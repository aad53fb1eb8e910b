/* tests/nn/refcase.c — reader and runner for PyTorch reference cases (see refcase.h). */
#include "refcase.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NABLA_TEST_SOURCE_ROOT
#define NABLA_TEST_SOURCE_ROOT "."
#endif

const char *ref_path(const char *rel) {
  static char buf[4096];
  const char *root = getenv("NABLA_SOURCE_ROOT");
  snprintf(buf, sizeof buf, "%s/%s", root && root[0] ? root : NABLA_TEST_SOURCE_ROOT, rel);
  return buf;
}

/* Parse "NDIM DIMS... VALUES..." starting at s. */
static int parse_tensor(char *s, ref_tensor *t, bool is_int) {
  char *end;
  memset(t, 0, sizeof *t);
  t->present = true;
  t->is_int = is_int;
  t->nd = (int)strtol(s, &end, 10);
  if (end == s || t->nd < 0 || t->nd > NB_MAX_DIMS) return -1;
  s = end;
  t->n = 1;
  for (int d = 0; d < t->nd; d++) {
    t->shape[d] = strtoll(s, &end, 10);
    if (end == s) return -1;
    s = end;
    t->n *= t->shape[d];
  }
  t->v = calloc((size_t)(t->n > 0 ? t->n : 1), sizeof(double));
  if (t->v == NULL) return -1;
  for (int64_t i = 0; i < t->n; i++) {
    t->v[i] = strtod(s, &end);
    if (end == s) return -1;
    s = end;
  }
  return 0;
}

static void free_tensor(ref_tensor *t) {
  free(t->v);
  t->v = NULL;
}

int ref_load(const char *path, ref_case **cases) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "ref_load: cannot open %s\n", path);
    return -1;
  }
  size_t cap = 1 << 20;
  char *line = malloc(cap);
  int n = 0, ncap = 0;
  ref_case *cs = NULL, *c = NULL;
  int rc = 0;
  while (fgets(line, (int)cap, f)) {
    char kw[16];
    int off = 0;
    if (line[0] == '#' || sscanf(line, "%15s%n", kw, &off) != 1) continue;
    char *rest = line + off;
    if (strcmp(kw, "case") == 0) {
      if (n == ncap) {
        ncap = ncap ? 2 * ncap : 32;
        cs = realloc(cs, sizeof *cs * (size_t)ncap);
      }
      c = &cs[n++];
      memset(c, 0, sizeof *c);
      if (sscanf(rest, "%63s %63s", c->name, c->op) != 2) rc = -1;
    } else if (c == NULL) {
      rc = -1;
    } else if (strcmp(kw, "in") == 0) {
      char nm[32], ty[8];
      int o2 = 0;
      if (c->n_in >= REF_MAX || sscanf(rest, "%31s %7s%n", nm, ty, &o2) != 2) {
        rc = -1;
      } else {
        ref_tensor *t = &c->in[c->n_in++];
        if (strcmp(ty, "none") != 0 && parse_tensor(rest + o2, t, ty[0] == 'i') < 0) rc = -1;
      }
    } else if (strcmp(kw, "attr") == 0) {
      int k = c->n_attr++, o2 = 0;
      char ty[8];
      nb_attr *a = &c->attr[k];
      if (k >= REF_MAX || sscanf(rest, "%31s %7s%n", c->attr_name[k], ty, &o2) != 2) {
        rc = -1;
        continue;
      }
      a->name = c->attr_name[k];
      char *v = rest + o2, *end;
      if (strcmp(ty, "int") == 0) {
        *a = NB_A_INT(c->attr_name[k], strtoll(v, NULL, 10));
      } else if (strcmp(ty, "bool") == 0) {
        *a = NB_A_BOOL(c->attr_name[k], strtol(v, NULL, 10));
      } else if (strcmp(ty, "float") == 0) {
        *a = NB_A_FLOAT(c->attr_name[k], strtod(v, NULL));
      } else if (strcmp(ty, "str") == 0) {
        sscanf(v, "%31s", c->attr_str[k]);
        *a = NB_A_STR(c->attr_name[k], c->attr_str[k]);
      } else if (strcmp(ty, "ints") == 0) {
        a->type = NB_ATTR_INTS;
        a->v.ints.n = (int)strtol(v, &end, 10);
        for (int i = 0; i < a->v.ints.n && i < NB_MAX_DIMS; i++) {
          v = end;
          a->v.ints.v[i] = strtoll(v, &end, 10);
        }
      } else {
        rc = -1;
      }
    } else if (strcmp(kw, "out") == 0) {
      if (parse_tensor(rest, &c->out, false) < 0) rc = -1;
    } else if (strcmp(kw, "gout") == 0) {
      if (parse_tensor(rest, &c->gout, false) < 0) rc = -1;
    } else if (strcmp(kw, "grad") == 0 || strcmp(kw, "after") == 0) {
      char *end;
      long i = strtol(rest, &end, 10);
      if (i < 0 || i >= REF_MAX ||
          parse_tensor(end, kw[0] == 'g' ? &c->grad[i] : &c->after[i], false) < 0)
        rc = -1;
    }
    if (rc < 0) {
      fprintf(stderr, "ref_load: %s: cannot parse line starting \"%.60s\"\n", path, line);
      break;
    }
  }
  free(line);
  fclose(f);
  if (rc < 0) {
    ref_free(cs, n);
    return -1;
  }
  *cases = cs;
  return n;
}

void ref_free(ref_case *cs, int n) {
  for (int k = 0; k < n; k++) {
    for (int i = 0; i < REF_MAX; i++) {
      free_tensor(&cs[k].in[i]);
      free_tensor(&cs[k].grad[i]);
      free_tensor(&cs[k].after[i]);
    }
    free_tensor(&cs[k].out);
    free_tensor(&cs[k].gout);
  }
  free(cs);
}

static nb_tensor *make(const ref_tensor *t, nb_dtype dt) {
  if (t->is_int) {
    int64_t *iv = malloc(sizeof(int64_t) * (size_t)(t->n > 0 ? t->n : 1));
    for (int64_t i = 0; i < t->n; i++) iv[i] = (int64_t)t->v[i];
    nb_tensor *r = nb_from_data(iv, t->nd, t->shape, NB_I64);
    free(iv);
    return r;
  }
  nb_tensor *r = nb_from_data(t->v, t->nd, t->shape, NB_F64);
  return dt == NB_F64 || r == NULL ? r : nb_convert(r, dt);
}

static int compare(const char *what, const nb_tensor *a, const ref_tensor *e, double atol, double rtol,
                   char *msg, size_t msz) {
  if (a == NULL) {
    snprintf(msg, msz, "%s: missing (%s)", what, nb_last_error());
    return -1;
  }
  bool same = nb_ndim(a) == e->nd;
  for (int d = 0; same && d < e->nd; d++) same = nb_shape(a)[d] == e->shape[d];
  if (!same) {
    char buf[128];
    snprintf(msg, msz, "%s: shape %s, expected %s", what, nb_shape_of(a),
             nb_shape_str(e->nd, e->shape, buf, sizeof buf));
    return -1;
  }
  double *v = malloc(sizeof(double) * (size_t)(e->n > 0 ? e->n : 1));
  nb_to_doubles(a, v, e->n);
  int rc = 0;
  for (int64_t i = 0; i < e->n && rc == 0; i++) {
    double x = v[i], y = e->v[i];
    bool ok = isinf(y) ? x == y : fabs(x - y) <= atol + rtol * fabs(y);
    if (!ok) {
      snprintf(msg, msz, "%s[%lld] = %.17g, expected %.17g", what, (long long)i, x, y);
      rc = -1;
    }
  }
  free(v);
  return rc;
}

int ref_run(const ref_case *c, nb_dtype dt, double atol, double rtol, char *msg, size_t msz) {
  nb_scope_begin();
  nb_tensor *in[REF_MAX] = {0};
  int rc = 0;
  for (int i = 0; i < c->n_in; i++) {
    if (!c->in[i].present) continue;
    in[i] = make(&c->in[i], dt);
    if (c->grad[i].present) nb_set_requires_grad(in[i], true);
  }
  nb_tensor *y = NULL;
  if (nb_call(c->op, c->n_in, in, c->n_attr, c->attr, 1, &y) < 0) {
    snprintf(msg, msz, "%s: call failed: %s", c->name, nb_last_error());
    rc = -1;
  }
  char what[96];
  snprintf(what, sizeof what, "%s out", c->name);
  if (rc == 0) rc = compare(what, y, &c->out, atol, rtol, msg, msz);
  for (int i = 0; rc == 0 && i < c->n_in; i++) {
    snprintf(what, sizeof what, "%s input %d after the call", c->name, i);
    if (c->after[i].present) rc = compare(what, in[i], &c->after[i], atol, rtol, msg, msz);
  }
  bool any_grad = false;
  for (int i = 0; i < c->n_in; i++) any_grad |= c->grad[i].present;
  if (rc == 0 && any_grad) {
    if (nb_backward(y, make(&c->gout, dt), 0) < 0) {
      snprintf(msg, msz, "%s: backward failed: %s", c->name, nb_last_error());
      rc = -1;
    }
    for (int i = 0; rc == 0 && i < c->n_in; i++) {
      snprintf(what, sizeof what, "%s grad of input %d", c->name, i);
      if (c->grad[i].present) rc = compare(what, nb_grad(in[i]), &c->grad[i], atol, rtol, msg, msz);
    }
  }
  nb_scope_end();
  return rc;
}

static ref_case *suite_cases;
static int n_suite_cases;

int ref_suite_load(const char *rel) {
  n_suite_cases = ref_load(ref_path(rel), &suite_cases);
  return n_suite_cases;
}

void ref_suite_free(void) {
  ref_free(suite_cases, n_suite_cases);
  suite_cases = NULL;
  n_suite_cases = 0;
}

START_TEST(test_reference_f64) {
  char msg[512] = "";
  ck_assert_msg(ref_run(&suite_cases[_i], NB_F64, 1e-10, 1e-9, msg, sizeof msg) == 0, "%s", msg);
}
END_TEST

START_TEST(test_reference_f32) {
  char msg[512] = "";
  ck_assert_msg(ref_run(&suite_cases[_i], NB_F32, 2e-5, 2e-4, msg, sizeof msg) == 0, "%s", msg);
}
END_TEST

TCase *ref_tcase(void) {
  TCase *tr = tcase_create("pytorch reference");
  tcase_add_loop_test(tr, test_reference_f64, 0, n_suite_cases);
  tcase_add_loop_test(tr, test_reference_f32, 0, n_suite_cases);
  return tr;
}
