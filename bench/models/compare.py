#!/usr/bin/python3
"""bench/models/compare.py — the driver of bench/models/run.sh (which builds nabla and sets
the environment first): runs every case of cases.txt in nabla (bench_models) and in
PyTorch (bench_models.py) as separate processes, alternating case by case for --rounds
rounds, plus one Fashion-MNIST epoch of examples/train_fashion and its PyTorch twin, and
prints one table: the median over the rounds of each process's median step time, the
ratio PyTorch time / nabla time (> 1: nabla is faster; the range is over the rounds;
best/best: the ratio of each side's fastest round, the least noisy on a shared machine),
each process's peak resident set (and PyTorch's before its model: the interpreter and
torch) and the minor page faults per step of a steady loop, nabla's then PyTorch's.

--busy N repeats the LeNet and ResNet-18 rows quiet, next to N processes streaming
memset over 64 MB each, and next to N CPU-only loops (bench_models --hog), the three
conditions alternating within each round, and prints each side's slowdown factor
(median / quiet median of the same run) with the range of its quiet rounds. It runs six
rounds unless told otherwise: a process's quiet time can be 4x another's (PyTorch's LeNet
step faults its memory back in every step), and a median of two is their mean.
"""
import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUSY_ROWS = re.compile(r"^(lenet|resnet18)")


def run_child(cmd):
    """Run cmd; returns its stdout, or exits with its error output."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    return p.stdout


def run_measured(cmd):
    """Run cmd, returning (stdout, its peak resident set in MB from wait4)."""
    with open(os.devnull, "w") as devnull:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=devnull, text=True)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode})")
    return out, ru.ru_maxrss / 1024


class Sides:
    """The two programs of the step cases and of the epoch row."""

    def __init__(self, a):
        self.a = a
        self.nb = os.path.join(a.build, "bench", "models", "bench_models")
        self.pt = os.path.join(HERE, "bench_models.py")
        self.tmp = os.path.join(a.build, "bench", "models", "one-case.txt")

    def case(self, side, line):
        """One case in a fresh process: (median ms, min ms, peak MB, start MB, faults/step)."""
        with open(self.tmp, "w") as f:
            f.write(line + "\n")
        args = [self.tmp, str(self.a.threads), str(self.a.min_seconds)]
        cmd = [self.nb] + args if side == "nb" else ["/usr/bin/python3", self.pt] + args
        out = run_child(cmd)
        f = out.split()
        return tuple(float(v) for v in f[1:6])

    def epoch(self, side):
        """One Fashion-MNIST epoch: (seconds of its batches, peak MB)."""
        t = str(self.a.threads)
        if side == "nb":
            cmd = [os.path.join(self.a.build, "examples", "train_fashion"), "--epochs", "1", "--threads", t]
        else:
            cmd = ["/usr/bin/python3", os.path.join(ROOT, "examples", "train_fashion.py"), "--epochs", "1",
                   "--threads", t]
        out, peak = run_measured(cmd)
        m = re.search(r"epoch 1/1 .* ([0-9.]+) s  \|", out)
        if not m:
            sys.exit(f"{' '.join(cmd)}: no epoch line in its output:\n{out}")
        return float(m.group(1)) * 1e3, peak


def hogs(a, kind):
    exe = os.path.join(a.build, "bench", "models", "bench_models")
    procs = [subprocess.Popen([exe, "--hog", kind]) for _ in range(a.busy if kind != "quiet" else 0)]
    time.sleep(0.3 if procs else 0)
    return procs


def stop(procs):
    for p in procs:
        p.kill()
        p.wait()


def conditions():
    load = os.getloadavg()
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} x {cpu}"


def torch_version():
    out = subprocess.run(["/usr/bin/python3", "-c", "import torch; print(torch.__version__)"],
                         capture_output=True, text=True).stdout
    return out.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="nabla's build directory")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=None,
                    help="alternating rounds (default 3; 6 with --busy, whose slowdowns divide by a quiet "
                         "median that swings from process to process)")
    ap.add_argument("--min-seconds", type=float, default=1.0, help="per case and process (default 1.0)")
    ap.add_argument("--busy", type=int, default=0, metavar="N", help="the contention table with N neighbours")
    ap.add_argument("--only", default=".", metavar="REGEX", help="cases whose name matches")
    ap.add_argument("--no-epoch", action="store_true", help="leave out the Fashion-MNIST epoch row")
    a = ap.parse_args()
    if a.rounds is None:
        a.rounds = 6 if a.busy else 3
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    sides = Sides(a)
    with open(os.path.join(HERE, "cases.txt")) as f:
        lines = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    lines = [l for l in lines if re.search(a.only, l.split()[0])]
    if a.busy:
        lines = [l for l in lines if BUSY_ROWS.match(l.split()[0])]
    epoch = not a.no_epoch and not a.busy and re.search(a.only, "fashion_epoch") and \
        os.path.exists(os.path.join(a.build, "examples", "train_fashion"))
    conds = ["quiet", "mem", "cpu"] if a.busy else ["quiet"]
    wait = os.environ.get("OMP_WAIT_POLICY", "unset")
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; start: {conditions()}")
    print(f"# threads {a.threads} each, OMP_WAIT_POLICY {wait}, {a.rounds} alternating rounds, "
          f"each a fresh process timing >= 5 steps and >= {a.min_seconds} s; torch {torch_version()}")
    res = {}  # (cond, name, side) -> list of (median, min, peak, start)
    for r in range(a.rounds):
        for cond in conds:
            procs = hogs(a, cond)
            try:
                for line in lines:
                    name = line.split()[0]
                    for side in ("nb", "pt"):
                        res.setdefault((cond, name, side), []).append(sides.case(side, line))
                if epoch and cond == "quiet":
                    for side in ("nb", "pt"):
                        ms, peak = sides.epoch(side)
                        res.setdefault((cond, "fashion_epoch", side), []).append((ms, ms, peak, 0.0, float("nan")))
            finally:
                stop(procs)
    names = [l.split()[0] for l in lines] + (["fashion_epoch"] if epoch else [])
    med = lambda cond, n, s, i=0: statistics.median(v[i] for v in res[(cond, n, s)])  # noqa: E731
    print(f"# end: {conditions()}")
    print(f"{'workload':<18} {'nabla ms':>10} {'torch ms':>10} {'torch/nabla':>11} {'(range)':>12} {'best/best':>9} "
          f"{'nabla MB':>9} {'torch MB':>9} {'(start)':>8} {'faults/step':>13}")
    for n in names:
        ratios = [p[0] / q[0] for p, q in zip(res[("quiet", n, "pt")], res[("quiet", n, "nb")])]
        print(f"{n:<18} {med('quiet', n, 'nb'):>10.3f} {med('quiet', n, 'pt'):>10.3f} "
              f"{statistics.median(ratios):>10.2f}x {min(ratios):>5.2f}-{max(ratios):<5.2f} "
              f"{min(v[0] for v in res[('quiet', n, 'pt')]) / min(v[0] for v in res[('quiet', n, 'nb')]):>8.2f}x "
              f"{max(v[2] for v in res[('quiet', n, 'nb')]):>9.0f} {max(v[2] for v in res[('quiet', n, 'pt')]):>9.0f} "
              f"{min(v[3] for v in res[('quiet', n, 'pt')]) or float('nan'):>8.0f} "
              f"{med('quiet', n, 'nb', 4):>6.0f} {med('quiet', n, 'pt', 4):>6.0f}")
    if a.busy:
        print(f"\nslowdown next to {a.busy} memory-streaming (mem) / CPU-only (cpu) processes: "
              f"median ms (median / quiet median); the quiet rounds' range, whose spread bounds "
              f"how far a slowdown can be trusted")
        print(f"{'workload':<18} {'side':<6} {'quiet':>9} {'(range)':>15} {'mem':>18} {'cpu':>18}")
        for n in names:
            for s, label in (("nb", "nabla"), ("pt", "torch")):
                q = med("quiet", n, s)
                qs = [v[0] for v in res[("quiet", n, s)]]
                spread = f"{min(qs):.2f}-{max(qs):.2f}"
                cells = [f"{med(c, n, s):>9.2f} ({med(c, n, s) / q:4.1f}x)" for c in ("mem", "cpu")]
                print(f"{n:<18} {label:<6} {q:>9.2f} {spread:>15} {cells[0]:>18} {cells[1]:>18}")


if __name__ == "__main__":
    main()
