#!/usr/bin/env python3
"""examples/train_gpt end to end on a small text corpus this script writes.

  test_train_gpt.py EXE CASE     CASE: flags | output | interrupt

flags      bad flags exit 2 with a message naming the flag (never a crash); --help exits 0;
           a corpus that is not text exits 1 naming the file
output     stdout (not a terminal): the header, one plain line per round in the documented
           format with the held-out loss, and a generated sample after each; the training
           loss falls well below the uniform guess log(V) on text this regular; the metrics
           file holds consecutive steps
interrupt  Ctrl-C in the middle of a round: exit 130 after the current step with a
           checkpoint; resuming it ends byte-identical to an uninterrupted run
"""
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trainer_check import check, fail, runner, wait_for_lines  # noqa: E402

EXE, CASE = sys.argv[1], sys.argv[2]
# A tiny model on a small, very regular text: 60 steps at one thread take a few seconds.
TINY = ["--width", "32", "--heads", "2", "--layers", "1", "--context", "16", "--batch-size", "8",
        "--threads", "1", "--sample-chars", "40"]
WORDS = ["the cat sat on the mat.", "a dog ran in the fog.", "the sun is up.", "we go home now."]


def write_corpus(d):
    path = os.path.join(d, "text.txt")
    with open(path, "w") as f:
        for i in range(400):
            f.write(WORDS[(i * 7 + i // 5) % 4] + "\n")
    return path, len(set("".join(w + "\n" for w in WORDS)))


run = runner(EXE)


def case_flags(d, corpus, vocab):
    r = run("--help")
    check(r.returncode == 0 and "Usage: train_gpt" in r.stdout and "--eval-every N" in r.stdout,
          f"--help: {r.returncode} {r.stdout!r}")
    bad = [(["--steps"], "--steps needs"), (["--steps", "0"], "--steps"),
           (["--steps", "30", "--eval-every", "20"], "multiple of --eval-every"),
           (["--width", "30", "--heads", "4"], "--heads must divide --width"),
           (["--lr", "-1"], "--lr needs a positive"), (["--temperature", "0"], "--temperature"),
           (["--sample-chars", "-1"], "--sample-chars"), (["--bogus"], "unknown option '--bogus'"),
           (["--resume"], "--resume needs --checkpoint")]
    for args, needle in bad:
        r = run(*args)
        check(r.returncode == 2, f"{args}: exit {r.returncode}, want 2 (stderr {r.stderr!r})")
        check(needle in r.stderr and "Try 'train_gpt --help'" in r.stderr,
              f"{args}: stderr {r.stderr!r} lacks {needle!r}")
        check(r.stdout == "", f"{args}: printed {r.stdout!r}")
    binary = os.path.join(d, "binary.bin")
    with open(binary, "wb") as f:
        f.write(b"text\0more")
    r = run("--data", binary, "--steps", "1", "--eval-every", "1")
    check(r.returncode == 1 and "binary.bin is not text" in r.stderr, f"binary corpus: {r.stderr!r}")


ROUND = re.compile(r"^round (\d)/3  20 batches  loss (\d+\.\d{4})  \d+ tok/s  \d+\.\d s  "
                   r"\| held-out loss (\d+\.\d{4})$")


def case_output(d, corpus, vocab):
    m = os.path.join(d, "m.jsonl")
    r = run(*TINY, "--data", corpus, "--steps", "60", "--eval-every", "20", "--metrics", m)
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
    check("\r" not in r.stdout and "\033" not in r.stdout, "terminal control codes in a pipe")
    lines = r.stdout.splitlines()
    check(re.match(rf"^GPT: \d+ parameters, 1 layers, 2 heads, width 32, context 16; corpus "
                   rf"{re.escape(corpus)}: \d+ characters in 1 file, vocabulary {vocab}, ", lines[0]),
          f"header: {lines[0]!r}")
    rounds = [ROUND.match(ln) for ln in lines if ln.startswith("round ")]
    check(len(rounds) == 3 and all(rounds), f"round lines: {lines}")
    check([int(x.group(1)) for x in rounds] == [1, 2, 3], "round numbers")
    first, last = float(rounds[0].group(2)), float(rounds[2].group(2))
    check(last < first - 0.5 and last < math.log(vocab) - 1, f"loss {first} -> {last}, log V {math.log(vocab):.3f}")
    check(float(rounds[2].group(3)) < math.log(vocab) - 1, f"held-out loss {rounds[2].group(3)}")
    check(r.stdout.count("---- sample ----\n") == 3, "three samples")
    steps = [json.loads(ln)["step"] for ln in open(m) if '"batch"' in ln]
    check(steps == list(range(1, 61)), f"metrics steps {steps}")




def case_interrupt(d, corpus, vocab):
    a, b, mb = os.path.join(d, "a.ckpt"), os.path.join(d, "b.ckpt"), os.path.join(d, "b.jsonl")
    common = [*TINY, "--data", corpus, "--steps", "40", "--eval-every", "20"]
    r = run(*common, "--checkpoint", a)
    check(r.returncode == 0, f"straight run: {r.stderr}")
    p = subprocess.Popen([EXE, *common, "--checkpoint", b, "--metrics", mb],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_lines(mb, 3, p, "steps")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    check(p.returncode == 130, f"exit {p.returncode}: {err}")
    check("stopping after this step" in err, err)
    mt = re.search(r"interrupted at step (\d+); checkpoint saved to", out)
    check(mt and 0 < int(mt.group(1)) < 40, f"stopped at {out!r}")
    r = run(*common, "--checkpoint", b, "--metrics", mb, "--resume")
    check(r.returncode == 0 and f"resumed from {b} at step {mt.group(1)}" in r.stdout, r.stdout + r.stderr)
    check(open(a, "rb").read() == open(b, "rb").read(), "resumed after Ctrl-C differs from the straight run")


with tempfile.TemporaryDirectory() as tmp:
    {"flags": case_flags, "output": case_output, "interrupt": case_interrupt}[CASE](tmp, *write_corpus(tmp))
print("ok")
