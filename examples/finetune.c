/* examples/finetune.c — the seed's finetuning: ResNet-18 as a fixed feature extractor.
 *
 *   model = torchvision.models.resnet18(weights=...)
 *   for p in model.parameters(): p.requires_grad = False
 *   model.fc = nn.Linear(512, 10)
 *   optimizer = SGD(model.fc.parameters(), lr=0.001, momentum=0.9)
 *   scheduler = StepLR(optimizer, step_size=7, gamma=0.1)
 *
 * Usage: finetune [WEIGHTS.safetensors] [EPOCHS]
 * WEIGHTS is a torchvision state_dict, e.g. from
 *   /usr/bin/python3 tools/torch_weights.py export resnet18 resnet18.safetensors
 * Without it the network keeps its random torchvision-style initialisation. The data are
 * synthetic 3x64x64 images whose label sets a brightness offset in one colour channel.
 */
#include <nabla/nabla.h>

#include "models.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_util.h" /* CHECK */

enum { BATCH = 8, STEPS_PER_EPOCH = 4, CLASSES = 10 };

int main(int argc, char **argv) {
  const char *weights = argc > 1 && strcmp(argv[1], "-") ? argv[1] : NULL;
  int epochs = argc > 2 ? atoi(argv[2]) : 3;
  nb_generator *gen = nb_generator_new(7);
  nb_module *model = resnet18_new(1000, gen);
  CHECK(model);
  if (weights) {
    int n = nb_module_load(model, weights, true);
    CHECK(n >= 0);
    printf("loaded %d tensors from %s\n", n, weights);
  }
  /* Freeze everything, then give the model a new (trainable) classifier. */
  CHECK(nb_module_set_requires_grad(model, false) == 0);
  CHECK(nb_module_replace(model, "fc", nb_linear_new(512, CLASSES, true, gen)) == 0);
  printf("model.fc = ");
  nb_module_print(nb_module_child(model, "fc"), stdout);
  printf("parameters: %lld, trainable: %lld\n", (long long)nb_module_num_parameters(model, false),
         (long long)nb_module_num_parameters(model, true));

  nb_named_tensors *fc = nb_module_named_parameters(nb_module_child(model, "fc"));
  nb_optimizer *opt = nb_optimizer_new("sgd", fc->n, fc->tensors, 2,
                                       (nb_attr[]){NB_A_FLOAT("lr", 0.001),
                                                   NB_A_FLOAT("momentum", 0.9)});
  CHECK(opt);
  nb_lr_scheduler *sched = nb_step_lr_new(opt, 7, 0.1);
  CHECK(sched);

  nb_scope_begin();
  nb_tensor *conv1_before = nb_copy_data(nb_module_get(model, "conv1.weight"));
  for (int epoch = 0; epoch < epochs; epoch++) {
    double total = 0;
    for (int s = 0; s < STEPS_PER_EPOCH; s++) {
      nb_scope_begin();
      nb_tensor *x = nb_randn(4, (int64_t[]){BATCH, 3, 64, 64}, NB_F32, gen);
      nb_tensor *labels = nb_randint(1, (int64_t[]){BATCH}, 0, CLASSES, gen);
      float *px = nb_data(x);
      for (int n = 0; n < BATCH; n++) { /* label k brightens channel k % 3 by (k / 3 + 1) / 2 */
        int64_t k = ((int64_t *)nb_data(labels))[n];
        for (int i = 0; i < 64 * 64; i++) px[(n * 3 + k % 3) * 64 * 64 + i] += 0.5f * (float)(k / 3 + 1);
      }
      CHECK(nb_optimizer_zero_grad(opt, true) == 0);
      nb_tensor *loss = nb_cross_entropy(nb_module_forward(model, x), labels, NULL, "mean", -100, 0);
      CHECK(loss);
      CHECK(nb_backward(loss, NULL, 0) == 0);
      CHECK(nb_optimizer_step(opt) == 0);
      total += nb_item(loss);
      nb_scope_end();
    }
    printf("epoch %d  lr %.6g  loss %.4f\n", epoch, nb_optimizer_get_lr(opt, 0),
           total / STEPS_PER_EPOCH);
    CHECK(nb_lr_scheduler_step(sched) == 0);
  }
  bool frozen_ok = memcmp(nb_data(conv1_before), nb_data(nb_module_get(model, "conv1.weight")),
                          (size_t)nb_numel(conv1_before) * sizeof(float)) == 0;
  printf("frozen conv1 unchanged: %s\n", frozen_ok ? "yes" : "NO");
  nb_scope_end();
  nb_lr_scheduler_free(sched);
  nb_optimizer_free(opt);
  nb_named_tensors_free(fc);
  nb_module_free(model);
  nb_generator_free(gen);
  return frozen_ok ? 0 : 1;
}
