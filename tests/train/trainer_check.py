"""What the end-to-end scripts of tests/train share: running a trainer, failing with a
message, and waiting for a running trainer to log a number of lines."""
import os
import subprocess
import sys
import time


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def runner(exe):
    """run(*args) -> CompletedProcess of `exe args` (text, captured, 5-minute timeout)."""
    def run(*args, **kw):
        return subprocess.run([exe, *args], capture_output=True, text=True, timeout=300, **kw)
    return run


def wait_for_lines(path, n, proc, what="lines"):
    """Wait until the file at path has n lines, or fail when proc ends or 2 minutes pass."""
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(path) and sum(1 for _ in open(path)) >= n:
            return
        time.sleep(0.01)
    fail(f"no {n} {what} logged (exit {proc.poll()})")
