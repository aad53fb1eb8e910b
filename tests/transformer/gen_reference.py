#!/usr/bin/python3
"""PyTorch goldens for tests/transformer (run with Debian's python3-torch):

    /usr/bin/python3 tests/transformer/gen_reference.py

Builds, in float64 with seeded random weights (every parameter randomised so none is
trivially 0 or 1), a pre-LN causal TransformerBlock (the twin of nabla's
nb_transformer_block_new: ln_1, attn = nn.MultiheadAttention(batch_first), ln_2,
mlp = Sequential(Linear, GELU, Linear)) and a plain MultiheadAttention, and writes:

  block_state.safetensors  the block's state_dict (PyTorch's key names)
  mha_state.safetensors    the MultiheadAttention's state_dict
  golden.safetensors       inputs x, output weights w, outputs and the gradients of
                           sum(w * out) for x and every parameter ("block.grad.<name>",
                           "mha.grad.<name>"), and print(module) in the metadata.
"""
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
from generate import st_write  # noqa: E402  (the hand-written safetensors writer)

E, H, HIDDEN, B, T = 8, 2, 32, 3, 5


class TransformerBlock(nn.Module):
    def __init__(self, e, h, hidden):
        super().__init__()
        self.ln_1 = nn.LayerNorm(e)
        self.attn = nn.MultiheadAttention(e, h, batch_first=True)
        self.ln_2 = nn.LayerNorm(e)
        self.mlp = nn.Sequential(nn.Linear(e, hidden), nn.GELU(), nn.Linear(hidden, e))

    def forward(self, x):
        h = self.ln_1(x)
        t = x.shape[1]
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)  # True: not attended (causal)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


def randomise(m, gen):
    with torch.no_grad():
        for name, p in m.named_parameters():
            lo, hi = (0.5, 1.5) if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") else (-0.5, 0.5)
            p.copy_(torch.rand(p.shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo)


def case(prefix, m, x, gen, out):
    x = x.clone().requires_grad_(True)
    y = m(x)
    if isinstance(y, tuple):
        y = y[0]
    w = torch.rand(y.shape, generator=gen, dtype=torch.float64) * 2 - 1
    (y * w).sum().backward()
    out[prefix + ".x"] = x.detach()
    out[prefix + ".w"] = w
    out[prefix + ".out"] = y.detach()
    out[prefix + ".grad.x"] = x.grad
    for name, p in m.named_parameters():
        out[prefix + ".grad." + name] = p.grad


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(15)
    block = TransformerBlock(E, H, HIDDEN).double()
    mha = nn.MultiheadAttention(E, H, batch_first=True).double()
    randomise(block, gen)
    randomise(mha, gen)
    st_write(os.path.join(HERE, "block_state.safetensors"), dict(block.state_dict()), {})
    st_write(os.path.join(HERE, "mha_state.safetensors"), dict(mha.state_dict()), {})
    out = {}
    x = torch.randn(B, T, E, generator=gen, dtype=torch.float64)
    case("block", block, x, gen, out)

    class SelfAttention(nn.Module):  # nabla's nb_module_forward(mha, x): self-attention, no mask
        def __init__(self, a):
            super().__init__()
            self.a = a

        def forward(self, x):
            return self.a(x, x, x, need_weights=False)[0]

    sa = SelfAttention(mha)
    xm = torch.randn(B, T, E, generator=gen, dtype=torch.float64)
    case("mha", sa, xm, gen, out)
    for k in [k for k in out if k.startswith("mha.grad.a.")]:
        out["mha.grad." + k[len("mha.grad.a."):]] = out.pop(k)
    st_write(os.path.join(HERE, "golden.safetensors"), out, {
        "generator": "tests/transformer/gen_reference.py", "torch_version": torch.__version__,
        "repr_block": repr(TransformerBlock(128, 4, 512)),
        "repr_mha": repr(nn.MultiheadAttention(128, 4, batch_first=True))})


if __name__ == "__main__":
    main()
