#!/usr/bin/env python3
"""tests/train/test_train_fashion.py — examples/train_fashion end to end, on a small
synthetic Fashion-MNIST written by the test (so it is fast and needs no dataset).

  test_train_fashion.py EXE CASE     CASE: flags | output | resume | interrupt | svg

flags      bad flags exit 2 with a message naming the flag (never a crash); --help exits 0
output     stdout (not a terminal): one plain summary line per epoch in the documented
           format, then the per-class summary with Fashion-MNIST's class names; the
           metrics file is JSON Lines: every line parses, batch and epoch records with
           consecutive steps
resume     2 epochs straight vs 1 epoch + --resume + 1 epoch at --threads 1: the
           checkpoints (weights, batch-norm buffers, optimizer state, position, RNG) are
           byte-identical, and the resumed metrics log equals the straight one line for
           line apart from timings
interrupt  Ctrl-C in the middle of an epoch: exit 130 after the current batch with a
           checkpoint; resuming it ends byte-identical to an uninterrupted run (that a
           second Ctrl-C ends the process at once is tested in test_training.c, where
           the two signals cannot merge into one)
svg        the --plot file renders with rsvg-convert (skipped, exit 77, without it)
twin       examples/train_fashion.py (PyTorch) from nabla's initial weights on the same
           data: every batch's loss and the test accuracies agree (skipped, exit 77,
           without python3-torch)
"""
import gzip
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trainer_check import check, fail, runner, wait_for_lines  # noqa: E402

EXE, CASE = sys.argv[1], sys.argv[2]
TWIN = sys.argv[3] if len(sys.argv) > 3 else None  # examples/train_fashion.py
TRAIN, TEST = 640, 200  # 10 batches of 64; two test batches of 1000 would be one: fine
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot"]


def write_idx(path, dims, data):
    header = struct.pack(">BBBB", 0, 0, 8, len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
    with gzip.open(path, "wb") as f:
        f.write(header + bytes(data))


def make_data(d):
    """Images whose label k brightens row band k (learnable), with pseudo-random noise."""
    for stem, n in (("train", TRAIN), ("t10k", TEST)):
        labels = [(i * 7 + i // 10) % 10 for i in range(n)]
        pix = bytearray()
        seed = 12345 + n
        for i in range(n):
            for p in range(784):
                seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
                v = (seed >> 16) % 96
                if (p // 28) // 3 == labels[i] % 9 + (labels[i] == 9):
                    v += 140
                pix.append(min(v, 255))
        write_idx(os.path.join(d, f"{stem}-images-idx3-ubyte.gz"), [n, 28, 28], pix)
        write_idx(os.path.join(d, f"{stem}-labels-idx1-ubyte.gz"), [n], labels)


run = runner(EXE)


def case_flags(d):
    r = run("--help")
    check(r.returncode == 0 and "Usage: train_fashion" in r.stdout and "--checkpoint FILE" in r.stdout,
          f"--help: {r.returncode} {r.stdout!r}")
    bad = [(["--epochs"], "--epochs needs"), (["--epochs", "x"], "--epochs needs a whole number"),
           (["--epochs", "-1"], "--epochs"), (["--batch-size", "0"], "--batch-size"),
           (["--batch-size", "12abc"], "--batch-size"), (["--lr", "0"], "--lr needs a positive"),
           (["--lr", "nan"], "--lr"), (["--optimizer", "lbfgs"], "adam or sgd"),
           (["--threads", "0"], "--threads"), (["--seed", "-3"], "--seed"),
           (["--limit", ""], "--limit"), (["--bogus"], "unknown option '--bogus'"),
           (["extra"], "unknown option 'extra'"), (["--resume"], "--resume needs --checkpoint"),
           (["--epochs", "99999999999999999999"], "--epochs"), (["--plot"], "--plot needs")]
    for args, needle in bad:
        r = run(*args)
        check(r.returncode == 2, f"{args}: exit {r.returncode}, want 2 (stderr {r.stderr!r})")
        check(needle in r.stderr and "Try 'train_fashion --help'" in r.stderr,
              f"{args}: stderr {r.stderr!r} lacks {needle!r}")
        check(r.stdout == "", f"{args}: printed {r.stdout!r}")
    r = run("--data", os.path.join(d, "nowhere"), "--epochs", "1")
    check(r.returncode == 1 and "nowhere" in r.stderr, f"missing data: {r.returncode} {r.stderr!r}")


EPOCH_LINE = re.compile(r"^epoch (\d+)/(\d+)  (\d+) batches  loss \d+\.\d{4}  \d+ img/s  \d+\.\d s  "
                        r"\| test loss \d+\.\d{4}  acc \d+\.\d{2}%$")


def case_output(d):
    m = os.path.join(d, "m.jsonl")
    r = run("--data", d, "--epochs", "2", "--threads", "1", "--metrics", m, "--limit", "320")
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
    check("\r" not in r.stdout and "\033" not in r.stdout, "terminal control codes in a pipe")
    lines = r.stdout.splitlines()
    check(lines[0].startswith("LeNet: 61750 parameters; 320 training images in 5 batches of 64"),
          f"header: {lines[0]!r}")
    epochs = [ln for ln in lines if ln.startswith("epoch ")]
    check(len(epochs) == 2, f"want 2 epoch lines, got {epochs}")
    for k, ln in enumerate(epochs, 1):
        mt = EPOCH_LINE.match(ln)
        check(mt and mt.group(1) == str(k) and mt.group(2) == "2" and mt.group(3) == "5", f"line {ln!r}")
    i = lines.index(next(ln for ln in lines if ln.startswith("test accuracy")))
    check(re.match(r"^test accuracy \d+\.\d\d% \(loss \d+\.\d{4}\); per class:$", lines[i]), lines[i])
    for c, name in enumerate(CLASSES):
        check(re.match(rf"^  {re.escape(name):<12} +\d+\.\d\d%  \(\d+/20\)$", lines[i + 1 + c]),
              f"class line {lines[i + 1 + c]!r}")
    recs = [json.loads(ln) for ln in open(m)]
    batch = [x for x in recs if x["kind"] == "batch"]
    epoch = [x for x in recs if x["kind"] == "epoch"]
    check([x["step"] for x in batch] == list(range(1, 11)), "batch steps")
    check([x["epoch"] for x in batch] == [1] * 5 + [2] * 5, "batch epochs")
    check(all(set(x) == {"kind", "epoch", "step", "loss", "acc", "lr"} for x in batch), "batch keys")
    check([(x["epoch"], x["step"]) for x in epoch] == [(1, 5), (2, 10)], "epoch records")
    for x in epoch:
        check(0 <= x["test_acc"] <= 1 and x["test_loss"] > 0 and x["seconds"] > 0, f"epoch {x}")
    check(batch[0]["lr"] == 0.004 and batch[-1]["lr"] < 0.004, "cosine lr in the log")


def strip_times(path):
    out = []
    for ln in open(path):
        x = json.loads(ln)
        x.pop("seconds", None)
        x.pop("images_per_s", None)
        out.append(x)
    return out


def case_resume(d):
    a, b = os.path.join(d, "a.ckpt"), os.path.join(d, "b.ckpt")
    ma, mb = os.path.join(d, "a.jsonl"), os.path.join(d, "b.jsonl")
    common = ["--data", d, "--threads", "1", "--seed", "7"]
    r = run(*common, "--epochs", "2", "--checkpoint", a, "--metrics", ma)
    check(r.returncode == 0, r.stderr)
    r = run(*common, "--epochs", "1", "--checkpoint", b, "--metrics", mb)
    check(r.returncode == 0, r.stderr)
    check(open(a, "rb").read() != open(b, "rb").read(), "1 and 2 epochs gave the same checkpoint")
    r = run(*common, "--epochs", "2", "--checkpoint", b, "--metrics", mb, "--resume")
    check(r.returncode == 0 and "resumed from" in r.stdout and "1 epochs and 0 batches done" in r.stdout,
          r.stdout + r.stderr)
    check(open(a, "rb").read() == open(b, "rb").read(), "resumed run differs from the straight run")
    check(strip_times(ma) == strip_times(mb), "metrics logs differ")
    # resuming a finished run trains nothing more and changes nothing
    r = run(*common, "--epochs", "2", "--checkpoint", b, "--resume")
    check(r.returncode == 0 and open(a, "rb").read() == open(b, "rb").read(), "resume of a finished run")
    # a checkpoint of another batch size is refused
    r = run(*common, "--epochs", "2", "--checkpoint", b, "--resume", "--batch-size", "32")
    check(r.returncode == 1 and "another --batch-size" in r.stderr, r.stderr)




def case_interrupt(d):
    a, b, mb = os.path.join(d, "a.ckpt"), os.path.join(d, "b.ckpt"), os.path.join(d, "b.jsonl")
    common = ["--data", d, "--threads", "1", "--epochs", "2"]
    check(run(*common, "--checkpoint", a).returncode == 0, "straight run")
    # ten batches an epoch; interrupt in the first one, after at least three
    p = subprocess.Popen([EXE, *common, "--checkpoint", b, "--metrics", mb],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_lines(mb, 3, p, "batches")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    check(p.returncode == 130, f"exit {p.returncode}: {err}")
    check("stopping after this batch" in err, err)
    mt = re.search(r"interrupted after (\d+) epochs and (\d+) batches; checkpoint saved to", out)
    check(mt, out)
    done = int(mt.group(1)) * 10 + int(mt.group(2))
    check(0 < done < 20 and int(mt.group(2)) > 0, f"stopped at {mt.groups()}: not mid-epoch")
    check(sum(1 for _ in open(mb)) >= done, "metrics lines")
    r = run(*common, "--checkpoint", b, "--metrics", mb, "--resume")
    check(r.returncode == 0 and f"{mt.group(1)} epochs and {mt.group(2)} batches done" in r.stdout,
          r.stdout + r.stderr)
    check(open(a, "rb").read() == open(b, "rb").read(), "resumed after Ctrl-C differs from the straight run")
    steps = [json.loads(ln)["step"] for ln in open(mb) if '"batch"' in ln]
    check(steps == list(range(1, 21)), f"metrics steps after resume: {steps}")


def case_svg(d):
    rsvg = shutil.which("rsvg-convert")
    if not rsvg:
        print("SKIP: rsvg-convert not found (Debian package librsvg2-bin)")
        sys.exit(77)
    svg, png = os.path.join(d, "p.svg"), os.path.join(d, "p.png")
    r = run("--data", d, "--threads", "1", "--epochs", "2", "--plot", svg)
    check(r.returncode == 0, r.stderr)
    r = subprocess.run([rsvg, "--format", "png", "-o", png, svg], capture_output=True, text=True)
    check(r.returncode == 0 and not r.stderr, f"rsvg-convert: {r.returncode} {r.stderr}")
    with open(png, "rb") as f:
        head = f.read(24)
    check(head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG")
    w, h = struct.unpack(">II", head[16:24])
    check((w, h) == (960, 396), f"rendered {w}x{h}")
    # a truncated file must fail: the check above is not vacuous
    with open(svg) as f:
        text = f.read()
    with open(svg, "w") as f:
        f.write(text[: len(text) // 2])
    r = subprocess.run([rsvg, "-o", png, svg], capture_output=True)
    check(r.returncode != 0, "rsvg-convert accepted a truncated SVG")


def torch_python():
    """A Python that imports torch (Debian's python3-torch lives in /usr/bin/python3)."""
    for py in (sys.executable, "/usr/bin/python3"):
        if py and os.path.exists(py) and subprocess.run([py, "-c", "import torch"],
                                                        capture_output=True).returncode == 0:
            return py
    return None


def case_twin(d):
    py = torch_python()
    if not py or not TWIN:
        print("SKIP: no python3 with torch (Debian package python3-torch)")
        sys.exit(77)
    init, mn, mt = (os.path.join(d, f) for f in ("init.ckpt", "n.jsonl", "t.jsonl"))
    common = ["--data", d, "--threads", "1", "--epochs", "2", "--seed", "3"]
    r = run("--data", d, "--epochs", "0", "--checkpoint", init, "--seed", "3")
    check(r.returncode == 0, r.stderr)
    r = run(*common, "--metrics", mn)
    check(r.returncode == 0, r.stderr)
    r = subprocess.run([py, TWIN, *common, "--init", init, "--metrics", mt], capture_output=True,
                       text=True, timeout=300)
    check(r.returncode == 0, r.stderr)
    check("LeNet: 61750 parameters; 640 training images in 10 batches of 64" in r.stdout, r.stdout)
    rn = [json.loads(ln) for ln in open(mn)]
    rt = [json.loads(ln) for ln in open(mt)]
    check([(x["kind"], x["epoch"], x["step"]) for x in rn] == [(x["kind"], x["epoch"], x["step"]) for x in rt],
          "the two logs have different records")
    for x, y in zip(rn, rt):
        check(abs(x["loss"] - y["loss"]) <= 1e-4 * abs(y["loss"]) + 1e-6,
              f"{x['kind']} {x['step']}: loss nabla {x['loss']} vs PyTorch {y['loss']}")
        check(abs(x["lr"] - y["lr"]) <= 1e-12, f"step {x['step']}: lr {x['lr']} vs {y['lr']}")
        if x["kind"] == "epoch":
            check(abs(x["test_acc"] - y["test_acc"]) <= 0.011, f"test accuracy {x['test_acc']} vs {y['test_acc']}")


def main():
    d = tempfile.mkdtemp(prefix="nabla-train-fashion-")
    try:
        make_data(d)
        {"flags": case_flags, "output": case_output, "resume": case_resume,
         "interrupt": case_interrupt, "svg": case_svg, "twin": case_twin}[CASE](d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print("OK")


if __name__ == "__main__":
    main()
