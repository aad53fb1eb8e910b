#!/bin/sh
# Side-by-side nn benchmark: nabla (bench_nn) and PyTorch (bench_nn.py, Debian's
# python3-torch) on the shapes of cases.txt, in the same run with the same thread count.
# Prints per case the median forward+backward time of each, the speed-up (PyTorch time /
# nabla time, > 1 means nabla is faster), nabla's GFLOP/s and that as % of nabla's plain
# sgemm (nb_gemm 1024^3) and of BLIS's own (bli_sgemm 1024^3 on one thread), measured in
# the same run. With one thread both sides time process CPU time (robust when the machine
# is shared), otherwise wall-clock time.
# The two sides alternate case by case for ROUNDS rounds and each keeps its best median,
# so a change in machine load hits both alike.
# usage: bench/nn/run.sh [BUILD_DIR] [THREADS] [MIN_SECONDS] [ROUNDS]
#        (defaults: build 1 0.5 3)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
threads=${2:-1}
min_s=${3:-0.5}
rounds=${4:-3}
exe="$build/bench/nn/bench_nn"
. "$here/../pair.sh"
bench_env "$build" "$exe" "$threads"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -v '^#' "$here/cases.txt" | grep . > "$tmp/cases"
bench_pair "$tmp/cases" "$exe" "$here/bench_nn.py" "$threads" "$min_s" "$rounds" "$tmp"
sgemm=$(awk '$1 == "sgemm_1024" {print $3}' "$tmp/nb.best")
blis=$(awk '$1 == "blis_sgemm_1024" {print $3}' "$tmp/nb.best")
echo "threads: $threads (OMP_WAIT_POLICY=$OMP_WAIT_POLICY), best of $rounds alternating rounds," \
  "median of >= 5 runs and ${min_s}s each; sgemm 1024^3: nabla $sgemm, BLIS $blis GFLOP/s;" \
  "torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
printf '%-18s %11s %11s %9s %9s %9s %9s\n' case "nabla ms" "torch ms" speed-up "GFLOP/s" "% sgemm" "% BLIS"
awk '{print $2}' "$tmp/cases" | while read -r name; do
  a=$(awk -v n="$name" '$1 == n {print $2, $3}' "$tmp/nb.best")
  b=$(awk -v n="$name" '$1 == n {print $2}' "$tmp/pt.best")
  echo "$name $a $b" | awk -v s="$sgemm" -v bl="$blis" \
    '{printf "%-18s %11.3f %11.3f %8.2fx %9.1f %8.0f%% %8.0f%%\n", $1, $2, $4, $4 / $2, $3, 100 * $3 / s, 100 * $3 / bl}'
done
