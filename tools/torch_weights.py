#!/usr/bin/python3
"""Move model weights between PyTorch and nabla (safetensors with PyTorch's key names).

Run with Debian's python3-torch (/usr/bin/python3); python3-torchvision for resnet18.
The safetensors format is written and read by hand here (no `safetensors` package needed):
8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
then the raw little-endian data.

  torch_weights.py export MODEL OUT.safetensors [--seed N] [--state FILE.pt]
      Build MODEL (toy, blitz, resnet18) with PyTorch's initialisation (seeded), or load
      a torch.save()d state_dict / model from FILE.pt, and write its state_dict.
  torch_weights.py import IN.safetensors MODEL [--out FILE.pt] [--non-strict]
      Load a nabla-saved state_dict into the PyTorch MODEL (strict by default: missing,
      unexpected and mis-shaped keys are reported), optionally torch.save it.
  torch_weights.py forward IN.safetensors MODEL INPUT.safetensors OUT.safetensors
      Load weights, run MODEL in eval mode on the tensor "input" of INPUT, write "output".

As a module: save_safetensors(path, {name: tensor}, metadata) / load_safetensors(path),
and the model builders ToyNet, BlitzNet, build_model(name).
"""
import argparse
import json
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.bool: "BOOL",
           torch.float16: "F16", torch.int32: "I32", torch.uint8: "U8"}
_FROM = {v: k for k, v in _DTYPES.items()}


def save_safetensors(path, tensors, metadata=None):
    """Write {name: tensor} (and an optional {str: str} metadata) as safetensors."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        if t.dtype not in _DTYPES:
            raise ValueError(f"{name}: unsupported dtype {t.dtype}")
        data = t.numpy().tobytes() if t.dtype != torch.bool else t.to(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path, with_metadata=False):
    """Read a safetensors file into {name: tensor} (and its metadata when asked)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} past the end of the file")
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        if not 0 <= b <= e <= len(data):
            raise ValueError(f"{path}: {name}: offsets {b}..{e} outside the data")
        dt = _FROM[info["dtype"]]
        buf = bytearray(data[b:e])
        if dt == torch.bool:
            t = torch.frombuffer(buf, dtype=torch.uint8).to(torch.bool) if buf else torch.empty(0, dtype=torch.bool)
        else:
            t = torch.frombuffer(buf, dtype=dt) if buf else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"]).clone()
    return (out, meta) if with_metadata else out


class ToyNet(nn.Module):
    """The seed's toy feed-forward net: 10 -> 5 -> 5 -> 1 with ReLU."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 5)
        self.fc2 = nn.Linear(5, 5)
        self.fc3 = nn.Linear(5, 1)

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class BlitzNet(nn.Module):
    """The CIFAR-10 tutorial ("blitz") Net."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


# The seed names both classes "Net"; so does print(model).
ToyNet.__name__ = ToyNet.__qualname__ = "Net"
BlitzNet.__name__ = BlitzNet.__qualname__ = "Net"


def build_model(name, num_classes=1000):
    if name == "toy":
        return ToyNet()
    if name == "blitz":
        return BlitzNet()
    if name == "resnet18":
        import torchvision
        return torchvision.models.resnet18(num_classes=num_classes)
    raise SystemExit(f"unknown model {name!r}: use toy, blitz or resnet18")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="PyTorch model -> safetensors")
    e.add_argument("model")
    e.add_argument("out")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--num-classes", type=int, default=1000)
    e.add_argument("--state", help="torch.save()d state_dict or model to export instead")
    i = sub.add_parser("import", help="safetensors -> PyTorch model")
    i.add_argument("path")
    i.add_argument("model")
    i.add_argument("--num-classes", type=int, default=1000)
    i.add_argument("--out", help="torch.save() the loaded state_dict here")
    i.add_argument("--non-strict", action="store_true")
    fw = sub.add_parser("forward", help="run a PyTorch model with nabla-saved weights")
    fw.add_argument("path")
    fw.add_argument("model")
    fw.add_argument("input")
    fw.add_argument("output")
    fw.add_argument("--num-classes", type=int, default=1000)
    a = ap.parse_args(argv)

    if a.cmd == "export":
        torch.manual_seed(a.seed)
        model = build_model(a.model, a.num_classes)
        if a.state:
            obj = torch.load(a.state, map_location="cpu")
            model.load_state_dict(obj.state_dict() if isinstance(obj, nn.Module) else obj)
        sd = model.state_dict()
        save_safetensors(a.out, sd, {"format": "pt"})
        print(f"wrote {len(sd)} tensors ({sum(t.numel() for t in sd.values())} values) to {a.out}")
        return 0
    model = build_model(a.model, a.num_classes)
    sd = load_safetensors(a.path)
    res = model.load_state_dict(sd, strict=not getattr(a, "non_strict", False))
    if res.missing_keys or res.unexpected_keys:
        print(f"missing: {res.missing_keys}\nunexpected: {res.unexpected_keys}")
    if a.cmd == "import":
        print(f"loaded {len(sd)} tensors into {a.model}")
        if a.out:
            torch.save(model.state_dict(), a.out)
        return 0
    model.eval()
    x = load_safetensors(a.input)["input"]
    with torch.no_grad():
        y = model(x)
    save_safetensors(a.output, {"output": y})
    return 0


if __name__ == "__main__":
    sys.exit(main())
