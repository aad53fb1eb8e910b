/* libcore/resnet.c — the seed's networks built from modules: the toy feed-forward net,
 * the CIFAR "blitz" Net, and torchvision's ResNet-18 with its exact architecture,
 * parameter names (conv1, bn1, layer1.0.conv1, ..., layer2.0.downsample.0, fc) and
 * initialisation.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "nabla/module.h"

/* Forward one child by name (NULL propagates). */
static nb_tensor *fwd(nb_module *self, const char *child, nb_tensor *x) {
  if (!x) return NULL;
  nb_module *c = nb_module_child(self, child);
  return c ? nb_module_forward(c, x) : NULL;
}

/* Add children in order; stops at the first failure (nb_module_add frees the rest). */
static nb_module *add_all(nb_module *m, int n, const char *const *names, nb_module *const *kids) {
  int rc = m ? 0 : -1;
  for (int i = 0; i < n; i++) {
    if (rc >= 0) rc = nb_module_add(m, names[i], kids[i]);
    else nb_module_free(kids[i]);
  }
  if (rc < 0) {
    nb_module_free(m);
    return NULL;
  }
  return m;
}

/* ---- the toy net: 10 -> 5 -> 5 -> 1 ------------------------------------------------------ */

static nb_tensor *toy_forward(nb_module *self, nb_tensor *x) {
  x = fwd(self, "fc1", x);
  x = x ? nb_relu(x) : NULL;
  x = fwd(self, "fc2", x);
  x = x ? nb_relu(x) : NULL;
  return fwd(self, "fc3", x);
}

nb_module *nb_toy_net_new(nb_generator *g) {
  static const char *const names[] = {"fc1", "fc2", "fc3"};
  nb_module *m = nb_module_new("Net", toy_forward, NULL, NULL);
  nb_module *kids[] = {nb_linear_new(10, 5, true, g), nb_linear_new(5, 5, true, g),
                       nb_linear_new(5, 1, true, g)};
  return add_all(m, 3, names, kids);
}

/* ---- the blitz Net (CIFAR-10 tutorial) ------------------------------------------------------ */

static nb_tensor *blitz_forward(nb_module *self, nb_tensor *x) {
  x = fwd(self, "conv1", x);
  x = fwd(self, "pool", x ? nb_relu(x) : NULL);
  x = fwd(self, "conv2", x);
  x = fwd(self, "pool", x ? nb_relu(x) : NULL);
  x = x ? nb_flatten(x, 1, -1) : NULL;
  x = fwd(self, "fc1", x);
  x = fwd(self, "fc2", x ? nb_relu(x) : NULL);
  return fwd(self, "fc3", x ? nb_relu(x) : NULL);
}

nb_module *nb_blitz_net_new(nb_generator *g) {
  static const char *const names[] = {"conv1", "pool", "conv2", "fc1", "fc2", "fc3"};
  nb_module *m = nb_module_new("Net", blitz_forward, NULL, NULL);
  nb_module *kids[] = {nb_conv2d_new(3, 6, 5, 5, NULL, g),  nb_max_pool2d_new(2, 2, 0),
                       nb_conv2d_new(6, 16, 5, 5, NULL, g), nb_linear_new(16 * 5 * 5, 120, true, g),
                       nb_linear_new(120, 84, true, g),     nb_linear_new(84, 10, true, g)};
  return add_all(m, 6, names, kids);
}

/* ---- ResNet-18 ------------------------------------------------------------------------------- */

/* torchvision: conv weights ~ N(0, 2/fan_out) (kaiming_normal_, mode fan_out, relu). */
static nb_module *conv_kaiming(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad,
                               nb_generator *g) {
  nb_conv2d_opts o = {.stride = {stride, stride}, .padding = {pad, pad}, .no_bias = true};
  nb_module *c = nb_conv2d_new(in, out, k, k, &o, g);
  if (!c || nb_scope_begin() < 0) return c;
  int64_t shape[4] = {out, in, k, k};
  nb_tensor *w = nb_randn(4, shape, NB_F32, g);
  int rc = w ? 0 : nb_last_status();
  if (w) {
    float std = (float)(sqrt(2.0) / sqrt((double)(out * k * k))), *d = nb_data(w);
    for (int64_t i = 0, n = nb_numel(w); i < n; i++) d[i] *= std;
    rc = nb_module_register_parameter(c, "weight", w);
  }
  nb_scope_end();
  if (rc < 0) {
    nb_module_free(c);
    return NULL;
  }
  return c;
}

static nb_module *bn(int64_t c) { return nb_batch_norm2d_new(c, 1e-5, 0.1); }

static nb_tensor *basic_block_forward(nb_module *self, nb_tensor *x) {
  nb_tensor *out = fwd(self, "bn1", fwd(self, "conv1", x));
  out = fwd(self, "relu", out);
  out = fwd(self, "bn2", fwd(self, "conv2", out));
  nb_module *down = NULL;
  for (int i = 0; i < nb_module_num_children(self); i++) {
    const char *name;
    nb_module *c = nb_module_child_at(self, i, &name);
    if (!strcmp(name, "downsample")) down = c;
  }
  nb_tensor *identity = down ? nb_module_forward(down, x) : x;
  out = out && identity ? nb_add(out, identity) : NULL;
  return fwd(self, "relu", out);
}

static nb_module *basic_block(int64_t inplanes, int64_t planes, int64_t stride, nb_generator *g) {
  static const char *const names[] = {"conv1", "bn1", "relu", "conv2", "bn2", "downsample"};
  nb_module *m = nb_module_new("BasicBlock", basic_block_forward, NULL, NULL);
  nb_module *kids[6] = {conv_kaiming(inplanes, planes, 3, stride, 1, g), bn(planes),
                        nb_relu_new(true), conv_kaiming(planes, planes, 3, 1, 1, g), bn(planes),
                        NULL};
  int n = 5;
  if (stride != 1 || inplanes != planes) {
    nb_module *ds[2] = {conv_kaiming(inplanes, planes, 1, stride, 0, g), bn(planes)};
    kids[n++] = nb_sequential_new(2, ds);
  }
  return add_all(m, n, names, kids);
}

static nb_module *make_layer(int64_t inplanes, int64_t planes, int64_t stride, nb_generator *g) {
  nb_module *blocks[2] = {basic_block(inplanes, planes, stride, g),
                          basic_block(planes, planes, 1, g)};
  return nb_sequential_new(2, blocks);
}

static nb_tensor *resnet_forward(nb_module *self, nb_tensor *x) {
  static const char *const stages[] = {"conv1", "bn1",    "relu",   "maxpool", "layer1",
                                       "layer2", "layer3", "layer4", "avgpool"};
  for (int i = 0; i < 9; i++) x = fwd(self, stages[i], x);
  x = x ? nb_flatten(x, 1, -1) : NULL;
  return fwd(self, "fc", x);
}

nb_module *nb_resnet18_new(int64_t num_classes, nb_generator *g) {
  if (num_classes <= 0) {
    nb_set_error(NB_EINVAL, "resnet18: num_classes must be positive, got %lld",
                 (long long)num_classes);
    return NULL;
  }
  static const char *const names[] = {"conv1",  "bn1",    "relu",   "maxpool", "layer1",
                                      "layer2", "layer3", "layer4", "avgpool", "fc"};
  nb_module *m = nb_module_new("ResNet", resnet_forward, NULL, NULL);
  nb_module *kids[10] = {conv_kaiming(3, 64, 7, 2, 3, g),  bn(64),
                         nb_relu_new(true),                 nb_max_pool2d_new(3, 2, 1),
                         make_layer(64, 64, 1, g),          make_layer(64, 128, 2, g),
                         make_layer(128, 256, 2, g),        make_layer(256, 512, 2, g),
                         nb_adaptive_avg_pool2d_new(1, 1),  nb_linear_new(512, num_classes, true, g)};
  return add_all(m, 10, names, kids);
}
