#!/usr/bin/python3
"""Goldens for tests/autograd/test_higher_order_golden.c, from PyTorch in float64.

Run with Debian's torch:  /usr/bin/python3 tests/autograd/higher_order_golden.py
It writes higher_order_golden.txt next to itself: one tensor per line,
"name ndim d0 .. d(ndim-1) v0 v1 ..." with values printed as %.17g (exact round trip).
The inputs are written too, so the C test needs no random generator in common.
"""
import os

import torch
import torch.nn.functional as F
from torch.autograd.functional import hessian, hvp

torch.manual_seed(14)
D = torch.float64
lines = []


def put(name, t):
    t = torch.as_tensor(t).detach().to(D).contiguous()
    vals = " ".join("%.17g" % v for v in t.reshape(-1).tolist())
    lines.append("%s %d %s %s" % (name, t.dim(), " ".join(str(s) for s in t.shape), vals))


def rnd(*shape):
    return torch.rand(*shape, dtype=D) * 2 - 1


# 1. Hessian of a small MLP's loss with respect to all its weights
x, t = rnd(4, 3), rnd(4, 2)
W1, b1, W2, b2 = rnd(5, 3), rnd(5), rnd(2, 5), rnd(2)
for n, v in [("mlp_x", x), ("mlp_t", t), ("mlp_W1", W1), ("mlp_b1", b1), ("mlp_W2", W2), ("mlp_b2", b2)]:
    put(n, v)


def mlp_loss(W1, b1, W2, b2):
    return F.mse_loss(F.linear(torch.tanh(F.linear(x, W1, b1)), W2, b2), t)


H = hessian(mlp_loss, (W1, b1, W2, b2))
for i in range(4):
    for j in range(4):
        put("mlp_H_%d_%d" % (i, j), H[i][j])

# 2. A WGAN-GP gradient-penalty step: 10 mean((||grad_x D(x)|| - 1)^2) backpropagated
#    into D's weights
gx = rnd(6, 3)
P = [rnd(5, 3), rnd(5), rnd(1, 5), rnd(1)]
for n, v in zip(["gp_x", "gp_W1", "gp_b1", "gp_W2", "gp_b2"], [gx] + P):
    put(n, v)
P = [p.clone().requires_grad_() for p in P]
xr = gx.clone().requires_grad_()
out = F.linear(torch.sigmoid(F.linear(xr, P[0], P[1])), P[2], P[3])
(g,) = torch.autograd.grad(out.sum(), xr, create_graph=True)
gp = 10 * ((g.pow(2).sum(dim=1).sqrt() - 1) ** 2).mean()
gp.backward()
put("gp_value", gp)
for n, p in zip(["gp_dW1", "gp_db1", "gp_dW2", "gp_db2"], P):
    put(n, p.grad if p.grad is not None else torch.zeros_like(p))  # b2 does not reach the penalty

# 3. Third derivative of x**4 (24 x) at a few points
x4 = torch.tensor([-1.5, -0.25, 0.3, 2.0], dtype=D, requires_grad=True)
(d1,) = torch.autograd.grad(x4.pow(4).sum(), x4, create_graph=True)
(d2,) = torch.autograd.grad(d1.sum(), x4, create_graph=True)
(d3,) = torch.autograd.grad(d2.sum(), x4)
put("x4_x", x4)
put("x4_d3", d3)

# 4. hvp on a linear + batch_norm (training) + cross_entropy network
hx = rnd(6, 3)
target = torch.tensor([0, 2, 1, 3, 2, 0])
Q = [rnd(4, 3), rnd(4), rnd(4) * 0.5 + 1, rnd(4)]
V = [rnd(4, 3), rnd(4), rnd(4), rnd(4)]
put("hvp_x", hx)
put("hvp_target", target)
for n, v in zip(["hvp_W", "hvp_b", "hvp_gamma", "hvp_beta"], Q):
    put(n, v)
for n, v in zip(["hvp_vW", "hvp_vb", "hvp_vgamma", "hvp_vbeta"], V):
    put(n, v)


def net_loss(W, b, gamma, beta):
    h = F.batch_norm(F.linear(hx, W, b), None, None, gamma, beta, training=True, eps=1e-5)
    return F.cross_entropy(h, target)


_, HV = hvp(net_loss, tuple(Q), tuple(V))
for n, v in zip(["hvp_W_out", "hvp_b_out", "hvp_gamma_out", "hvp_beta_out"], HV):
    put(n, v)

# 5. hvp on a conv2d (stride 2, padding 1) + batch_norm (training) + mean over the
#    positions + cross_entropy network
cx = rnd(4, 2, 5, 5)
ctarget = torch.tensor([1, 0, 2, 1])
CQ = [rnd(3, 2, 3, 3), rnd(3), rnd(3) * 0.5 + 1, rnd(3)]
CV = [rnd(3, 2, 3, 3), rnd(3), rnd(3), rnd(3)]
put("chvp_x", cx)
put("chvp_target", ctarget)
for n, v in zip(["chvp_W", "chvp_b", "chvp_gamma", "chvp_beta"], CQ):
    put(n, v)
for n, v in zip(["chvp_vW", "chvp_vb", "chvp_vgamma", "chvp_vbeta"], CV):
    put(n, v)


def conv_loss(W, b, gamma, beta):
    h = F.conv2d(cx, W, b, stride=2, padding=1)
    h = F.batch_norm(h, None, None, gamma, beta, training=True, eps=1e-5)
    return F.cross_entropy(h.mean(dim=(2, 3)), ctarget)


_, CHV = hvp(conv_loss, tuple(CQ), tuple(CV))
for n, v in zip(["chvp_W_out", "chvp_b_out", "chvp_gamma_out", "chvp_beta_out"], CHV):
    put(n, v)

# 6. hvp on a conv2d (padding 1) + batch_norm (training) + gelu + adaptive_avg_pool2d +
#    cross_entropy network (appended last: the earlier sections keep their random draws)
gx6 = rnd(2, 2, 5, 5)
gtarget = torch.tensor([1, 2])
GQ = [rnd(3, 2, 3, 3), rnd(3), rnd(3) * 0.5 + 1, rnd(3)]
GV = [rnd(3, 2, 3, 3), rnd(3), rnd(3), rnd(3)]
put("cnn_x", gx6)
put("cnn_target", gtarget)
for n, v in zip(["cnn_W", "cnn_b", "cnn_gamma", "cnn_beta"], GQ):
    put(n, v)
for n, v in zip(["cnn_vW", "cnn_vb", "cnn_vgamma", "cnn_vbeta"], GV):
    put(n, v)


def cnn_loss(W, b, gamma, beta):
    h = F.batch_norm(F.conv2d(gx6, W, b, padding=1), None, None, gamma, beta, training=True, eps=1e-5)
    h = F.adaptive_avg_pool2d(F.gelu(h), 1).flatten(1)
    return F.cross_entropy(h, gtarget)


_, GHV = hvp(cnn_loss, tuple(GQ), tuple(GV))
for n, v in zip(["cnn_W_out", "cnn_b_out", "cnn_gamma_out", "cnn_beta_out"], GHV):
    put(n, v)

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "higher_order_golden.txt"), "w") as f:
    f.write("# generated by higher_order_golden.py (PyTorch %s, float64); do not edit\n" % torch.__version__)
    f.write("\n".join(lines) + "\n")
