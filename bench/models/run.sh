#!/bin/sh
# Whole models side by side: nabla and PyTorch (Debian's python3-torch) on the seed's
# Q = 3a³ − b², the toy net step, a LeNet step, ResNet-18 train steps and no-grad
# forwards, and one Fashion-MNIST epoch, in the same run with the same thread count;
# prints median times, the ratio PyTorch time / nabla time and each process's peak RSS.
# Builds BUILD_DIR first (a release build, -O3, when it does not exist yet). Neither side
# gets OMP_WAIT_POLICY unless you set it: the figures are what a user gets by default.
# usage: bench/models/run.sh [BUILD_DIR] [--threads N] [--rounds R] [--min-seconds S]
#                            [--busy N] [--only REGEX] [--no-epoch]
#        (defaults: build-release, 2 threads, 3 rounds (6 with --busy), 1.0 s;
#         --help: the driver's help)
#   --busy N  the LeNet and ResNet-18 rows quiet, next to N memory-streaming processes and
#             next to N CPU-only loops, with each side's slowdown factor
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=build-release
case ${1:-} in -* | '') ;; *) build=$1; shift ;; esac
case $build in /*) ;; *) build=$root/$build ;; esac
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" --buildtype=release >/dev/null
fi
meson compile -C "$build" -j "${NABLA_JOBS:-2}" >/dev/null
user_wait=${OMP_WAIT_POLICY-}
. "$here/../pair.sh"
bench_env "$build" "$build/bench/models/bench_models" 2
[ -n "$user_wait" ] || unset OMP_WAIT_POLICY # pair.sh's passive default hides what users get
exec /usr/bin/python3 "$here/compare.py" --build "$build" "$@"
