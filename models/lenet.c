/* models/lenet.c — a LeNet-5-style CNN for 1x28x28 images (MNIST, Fashion-MNIST), with
 * batch norm after each convolution:
 *
 *   class LeNet(nn.Module):
 *       def __init__(self):
 *           super().__init__()
 *           self.conv1 = nn.Conv2d(1, 6, 5, padding=2); self.bn1 = nn.BatchNorm2d(6)
 *           self.pool = nn.MaxPool2d(2, 2)
 *           self.conv2 = nn.Conv2d(6, 16, 5);           self.bn2 = nn.BatchNorm2d(16)
 *           self.fc1 = nn.Linear(16 * 5 * 5, 120)
 *           self.fc2 = nn.Linear(120, 84)
 *           self.fc3 = nn.Linear(84, 10)
 *       def forward(self, x):                           # [N,1,28,28]
 *           x = self.pool(F.relu(self.bn1(self.conv1(x))))   # [N,6,14,14]
 *           x = self.pool(F.relu(self.bn2(self.conv2(x))))   # [N,16,5,5]
 *           x = torch.flatten(x, 1)
 *           x = F.relu(self.fc1(x))
 *           x = F.relu(self.fc2(x))
 *           return self.fc3(x)                          # logits [N,10]
 *
 * PyTorch's default initialisation (nabla's layers follow it). examples/train_fashion.py
 * builds the same network in PyTorch.
 */
#include "models.h"

static nb_tensor *lenet_forward(nb_module *self, nb_tensor *x) {
  x = model_fwd(self, "bn1", model_fwd(self, "conv1", x));
  x = model_fwd(self, "pool", x ? nb_relu(x) : NULL);
  x = model_fwd(self, "bn2", model_fwd(self, "conv2", x));
  x = model_fwd(self, "pool", x ? nb_relu(x) : NULL);
  x = x ? nb_flatten(x, 1, -1) : NULL;
  x = model_fwd(self, "fc1", x);
  x = model_fwd(self, "fc2", x ? nb_relu(x) : NULL);
  return model_fwd(self, "fc3", x ? nb_relu(x) : NULL);
}

nb_module *lenet_new(nb_generator *g) {
  /* Children in PyTorch's registration order, so state_dict keys come out the same. */
  static const char *const names[] = {"conv1", "bn1", "pool", "conv2", "bn2", "fc1", "fc2", "fc3"};
  nb_module *m = nb_module_new("LeNet", lenet_forward, NULL, NULL);
  nb_module *kids[] = {nb_conv2d_new(1, 6, 5, 5, &(nb_conv2d_opts){.padding = {2, 2}}, g),
                       nb_batch_norm2d_new(6, 1e-5, 0.1),
                       nb_max_pool2d_new(2, 2, 0),
                       nb_conv2d_new(6, 16, 5, 5, NULL, g),
                       nb_batch_norm2d_new(16, 1e-5, 0.1),
                       nb_linear_new(16 * 5 * 5, 120, true, g),
                       nb_linear_new(120, 84, true, g),
                       nb_linear_new(84, 10, true, g)};
  return model_add_all(m, 8, names, kids);
}
