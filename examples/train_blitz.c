/* examples/train_blitz.c — the CIFAR-10 "blitz" tutorial network trained from C.
 *
 *   net = Net(); criterion = CrossEntropyLoss()
 *   optimizer = SGD(net.parameters(), lr=0.001, momentum=0.9)
 *   for epoch in range(2): for inputs, labels in trainloader: ... loss.backward(); step()
 *   torch.save(net.state_dict(), PATH); net = Net(); net.load_state_dict(torch.load(PATH))
 *
 * There is no dataset on disk here, so the images are synthetic: noise plus a brightness
 * offset in one colour channel and one image quadrant chosen by the label, which a small
 * CNN learns quickly. Usage: train_blitz [EPOCHS] [OUT.safetensors]
 */
#include <nabla/nabla.h>

#include "models.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_util.h" /* CHECK */

enum { BATCH = 16, BATCHES = 32, CLASSES = 10 };

/* A batch of synthetic 3x32x32 images and their labels. */
static void make_batch(nb_generator *g, nb_tensor **x, nb_tensor **labels) {
  *x = nb_randn(4, (int64_t[]){BATCH, 3, 32, 32}, NB_F32, g);
  *labels = nb_randint(1, (int64_t[]){BATCH}, 0, CLASSES, g);
  float *px = nb_data(*x);
  const int64_t *pl = nb_data(*labels);
  for (int n = 0; n < BATCH; n++) {
    int64_t k = pl[n], c = k % 3, q = k / 3; /* channel and quadrant (0..3) */
    for (int h = 0; h < 16; h++)
      for (int w = 0; w < 16; w++)
        px[((n * 3 + c) * 32 + h + 16 * (q / 2)) * 32 + w + 16 * (q % 2)] += 1.5f;
  }
}

int main(int argc, char **argv) {
  int epochs = argc > 1 ? atoi(argv[1]) : 2;
  const char *path = argc > 2 ? argv[2] : "blitz_net.safetensors";
  nb_generator *gen = nb_generator_new(42);
  nb_module *net = blitz_net_new(gen);
  CHECK(net);
  nb_module_print(net, stdout);

  nb_named_tensors *params = nb_module_named_parameters(net);
  nb_optimizer *opt = nb_optimizer_new("sgd", params->n, params->tensors, 2,
                                       (nb_attr[]){NB_A_FLOAT("lr", 0.01),
                                                   NB_A_FLOAT("momentum", 0.9)});
  CHECK(opt);
  for (int epoch = 1; epoch <= epochs; epoch++) {
    double running = 0;
    for (int b = 1; b <= BATCHES; b++) {
      nb_scope_begin();
      nb_tensor *x, *labels;
      make_batch(gen, &x, &labels);
      CHECK(nb_optimizer_zero_grad(opt, true) == 0);
      nb_tensor *loss = nb_cross_entropy(nb_module_forward(net, x), labels, NULL, "mean", -100, 0);
      CHECK(loss);
      CHECK(nb_backward(loss, NULL, 0) == 0);
      CHECK(nb_optimizer_step(opt) == 0);
      running += nb_item(loss);
      if (b % 8 == 0) {
        printf("[%d, %3d] loss: %.3f\n", epoch, b, running / 8);
        running = 0;
      }
      nb_scope_end();
    }
  }
  printf("Finished Training\n");

  /* Save, load into a fresh net, and check that both give the same outputs. */
  CHECK(nb_module_save(net, path) == 0);
  nb_module *fresh = blitz_net_new(NULL);
  CHECK(fresh && nb_module_load(fresh, path, true) >= 0);
  nb_scope_begin();
  nb_tensor *x, *labels;
  make_batch(gen, &x, &labels);
  nb_no_grad_begin();
  nb_tensor *a = nb_module_forward(net, x), *b = nb_module_forward(fresh, x);
  CHECK(a && b);
  bool same = memcmp(nb_data(a), nb_data(b), sizeof(float) * BATCH * CLASSES) == 0;
  nb_tensor *idx;
  CHECK(nb_max_dim(a, 1, false, &idx));
  int correct = 0;
  for (int n = 0; n < BATCH; n++)
    correct += ((int64_t *)nb_data(idx))[n] == ((int64_t *)nb_data(labels))[n];
  nb_no_grad_end();
  printf("saved to %s; reloaded net gives identical outputs: %s; accuracy on a fresh batch: %d/%d\n",
         path, same ? "yes" : "NO", correct, BATCH);
  nb_scope_end();
  nb_optimizer_free(opt);
  nb_named_tensors_free(params);
  nb_module_free(fresh);
  nb_module_free(net);
  nb_generator_free(gen);
  return same ? 0 : 1;
}
