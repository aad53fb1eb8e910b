#!/usr/bin/python3
"""PyTorch side of bench_transformer.c: the cases of cases.txt, same timing and output.

usage: /usr/bin/python3 bench_transformer.py CASES_FILE [THREADS] [MIN_SECONDS]
Prints one line per case: NAME MEDIAN_MS MIN_MS 0. torch 1.13 has no fused
scaled_dot_product_attention: the sdpa case times the composite (matmul, mask, softmax,
matmul), which is also what nn.MultiheadAttention runs inside the block.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from timing import start, timeit  # noqa: E402  (bench/timing.py)


class Block(nn.Module):  # the twin of nb_transformer_block_new (tests/transformer)
    def __init__(self, e, h):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(e), nn.LayerNorm(e)
        self.attn = nn.MultiheadAttention(e, h, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(e, 4 * e), nn.GELU(), nn.Linear(4 * e, e))

    def forward(self, x):
        h = self.ln_1(x)
        t = x.shape[1]
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


def sdpa(q, k, v, causal):
    s = torch.matmul(q, k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
    if causal:
        t = q.shape[-2]
        s = s.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
    return torch.matmul(torch.softmax(s, -1), v)


def main():
    lines, min_s = start(__doc__)
    for line in lines:
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        kind, name, a = f[0], f[1], [int(v) for v in f[2:]]
        params = []
        if kind in ("layer_norm", "gelu"):
            x = torch.randn(a[0], a[1], requires_grad=True)
            w, b = torch.randn(a[1], requires_grad=True), torch.randn(a[1], requires_grad=True)
            gy = torch.randn(a[0], a[1])
            params = [x, w, b]
            op = (lambda: F.layer_norm(x, (a[1],), w, b)) if kind == "layer_norm" else (lambda: F.gelu(x))
        elif kind == "sdpa":
            q, k, v = (torch.randn(*a[:4], requires_grad=True) for _ in range(3))
            gy = torch.randn(*a[:4])
            params = [q, k, v]
            op = lambda: sdpa(q, k, v, bool(a[4]))
        elif kind == "embedding":
            w = torch.randn(a[1], a[2], requires_grad=True)
            idx = torch.randint(0, a[1], (a[0],))
            gy = torch.randn(a[0], a[2])
            params = [w]
            op = lambda: F.embedding(idx, w)
        elif kind == "block":
            blk = Block(a[2], a[3])
            x = torch.randn(a[0], a[1], a[2], requires_grad=True)
            gy = torch.randn(a[0], a[1], a[2])
            params = [x] + list(blk.parameters())
            op = lambda: blk(x)
        else:
            raise SystemExit("unknown case kind " + kind)

        def fn(op=op, gy=gy, params=params):
            op().backward(gy)
            for p in params:
                p.grad = None
        med, mn = timeit(fn, min_s)
        print("%s %.4f %.4f 0" % (name, med * 1e3, mn * 1e3), flush=True)


if __name__ == "__main__":
    main()
