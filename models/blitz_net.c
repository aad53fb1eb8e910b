/* models/blitz_net.c — the CNN of PyTorch's 60-minute blitz (CIFAR-10 tutorial).
 */
#include <math.h>
#include <string.h>

#include "models.h"

static nb_tensor *blitz_forward(nb_module *self, nb_tensor *x) {
  x = model_fwd(self, "conv1", x);
  x = model_fwd(self, "pool", x ? nb_relu(x) : NULL);
  x = model_fwd(self, "conv2", x);
  x = model_fwd(self, "pool", x ? nb_relu(x) : NULL);
  x = x ? nb_flatten(x, 1, -1) : NULL;
  x = model_fwd(self, "fc1", x);
  x = model_fwd(self, "fc2", x ? nb_relu(x) : NULL);
  return model_fwd(self, "fc3", x ? nb_relu(x) : NULL);
}

nb_module *blitz_net_new(nb_generator *g) {
  static const char *const names[] = {"conv1", "pool", "conv2", "fc1", "fc2", "fc3"};
  nb_module *m = nb_module_new("Net", blitz_forward, NULL, NULL);
  nb_module *kids[] = {nb_conv2d_new(3, 6, 5, 5, NULL, g),  nb_max_pool2d_new(2, 2, 0),
                       nb_conv2d_new(6, 16, 5, 5, NULL, g), nb_linear_new(16 * 5 * 5, 120, true, g),
                       nb_linear_new(120, 84, true, g),     nb_linear_new(84, 10, true, g)};
  return model_add_all(m, 6, names, kids);
}

