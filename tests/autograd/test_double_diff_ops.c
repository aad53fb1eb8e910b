/* test_double_diff_ops.c — the committed list of double-differentiable ops
 * (double_differentiable_ops.txt, path in argv[1]) against the loaded plugins: an op
 * listed under [double] must set backward_graph, one under [single] must not (so the
 * README's "Current limits" stays true), and every built-in op with a backward must be
 * in one of the two lists. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include <nabla/registry.h>
#include <nabla/sdk/op.h>

#define MAX_NAMES 256

static const char *list_path;
static char names[MAX_NAMES][64];
static bool is_double[MAX_NAMES];
static int n_names;

/* Read the list: names after "[double]" or "[single]", '#' to end of line ignored. */
static void read_list(void) {
  FILE *f = fopen(list_path, "r");
  ck_assert_msg(f != NULL, "cannot open %s", list_path);
  char line[512];
  int section = -1;
  n_names = 0;
  while (fgets(line, sizeof line, f)) {
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    for (char *tok = strtok(line, " \t\r\n"); tok; tok = strtok(NULL, " \t\r\n")) {
      if (!strcmp(tok, "[double]") || !strcmp(tok, "[single]")) {
        section = !strcmp(tok, "[double]");
        continue;
      }
      ck_assert_msg(section >= 0, "%s: name %s before any section", list_path, tok);
      ck_assert_int_lt(n_names, MAX_NAMES);
      snprintf(names[n_names], sizeof names[0], "%s", tok);
      is_double[n_names++] = section;
    }
  }
  fclose(f);
  ck_assert_int_gt(n_names, 50);
}

static int find_name(const char *name) {
  for (int i = 0; i < n_names; i++)
    if (!strcmp(names[i], name)) return i;
  return -1;
}

START_TEST(listed_ops_keep_their_backward_graph) {
  read_list();
  for (int i = 0; i < n_names; i++) {
    const nb_op *op = nb_op_find(names[i]);
    ck_assert_msg(op != NULL, "listed op %s is not registered: %s", names[i], nb_last_error());
    const nb_op_desc *d = nb_op_descriptor(op);
    ck_assert_msg(d->backward != NULL, "listed op %s has no backward at all", names[i]);
    if (is_double[i])
      ck_assert_msg(d->backward_graph != NULL, "%s is listed as double-differentiable but has no backward_graph",
                    names[i]);
    else
      ck_assert_msg(d->backward_graph == NULL,
                    "%s now has a backward_graph: move it to [double] and out of README's Current limits",
                    names[i]);
  }
}
END_TEST

START_TEST(every_differentiable_op_is_listed) {
  read_list();
  ck_assert_ptr_nonnull(nb_op_find("add")); /* loads the plugins */
  for (int i = 0; i < nb_op_count(); i++) {
    const nb_op_desc *d = nb_op_descriptor(nb_op_at(i));
    if (d->backward == NULL) continue;
    ck_assert_msg(find_name(d->name) >= 0, "differentiable op %s (plugin %s) is in neither list of %s",
                  d->name, nb_op_plugin_name(nb_op_at(i)), list_path);
  }
}
END_TEST

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s double_differentiable_ops.txt\n", argv[0]);
    return 2;
  }
  list_path = argv[1];
  Suite *s = suite_create("double_diff_ops");
  TCase *tc = tcase_create("list");
  tcase_add_test(tc, listed_ops_keep_their_backward_graph);
  tcase_add_test(tc, every_differentiable_op_is_listed);
  suite_add_tcase(s, tc);
  return nb_test_run(s);
}
