#!/usr/bin/python3
"""PyTorch side of bench_optim.c: one SGD(momentum 0.9) and one Adam step over
torchvision's ResNet-18 parameters with random gradients, on both the per-tensor
(foreach=False) and the foreach (foreach=True) implementations.

usage: /usr/bin/python3 bench_optim.py [THREADS] [MIN_SECONDS]
Prints one line per case: NAME MEDIAN_MS MIN_MS (process CPU time with one thread,
wall-clock time otherwise).
"""
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from timing import timeit, use_cpu_time  # noqa: E402  (bench/timing.py)


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    min_s = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    torch.set_num_threads(threads)
    use_cpu_time(threads == 1)
    params = list(torchvision.models.resnet18().parameters())
    for p in params:
        p.grad = torch.randn_like(p)
    for foreach in (False, True):
        tag = "foreach" if foreach else "pertensor"
        for name, make in (("sgd_momentum", lambda: torch.optim.SGD(params, lr=1e-3, momentum=0.9, foreach=foreach)),
                           ("adam", lambda: torch.optim.Adam(params, lr=1e-3, foreach=foreach))):
            opt = make()
            med, mn = timeit(opt.step, min_s)
            print(f"{name}_{tag} {1e3 * med:.3f} {1e3 * mn:.3f}", flush=True)


if __name__ == "__main__":
    main()
