"""bench/timing.py — the timing loop shared by the PyTorch sides of the side-by-side
benchmarks (bench/nn, bench/layers); bench/timing.h is the same loop for the C sides.

timeit(fn, min_s) runs fn twice to warm up, then at least 5 times and for at least min_s
seconds (at most 201 times), and returns (median, minimum) in seconds. With one thread
(use_cpu_time(True)) it times process CPU time, as the C side does.
"""
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
