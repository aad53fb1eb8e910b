#!/bin/sh
# Side-by-side nn benchmark: nabla (bench_nn) and PyTorch (bench_nn.py, Debian's
# python3-torch) on the shapes of cases.txt, in the same run with the same thread count.
# Prints per case the median forward+backward time of each, the speed-up (PyTorch time /
# nabla time, > 1 means nabla is faster), nabla's GFLOP/s and that as % of the plain BLIS
# sgemm (nb_gemm 1024^3) measured in the same run. With one thread both sides time
# process CPU time (robust when the machine is shared), otherwise wall-clock time.
# usage: bench/nn/run.sh [BUILD_DIR] [THREADS] [MIN_SECONDS]   (defaults: build 1 1.0)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
threads=${2:-1}
min_s=${3:-1.0}
exe="$build/bench/nn/bench_nn"
[ -x "$exe" ] || { echo "build first: meson compile -C $build ($exe missing)" >&2; exit 1; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "needs python3-torch (apt-get install python3-torch)" >&2; exit 1; }
# Passive OpenMP waiting for both sides: on a shared, oversubscribed machine actively
# spinning worker threads stall each other (tens of ms per parallel region).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
plugin_path=$(find "$build/ops" -name '*.so' -exec dirname {} \; | sort -u | paste -sd: -)
nb=$(NABLA_PLUGIN_PATH="$plugin_path" NABLA_PLUGIN_SYSTEM_PATH= OMP_NUM_THREADS=$threads "$exe" "$here/cases.txt" "$threads" "$min_s")
pt=$(OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/bench_nn.py" "$here/cases.txt" "$threads" "$min_s")
sgemm=$(printf '%s\n' "$nb" | awk '$1 == "sgemm_1024" {print $4}')
echo "threads: $threads (OMP_WAIT_POLICY=$OMP_WAIT_POLICY)   nabla BLIS sgemm 1024^3: $sgemm GFLOP/s   torch: $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
printf '%-18s %11s %11s %9s %9s %9s\n' case "nabla ms" "torch ms" speed-up "GFLOP/s" "% sgemm"
printf '%s\n' "$nb" | while read -r name med _min gf; do
  ptmed=$(printf '%s\n' "$pt" | awk -v n="$name" '$1 == n {print $2}')
  awk -v n="$name" -v a="$med" -v b="$ptmed" -v g="$gf" -v s="$sgemm" \
    'BEGIN {printf "%-18s %11.3f %11.3f %8.2fx %9.1f %8.0f%%\n", n, a, b, b / a, g, 100 * g / s}'
done
