/* examples/train_toy.c — the seed's toy network trained from C.
 *
 *   net = Net()                      # fc1 10->5, fc2 5->5, fc3 5->1, ReLU between
 *   optimizer = SGD(net.parameters(), lr=0.1); 100 steps of MSELoss
 *   freeze fc2; Adam(lr=0.1) for 100 steps: fc2 does not move
 *   unfreeze fc2; 100 more Adam steps
 *
 * Run: ./examples/train_toy   (build tree: `meson devenv -C build` sets the plugin path)
 */
#include <nabla/nabla.h>

#include "models.h"
#include <stdio.h>
#include <string.h>

#include "example_util.h" /* CHECK */

/* One epoch of full-batch training: zero_grad, forward, MSELoss, backward, step. */
static int train(nb_module *net, nb_optimizer *opt, nb_tensor *x, nb_tensor *y, int steps,
                 const char *tag) {
  for (int s = 1; s <= steps; s++) {
    nb_scope_begin(); /* everything made in one step is freed at its end */
    CHECK(nb_optimizer_zero_grad(opt, true) == 0);
    nb_tensor *loss = nb_mse_loss(nb_module_forward(net, x), y, "mean");
    CHECK(loss);
    CHECK(nb_backward(loss, NULL, 0) == 0);
    CHECK(nb_optimizer_step(opt) == 0);
    if (s % 25 == 0) printf("%s step %3d  loss %.6f\n", tag, s, nb_item(loss));
    nb_scope_end();
  }
  return 0;
}

int main(void) {
  nb_generator *gen = nb_generator_new(0);
  nb_module *net = toy_net_new(gen);
  CHECK(net);
  nb_module_print(net, stdout);
  printf("parameters: %lld\n", (long long)nb_module_num_parameters(net, false));

  nb_scope_begin();
  nb_tensor *x = nb_randn(2, (int64_t[]){32, 10}, NB_F32, gen);
  nb_tensor *y = nb_randn(2, (int64_t[]){32, 1}, NB_F32, gen);

  nb_named_tensors *params = nb_module_named_parameters(net);
  nb_optimizer *sgd = nb_optimizer_new("sgd", params->n, params->tensors, 1,
                                       (nb_attr[]){NB_A_FLOAT("lr", 0.1)});
  CHECK(sgd);
  CHECK(train(net, sgd, x, y, 100, "sgd ") == 0);
  nb_optimizer_free(sgd);

  /* Freeze fc2: its parameters get no grad, so Adam leaves them alone. */
  nb_module *fc2 = nb_module_child(net, "fc2");
  CHECK(nb_module_set_requires_grad(fc2, false) == 0);
  nb_tensor *fc2_before = nb_copy_data(nb_module_get(net, "fc2.weight"));
  nb_optimizer *adam = nb_optimizer_new("adam", params->n, params->tensors, 1,
                                        (nb_attr[]){NB_A_FLOAT("lr", 0.1)});
  CHECK(adam);
  CHECK(train(net, adam, x, y, 100, "adam (fc2 frozen)") == 0);
  bool same = memcmp(nb_data(fc2_before), nb_data(nb_module_get(net, "fc2.weight")),
                     25 * sizeof(float)) == 0;
  printf("fc2 unchanged while frozen: %s\n", same ? "yes" : "NO");

  CHECK(nb_module_set_requires_grad(fc2, true) == 0);
  CHECK(train(net, adam, x, y, 100, "adam (all)") == 0);
  nb_optimizer_free(adam);
  nb_named_tensors_free(params);
  nb_scope_end();
  nb_module_free(net);
  nb_generator_free(gen);
  return same ? 0 : 1;
}
