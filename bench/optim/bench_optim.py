#!/usr/bin/python3
"""PyTorch side of bench_optim.c: one SGD(momentum 0.9) and one Adam step over
torchvision's ResNet-18 parameters with random gradients, on both the per-tensor
(foreach=False) and the foreach (foreach=True) implementations.

usage: /usr/bin/python3 bench_optim.py [THREADS] [MIN_SECONDS]
Prints one line per case: NAME MEDIAN_MS MIN_MS (process CPU time with one thread,
wall-clock time otherwise).
"""
import sys
import time

import torch
import torchvision


def timeit(fn, min_s, clock):
    for _ in range(2):
        fn()
    t = []
    start = clock()
    while len(t) < 201 and (len(t) < 5 or clock() - start < min_s):
        t0 = clock()
        fn()
        t.append(clock() - t0)
    t.sort()
    return t[len(t) // 2], t[0]


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    min_s = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    torch.set_num_threads(threads)
    clock = time.process_time if threads == 1 else time.perf_counter
    params = list(torchvision.models.resnet18().parameters())
    for p in params:
        p.grad = torch.randn_like(p)
    for foreach in (False, True):
        tag = "foreach" if foreach else "pertensor"
        for name, make in (("sgd_momentum", lambda: torch.optim.SGD(params, lr=1e-3, momentum=0.9, foreach=foreach)),
                           ("adam", lambda: torch.optim.Adam(params, lr=1e-3, foreach=foreach))):
            opt = make()
            med, mn = timeit(opt.step, min_s, clock)
            print(f"{name}_{tag} {1e3 * med:.3f} {1e3 * mn:.3f}", flush=True)


if __name__ == "__main__":
    main()
