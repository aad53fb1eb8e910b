#!/bin/sh
# Side-by-side: nabla vs PyTorch (Debian's python3-torch) on the same tiny graphs, in the
# same run, one thread each. Prints a table with the speed-up (PyTorch time / nabla time).
# usage: bench/autograd/run.sh [BUILD_DIR]   (default: build)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
exe="$build/bench/autograd/bench_autograd"
[ -x "$exe" ] || { echo "build first: meson compile -C $build ($exe missing)" >&2; exit 1; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "needs python3-torch (apt-get install python3-torch)" >&2; exit 1; }
nb=$(meson devenv -C "$build" "$PWD/$exe" 2>/dev/null || NABLA_PLUGIN_PATH="$(find "$build/ops" "$build/plugins" -name '*.so' -exec dirname {} \; | sort -u | paste -sd:)" "$exe")
pt=$(OMP_NUM_THREADS=1 /usr/bin/python3 "$here/bench_autograd.py")
printf '%-12s %14s %14s %10s\n' benchmark "nabla us" "pytorch us" speed-up
printf '%s\n' "$nb" | while read -r name med _min; do
  ptmed=$(printf '%s\n' "$pt" | awk -v n="$name" '$1 == n {print $2}')
  awk -v n="$name" -v a="$med" -v b="$ptmed" 'BEGIN {printf "%-12s %14.3f %14.3f %9.1fx\n", n, a, b, b / a}'
done
