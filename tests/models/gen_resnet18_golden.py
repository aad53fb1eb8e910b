#!/usr/bin/python3
"""Generate the PyTorch golden files of tests/models (Debian's python3-torch):

    /usr/bin/python3 tests/models/gen_resnet18_golden.py

writes, for torchvision's ResNet-18 topology narrowed to base width 4 (channels 4/8/16/32
instead of 64/128/256/512), 10 classes and a 2x3x48x48 input (layer4 still sees 2x2
pixels, so its batch norms average 8 values per channel):

  resnet18_w4_init.safetensors    the initial state_dict (torchvision's initialisation
                                  under torch.manual_seed(0), then batch-norm affine
                                  parameters and running statistics perturbed so that
                                  they are not 1/0), loaded by the test with nb_module_load
  resnet18_w4_golden.safetensors  what PyTorch computes from it in float32, train mode:
    input.x [N,3,S,S] = rand, input.labels [N,C] = rand, input.target [N] = randint
    step 1, the seed's loss:  logits = model(x); loss = (logits - labels).sum()
      step1.logits, step1.loss, step1.grad.<param> (every parameter),
      step1.buffer.<bn buffer> (running_mean, running_var, num_batches_tracked after the
      forward), step1.param.<param> after SGD(lr=1e-2, momentum=0.9).step()
    step 2, zero_grad then cross-entropy: loss = F.cross_entropy(model(x), target)
      step2.logits, step2.loss, step2.buffer.<bn buffer>, step2.grad.<param>,
      step2.param.<param> (the momentum buffers, 0.9 * step1.grad + step2.grad, are not
      stored: the test derives them, which keeps the files under 1 MB)

The topology is built here in plain torch.nn, mirroring torchvision.models.resnet18
(same module names, same forward, same initialisation), because Debian's torchvision is
not always installed. With --torchvision the model is torchvision's own resnet18 (which
needs --width 64); its state_dict keys and shapes are first checked against this file's
copy. tests/models/run_full_golden.sh uses that for a full-width run (or, with
NABLA_RESNET18_FULL=1 and no torchvision, this file's copy):

    gen_resnet18_golden.py --torchvision --width 64 --classes 1000 --batch 2 --size 64 \\
        --prefix /tmp/resnet18_full
"""
import argparse
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from torch_weights import save_safetensors  # noqa: E402

LR, MOMENTUM = 1e-2, 0.9


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock (expansion 1, groups 1, dilation 1)."""

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """torchvision.models.resnet.ResNet(BasicBlock, [2, 2, 2, 2]) with conv1/layer1 width
    `width` (torchvision: 64); resnet18() is ResNet(64, num_classes)."""

    def __init__(self, width=64, num_classes=1000):
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(width, 2)
        self.layer2 = self._make_layer(2 * width, 2, stride=2)
        self.layer3 = self._make_layer(4 * width, 2, stride=2)
        self.layer4 = self._make_layer(8 * width, 2, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes, stride), nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        for _ in range(1, blocks):
            layers.append(BasicBlock(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def build(width, num_classes, use_torchvision):
    if not use_torchvision:
        return ResNet(width, num_classes)
    import torchvision
    if width != 64:
        raise SystemExit("--torchvision builds torchvision's resnet18: use --width 64")
    tv = torchvision.models.resnet18(num_classes=num_classes)
    mine = ResNet(64, num_classes)
    a = {k: tuple(v.shape) for k, v in tv.state_dict().items()}
    b = {k: tuple(v.shape) for k, v in mine.state_dict().items()}
    if a != b:
        raise SystemExit(f"torchvision's resnet18 state_dict differs from this file's ResNet: "
                         f"{sorted(set(a.items()) ^ set(b.items()))[:10]}")
    return tv


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, default=4)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--torchvision", action="store_true", help="use torchvision.models.resnet18")
    ap.add_argument("--float64", action="store_true", help="compute (and record) in float64 "
                    "from the same float32 initial state and inputs: a reference to tell how far "
                    "float32 rounding alone takes PyTorch and nabla from the exact values (run "
                    "test_resnet18_golden with NABLA_RESNET18_GOLDEN=PREFIX)")
    ap.add_argument("--prefix", help="write PREFIX_init.safetensors and PREFIX_golden.safetensors "
                    "(default: tests/models/resnet18_w<WIDTH>)")
    a = ap.parse_args(argv)
    prefix = a.prefix or os.path.join(HERE, f"resnet18_w{a.width}")

    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    model = build(a.width, a.classes, a.torchvision)
    with torch.no_grad():  # batch-norm parameters and statistics away from 1/0
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.2 * torch.randn_like(m.weight))
                m.bias.copy_(0.2 * torch.randn_like(m.bias))
                m.running_mean.copy_(0.1 * torch.randn_like(m.running_mean))
                m.running_var.copy_(1 + 0.5 * torch.rand_like(m.running_var))
    save_safetensors(prefix + "_init.safetensors", model.state_dict(), {"format": "pt"})

    x = torch.rand(a.batch, 3, a.size, a.size)
    labels = torch.rand(a.batch, a.classes)
    target = torch.randint(0, a.classes, (a.batch,))
    if a.float64:
        model.double()
        x, labels = x.double(), labels.double()
    model.train()
    params = dict(model.named_parameters())
    optim = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    out = {"input.x": x, "input.labels": labels, "input.target": target}

    def buffers(tag):
        for k, b in model.named_buffers():
            out[f"{tag}.buffer.{k}"] = b.clone()

    logits = model(x)  # step 1: the seed's loss
    loss = (logits - labels).sum()
    loss.backward()
    out.update({"step1.logits": logits.detach(), "step1.loss": loss.detach().reshape(1)})
    buffers("step1")
    for k, p in params.items():
        out[f"step1.grad.{k}"] = p.grad.clone()
    optim.step()
    for k, p in params.items():
        out[f"step1.param.{k}"] = p.detach().clone()

    optim.zero_grad()  # step 2: cross-entropy, momentum buffers in play
    logits = model(x)
    loss = F.cross_entropy(logits, target)
    loss.backward()
    out.update({"step2.logits": logits.detach(), "step2.loss": loss.detach().reshape(1)})
    buffers("step2")
    for k, p in params.items():
        out[f"step2.grad.{k}"] = p.grad.clone()
    optim.step()
    for k, p in params.items():
        buf = optim.state[p]["momentum_buffer"]
        assert torch.allclose(buf, MOMENTUM * out[f"step1.grad.{k}"] + p.grad, rtol=1e-5, atol=1e-6 * buf.abs().max())
        out[f"step2.param.{k}"] = p.detach().clone()

    meta = {"torch": torch.__version__, "width": a.width, "classes": a.classes, "lr": LR,
            "momentum": MOMENTUM, "seed": a.seed, "dtype": "float64" if a.float64 else "float32",
            "model": "torchvision.models.resnet18" if a.torchvision else "gen_resnet18_golden.ResNet"}
    save_safetensors(prefix + "_golden.safetensors", out, meta)
    n = sum(p.numel() for p in params.values())
    print(f"wrote {prefix}_init.safetensors and {prefix}_golden.safetensors ({n} parameters, "
          f"step 1 loss {out['step1.loss'].item():.6g}, step 2 loss {out['step2.loss'].item():.6g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
