#!/bin/sh
# Side-by-side Transformer benchmark: nabla (bench_transformer) and PyTorch
# (bench_transformer.py, Debian's python3-torch) on the cases of cases.txt, in the same run
# with the same thread count. Prints per case the best median forward+backward time of
# each side over ROUNDS alternating rounds and the speed-up (PyTorch time / nabla time,
# > 1 means nabla is faster).
# usage: bench/transformer/run.sh [BUILD_DIR] [THREADS] [MIN_SECONDS] [ROUNDS]
#        (defaults: build 2 0.5 3)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
threads=${2:-2}
min_s=${3:-0.5}
rounds=${4:-3}
exe="$build/bench/transformer/bench_transformer"
. "$here/../pair.sh"
bench_env "$build" "$exe" "$threads"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -v '^#' "$here/cases.txt" | grep . > "$tmp/cases"
bench_pair "$tmp/cases" "$exe" "$here/bench_transformer.py" "$threads" "$min_s" "$rounds" "$tmp"
echo "threads: $threads (OMP_WAIT_POLICY=$OMP_WAIT_POLICY), best of $rounds alternating rounds," \
  "median of >= 5 runs and ${min_s}s each; torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
printf '%-14s %11s %11s %9s\n' case "nabla ms" "torch ms" speed-up
awk '{print $2}' "$tmp/cases" | while read -r name; do
  a=$(awk -v n="$name" '$1 == n {print $2}' "$tmp/nb.best")
  b=$(awk -v n="$name" '$1 == n {print $2}' "$tmp/pt.best")
  echo "$name $a $b" | awk '{printf "%-14s %11.3f %11.3f %8.2fx\n", $1, $2, $3, $3 / $2}'
done
