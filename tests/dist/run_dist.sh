#!/bin/sh
# run_dist.sh NP EXPECT MAX_SECONDS PATTERN WORKER MODE [ARG...]
#
# Run one data-parallel test: the worker under `mpirun -np NP` (NP 0: alone, no
# launcher), bounded by a hard timeout, then check what can be observed from outside:
#   EXPECT ok    exit status 0
#   EXPECT fail  a non-zero exit status, but not the hard timeout (no hang)
#   MAX_SECONDS  the run must end within this many seconds
#   PATTERN      an extended regex the output must match ('-': none)
# Exit 77 (skipped) with the reason when MPI is not there. The run-as-root and
# oversubscription settings come from the test environment (tests/dist/meson.build).
np=$1 expect=$2 max=$3 pattern=$4
shift 4
if [ "$np" != 0 ]; then
  if [ "${NABLA_TEST_HAVE_MPI:-0}" != 1 ]; then
    echo "SKIP: nabla was built without MPI (the mpi plugin needs libopenmpi-dev; -Ddist_mpi)"
    exit 77
  fi
  if ! command -v "${MPIRUN:-mpirun}" >/dev/null 2>&1; then
    echo "SKIP: mpirun is not installed (Debian: openmpi-bin)"
    exit 77
  fi
  set -- "${MPIRUN:-mpirun}" --oversubscribe -np "$np" "$@"
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
hard=$((max + 30))
start=$(date +%s.%N)
timeout -k 5 "$hard" "$@" >"$out" 2>&1
status=$?
end=$(date +%s.%N)
cat "$out"
elapsed=$(echo "$end - $start" | bc 2>/dev/null || awk "BEGIN{print $end - $start}")
echo "--- exit status $status after ${elapsed}s: $*"
# timeout(1) says 124 (137 when it had to SIGKILL), but mpirun also exits 137 when a rank
# died of SIGKILL: the elapsed time tells a hang apart
if { [ "$status" = 124 ] || [ "$status" = 137 ]; } && awk "BEGIN{exit !($elapsed >= $hard - 1)}"; then
  echo "FAIL: still running after ${hard}s (a hang): killed"
  exit 1
fi
if awk "BEGIN{exit !($elapsed > $max)}"; then
  echo "FAIL: took ${elapsed}s, more than ${max}s"
  exit 1
fi
case $expect in
  ok) [ "$status" = 0 ] || { echo "FAIL: exit status $status, expected 0"; exit 1; } ;;
  fail) [ "$status" != 0 ] || { echo "FAIL: exit status 0, expected a failure"; exit 1; } ;;
esac
if [ "$pattern" != - ] && ! grep -Eq "$pattern" "$out"; then
  echo "FAIL: the output does not match /$pattern/"
  exit 1
fi
exit 0
