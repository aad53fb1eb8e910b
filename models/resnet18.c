/* models/resnet18.c — torchvision's ResNet-18 with its exact architecture, parameter names
 * (conv1, bn1, layer1.0.conv1, ..., layer2.0.downsample.0, fc) and initialisation.
 */
#include <math.h>
#include <string.h>

#include "models.h"

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
  nb_tensor *out = model_fwd(self, "bn1", model_fwd(self, "conv1", x));
  out = model_fwd(self, "relu", out);
  out = model_fwd(self, "bn2", model_fwd(self, "conv2", out));
  nb_module *down = NULL;
  for (int i = 0; i < nb_module_num_children(self); i++) {
    const char *name;
    nb_module *c = nb_module_child_at(self, i, &name);
    if (!strcmp(name, "downsample")) down = c;
  }
  nb_tensor *identity = down ? nb_module_forward(down, x) : x;
  out = out && identity ? nb_add(out, identity) : NULL;
  return model_fwd(self, "relu", out);
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
  return model_add_all(m, n, names, kids);
}

static nb_module *make_layer(int64_t inplanes, int64_t planes, int64_t stride, nb_generator *g) {
  nb_module *blocks[2] = {basic_block(inplanes, planes, stride, g),
                          basic_block(planes, planes, 1, g)};
  return nb_sequential_new(2, blocks);
}

static nb_tensor *resnet_forward(nb_module *self, nb_tensor *x) {
  static const char *const stages[] = {"conv1", "bn1",    "relu",   "maxpool", "layer1",
                                       "layer2", "layer3", "layer4", "avgpool"};
  for (int i = 0; i < 9; i++) x = model_fwd(self, stages[i], x);
  x = x ? nb_flatten(x, 1, -1) : NULL;
  return model_fwd(self, "fc", x);
}

nb_module *resnet18_new_width(int64_t base_width, int64_t num_classes, nb_generator *g) {
  if (num_classes <= 0) {
    nb_set_error(NB_EINVAL, "resnet18: num_classes must be positive, got %lld",
                 (long long)num_classes);
    return NULL;
  }
  if (base_width <= 0 || base_width > ((int64_t)1 << 40)) {
    nb_set_error(NB_EINVAL, "resnet18: base_width must be positive, got %lld",
                 (long long)base_width);
    return NULL;
  }
  static const char *const names[] = {"conv1",  "bn1",    "relu",   "maxpool", "layer1",
                                      "layer2", "layer3", "layer4", "avgpool", "fc"};
  const int64_t w = base_width;
  nb_module *m = nb_module_new("ResNet", resnet_forward, NULL, NULL);
  nb_module *kids[10] = {conv_kaiming(3, w, 7, 2, 3, g),    bn(w),
                         nb_relu_new(true),                 nb_max_pool2d_new(3, 2, 1),
                         make_layer(w, w, 1, g),            make_layer(w, 2 * w, 2, g),
                         make_layer(2 * w, 4 * w, 2, g),    make_layer(4 * w, 8 * w, 2, g),
                         nb_adaptive_avg_pool2d_new(1, 1),  nb_linear_new(8 * w, num_classes, true, g)};
  return model_add_all(m, 10, names, kids);
}

nb_module *resnet18_new(int64_t num_classes, nb_generator *g) {
  return resnet18_new_width(64, num_classes, g);
}
