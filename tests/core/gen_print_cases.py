#!/usr/bin/python3
"""Generate print_cases.txt: random tensors and torch's repr() of each, for test_print.c.

Run with Debian's python3-torch (1.13): /usr/bin/python3 tests/core/gen_print_cases.py
Each case is two lines: "<dtype> <ndim> <sizes...> <requires_grad> <values...>" (values in
row-major order, as Python reprs) and the expected string with newlines written as \\n.
"""
import math
import os
import random

import torch

random.seed(20240601)
DTYPES = {'f32': torch.float32, 'f64': torch.float64, 'i64': torch.int64, 'bool': torch.bool}
EDGES = [1e-4, 0.99e-4, 1.01e-4, 1e8, 1.01e8, 0.99e8, -0.0, 1000.0, 1.0, 0.001, 123456789.0,
         1e-10, 5e15, 0.5, 2.0**30]


def value(kind):
    r = random.random()
    if kind == 'int':
        return float(random.randint(-5000, 5000)) if r < 0.9 else 0.0
    if kind == 'small':
        return random.uniform(-1, 1) * 10**random.randint(-7, 0)
    if kind == 'big':
        return random.uniform(-1, 1) * 10**random.randint(0, 10)
    if kind == 'mix':
        if r < 0.05:
            return float('nan')
        if r < 0.1:
            return float('inf') * random.choice([1, -1])
        if r < 0.2:
            return 0.0
        return random.uniform(-100, 100)
    if kind == 'edge':
        return random.choice(EDGES)
    return random.uniform(-10, 10)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'print_cases.txt')
    with open(out, 'w') as f:
        for _ in range(200):
            dt = random.choice(list(DTYPES))
            shape = [random.choice([1, 2, 3, 4, 7]) for _ in range(random.choice([0, 1, 1, 2, 2, 3]))]
            if random.random() < 0.02:
                shape = random.choice([[1100], [20, 60], [3, 4, 90]])  # summarised
            numel = math.prod(shape)
            kind = random.choice(['int', 'small', 'big', 'mix', 'norm', 'edge', 'edge'])
            if numel > 1000:
                kind = 'int'  # short text for the big summarised cases
            vals = [value(kind) for _ in range(numel)]
            if dt == 'i64':
                vals = [int(max(min(v, 1e15), -1e15)) if math.isfinite(v) else 0 for v in vals]
            if dt == 'bool':
                vals = [1 if v > 0 else 0 for v in vals]
            t = torch.tensor(vals, dtype=torch.float64).to(DTYPES[dt]).reshape(shape)
            rg = dt in ('f32', 'f64') and random.random() < 0.2
            if rg:
                t.requires_grad_()
            stored = t.detach().to(torch.float64).reshape(-1).tolist()
            # shortest text that reads back to the same element: %.9g for float32
            text = [('%.9g' % v) if dt == 'f32' else repr(v) if dt == 'f64' else str(int(v))
                    for v in stored]
            f.write(' '.join([dt, str(len(shape))] + [str(s) for s in shape] + [str(int(rg))] + text)
                    + '\n')
            f.write(repr(t).replace('\n', '\\n') + '\n')


if __name__ == '__main__':
    main()
