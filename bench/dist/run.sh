#!/bin/sh
# Allreduce through nabla's "mpi" plugin (nb_comm_*) against bare MPI doing the same
# operations on the same float32 sizes (4 KiB .. 25 MiB, DDP's bucket), 2 ranks by
# default. bench_allreduce runs both in one job with their samples alternating (a shared
# machine's load then hits both alike), ROUNDS times; per mode and size the best median
# of each side is kept and the ratio nabla / MPI printed (goal: < 1.05), and the same
# for the fastest sample, which a loaded machine disturbs least. The bare MPI
# program (bench_allreduce_mpi) is run too, its times alongside as a cross-check.
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
  # bench_allreduce prints MPI's line, then nabla's, for every mode and size
  mpirun ${MPIRUN_ARGS:-} -np "$ranks" "$nb" | awk -v o="$out" 'NR % 2 {print > (o "/mpi")} !(NR % 2) {print > (o "/nb")}'
  cat "$out/mpi" >> "$out/mpi.all"
  cat "$out/nb" >> "$out/nb.all"
  mpirun ${MPIRUN_ARGS:-} -np "$ranks" "$mpi" >> "$out/prog.all"
  r=$((r + 1))
done
# per mode and size and side: the best median ($3) and the best fastest sample ($4)
for side in mpi nb prog; do
  awk '{k = $1 "_" $2} !(k in m) || $3 < m[k] {m[k] = $3} !(k in f) || $4 < f[k] {f[k] = $4}
       END {for (k in m) print k, m[k], f[k]}' "$out/$side.all" | sort > "$out/$side.best"
done
echo "ranks: $ranks   rounds: $rounds   $(mpirun --version 2>/dev/null | head -1)"
echo "times in microseconds per operation: best median of the rounds (fastest sample)"
printf '%-12s %9s %19s %19s %8s %8s %11s\n' mode bytes "MPI" "nabla" "ratio" "(fast)" "MPI prog"
join "$out/mpi.best" "$out/nb.best" | join - "$out/prog.best" |
  awk '{split($1, k, "_"); printf "%-12s %9d %9.1f (%7.1f) %9.1f (%7.1f) %8.3f %8.3f %11.1f\n", k[1], k[2], $2, $3, $4, $5, $4 / $2, $5 / $3, $6}' |
  sort -k1,1 -k2n
