#!/usr/bin/python3
"""PyTorch side of bench_layers.c: the cases of cases.txt, same timing, same output format.

usage: /usr/bin/python3 bench_layers.py CASES_FILE [THREADS] [MIN_SECONDS]
Prints one line per case: NAME MEDIAN_MS MIN_MS GB/S (process CPU time with one
thread, wall-clock time otherwise). Forward + backward in float32, inputs requiring
grad as in training; GB/S counts x, y, dy and dx (4 bytes each) over the median time.
"""
import os
import sys

import torch
import torch.nn.functional as F


sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from timing import start, timeit  # noqa: E402  (bench/timing.py)


def make_case(kind, shape, a):
    """The forward function of one case and the leaves whose grads are reset."""
    x = torch.randn(*shape, requires_grad=True)
    leaves = [x]
    if kind == "batch_norm":  # affine with running stats, as nn.BatchNorm*d
        c = shape[1]
        w = (torch.rand(c) + 0.5).requires_grad_()
        b = torch.randn(c, requires_grad=True)
        rm, rv = torch.zeros(c), torch.ones(c)
        training = bool(int(a[0]))
        leaves += [w, b]
        return (lambda: F.batch_norm(x, rm, rv, w, b, training, 0.1, 1e-5)), leaves
    if kind == "relu":
        return (lambda: F.relu(x)), leaves
    if kind == "max_pool2d":
        k, s, p = (int(v) for v in a[:3])
        return (lambda: F.max_pool2d(x, k, s, p)), leaves
    if kind == "avg_pool2d":
        k, s, p = (int(v) for v in a[:3])
        return (lambda: F.avg_pool2d(x, k, s, p, False, True)), leaves
    if kind == "adaptive_avg_pool2d":
        oh, ow = int(a[0]), int(a[1])
        return (lambda: F.adaptive_avg_pool2d(x, (oh, ow))), leaves
    if kind == "softmax":
        d = int(a[0])
        return (lambda: F.softmax(x, d)), leaves
    if kind == "log_softmax":
        d = int(a[0])
        return (lambda: F.log_softmax(x, d)), leaves
    if kind == "cross_entropy":
        t = torch.randint(0, shape[1], (shape[0],))
        ls = a[0] if a else 0.0
        return (lambda: F.cross_entropy(x, t, label_smoothing=ls)), leaves
    if kind == "nll_loss":
        t = torch.randint(0, shape[1], (shape[0],))
        return (lambda: F.nll_loss(x, t)), leaves
    if kind == "mse_loss":
        t = torch.randn(*shape)
        return (lambda: F.mse_loss(x, t)), leaves
    if kind == "l1_loss":
        t = torch.randn(*shape)
        return (lambda: F.l1_loss(x, t)), leaves
    if kind == "binary_cross_entropy_with_logits":
        t = torch.rand(*shape)
        return (lambda: F.binary_cross_entropy_with_logits(x, t)), leaves
    if kind == "dropout":
        p = a[0]
        return (lambda: F.dropout(x, p, True)), leaves
    raise SystemExit("unknown case kind " + kind)


def main():
    lines, min_s = start(__doc__)
    for line in lines:
        f = line.split()
        if len(f) < 3 or f[0].startswith("#"):
            continue
        kind, name = f[0], f[1]
        shape = [int(v) for v in f[2].split("x")]
        a = [float(v) for v in f[3:]]
        fwd, leaves = make_case(kind, shape, a)
        y0 = fwd()
        gy = torch.randn_like(y0) if y0.numel() > 1 else None
        nbytes = 4.0 * 2 * (leaves[0].numel() + y0.numel())
        del y0

        def fn(fwd=fwd, gy=gy, leaves=leaves):
            fwd().backward(gy)
            for t in leaves:
                t.grad = None

        med, mn = timeit(fn, min_s)
        print("%s %.4f %.4f %.2f" % (name, med * 1e3, mn * 1e3, nbytes / med * 1e-9), flush=True)


if __name__ == "__main__":
    main()
