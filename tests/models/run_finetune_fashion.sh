#!/bin/sh
# Finetuning on real data (examples/finetune_fashion) on a subset: the frozen LeNet body
# (every parameter and buffer) must come out bit for bit unchanged, and the new
# classifier must learn classes 5-9 well above chance (20 %). Skips (77) without the
# Fashion-MNIST files. Usage: run_finetune_fashion.sh EXAMPLE WORKDIR
set -u
example=$1 work=$2
mkdir -p "$work"
out=$("$example" --limit 4000 --threads 1 --out "$work/fashion_0to4.safetensors" 2>&1)
rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 77 ] && exit 77
[ "$rc" -eq 0 ] || { echo "FAIL: exit status $rc"; exit 1; }
printf '%s\n' "$out" | grep -Eq '^frozen tensors unchanged bit for bit: ([0-9]+) of \1$' ||
  { echo "FAIL: a frozen tensor changed"; exit 1; }
acc=$(printf '%s\n' "$out" | sed -n 's/^finetuned classifier on classes 5-9: test accuracy \([0-9.]*\) %$/\1/p')
[ -n "$acc" ] || { echo "FAIL: no accuracy line"; exit 1; }
awk -v a="$acc" 'BEGIN { exit !(a >= 60) }' || { echo "FAIL: accuracy $acc % < 60 %"; exit 1; }
echo "ok: frozen body unchanged, classifier accuracy $acc %"
