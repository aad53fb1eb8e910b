#!/usr/bin/python3
"""Generate the PyTorch golden files of tests/optim (run with Debian's python3-torch):

  /usr/bin/python3 tests/optim/gen_golden.py

optim_golden.safetensors: float64 trajectories of torch.optim.{SGD,Adam,AdamW,RMSprop} on
  given gradients (config <c>: "<c>.p0", "<c>.grads" [T,n], "<c>.traj" [T,n]; metadata
  "<c>" = "optimizer;hp=value,..."), lr schedules ("sched.<s>" = lr after 0..E epochs),
  clip_grad_norm_/clip_grad_value_ cases.
toy_golden.safetensors: the seed's toy net (10->5->5->1) initial weights, data x/y and the
  weights after: A) 100 SGD(lr 0.1) steps of MSELoss; B) fc2 frozen, 100 Adam(lr 0.1)
  steps; C) fc2 unfrozen, 100 more steps of the same Adam. Keys "init.<p>", "A.<p>", ...
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from torch_weights import ToyNet, save_safetensors  # noqa: E402

T, N = 12, 5
CONFIGS = [
    ("sgd_plain", "sgd", dict(lr=0.1)),
    ("sgd_momentum", "sgd", dict(lr=0.1, momentum=0.9)),
    ("sgd_damp_wd", "sgd", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("sgd_nesterov", "sgd", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("sgd_maximize", "sgd", dict(lr=0.1, momentum=0.5, maximize=True)),
    ("adam_default", "adam", dict(lr=0.01)),
    ("adam_wd_amsgrad", "adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("adam_betas_max", "adam", dict(lr=0.02, betas=(0.8, 0.9), eps=1e-6, maximize=True)),
    ("adamw_default", "adamw", dict(lr=0.01, weight_decay=0.1)),
    ("adamw_amsgrad", "adamw", dict(lr=0.03, amsgrad=True)),
    ("rmsprop_default", "rmsprop", dict(lr=0.01)),
    ("rmsprop_centered_mom", "rmsprop", dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1)),
    ("rmsprop_alpha_max", "rmsprop", dict(lr=0.02, alpha=0.9, eps=1e-6, maximize=True)),
]
CLASSES = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "rmsprop": torch.optim.RMSprop}


def hp_string(hp):
    parts = []
    for k, v in hp.items():
        if k == "betas":
            parts += [f"beta1={v[0]!r}", f"beta2={v[1]!r}"]
        elif isinstance(v, bool):
            parts.append(f"{k}={int(v)}")
        else:
            parts.append(f"{k}={v!r}")
    return ",".join(parts)


def optim_golden():
    g = torch.Generator().manual_seed(1234)
    out, meta = {}, {}
    names = []
    for name, opt, hp in CONFIGS:
        p0 = torch.randn(N, dtype=torch.float64, generator=g)
        grads = torch.randn(T, N, dtype=torch.float64, generator=g)
        grads[3, 1] = 0.0  # an exact zero gradient element
        grads[7] = 0.0     # a whole zero gradient: still a step (spec item 29)
        p = p0.clone().requires_grad_(True)
        o = CLASSES[opt]([p], **hp)
        traj = torch.empty(T, N, dtype=torch.float64)
        for t in range(T):
            p.grad = grads[t].clone()
            o.step()
            traj[t] = p.detach()
        out[f"{name}.p0"], out[f"{name}.grads"], out[f"{name}.traj"] = p0, grads, traj
        meta[name] = f"{opt};{hp_string(hp)}"
        names.append(name)
    meta["configs"] = ";".join(names)

    scheds = {
        "step": (lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 12),
        "multistep": (lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[2, 5], gamma=0.1), 8),
        "exponential": (lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9), 10),
        "cosine": (lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001), 25),
    }
    for sname, (make, epochs) in scheds.items():
        p = torch.zeros(1, requires_grad=True)
        o = torch.optim.SGD([p], lr=0.1)
        s = make(o)
        lrs = [s.get_last_lr()[0]]
        for _ in range(epochs):
            o.step()
            s.step()
            lrs.append(s.get_last_lr()[0])
        out[f"sched.{sname}"] = torch.tensor(lrs, dtype=torch.float64)

    shapes = [(3,), (2, 2), (5,)]
    base = [torch.randn(s, dtype=torch.float64, generator=g) for s in shapes]
    for i, b in enumerate(base):
        out[f"clip.g{i}"] = b
    for case, kind, arg, norm in [("norm2", "norm", 1.0, 2.0), ("norminf", "norm", 0.5, float("inf")),
                                  ("norm1_noclip", "norm", 100.0, 1.0), ("norm3", "norm", 0.7, 3.0),
                                  ("value", "value", 0.3, 0.0)]:
        ps = [torch.zeros_like(b, requires_grad=True) for b in base]
        for p, b in zip(ps, base):
            p.grad = b.clone()
        if kind == "norm":
            total = torch.nn.utils.clip_grad_norm_(ps, arg, norm_type=norm)
            out[f"clip.{case}.total"] = total.reshape(1).to(torch.float64)
        else:
            torch.nn.utils.clip_grad_value_(ps, arg)
        for i, p in enumerate(ps):
            out[f"clip.{case}.g{i}"] = p.grad
        meta[f"clip.{case}"] = f"{kind};{arg!r};{norm!r}"
    save_safetensors(os.path.join(HERE, "optim_golden.safetensors"), out, meta)


def toy_golden():
    torch.manual_seed(0)
    net = ToyNet()
    x = torch.randn(32, 10)
    y = torch.randn(32, 1)
    out = {"x": x, "y": y}
    out.update({f"init.{k}": v.clone() for k, v in net.state_dict().items()})
    loss_fn = torch.nn.MSELoss()

    def train(opt, steps, tag):
        losses = []
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        out.update({f"{tag}.{k}": v.clone() for k, v in net.state_dict().items()})
        out[f"{tag}.loss"] = torch.tensor(losses, dtype=torch.float64)

    train(torch.optim.SGD(net.parameters(), lr=0.1), 100, "A")
    net.fc2.requires_grad_(False)
    adam = torch.optim.Adam(net.parameters(), lr=0.1)
    train(adam, 100, "B")
    net.fc2.requires_grad_(True)
    train(adam, 100, "C")
    save_safetensors(os.path.join(HERE, "toy_golden.safetensors"), out,
                     {"torch": torch.__version__})


if __name__ == "__main__":
    torch.set_num_threads(1)
    optim_golden()
    toy_golden()
    print("wrote optim_golden.safetensors and toy_golden.safetensors in", HERE)
