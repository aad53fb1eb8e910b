/* examples/resnet18_step.c — the seed's headline, line for line: one training step of
 * torchvision's ResNet-18.
 *
 *   model = resnet18()                      # torchvision's architecture and initialisation
 *   data = torch.rand(1, 3, 64, 64)
 *   labels = torch.rand(1, 1000)
 *   prediction = model(data)                # forward pass
 *   loss = (prediction - labels).sum()
 *   loss.backward()                         # backward pass
 *   optim = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
 *   optim.step()                            # gradient descent
 *   print(loss); print(optim)
 *
 * It prints what PyTorch 2.x prints for print(loss) and print(optim) — nabla names the
 * node SumBackward where PyTorch says SumBackward0 — then how long each phase took.
 *
 * Usage: resnet18_step [WEIGHTS.safetensors]
 * WEIGHTS is a torchvision state_dict (the seed loads ResNet18_Weights.DEFAULT), e.g. from
 *   /usr/bin/python3 tools/torch_weights.py export resnet18 resnet18.safetensors
 * Without it the model keeps its random torchvision-style initialisation.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <nabla/nabla.h>

#include "models.h"
#include <stdio.h>
#include <time.h>

#include "example_util.h" /* CHECK */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  nb_generator *gen = nb_generator_new(0);
  nb_module *model = resnet18_new(1000, gen);
  CHECK(model);
  if (argc > 1) CHECK(nb_module_load(model, argv[1], true) >= 0);
  nb_scope_begin();
  nb_tensor *data = nb_rand(4, (int64_t[]){1, 3, 64, 64}, NB_F32, gen);
  nb_tensor *labels = nb_rand(2, (int64_t[]){1, 1000}, NB_F32, gen);
  CHECK(data && labels);

  double t0 = now_ms();
  nb_tensor *prediction = nb_module_forward(model, data); /* forward pass */
  nb_tensor *loss = prediction ? nb_sum(nb_sub(prediction, labels)) : NULL;
  CHECK(loss);
  double t1 = now_ms();
  CHECK(nb_backward(loss, NULL, 0) == 0); /* backward pass */
  double t2 = now_ms();
  nb_named_tensors *params = nb_module_named_parameters(model);
  CHECK(params);
  nb_optimizer *optim = nb_optimizer_new("sgd", params->n, params->tensors, 2,
                                         (nb_attr[]){NB_A_FLOAT("lr", 1e-2),
                                                     NB_A_FLOAT("momentum", 0.9)});
  CHECK(optim);
  double t3 = now_ms();
  CHECK(nb_optimizer_step(optim) == 0); /* gradient descent */
  double t4 = now_ms();

  CHECK(nb_print(loss) == 0);
  CHECK(nb_optimizer_print(optim, stdout) == 0);
  printf("forward: %.1f ms\nbackward: %.1f ms\nstep: %.1f ms\n", t1 - t0, t2 - t1, t4 - t3);

  nb_optimizer_free(optim);
  nb_named_tensors_free(params);
  nb_scope_end();
  nb_module_free(model);
  nb_generator_free(gen);
  return 0;
}
