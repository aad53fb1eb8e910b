/* test_graphviz.c — nb_graph_dot draws the seed's picture for Q = 3*a**3 - b**2:
 * a, b (AccumulateGrad) -> PowBackward -> MulBackward -> SubBackward <- PowBackward. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* Node id (the "nXXX" before " [label=\"NAME") for the first node labelled name. */
static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

/* Label of the node whose id is at `id` (up to the first space). */
static const char *label_of(const char *dot, const char *id, size_t len, char *out, size_t size) {
  char key[64];
  snprintf(key, sizeof key, "%.*s [label=\"", (int)len, id);
  const char *p = strstr(dot, key);
  if (!p) return "";
  p += strlen(key);
  size_t n = strcspn(p, "\\\"");
  snprintf(out, size, "%.*s", (int)n, p);
  return out;
}

START_TEST(seed_picture) {
  nb_scope_begin();
  nb_tensor *a = nb_requires_grad_(nb_from_doubles((double[]){2, 3}, 2, NB_F32));
  nb_tensor *b = nb_requires_grad_(nb_from_doubles((double[]){6, 4}, 2, NB_F32));
  nb_tensor *q = nb_sub(nb_mul_scalar(nb_pow_scalar(a, 3), 3), nb_pow_scalar(b, 2));
  ck_assert_ptr_nonnull(q);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ck_assert_int_eq(nb_graph_dot(q, f), 0);
  fclose(f);
  ck_assert_int_eq(count(buf, "AccumulateGrad"), 2);
  ck_assert_int_eq(count(buf, "\"PowBackward\""), 2);
  ck_assert_int_eq(count(buf, "\"MulBackward\""), 1);
  ck_assert_int_eq(count(buf, "\"SubBackward\""), 1);
  /* every edge, as "FROM-label>TO-label" */
  char edges[512] = "";
  for (const char *p = strstr(buf, " -> "); p; p = strstr(p + 4, " -> ")) {
    const char *from = p;
    while (from > buf && from[-1] != ' ') from--;
    const char *to = p + 4;
    size_t tl = strcspn(to, ";");
    char fl[64], tlab[64];
    label_of(buf, from, (size_t)(p - from), fl, sizeof fl);
    if (strncmp(to, "root", 4) == 0)
      snprintf(tlab, sizeof tlab, "root");
    else
      label_of(buf, to, tl, tlab, sizeof tlab);
    strncat(edges, fl, sizeof edges - strlen(edges) - 1);
    strncat(edges, ">", sizeof edges - strlen(edges) - 1);
    strncat(edges, tlab, sizeof edges - strlen(edges) - 1);
    strncat(edges, ";", sizeof edges - strlen(edges) - 1);
  }
  ck_assert_int_eq(count(edges, "AccumulateGrad>PowBackward;"), 2);
  ck_assert_int_eq(count(edges, "PowBackward>MulBackward;"), 1);
  ck_assert_int_eq(count(edges, "MulBackward>SubBackward;"), 1);
  ck_assert_int_eq(count(edges, "PowBackward>SubBackward;"), 1);
  ck_assert_int_eq(count(edges, "SubBackward>root;"), 1);
  ck_assert_int_eq(count(edges, ";"), 6);
  /* render it when Graphviz is installed */
  if (access("/usr/bin/dot", X_OK) == 0) {
    char path[] = "/tmp/nabla-dot-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
    close(fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "/usr/bin/dot -Tsvg %s -o /dev/null", path);
    ck_assert_int_eq(system(cmd), 0);
    unlink(path);
  }
  free(buf);
  nb_scope_end();
}
END_TEST

int main(void) {
  Suite *s = suite_create("graphviz");
  TCase *tc = tcase_create("dot");
  tcase_add_test(tc, seed_picture);
  suite_add_tcase(s, tc);
  return nb_test_run(s);
}
