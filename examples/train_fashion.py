#!/usr/bin/python3
"""examples/train_fashion.py — the PyTorch twin of examples/train_fashion.c.

The same LeNet (PyTorch's default initialisation), the same data (the IDX files read with
gzip + numpy: torchvision is not needed), the same normalisation, the same per-epoch data
order (nabla's data loader's splitmix64 Fisher-Yates, reimplemented below), Adam or SGD
with momentum, cosine-annealed learning rate stepped per epoch, batch norm in eval mode
for testing. Prints one line per epoch like train_fashion does when not on a terminal.

Run with Debian's python3-torch:
  /usr/bin/python3 examples/train_fashion.py --threads 2
  # start from nabla's very initial weights (then both runs see the same numbers first):
  train_fashion --epochs 0 --checkpoint init.ckpt && \\
  /usr/bin/python3 examples/train_fashion.py --init init.ckpt
"""
import argparse
import gzip
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860405970, 0.3530242445  # nabla's NB_FASHION_MNIST_MEAN / _STD
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot"]
M64 = (1 << 64) - 1


class LeNet(nn.Module):
    """models/lenet.c, module for module."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.bn1 = nn.BatchNorm2d(6)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.pool(F.relu(self.bn2(self.conv2(x))))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def read_idx(path):
    """An IDX file (plain or gzip) as a numpy uint8 array of its shape."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if raw[:2] != b"\0\0" or raw[2] != 8:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load(data_dir, train):
    stem = "train" if train else "t10k"
    def find(name):
        p = os.path.join(data_dir, name)
        return p if os.path.exists(p) else p + ".gz"
    x = read_idx(find(f"{stem}-images-idx3-ubyte")).astype(np.float32) / np.float32(255)
    y = read_idx(find(f"{stem}-labels-idx1-ubyte")).astype(np.int64)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


def splitmix(s):
    """One splitmix64 step: (new state, output)."""
    s = (s + 0x9E3779B97F4A7C15) & M64
    z = s
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return s, z ^ (z >> 31)


def epoch_order(seed, epoch, n):
    """nabla's data loader order for (seed, epoch): libnabla/dataloader.c compute_order."""
    s, h = splitmix(seed & M64)
    s, h = splitmix(h ^ 0x53485546464C45)  # "SHUFFLE"
    s, h = splitmix(h ^ epoch)
    s, perm = h, list(range(n))
    for i in range(n - 1, 0, -1):
        s, r = splitmix(s)
        j = r % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return torch.tensor(perm)


def evaluate(net, x, y):
    net.eval()
    loss, correct, per_class = 0.0, 0, torch.zeros(10, dtype=torch.int64)
    with torch.no_grad():
        for b in range(0, len(y), 1000):
            logits = net(x[b:b + 1000])
            loss += F.cross_entropy(logits, y[b:b + 1000], reduction="sum").item()
            hit = logits.argmax(1) == y[b:b + 1000]
            correct += hit.sum().item()
            per_class += torch.bincount(y[b:b + 1000][hit], minlength=10)
    net.train()
    return loss / len(y), correct / len(y), per_class


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.002)
    ap.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    ap.add_argument("--threads", type=int, default=0, help="default: torch's choice")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--init", help="start from the model of a nabla checkpoint (train_fashion "
                    "--epochs 0 --checkpoint FILE)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load(a.data, True)
    xte, yte = load(a.data, False)
    if a.limit:
        xtr, ytr = xtr[:a.limit], ytr[:a.limit]
    net = LeNet()
    if a.init:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
        from torch_weights import load_safetensors
        sd = {k[6:]: v for k, v in load_safetensors(a.init).items() if k.startswith("model.")}
        net.load_state_dict(sd)
    if a.optimizer == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(a.epochs, 1))
    n, bs = len(ytr), a.batch_size
    batches = math.ceil(n / bs)
    print(f"LeNet: {sum(p.numel() for p in net.parameters())} parameters; {n} training images "
          f"in {batches} batches of {bs}; {len(yte)} test images; {a.optimizer} lr {a.lr:g}; "
          f"{torch.get_num_threads()} threads; torch {torch.__version__}", flush=True)
    test_loss, test_acc, per_class = evaluate(net, xte, yte)
    for epoch in range(a.epochs):
        order = epoch_order(a.seed, epoch, n)
        t0, loss_sum = time.perf_counter(), 0.0
        for b in range(batches):
            idx = order[b * bs:(b + 1) * bs]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            loss_sum += loss.item()
        secs = time.perf_counter() - t0
        sched.step()
        test_loss, test_acc, per_class = evaluate(net, xte, yte)
        print(f"epoch {epoch + 1}/{a.epochs}  {batches} batches  loss {loss_sum / batches:.4f}  "
              f"{n / secs:.0f} img/s  {secs:.1f} s  | test loss {test_loss:.4f}  "
              f"acc {100 * test_acc:.2f}%", flush=True)
    print(f"test accuracy {100 * test_acc:.2f}% (loss {test_loss:.4f}); per class:")
    for c in range(10):
        print(f"  {CLASSES[c]:<12} {100 * per_class[c].item() / (yte == c).sum().item():6.2f}%")


if __name__ == "__main__":
    main()
