/* models/models.h — the model zoo shared by examples, tests and benchmarks: the seed's
 * networks built from the user library's modules, with PyTorch's module names,
 * parameter names and initialisation. Not library API: each model is one file here.
 */
#ifndef NABLA_MODELS_H
#define NABLA_MODELS_H

#include <nabla/nabla.h>

/* The toy feed-forward net: fc1 Linear(10,5), fc2 Linear(5,5), fc3 Linear(5,1);
 * forward fc3(relu(fc2(relu(fc1(x))))). (toy_net.c) */
nb_module *toy_net_new(nb_generator *g);
/* The CIFAR "blitz" Net: conv1 Conv2d(3,6,5), pool MaxPool2d(2,2), conv2 Conv2d(6,16,5),
 * fc1 Linear(400,120), fc2 Linear(120,84), fc3 Linear(84,10); input [N,3,32,32].
 * (blitz_net.c) */
nb_module *blitz_net_new(nb_generator *g);
/* A LeNet-5-style CNN for [N,1,28,28] images (Fashion-MNIST): conv1 Conv2d(1,6,5,
 * padding=2), bn1 BatchNorm2d(6), pool MaxPool2d(2,2), conv2 Conv2d(6,16,5), bn2
 * BatchNorm2d(16), fc1 Linear(400,120), fc2 Linear(120,84), fc3 Linear(84,10); forward
 * pool(relu(bn(conv))) twice, then the three Linears with ReLUs between; 10 logits.
 * (lenet.c) */
nb_module *lenet_new(nb_generator *g);
/* torchvision's resnet18(num_classes) with its exact architecture, parameter names and
 * initialisation (kaiming-normal fan_out convs, BN 1/0, default Linear). 11,689,512
 * parameters for 1000 classes. (resnet18.c) */
nb_module *resnet18_new(int64_t num_classes, nb_generator *g);
/* The same topology with every channel count scaled: conv1 and layer1 have base_width
 * channels (torchvision: 64), layer2..layer4 2x, 4x and 8x that, fc takes 8*base_width
 * features. resnet18_new(c, g) is resnet18_new_width(64, c, g). Narrow variants keep the
 * PyTorch golden files of tests/models small. (resnet18.c) */
nb_module *resnet18_new_width(int64_t base_width, int64_t num_classes, nb_generator *g);
/* A character-level GPT (GPT-2's pre-LN decoder): wte Embedding(vocab, width), wpe
 * Embedding(context, width), h.0 .. h.<layers-1> Transformer blocks (ln_1, attn with
 * `heads` heads and a causal mask, ln_2, mlp with 4*width hidden units), ln_f LayerNorm,
 * lm_head Linear(width, vocab, bias=False). Forward: int64 ids [B, T <= context] ->
 * logits [B, T, vocab]. (gpt.c) */
nb_module *gpt_new(int64_t vocab, int64_t context, int64_t width, int64_t heads, int64_t layers,
                   nb_generator *g);

/* ---- helpers for writing models ---------------------------------------------------- */

/* Forward one child by name (NULL propagates). */
static inline nb_tensor *model_fwd(nb_module *self, const char *child, nb_tensor *x) {
  if (!x) return NULL;
  nb_module *c = nb_module_child(self, child);
  return c ? nb_module_forward(c, x) : NULL;
}

/* Add children in order; stops at the first failure (nb_module_add frees the rest). */
static inline nb_module *model_add_all(nb_module *m, int n, const char *const *names, nb_module *const *kids) {
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

#endif
