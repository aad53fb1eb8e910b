/* A program an out-of-tree user would write, built by install_test.sh against the
 * installed tree with `pkg-config --cflags --libs nabla` (only <nabla/nabla.h>).
 *
 * Usage: consumer EXPECTED_PLUGINS PLUGINSDIR [square]
 * Checks that the default plugin directory (found relative to the installed library;
 * the caller unsets NABLA_PLUGIN_SYSTEM_PATH) is PLUGINSDIR, that exactly
 * EXPECTED_PLUGINS plugins load, and that a tensor round-trips. With "square", also
 * calls the out-of-tree op of square_plugin.c by name and checks value and gradient. */
#define _XOPEN_SOURCE 700 /* realpath, PATH_MAX */
#include <nabla/nabla.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what) {
  fprintf(stderr, "consumer: %s: %s\n", what, nb_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: consumer EXPECTED_PLUGINS PLUGINSDIR [square]\n");
    return 2;
  }
  int expected = atoi(argv[1]);
  char want_dir[PATH_MAX], got_dir[PATH_MAX];
  if (!realpath(argv[2], want_dir)) {
    fprintf(stderr, "consumer: no plugin directory %s\n", argv[2]);
    return 1;
  }
  const char *def = nb_plugin_default_dir();
  if (!def || !realpath(def, got_dir) || strcmp(got_dir, want_dir) != 0) {
    fprintf(stderr, "consumer: default plugin dir is %s, expected %s\n", def ? def : "(null)",
            want_dir);
    return 1;
  }

  if (nb_plugins_load_all() < 0) return fail("nb_plugins_load_all");
  int loaded = 0;
  for (int i = 0; i < nb_plugin_report_count(); i++) {
    const nb_plugin_info *info = nb_plugin_report_at(i);
    printf("plugin %-12s %s %s\n", info->name ? info->name : "?",
           info->state == NB_PLUGIN_LOADED ? "loaded" : "NOT LOADED:", info->message);
    if (info->state == NB_PLUGIN_LOADED) loaded++;
  }
  if (loaded != expected) {
    fprintf(stderr, "consumer: %d plugins loaded, %d installed\n", loaded, expected);
    return 1;
  }

  if (nb_scope_begin() < 0) return fail("nb_scope_begin");
  const double v[3] = {1.5, -2.0, 4.0};
  nb_tensor *t = nb_from_doubles(v, 3, NB_F64);
  double back[3] = {0};
  if (!t || nb_to_doubles(t, back, 3) < 0) return fail("nb_from_doubles");
  if (memcmp(v, back, sizeof v) != 0) {
    fprintf(stderr, "consumer: tensor values did not round-trip\n");
    return 1;
  }
  if (argc == 4 && strcmp(argv[3], "square") == 0) {
    /* y = square(x) by name; backward with a gradient of ones gives 2x. */
    if (nb_set_requires_grad(t, true) < 0) return fail("nb_set_requires_grad");
    nb_tensor *y = nb_call1("square", 1, &t, 0, NULL);
    if (!y) return fail("square");
    if (nb_backward(y, nb_ones_like(y), 0) < 0) return fail("nb_backward");
    double yv[3], gv[3];
    if (nb_to_doubles(y, yv, 3) < 0 || !nb_grad(t) || nb_to_doubles(nb_grad(t), gv, 3) < 0)
      return fail("reading square's results");
    for (int i = 0; i < 3; i++)
      if (yv[i] != v[i] * v[i] || gv[i] != 2 * v[i]) {
        fprintf(stderr, "consumer: square(%g) = %g, grad %g; expected %g, %g\n", v[i], yv[i],
                gv[i], v[i] * v[i], 2 * v[i]);
        return 1;
      }
    printf("square: %s, grad_fn %s\n", "values and gradient right", nb_node_name(nb_grad_fn(y)));
  }
  nb_scope_end();
  printf("nabla %d.%d.%d: %d plugins, %d ops from %s\n", NB_VERSION_MAJOR, NB_VERSION_MINOR,
         NB_VERSION_PATCH, loaded, nb_op_count(), got_dir);
  if (nb_live_tensors() != 0) {
    fprintf(stderr, "consumer: %lld tensors alive after the scope closed\n",
            (long long)nb_live_tensors());
    return 1;
  }
  return 0;
}
