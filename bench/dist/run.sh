#!/bin/sh
# Allreduce through nabla's "mpi" plugin (nb_comm_*) against a bare MPI program doing the
# same operations on the same float32 sizes (4 KiB .. 25 MiB), both under
# `mpirun -np RANKS`, alternated for ROUNDS rounds so load changes hit both alike; the
# best median of each side is kept. Prints per mode and size the times, the bandwidth
# (bytes / time, as MPI benchmarks report allreduce) and the overhead ratio nabla / MPI
# (goal: < 1.05).
# usage: bench/dist/run.sh [BUILD_DIR] [RANKS] [ROUNDS]
# MPIRUN_ARGS adds mpirun options (e.g. --hostfile FILE to measure between machines).
set -eu
build=${1:-build}
ranks=${2:-2}
rounds=${3:-3}
nb="$build/bench/dist/bench_allreduce"
mpi="$build/bench/dist/bench_allreduce_mpi"
[ -x "$nb" ] && [ -x "$mpi" ] || { echo "build with MPI first: meson compile -C $build ($nb missing)" >&2; exit 1; }
# A benchmark script may allow what mpirun refuses by default: running as root (CI) and
# more ranks than cores.
if [ "$(id -u)" = 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
if [ "$ranks" -gt "$(nproc)" ]; then MPIRUN_ARGS="${MPIRUN_ARGS:-} --oversubscribe"; fi
NABLA_PLUGIN_PATH=$(find "$build/ops" "$build/plugins" -name '*.so' -exec dirname {} \; 2>/dev/null | sort -u | paste -sd: -)
export NABLA_PLUGIN_PATH NABLA_PLUGIN_SYSTEM_PATH= NABLA_NUM_THREADS=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
r=0
while [ "$r" -lt "$rounds" ]; do
  mpirun ${MPIRUN_ARGS:-} -np "$ranks" "$mpi" >> "$out/mpi"
  mpirun ${MPIRUN_ARGS:-} -np "$ranks" "$nb" >> "$out/nb"
  r=$((r + 1))
done
for side in mpi nb; do
  awk '{k = $1 " " $2} !(k in m) || $3 < m[k] {m[k] = $3} END {for (k in m) print k, m[k]}' \
    "$out/$side" | sort -k1,1 -k2n > "$out/$side.best"
done
echo "ranks: $ranks   rounds: $rounds   $(mpirun --version 2>/dev/null | head -1)"
printf '%-12s %10s %11s %11s %10s %8s\n' mode bytes "MPI us" "nabla us" "nabla GB/s" ratio
awk '{print $1 "_" $2, $3}' "$out/mpi.best" | sort > "$out/a"
awk '{print $1 "_" $2, $3}' "$out/nb.best" | sort > "$out/b"
join "$out/a" "$out/b" |
  awk '{split($1, k, "_"); printf "%-12s %10d %11.1f %11.1f %10.2f %8.3f\n", k[1], k[2], $2, $3, k[2] / $3 / 1e3, $3 / $2}' |
  sort -k1,1 -k2n
