#!/usr/bin/python3
"""PyTorch side of bench_nn.c: the cases of cases.txt, same timing, same output format.

usage: /usr/bin/python3 bench_nn.py CASES_FILE [THREADS] [MIN_SECONDS]
Prints one line per case: NAME MEDIAN_MS MIN_MS GFLOPS (process CPU time with one
thread, wall-clock time otherwise).
"""
import statistics
import os
import sys

import torch
import torch.nn.functional as F


sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from timing import start, timeit  # noqa: E402  (bench/timing.py)


def main():
    lines, min_s = start(__doc__)
    for line in lines:
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        kind, name, a = f[0], f[1], [int(v) for v in f[2:]]
        if kind in ("gemm", "blis"):  # blis: nabla times BLIS itself; PyTorch its mm again
            m, n, k = a
            A, B = torch.randn(m, k), torch.randn(k, n)
            C = torch.empty(m, n)
            flops = 2.0 * m * n * k
            fn = lambda: torch.mm(A, B, out=C)
        elif kind == "linear":
            n, i, o = a
            x = torch.randn(n, i, requires_grad=True)
            w = torch.randn(o, i, requires_grad=True)
            b = torch.randn(o, requires_grad=True)
            gy = torch.randn(n, o)
            flops = 3 * 2.0 * n * i * o

            def fn(x=x, w=w, b=b, gy=gy):
                F.linear(x, w, b).backward(gy)
                x.grad = w.grad = b.grad = None
        elif kind == "conv2d":
            n, cin, h, wd, cout, k, s, p, xgrad = a
            x = torch.randn(n, cin, h, wd, requires_grad=bool(xgrad))
            w = torch.randn(cout, cin, k, k, requires_grad=True)
            oh, ow = (h + 2 * p - k) // s + 1, (wd + 2 * p - k) // s + 1
            gy = torch.randn(n, cout, oh, ow)
            flops = (3 if xgrad else 2) * 2.0 * n * cout * oh * ow * cin * k * k

            def fn(x=x, w=w, gy=gy, s=s, p=p):
                F.conv2d(x, w, None, s, p).backward(gy)
                x.grad = w.grad = None
        else:
            raise SystemExit("unknown case kind " + kind)
        med, mn = timeit(fn, min_s)
        print("%s %.4f %.4f %.2f" % (name, med * 1e3, mn * 1e3, flops / med * 1e-9), flush=True)


if __name__ == "__main__":
    main()
