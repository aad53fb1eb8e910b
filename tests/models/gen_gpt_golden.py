#!/usr/bin/python3
"""Generate the PyTorch golden files of the tiny-GPT test (Debian's python3-torch):

    /usr/bin/python3 tests/models/gen_gpt_golden.py

The model is models/gpt.c's GPT written in plain torch.nn with the same module names: a
character-level, pre-layer-norm decoder (GPT-2's layout)

    x = wte(idx) + wpe(arange(T))
    for each block h.i:  x = x + attn(ln_1(x)) with a causal mask   (nn.MultiheadAttention,
                         x = x + mlp(ln_2(x))                         batch_first, no dropout;
                                                                      mlp = Linear, GELU, Linear)
    logits = lm_head(ln_f(x))        (no bias)
    loss = cross_entropy(logits.view(-1, V), targets.view(-1))

with vocabulary 11, context 8, width 16, 2 heads, 2 blocks, batch 3, initialised by
torch.manual_seed(0) (PyTorch's default initialisation, then layer-norm affine parameters
perturbed so that they are not 1/0). For float64 and float32 it writes gpt_<dtype>.safetensors:

  init.<param>          the initial state_dict (loaded by the test by name)
  input.x1, input.y1    batch 1 (int64 [3,8]) and its next-token targets
  input.x2, input.y2    batch 2
  step1.logits, step1.loss, step1.grad.<param>    forward and backward on batch 1
  step2.loss, step2.grad.<param>                  after one AdamW step, on batch 2
  after2.<param>        the parameters after the second AdamW step
AdamW: lr 1e-2, betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on every parameter.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from torch_weights import save_safetensors  # noqa: E402

V, T, E, H, L, B = 11, 8, 16, 2, 2, 3
LR, BETAS, EPS, WD = 1e-2, (0.9, 0.95), 1e-8, 0.1


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(E)
        self.attn = nn.MultiheadAttention(E, H, batch_first=True)
        self.ln_2 = nn.LayerNorm(E)
        self.mlp = nn.Sequential(nn.Linear(E, 4 * E), nn.GELU(), nn.Linear(4 * E, E))

    def forward(self, x, mask):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, E)
        self.wpe = nn.Embedding(T, E)
        self.h = nn.ModuleList([Block() for _ in range(L)])
        self.ln_f = nn.LayerNorm(E)
        self.lm_head = nn.Linear(E, V, bias=False)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t))
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)  # True: masked
        for block in self.h:
            x = block(x, mask)
        return self.lm_head(self.ln_f(x))


def main():
    for dtype, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
        torch.manual_seed(0)
        model = GPT()
        with torch.no_grad():
            for name, p in model.named_parameters():
                if ".ln_" in name or name.startswith("ln_f"):
                    p.add_(0.1 * torch.randn_like(p))
        model = model.to(dtype)
        out = {f"init.{k}": v.clone() for k, v in model.state_dict().items()}
        g = torch.Generator().manual_seed(1)
        batches = []
        for i in (1, 2):
            seq = torch.randint(0, V, (B, T + 1), generator=g)
            x, y = seq[:, :-1].contiguous(), seq[:, 1:].contiguous()
            out[f"input.x{i}"], out[f"input.y{i}"] = x, y
            batches.append((x, y))
        opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=BETAS, eps=EPS, weight_decay=WD)
        for step, (x, y) in enumerate(batches, 1):
            opt.zero_grad()
            logits = model(x)
            loss = F.cross_entropy(logits.view(-1, V), y.view(-1))
            loss.backward()
            if step == 1:
                out["step1.logits"] = logits.detach().clone()
            out[f"step{step}.loss"] = loss.detach().clone()
            for name, p in model.named_parameters():
                out[f"step{step}.grad.{name}"] = p.grad.clone()
            opt.step()
        for name, p in model.named_parameters():
            out[f"after2.{name}"] = p.detach().clone()
        path = os.path.join(HERE, f"gpt_{tag}.safetensors")
        save_safetensors(path, out, {"generator": "tests/models/gen_gpt_golden.py",
                                     "torch": torch.__version__})
        print(f"{path}: {len(out)} tensors, step 1 loss {out['step1.loss'].item():.6f}, "
              f"step 2 loss {out['step2.loss'].item():.6f}")


if __name__ == "__main__":
    main()
