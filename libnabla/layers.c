/* libcore/layers.c — the usual layers as thin modules: each stores its configuration,
 * registers its parameters/buffers with PyTorch's names and default initialisation, and
 * its forward calls one op through the functional.h wrappers. extra_repr strings are
 * PyTorch's, so a printed model reads like `print(model)`.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/nabla.h>
#include "nabla/module.h"
#include "layers_internal.h"

typedef struct layer_cfg {
  int64_t kernel[2], stride[2], padding[2], dilation[2], groups; /* conv, pooling */
  int64_t start_dim, end_dim;                                   /* flatten */
  double eps, momentum, p;                                      /* batch norm, dropout */
  bool inplace, has_bias;
} layer_cfg;

/* Python's repr of a float (shortest round-trip digits; "0.1", "1e-05", "1.0"). */
#define py_float nb__py_float
const char *nb__py_float(double v, char *buf, size_t size) {
  if (!isfinite(v)) {
    snprintf(buf, size, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    return buf;
  }
  int prec = 1;
  for (; prec < 17; prec++) {
    snprintf(buf, size, "%.*e", prec - 1, v);
    if (strtod(buf, NULL) == v) break;
  }
  int exp10 = atoi(strchr(buf, 'e') + 1);
  if (exp10 < -4 || exp10 >= 16) return buf; /* "1e-05", "1.5e+16" like Python */
  int decimals = prec - 1 - exp10;
  snprintf(buf, size, "%.*f", decimals > 0 ? decimals : 0, v);
  if (!strchr(buf, '.')) strncat(buf, ".0", size - strlen(buf) - 1);
  return buf;
}

static const char *py_bool(bool b) { return b ? "True" : "False"; }

static layer_cfg *cfg_of(nb_module *m) { return nb_module_user(m); }

/* A module with a fresh zeroed config; the config is freed with the module. */
static nb_module *layer_new(const char *type, nb_module_forward_fn fwd, layer_cfg **cfg) {
  *cfg = calloc(1, sizeof **cfg);
  if (!*cfg) {
    nb_set_error(NB_ENOMEM, "%s: out of memory", type);
    return NULL;
  }
  return nb_module_new(type, fwd, *cfg, free);
}

/* Register weight (kaiming-uniform, a = √5) and optional bias (U(±1/√fan_in)) the way
 * torch.nn.Linear/Conv2d.reset_parameters do. Runs in its own scope. */
static int init_weight_bias(nb_module *m, int ndim, const int64_t *wshape, int64_t fan_in,
                            int64_t bias_n, nb_generator *g) {
  if (nb_scope_begin() < 0) return nb_last_status();
  /* fan_in 0 means a zero-element weight: PyTorch's init is then a no-op (bias zeros) */
  double gain = sqrt(2.0 / (1.0 + 5.0));
  nb_tensor *w = fan_in > 0 ? nb_rand_range(ndim, wshape, -sqrt(3.0) * (gain / sqrt((double)fan_in)),
                                            sqrt(3.0) * (gain / sqrt((double)fan_in)), NB_F32, g)
                            : nb_zeros(ndim, wshape, NB_F32);
  int rc = w ? nb_module_register_parameter(m, "weight", w) : nb_last_status();
  if (rc >= 0 && bias_n > 0) {
    double bb = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0.0;
    nb_tensor *b = bb > 0 ? nb_rand_range(1, &bias_n, -bb, bb, NB_F32, g) : nb_zeros(1, &bias_n, NB_F32);
    rc = b ? nb_module_register_parameter(m, "bias", b) : nb_last_status();
  }
  nb_scope_end();
  return rc;
}

static nb_module *fail(nb_module *m) {
  nb_module_free(m);
  return NULL;
}

/* ---- Linear -------------------------------------------------------------------------- */

static nb_tensor *linear_forward(nb_module *self, nb_tensor *x) {
  nb_tensor *w = nb_module_get(self, "weight");
  nb_tensor *b = cfg_of(self)->has_bias ? nb_module_get(self, "bias") : NULL;
  if (!w || (cfg_of(self)->has_bias && !b)) return NULL;
  return nb_linear(x, w, b);
}

nb_module *nb_linear_new(int64_t in_features, int64_t out_features, bool bias, nb_generator *g) {
  if (in_features < 0 || out_features < 0) {
    nb_set_error(NB_EINVAL, "Linear: features must be >= 0 (got in %lld, out %lld)",
                 (long long)in_features, (long long)out_features);
    return NULL;
  }
  layer_cfg *c;
  nb_module *m = layer_new("Linear", linear_forward, &c);
  if (!m) return NULL;
  c->has_bias = bias;
  char extra[128];
  snprintf(extra, sizeof extra, "in_features=%lld, out_features=%lld, bias=%s",
           (long long)in_features, (long long)out_features, py_bool(bias));
  int64_t shape[2] = {out_features, in_features};
  if (init_weight_bias(m, 2, shape, in_features, bias ? out_features : 0, g) < 0 ||
      nb_module_set_extra_repr(m, extra) < 0)
    return fail(m);
  return m;
}

/* ---- Conv2d -------------------------------------------------------------------------- */

static nb_tensor *conv2d_forward(nb_module *self, nb_tensor *x) {
  const layer_cfg *c = cfg_of(self);
  nb_tensor *w = nb_module_get(self, "weight");
  nb_tensor *b = c->has_bias ? nb_module_get(self, "bias") : NULL;
  if (!w || (c->has_bias && !b)) return NULL;
  return nb_conv2d(x, w, b, c->stride, c->padding, c->dilation, c->groups);
}

nb_module *nb_conv2d_new(int64_t in_channels, int64_t out_channels, int64_t kh, int64_t kw,
                         const nb_conv2d_opts *opts, nb_generator *g) {
  nb_conv2d_opts o = opts ? *opts : (nb_conv2d_opts){0};
  for (int i = 0; i < 2; i++) {
    if (o.stride[i] == 0) o.stride[i] = 1;
    if (o.dilation[i] == 0) o.dilation[i] = 1;
  }
  if (o.groups == 0) o.groups = 1;
  if (in_channels <= 0 || out_channels <= 0 || kh <= 0 || kw <= 0 || o.groups < 1 ||
      in_channels % o.groups || out_channels % o.groups || o.stride[0] < 1 || o.stride[1] < 1 ||
      o.padding[0] < 0 || o.padding[1] < 0 || o.dilation[0] < 1 || o.dilation[1] < 1) {
    nb_set_error(NB_EINVAL, "Conv2d: invalid configuration in %lld, out %lld, kernel (%lld, %lld), "
                 "stride (%lld, %lld), padding (%lld, %lld), dilation (%lld, %lld), groups %lld "
                 "(channels must divide by groups)", (long long)in_channels,
                 (long long)out_channels, (long long)kh, (long long)kw, (long long)o.stride[0],
                 (long long)o.stride[1], (long long)o.padding[0], (long long)o.padding[1],
                 (long long)o.dilation[0], (long long)o.dilation[1], (long long)o.groups);
    return NULL;
  }
  layer_cfg *c;
  nb_module *m = layer_new("Conv2d", conv2d_forward, &c);
  if (!m) return NULL;
  memcpy(c->stride, o.stride, sizeof c->stride);
  memcpy(c->padding, o.padding, sizeof c->padding);
  memcpy(c->dilation, o.dilation, sizeof c->dilation);
  c->kernel[0] = kh;
  c->kernel[1] = kw;
  c->groups = o.groups;
  c->has_bias = !o.no_bias;
  char extra[256];
  int n = snprintf(extra, sizeof extra, "%lld, %lld, kernel_size=(%lld, %lld), stride=(%lld, %lld)",
                   (long long)in_channels, (long long)out_channels, (long long)kh, (long long)kw,
                   (long long)o.stride[0], (long long)o.stride[1]);
  if (o.padding[0] || o.padding[1])
    n += snprintf(extra + n, sizeof extra - (size_t)n, ", padding=(%lld, %lld)",
                  (long long)o.padding[0], (long long)o.padding[1]);
  if (o.dilation[0] != 1 || o.dilation[1] != 1)
    n += snprintf(extra + n, sizeof extra - (size_t)n, ", dilation=(%lld, %lld)",
                  (long long)o.dilation[0], (long long)o.dilation[1]);
  if (o.groups != 1)
    n += snprintf(extra + n, sizeof extra - (size_t)n, ", groups=%lld", (long long)o.groups);
  if (o.no_bias) snprintf(extra + n, sizeof extra - (size_t)n, ", bias=False");
  int64_t shape[4] = {out_channels, in_channels / o.groups, kh, kw};
  if (init_weight_bias(m, 4, shape, shape[1] * kh * kw, o.no_bias ? 0 : out_channels, g) < 0 ||
      nb_module_set_extra_repr(m, extra) < 0)
    return fail(m);
  return m;
}

/* ---- BatchNorm2d ------------------------------------------------------------------------ */

static nb_tensor *batch_norm2d_forward(nb_module *self, nb_tensor *x) {
  const layer_cfg *c = cfg_of(self);
  nb_tensor *w = nb_module_get(self, "weight"), *b = nb_module_get(self, "bias");
  nb_tensor *rm = nb_module_get(self, "running_mean"), *rv = nb_module_get(self, "running_var");
  nb_tensor *nbt = nb_module_get(self, "num_batches_tracked");
  if (!w || !b || !rm || !rv || !nbt) return NULL;
  if (nb_ndim(x) != 4) {
    nb_set_error(NB_ESHAPE, "BatchNorm2d: expected 4D input [N,C,H,W], got %s", nb_shape_of(x));
    return NULL;
  }
  bool training = nb_module_is_training(self);
  if (training && nb_dtype_of(nbt) == NB_I64) { /* num_batches_tracked.add_(1) */
    *(int64_t *)nb_data(nbt) += 1;
    nb_bump_version(nbt);
  }
  return nb_batch_norm(x, rm, rv, w, b, training, c->momentum, c->eps);
}

nb_module *nb_batch_norm2d_new(int64_t num_features, double eps, double momentum) {
  if (num_features <= 0 || !(eps > 0) || !(momentum >= 0 && momentum <= 1)) {
    nb_set_error(NB_EINVAL, "BatchNorm2d: need num_features > 0, eps > 0 and momentum in [0, 1] "
                 "(got %lld, %g, %g)", (long long)num_features, eps, momentum);
    return NULL;
  }
  layer_cfg *c;
  nb_module *m = layer_new("BatchNorm2d", batch_norm2d_forward, &c);
  if (!m) return NULL;
  c->eps = eps;
  c->momentum = momentum;
  char e[40], mo[40], extra[200];
  snprintf(extra, sizeof extra, "%lld, eps=%s, momentum=%s, affine=True, track_running_stats=True",
           (long long)num_features, py_float(eps, e, sizeof e), py_float(momentum, mo, sizeof mo));
  int rc = nb_scope_begin();
  if (rc >= 0) {
    nb_tensor *t[5] = {nb_ones(1, &num_features, NB_F32), nb_zeros(1, &num_features, NB_F32),
                       nb_zeros(1, &num_features, NB_F32), nb_ones(1, &num_features, NB_F32),
                       nb_zeros(0, NULL, NB_I64)};
    for (int i = 0; i < 5 && rc >= 0; i++)
      if (!t[i]) rc = nb_last_status();
    if (rc >= 0) rc = nb_module_register_parameter(m, "weight", t[0]);
    if (rc >= 0) rc = nb_module_register_parameter(m, "bias", t[1]);
    if (rc >= 0) rc = nb_module_register_buffer(m, "running_mean", t[2]);
    if (rc >= 0) rc = nb_module_register_buffer(m, "running_var", t[3]);
    if (rc >= 0) rc = nb_module_register_buffer(m, "num_batches_tracked", t[4]);
    nb_scope_end();
  }
  if (rc < 0 || nb_module_set_extra_repr(m, extra) < 0) return fail(m);
  return m;
}

/* ---- parameter-free layers ---------------------------------------------------------------- */

static nb_tensor *relu_forward(nb_module *self, nb_tensor *x) {
  return cfg_of(self)->inplace ? nb_relu_(x) : nb_relu(x);
}

nb_module *nb_relu_new(bool inplace) {
  layer_cfg *c;
  nb_module *m = layer_new("ReLU", relu_forward, &c);
  if (!m) return NULL;
  c->inplace = inplace;
  if (inplace && nb_module_set_extra_repr(m, "inplace=True") < 0) return fail(m);
  return m;
}

static nb_tensor *max_pool2d_forward(nb_module *self, nb_tensor *x) {
  const layer_cfg *c = cfg_of(self);
  return nb_max_pool2d(x, c->kernel, c->stride, c->padding, c->dilation, false);
}

static nb_tensor *avg_pool2d_forward(nb_module *self, nb_tensor *x) {
  const layer_cfg *c = cfg_of(self);
  return nb_avg_pool2d(x, c->kernel, c->stride, c->padding, false, true);
}

static nb_module *pool_new(const char *type, nb_module_forward_fn fwd, int64_t k, int64_t s,
                           int64_t p, bool max) {
  if (s == 0) s = k;
  if (k <= 0 || s <= 0 || p < 0 || 2 * p > k) {
    nb_set_error(NB_EINVAL, "%s: need kernel_size > 0, stride > 0 and 0 <= padding <= "
                 "kernel_size/2 (got %lld, %lld, %lld)", type, (long long)k, (long long)s,
                 (long long)p);
    return NULL;
  }
  layer_cfg *c;
  nb_module *m = layer_new(type, fwd, &c);
  if (!m) return NULL;
  for (int i = 0; i < 2; i++) {
    c->kernel[i] = k;
    c->stride[i] = s;
    c->padding[i] = p;
    c->dilation[i] = 1;
  }
  char extra[160];
  if (max)
    snprintf(extra, sizeof extra, "kernel_size=%lld, stride=%lld, padding=%lld, dilation=1, "
             "ceil_mode=False", (long long)k, (long long)s, (long long)p);
  else
    snprintf(extra, sizeof extra, "kernel_size=%lld, stride=%lld, padding=%lld", (long long)k,
             (long long)s, (long long)p);
  if (nb_module_set_extra_repr(m, extra) < 0) return fail(m);
  return m;
}

nb_module *nb_max_pool2d_new(int64_t kernel_size, int64_t stride, int64_t padding) {
  return pool_new("MaxPool2d", max_pool2d_forward, kernel_size, stride, padding, true);
}

nb_module *nb_avg_pool2d_new(int64_t kernel_size, int64_t stride, int64_t padding) {
  return pool_new("AvgPool2d", avg_pool2d_forward, kernel_size, stride, padding, false);
}

static nb_tensor *adaptive_avg_pool2d_forward(nb_module *self, nb_tensor *x) {
  return nb_adaptive_avg_pool2d(x, cfg_of(self)->kernel);
}

nb_module *nb_adaptive_avg_pool2d_new(int64_t oh, int64_t ow) {
  if (oh <= 0 || ow <= 0) {
    nb_set_error(NB_EINVAL, "AdaptiveAvgPool2d: output size must be positive, got (%lld, %lld)",
                 (long long)oh, (long long)ow);
    return NULL;
  }
  layer_cfg *c;
  nb_module *m = layer_new("AdaptiveAvgPool2d", adaptive_avg_pool2d_forward, &c);
  if (!m) return NULL;
  c->kernel[0] = oh;
  c->kernel[1] = ow;
  char extra[80];
  snprintf(extra, sizeof extra, "output_size=(%lld, %lld)", (long long)oh, (long long)ow);
  if (nb_module_set_extra_repr(m, extra) < 0) return fail(m);
  return m;
}

static nb_tensor *flatten_forward(nb_module *self, nb_tensor *x) {
  return nb_flatten(x, cfg_of(self)->start_dim, cfg_of(self)->end_dim);
}

nb_module *nb_flatten_new(int64_t start_dim, int64_t end_dim) {
  layer_cfg *c;
  nb_module *m = layer_new("Flatten", flatten_forward, &c);
  if (!m) return NULL;
  c->start_dim = start_dim;
  c->end_dim = end_dim;
  char extra[80];
  snprintf(extra, sizeof extra, "start_dim=%lld, end_dim=%lld", (long long)start_dim,
           (long long)end_dim);
  if (nb_module_set_extra_repr(m, extra) < 0) return fail(m);
  return m;
}

static nb_tensor *dropout_forward(nb_module *self, nb_tensor *x) {
  return nb_dropout(x, cfg_of(self)->p, nb_module_is_training(self));
}

nb_module *nb_dropout_new(double p) {
  if (!(p >= 0 && p <= 1)) {
    nb_set_error(NB_EINVAL, "Dropout: probability has to be between 0 and 1, but got %g", p);
    return NULL;
  }
  layer_cfg *c;
  nb_module *m = layer_new("Dropout", dropout_forward, &c);
  if (!m) return NULL;
  c->p = p;
  char f[40], extra[80];
  snprintf(extra, sizeof extra, "p=%s, inplace=False", py_float(p, f, sizeof f));
  if (nb_module_set_extra_repr(m, extra) < 0) return fail(m);
  return m;
}

/* ---- Sequential ------------------------------------------------------------------------------ */

static nb_tensor *sequential_forward(nb_module *self, nb_tensor *x) {
  int n = nb_module_num_children(self);
  for (int i = 0; i < n && x; i++) {
    const char *name;
    x = nb_module_forward(nb_module_child_at(self, i, &name), x);
    if (!x) nb_error_prefix("Sequential (%s)", name);
  }
  return x;
}

int nb_sequential_append(nb_module *seq, nb_module *m) {
  char name[24];
  snprintf(name, sizeof name, "%d", nb_module_num_children(seq));
  return nb_module_add(seq, name, m);
}

nb_module *nb_sequential_new(int n, nb_module *const *mods) {
  nb_module *seq = (n >= 0 && (n == 0 || mods)) ? nb_module_new("Sequential", sequential_forward,
                                                                NULL, NULL)
                                                : NULL;
  if (!seq && n >= 0 && (n == 0 || mods)) { /* out of memory: still take the modules over */
    for (int i = 0; i < n; i++) nb_module_free(mods[i]);
    return NULL;
  }
  if (!seq) {
    nb_set_error(NB_EINVAL, "Sequential: %d modules with a NULL array", n);
    return NULL;
  }
  int rc = 0;
  for (int i = 0; i < n; i++) {
    if (rc >= 0) rc = nb_sequential_append(seq, mods[i]);
    else nb_module_free(mods[i]);
  }
  return rc < 0 ? fail(seq) : seq;
}
