#!/bin/sh
# Side-by-side optimizer benchmark: one step over ResNet-18's 11.7 M parameters, nabla
# (bench_optim) against PyTorch's per-tensor and foreach paths (bench_optim.py, Debian's
# python3-torch + python3-torchvision), in the same run with the same thread count.
# Prints median step times and the speed-up against PyTorch's faster path (> 1: nabla
# is faster). usage: bench/optim/run.sh [BUILD_DIR] [THREADS] [MIN_SECONDS]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
threads=${2:-1}
min_s=${3:-1.0}
exe="$build/bench/optim/bench_optim"
. "$here/../pair.sh"
bench_env "$build" "$exe" "$threads" "torch, torchvision"
nb=$("$exe" "$threads" "$min_s")
pt=$(/usr/bin/python3 "$here/bench_optim.py" "$threads" "$min_s")
echo "threads: $threads   torch: $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
printf '%-14s %10s %14s %12s %9s\n' step "nabla ms" "torch per-t ms" "foreach ms" speed-up
printf '%s\n' "$nb" | while read -r name med _min; do
  a=$(printf '%s\n' "$pt" | awk -v n="${name}_pertensor" '$1 == n {print $2}')
  b=$(printf '%s\n' "$pt" | awk -v n="${name}_foreach" '$1 == n {print $2}')
  awk -v n="$name" -v m="$med" -v a="$a" -v b="$b" \
    'BEGIN {best = a < b ? a : b; printf "%-14s %10.2f %14.2f %12.2f %8.2fx\n", n, m, a, b, best / m}'
done
