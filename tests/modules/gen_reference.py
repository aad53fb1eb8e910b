#!/usr/bin/python3
"""Generate the PyTorch reference files of tests/modules (Debian's python3-torch and
python3-torchvision): /usr/bin/python3 tests/modules/gen_reference.py

  repr_{toy,blitz,resnet18}.txt   print(model) of the seed's networks
  blitz_torch.safetensors         the blitz Net's state_dict (torch.manual_seed(0)) as
                                  written by tools/torch_weights.py
  modules_golden.safetensors      blitz forward/backward on fixed data with those weights
                                  ("blitz.x", "blitz.t", "blitz.y", "blitz.loss",
                                  "blitz.grad.<param>"); BatchNorm2d(3) after two training
                                  batches and in eval ("bn.*"); a Linear+Dropout eval check
"""
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from torch_weights import BlitzNet, ToyNet, build_model, save_safetensors  # noqa: E402


def main():
    torch.set_num_threads(1)
    for name, model in [("toy", ToyNet()), ("blitz", BlitzNet()), ("resnet18", build_model("resnet18"))]:
        with open(os.path.join(HERE, f"repr_{name}.txt"), "w") as f:
            f.write(repr(model) + "\n")

    torch.manual_seed(0)
    net = BlitzNet()
    save_safetensors(os.path.join(HERE, "blitz_torch.safetensors"), net.state_dict(), {"format": "pt"})
    out = {}
    x = torch.randn(2, 3, 32, 32)
    t = torch.randn(2, 10)
    y = net(x)
    loss = F.mse_loss(y, t)
    loss.backward()
    out.update({"blitz.x": x, "blitz.t": t, "blitz.y": y.detach(), "blitz.loss": loss.detach().reshape(1)})
    for k, p in net.named_parameters():
        out[f"blitz.grad.{k}"] = p.grad

    bn = torch.nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.0, -1.0, 0.25]))
    xb1 = torch.randn(4, 3, 5, 5) * 2 + 1
    xb2 = torch.randn(4, 3, 5, 5)
    bn(xb1)
    yb2 = bn(xb2)
    bn.eval()
    ye = bn(xb1)
    out.update({"bn.x1": xb1, "bn.x2": xb2, "bn.y2": yb2.detach(), "bn.eval_y": ye.detach(),
                "bn.running_mean": bn.running_mean, "bn.running_var": bn.running_var,
                "bn.num_batches_tracked": bn.num_batches_tracked})
    save_safetensors(os.path.join(HERE, "modules_golden.safetensors"), out, {"torch": torch.__version__})
    print("wrote reference files in", HERE)


if __name__ == "__main__":
    main()
