/* models/toy_net.c — the seed's toy feed-forward net: 10 -> 5 -> 5 -> 1 with ReLUs.
 */
#include <math.h>
#include <string.h>

#include "models.h"

static nb_tensor *toy_forward(nb_module *self, nb_tensor *x) {
  x = model_fwd(self, "fc1", x);
  x = x ? nb_relu(x) : NULL;
  x = model_fwd(self, "fc2", x);
  x = x ? nb_relu(x) : NULL;
  return model_fwd(self, "fc3", x);
}

nb_module *toy_net_new(nb_generator *g) {
  static const char *const names[] = {"fc1", "fc2", "fc3"};
  nb_module *m = nb_module_new("Net", toy_forward, NULL, NULL);
  nb_module *kids[] = {nb_linear_new(10, 5, true, g), nb_linear_new(5, 5, true, g),
                       nb_linear_new(5, 1, true, g)};
  return model_add_all(m, 3, names, kids);
}

