#!/usr/bin/python3
"""Generate PyTorch reference data for nabla-gradcheck --reference.

Run with Debian's python3-torch (the default `python3` on PATH may lack torch):

    /usr/bin/python3 tests/reference/generate.py --gradcheck BUILD/tools/gradcheck/nabla-gradcheck

It asks nabla-gradcheck --dump-samples for every op's sample inputs and attributes
(safetensors, attributes as JSON in __metadata__), runs the PyTorch equivalent of each
op (TABLE below), and writes tests/reference/<op>.safetensors with, per sample k:

    s<k>.in<i>        the inputs again (nabla-gradcheck refuses stale data)
    s<k>.out<j>       float64 outputs
    s<k>.w<j>         fixed random weights for each differentiable output
    s<k>.grad<i>      float64 gradients of sum_j sum(w_j * out_j) for the inputs nabla
                      differentiates
    s<k>.f32.out<j>, s<k>.f32.grad<i>   the same with float32 inputs and weights

and JSON metadata "reference" ({"samples": [{"outputs", "grad_inputs", "grad_outputs",
"f32"} or {"skip": reason}]}). Ops without a mapping, and random ops, are listed as
skipped. Re-running gives identical files (weights are seeded from the op name). The
safetensors format is read and written by hand (python3-torch 1.13 comes without the
safetensors package).
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings
import zlib

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- safetensors ------------------------------------------------------------------------

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "BOOL": torch.bool}
CODES = {v: k for k, v in DTYPES.items()}


def st_read(path):
    """Return ({name: tensor}, metadata dict) of a safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = blob[8 + n:]
    tensors = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        dt = DTYPES[e["dtype"]]
        raw = bytearray(data[b:end])
        t = torch.frombuffer(raw, dtype=dt) if raw else torch.empty(0, dtype=dt)
        tensors[name] = t.reshape(e["shape"]).clone()
    return tensors, meta


def st_write(path, tensors, meta):
    """Write {name: tensor} (in insertion order) and string metadata, atomically."""
    header = {"__metadata__": meta}
    chunks, off = [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        raw = t.numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": CODES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))
    os.replace(tmp, path)


# ---- the op table: nabla op name -> f(inputs, attrs) -----------------------------------------


def red_dims(x, a):
    """Arguments of sum/mean: dim absent means all dims."""
    if a["dim"] is None:
        if not a["keepdim"] or x.dim() == 0:
            return None
        return {"dim": tuple(range(x.dim())), "keepdim": True}
    return {"dim": tuple(a["dim"]), "keepdim": a["keepdim"]}


def reduce_all(fn):
    def f(i, a):
        kw = red_dims(i[0], a)
        return fn(i[0]) if kw is None else fn(i[0], **kw)
    return f


def arg_reduce(fn):
    """argmax/argmin: "dim" holds one dim, or none for the flattened input."""
    return lambda i, a: fn(i[0], dim=a["dim"][0] if a["dim"] else None, keepdim=a["keepdim"])


def conv2d_input_grad(g, w, a):
    """torch.nn.grad.conv2d_input for nabla's conv2d_input_grad (3-D: unbatched)."""
    one = g.dim() == 3
    g = g.unsqueeze(0) if one else g
    size = (g.shape[0], w.shape[1] * a["groups"], *a["input_size"])
    dx = torch.nn.grad.conv2d_input(size, w, g, a["stride"], a["padding"], a["dilation"], a["groups"])
    return dx.squeeze(0) if one else dx


def conv2d_weight_grad(x, g, a):
    """torch.nn.grad.conv2d_weight for nabla's conv2d_weight_grad (3-D: unbatched)."""
    if x.dim() == 3:
        x, g = x.unsqueeze(0), g.unsqueeze(0)
    size = (g.shape[1], x.shape[1] // a["groups"], *a["kernel_size"])
    return torch.nn.grad.conv2d_weight(x, size, g, a["stride"], a["padding"], a["dilation"], a["groups"])


def inplace(method):
    return lambda i, a: getattr(i[0].clone(), method)(*i[1:])


TABLE = {
    "add": lambda i, a: torch.add(i[0], i[1]),
    "sub": lambda i, a: torch.sub(i[0], i[1]),
    "mul": lambda i, a: torch.mul(i[0], i[1]),
    "div": lambda i, a: torch.div(i[0], i[1]),
    "pow": lambda i, a: torch.pow(i[0], i[1]),
    "eq": lambda i, a: torch.eq(i[0], i[1]),
    "gt": lambda i, a: torch.gt(i[0], i[1]),
    "lt": lambda i, a: torch.lt(i[0], i[1]),
    "neg": lambda i, a: torch.neg(i[0]),
    "exp": lambda i, a: torch.exp(i[0]),
    "log": lambda i, a: torch.log(i[0]),
    "sqrt": lambda i, a: torch.sqrt(i[0]),
    "abs": lambda i, a: torch.abs(i[0]),
    "relu": lambda i, a: torch.relu(i[0]),
    "sigmoid": lambda i, a: torch.sigmoid(i[0]),
    "tanh": lambda i, a: torch.tanh(i[0]),
    "erf": lambda i, a: torch.erf(i[0]),
    "clamp": lambda i, a: torch.clamp(i[0], min=a["min"], max=a["max"]),
    "add_": inplace("add_"),
    "sub_": inplace("sub_"),
    "mul_": inplace("mul_"),
    "div_": inplace("div_"),
    "exp_": inplace("exp_"),
    "relu_": inplace("relu_"),
    "zero_": inplace("zero_"),
    "fill_": lambda i, a: i[0].clone().fill_(a["value"]),
    "sum": reduce_all(torch.sum),
    "mean": reduce_all(torch.mean),
    "max": lambda i, a: torch.max(i[0]),
    "min": lambda i, a: torch.min(i[0]),
    "max_dim": lambda i, a: tuple(torch.max(i[0], dim=a["dim"], keepdim=a["keepdim"])),
    "min_dim": lambda i, a: tuple(torch.min(i[0], dim=a["dim"], keepdim=a["keepdim"])),
    "reshape": lambda i, a: torch.reshape(i[0], a["shape"]),
    "view": lambda i, a: i[0].view(a["shape"]),
    "flatten": lambda i, a: torch.flatten(i[0], a["start_dim"], a["end_dim"]),
    "transpose": lambda i, a: torch.transpose(i[0], a["dim0"], a["dim1"]),
    "permute": lambda i, a: i[0].permute(a["dims"]),
    "squeeze": lambda i, a: torch.squeeze(i[0], a["dim"]),
    "unsqueeze": lambda i, a: torch.unsqueeze(i[0], a["dim"]),
    "clone": lambda i, a: i[0].clone(),
    "contiguous": lambda i, a: i[0].contiguous(),
    "to_dtype": lambda i, a: i[0].to([torch.float32, torch.float64][a["dtype"]]),
    "matmul": lambda i, a: torch.matmul(i[0], i[1]),
    "linear": lambda i, a: F.linear(i[0], i[1], i[2]),
    "conv2d": lambda i, a: F.conv2d(i[0], i[1], i[2], a["stride"], a["padding"], a["dilation"],
                                    a["groups"]),
    "conv2d_input_grad": lambda i, a: conv2d_input_grad(i[0], i[1], a),
    "conv2d_weight_grad": lambda i, a: conv2d_weight_grad(i[0], i[1], a),
    "batch_norm": lambda i, a: F.batch_norm(i[0], i[1], i[2], i[3], i[4], a["training"],
                                            a["momentum"], a["eps"]),
    "max_pool2d": lambda i, a: F.max_pool2d(i[0], a["kernel_size"], a["stride"], a["padding"],
                                            a["dilation"], a["ceil_mode"]),
    "avg_pool2d": lambda i, a: F.avg_pool2d(i[0], a["kernel_size"], a["stride"], a["padding"],
                                            a["ceil_mode"], a["count_include_pad"]),
    "adaptive_avg_pool2d": lambda i, a: F.adaptive_avg_pool2d(i[0], a["output_size"]),
    "softmax": lambda i, a: F.softmax(i[0], a["dim"]),
    "log_softmax": lambda i, a: F.log_softmax(i[0], a["dim"]),
    "mse_loss": lambda i, a: F.mse_loss(i[0], i[1], reduction=a["reduction"]),
    "l1_loss": lambda i, a: F.l1_loss(i[0], i[1], reduction=a["reduction"]),
    "cross_entropy": lambda i, a: F.cross_entropy(i[0], i[1], i[2], ignore_index=a["ignore_index"],
                                                  reduction=a["reduction"],
                                                  label_smoothing=a["label_smoothing"]),
    "nll_loss": lambda i, a: F.nll_loss(i[0], i[1], i[2], ignore_index=a["ignore_index"],
                                        reduction=a["reduction"]),
    "binary_cross_entropy": lambda i, a: F.binary_cross_entropy(i[0], i[1], i[2],
                                                                reduction=a["reduction"]),
    "binary_cross_entropy_with_logits": lambda i, a: F.binary_cross_entropy_with_logits(
        i[0], i[1], i[2], reduction=a["reduction"], pos_weight=i[3]),
    # ops/index, argmax/argmin, and the comparisons and logical ops added with them
    "ne": lambda i, a: torch.ne(i[0], i[1]),
    "ge": lambda i, a: torch.ge(i[0], i[1]),
    "le": lambda i, a: torch.le(i[0], i[1]),
    "logical_and": lambda i, a: torch.logical_and(i[0], i[1]),
    "logical_or": lambda i, a: torch.logical_or(i[0], i[1]),
    "logical_not": lambda i, a: torch.logical_not(i[0]),
    "argmax": arg_reduce(torch.argmax),
    "argmin": arg_reduce(torch.argmin),
    "select": lambda i, a: torch.select(i[0], a["dim"], a["index"]),
    "slice": lambda i, a: i[0][(slice(None),) * (a["dim"] % i[0].dim())
                               + (slice(int(a["start"]), int(a["end"]), int(a["step"])),)],
    "index_select": lambda i, a: torch.index_select(i[0], a["dim"], i[1]),
    "gather": lambda i, a: torch.gather(i[0], a["dim"], i[1]),
    "scatter_add": lambda i, a: torch.scatter_add(i[0], a["dim"], i[1], i[2]),
    "masked_fill": lambda i, a: torch.masked_fill(i[0], i[1], a["value"]),
    "where": lambda i, a: torch.where(i[0], i[1], i[2]),
    "expand": lambda i, a: i[0].expand(*a["size"]),
    "repeat": lambda i, a: i[0].repeat(*a["repeats"]),
    "cat": lambda i, a: torch.cat([t for t in i if t is not None], a["dim"]),
    "stack": lambda i, a: torch.stack([t for t in i if t is not None], a["dim"]),
    "tril": lambda i, a: torch.tril(i[0], a["diagonal"]),
    "triu": lambda i, a: torch.triu(i[0], a["diagonal"]),
    "topk": lambda i, a: tuple(torch.topk(i[0], a["k"], a["dim"], a["largest"], sorted=True)),
}


# ---- issue 15: activations, normalisation and statistics, embedding, attention ----------------


def stat_dims(x, a):
    """dim of var/std/logsumexp: absent or empty means all dims."""
    return tuple(a["dim"]) if a["dim"] else tuple(range(x.dim()))


def sdpa_composite(q, k, v, causal, scale):
    """F.scaled_dot_product_attention (torch >= 2.0) spelled out, for torch 1.13."""
    if scale is None or scale != scale:  # nan (dumped as null): the default
        scale = 1.0 / (q.shape[-1] ** 0.5)
    s = torch.matmul(q, k.transpose(-2, -1)) * scale
    if causal:
        mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        s = s.masked_fill(~mask, float("-inf"))
    return torch.matmul(torch.softmax(s, -1), v)


TABLE.update({
    "gelu": lambda i, a: F.gelu(i[0], approximate=a["approximate"]),
    "silu": lambda i, a: F.silu(i[0]),
    "leaky_relu": lambda i, a: F.leaky_relu(i[0], a["negative_slope"]),
    "elu": lambda i, a: F.elu(i[0], a["alpha"]),
    "softplus": lambda i, a: F.softplus(i[0], a["beta"], a["threshold"]),
    "var": lambda i, a: torch.var(i[0], stat_dims(i[0], a), unbiased=a["unbiased"],
                                  keepdim=a["keepdim"]),
    "std": lambda i, a: torch.std(i[0], stat_dims(i[0], a), unbiased=a["unbiased"],
                                  keepdim=a["keepdim"]),
    "logsumexp": lambda i, a: torch.logsumexp(i[0], stat_dims(i[0], a), keepdim=a["keepdim"]),
    "layer_norm": lambda i, a: F.layer_norm(i[0], a["normalized_shape"], i[1], i[2], a["eps"]),
    "group_norm": lambda i, a: F.group_norm(i[0], a["num_groups"], i[1], i[2], a["eps"]),
    "cumsum": lambda i, a: torch.cumsum(i[0], a["dim"]),
    "embedding": lambda i, a: F.embedding(i[0], i[1], padding_idx=(
        None if a["padding_idx"] < -2**62 else a["padding_idx"])),
    "scaled_dot_product_attention": lambda i, a: sdpa_composite(i[0], i[1], i[2], a["is_causal"],
                                                                a["scale"]),
})

# ---- running one sample -------------------------------------------------------------------------


def as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def run(fn, inputs, attrs, grad_inputs, weights, dtype):
    """Outputs and gradients (None where torch gives none) for inputs cast to dtype."""
    xs = []
    for k, t in enumerate(inputs):
        if t is not None and t.is_floating_point():
            t = t.to(dtype).clone().requires_grad_(k in grad_inputs)
        elif t is not None:
            t = t.clone()
        xs.append(t)
    outs = as_tuple(fn(xs, attrs))
    roots = [(outs[j], w.to(outs[j].dtype)) for j, w in weights.items() if outs[j].requires_grad]
    grads = {}
    leaves = [xs[k] for k in grad_inputs]
    if roots and leaves:
        gs = torch.autograd.grad([r for r, _ in roots], leaves, [w for _, w in roots],
                                 allow_unused=True)
        grads = {k: (g if g is not None else torch.zeros_like(xs[k]))
                 for k, g in zip(grad_inputs, gs)}
    return [o.detach() for o in outs], grads


def sample_reference(op, k, fn, inputs, s, spec):
    """Tensors and metadata entry for sample k."""
    attrs = s["attrs"]
    grad_inputs = list(s["grad_inputs"])
    with torch.no_grad():
        probe = as_tuple(fn([t.clone() if t is not None else None for t in inputs], attrs))
    diff_out = [j for j, o in enumerate(probe)
                if o.is_floating_point() and not spec["outputs"][j]["nondiff"]]
    gen = torch.Generator().manual_seed(zlib.crc32(op.encode()) * 1000 + k)
    weights = {j: torch.rand(probe[j].shape, generator=gen, dtype=torch.float64) * 2 - 1
               for j in diff_out}
    dropped = []
    while True:
        try:
            outs, grads = run(fn, inputs, attrs, grad_inputs, weights, torch.float64)
            outs32, grads32 = run(fn, inputs, attrs, grad_inputs, weights, torch.float32)
            break
        except RuntimeError as e:  # e.g. "the derivative for 'target' is not implemented"
            if "not implemented" not in str(e) or not grad_inputs:
                raise
            bad = next((g for g in grad_inputs
                        if spec["inputs"][g]["name"] in str(e)), grad_inputs[-1])
            grad_inputs.remove(bad)
            dropped.append(bad)
    tensors = {}
    for i, t in enumerate(inputs):
        if t is not None:
            tensors[f"s{k}.in{i}"] = t
    for j, o in enumerate(outs):
        tensors[f"s{k}.out{j}"] = o
    for j, w in weights.items():
        tensors[f"s{k}.w{j}"] = w
    for i, g in grads.items():
        tensors[f"s{k}.grad{i}"] = g
    for j, o in enumerate(outs32):
        tensors[f"s{k}.f32.out{j}"] = o
    for i, g in grads32.items():
        tensors[f"s{k}.f32.grad{i}"] = g
    entry = {"desc": s["desc"], "outputs": list(range(len(outs))), "grad_inputs": list(grads),
             "grad_outputs": diff_out, "f32": True}
    if dropped:
        entry["note"] = f"torch {torch.__version__} has no gradient for inputs {dropped}"
    return tensors, entry


def generate(dump_path, out_dir):
    tensors, meta = st_read(dump_path)
    spec = json.loads(meta["nabla_samples"])
    op = spec["op"]
    if spec["random"]:
        return "skipped: random op (PyTorch's generator differs)"
    if op not in TABLE:
        return "skipped: no torch mapping"
    out, entries = {}, []
    for k, s in enumerate(spec["samples"]):
        inputs = [tensors.get(f"s{k}.in{i}") if present else None
                  for i, present in enumerate(s["present"])]
        try:
            t, e = sample_reference(op, k, TABLE[op], inputs, s, spec)
            out.update(t)
        except Exception as ex:  # noqa: BLE001 - reported per sample, the run goes on
            e = {"desc": s["desc"], "skip": f"torch failed: {type(ex).__name__}: {ex}"[:300]}
        entries.append(e)
    st_write(os.path.join(out_dir, op + ".safetensors"), out, {
        "format": "nabla-reference-1", "op": op, "torch_version": torch.__version__,
        "generator": "tests/reference/generate.py",
        "reference": json.dumps({"samples": entries}, separators=(",", ":"))})
    skipped = sum(1 for e in entries if "skip" in e)
    return f"{len(entries) - skipped} samples" + (f", {skipped} skipped" if skipped else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--gradcheck", help="nabla-gradcheck binary (runs --dump-samples)")
    src.add_argument("--samples", help="directory written by nabla-gradcheck --dump-samples")
    ap.add_argument("--out", default=HERE, help="output directory (default: %(default)s)")
    ap.add_argument("--op", action="append", help="only this op (repeatable)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    tmp = None
    samples = args.samples
    if args.gradcheck:
        tmp = tempfile.mkdtemp(prefix="nabla-samples-")
        cmd = [args.gradcheck, "--dump-samples", tmp]
        for op in args.op or []:
            cmd += ["--op", op]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        samples = tmp
    try:
        files = sorted(f for f in os.listdir(samples) if f.endswith(".safetensors"))
        for f in files:
            op = f[:-len(".safetensors")]
            if args.op and op not in args.op:
                continue
            print(f"{op:34s} {generate(os.path.join(samples, f), args.out)}")
    finally:
        if tmp:
            shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
