"""bench/timing.py — the timing loop shared by the PyTorch sides of the side-by-side
benchmarks (bench/nn, bench/layers, bench/optim); bench/timing.h is the same loop for the C sides.

start(doc) is the start of every PyTorch side: parses CASES_FILE [THREADS] [MIN_SECONDS]
(--help prints doc), sets torch's thread count, the clock and the seed, and returns
(cases lines, min_s).

timeit(fn, min_s) runs fn twice to warm up, then at least 5 times and for at least min_s
seconds (at most 201 times), and returns (median, minimum) in seconds. With one thread
(use_cpu_time(True)) it times process CPU time, as the C side does.
"""
import sys
import time

_clock = time.perf_counter


def use_cpu_time(cpu):
    """Time process CPU time (True) or wall-clock time (False, the default)."""
    global _clock
    _clock = time.process_time if cpu else time.perf_counter


def timeit(fn, min_s):
    for _ in range(2):
        fn()
    t = []
    start = _clock()
    while len(t) < 201 and (len(t) < 5 or _clock() - start < min_s):
        t0 = _clock()
        fn()
        t.append(_clock() - t0)
    t.sort()
    return t[len(t) // 2], t[0]


def start(doc):
    """The shared start of a PyTorch side: returns (lines of CASES_FILE, min_s)."""
    import torch

    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(doc)
        sys.exit(0 if len(sys.argv) > 1 else 2)
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    min_s = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    torch.set_num_threads(threads)
    use_cpu_time(threads == 1)  # process CPU time, as the C side: robust on a loaded machine
    torch.manual_seed(1)
    with open(sys.argv[1]) as f:
        return f.readlines(), min_s
