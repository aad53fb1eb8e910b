#!/usr/bin/python3
"""PyTorch side of bench_models.c: the same whole-model steps, same timing, same output.

usage: /usr/bin/python3 bench_models.py CASES_FILE [THREADS] [MIN_SECONDS]
Prints one line per case: NAME MEDIAN_MS MIN_MS PEAK_RSS_MB START_RSS_MB FAULTS_PER_STEP
(START: the resident set before the case's model and data were made, with torch
imported; FAULTS: minor page faults per timed step).
ResNet-18 is torchvision's resnet18 when python3-torchvision is installed, else the
plain torch.nn copy of it in tests/models/gen_resnet18_golden.py (same modules, same
initialisation). LeNet is examples/train_fashion.py's.
"""
import os
import resource
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from timing import start, timeit  # noqa: E402  (bench/timing.py)


def gpt():
    """models/gpt.c's GPT as tests/models/gen_gpt_golden.py writes it, at train_gpt's size."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "models"))
    import gen_gpt_golden as g
    g.V, g.T, g.E, g.H, g.L = 114, 64, 128, 4, 4
    return g.GPT()


def resnet18():
    try:
        import torchvision
        return torchvision.models.resnet18()
    except ImportError:
        sys.path.insert(0, os.path.join(ROOT, "tests", "models"))
        from gen_resnet18_golden import ResNet
        return ResNet(64, 1000)


def lenet():
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    from train_fashion import LeNet
    return LeNet()


class ToyNet(nn.Module):
    """models/toy_net.c: 10 -> 5 -> 5 -> 1 with ReLUs."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(10, 5), nn.Linear(5, 5), nn.Linear(5, 1)

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def rss_now_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE") / 2**20


def make(kind, batch):
    """The step function of a case (see bench_models.c for what each kind does)."""
    if kind == "seed_q":
        a = torch.tensor([2.0, 3.0], requires_grad=True)
        b = torch.tensor([6.0, 4.0], requires_grad=True)
        ones = torch.ones(2)

        def seed_q():
            q = 3 * a**3 - b**2
            q.backward(gradient=ones)
            a.grad = b.grad = None
        return seed_q
    if kind == "resnet18_fwd":
        model, x = resnet18().eval(), torch.rand(batch, 3, 64, 64)

        def forward():
            with torch.no_grad():
                model(x)
        return forward
    if kind == "toy_step":
        model, x, y = ToyNet(), torch.randn(32, 10), torch.randn(32, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loss_fn = F.mse_loss
    elif kind == "lenet_step":
        model, x, y = lenet(), torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
        opt = torch.optim.Adam(model.parameters(), lr=0.004)
        loss_fn = F.cross_entropy
    elif kind == "gpt_step":  # examples/train_gpt's model and AdamW (bench_models.c)
        model = gpt()
        x, y = torch.randint(0, 114, (batch, 64)), torch.randint(0, 114, (batch, 64))
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
        loss_fn = lambda out, t: F.cross_entropy(out.view(-1, 114), t.view(-1))  # noqa: E731
    elif kind == "resnet18_step":
        model, x, y = resnet18(), torch.rand(batch, 3, 64, 64), torch.rand(batch, 1000)
        opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
        loss_fn = lambda out, labels: (out - labels).sum()  # noqa: E731  (the seed's loss)
    else:
        raise SystemExit(f"unknown case kind {kind}")

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
    return train_step


def main():
    lines, min_s = start(__doc__)
    for line in lines:
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        name, kind, batch = f[0], f[1], int(f[2]) if len(f) > 2 else 1
        start_rss = rss_now_mb()
        fn, steps = make(kind, batch), [0]

        def step():
            steps[0] += 1
            fn()
        for _ in range(3):  # a loop's first steps fault in its memory
            fn()
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        med, mn = timeit(step, min_s)
        ru = resource.getrusage(resource.RUSAGE_SELF)
        print(f"{name} {med * 1e3:.4f} {mn * 1e3:.4f} {ru.ru_maxrss / 1024:.1f} {start_rss:.1f} "
              f"{(ru.ru_minflt - faults) / steps[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
