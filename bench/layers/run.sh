#!/bin/sh
# Side-by-side layers benchmark: nabla (bench_layers) and PyTorch (bench_layers.py,
# Debian's python3-torch) on the cases of cases.txt (batch_norm, relu, pooling, softmax,
# losses, dropout; forward + backward, float32), same run, same thread count.
# Prints per case the median forward+backward time of each, the speed-up (PyTorch time /
# nabla time, > 1 means nabla is faster) and nabla's GB/s (x, y, dy, dx over the time).
# With one thread both sides time process CPU time (robust when the machine is shared),
# otherwise wall-clock time. The two sides alternate case by case for ROUNDS rounds and
# each keeps its best median, so a change in machine load hits both alike.
# usage: bench/layers/run.sh [BUILD_DIR] [THREADS] [MIN_SECONDS] [ROUNDS] [CASE_REGEX]
#        (defaults: build 1 0.5 3, all cases; CASE_REGEX filters case names with grep -E)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
threads=${2:-1}
min_s=${3:-0.5}
rounds=${4:-3}
filter=${5:-.}
exe="$build/bench/layers/bench_layers"
. "$here/../pair.sh"
bench_env "$build" "$exe" "$threads"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -v '^#' "$here/cases.txt" | grep . | awk -v re="$filter" '$2 ~ re' > "$tmp/cases"
bench_pair "$tmp/cases" "$exe" "$here/bench_layers.py" "$threads" "$min_s" "$rounds" "$tmp"
echo "threads: $threads (OMP_WAIT_POLICY=$OMP_WAIT_POLICY), best of $rounds alternating rounds," \
  "median of >= 5 runs and ${min_s}s each, forward + backward, float32;" \
  "torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
printf '%-24s %11s %11s %9s %9s\n' case "nabla ms" "torch ms" speed-up "GB/s"
awk '{print $2}' "$tmp/cases" | while read -r name; do
  a=$(awk -v n="$name" '$1 == n {print $2, $3}' "$tmp/nb.best")
  b=$(awk -v n="$name" '$1 == n {print $2}' "$tmp/pt.best")
  echo "$name $a $b" | awk '{printf "%-24s %11.4f %11.4f %8.2fx %9.1f\n", $1, $2, $4, $4 / $2, $3}'
done
