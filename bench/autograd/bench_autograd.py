#!/usr/bin/python3
"""The PyTorch side of bench_autograd.c: same graphs, same timing (thread CPU time), same
output format."""
import statistics
import sys
import time

import torch

torch.set_num_threads(1)


def measure(name, reps, inner, fn):
    t = []
    for _ in range(reps):
        t0 = time.thread_time()
        for _ in range(inner):
            fn()
        t.append((time.thread_time() - t0) / inner * 1e6)
    t.sort()
    print(f"{name} {statistics.median(t):.3f} {t[0]:.3f}")


a = torch.tensor([2.0, 3.0], requires_grad=True)
b = torch.tensor([6.0, 4.0], requires_grad=True)
x = torch.tensor([1.0], requires_grad=True)


def seed_q():
    q = 3 * a**3 - b**2
    q.sum().backward()


def chain():
    y = x
    for i in range(1000):
        y = y * 1.0001 if i & 1 else y + 0.001
    y.backward()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0)
    for _ in range(500):
        seed_q()
    measure("seed_q", 21, 500, seed_q)
    for _ in range(5):
        chain()
    measure("chain1000", 11, 5, chain)
