#!/usr/bin/env bash
# tools/setup.sh — bootstrap nabla on a Debian (or Ubuntu) machine: install the missing
# packages, configure and build with Meson, then run the main job or the tests.
# Idempotent: with everything installed and built it only checks and rebuilds what
# changed. Run `tools/setup.sh --help` for the commands.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: tools/setup.sh [COMMAND] [OPTIONS] [-- MESON_SETUP_ARGS...]

Commands:
  run     install missing packages, build, run the main job (default)
  test    install missing packages, build, run the whole test suite (meson test)
  build   install missing packages and build only
  deps    install missing packages only
  bench   like build, plus python3-torch, then run bench/*/run.sh (nabla vs PyTorch);
          builds a release (-O3) build in build-release unless --builddir is given

Options:
  --builddir DIR   build directory (default: build, next to meson.build)
  --jobs N, -j N   parallel compile and test jobs (default: $NABLA_JOBS, else nproc)
  --suite NAME     with `test`: run only this Meson test suite (repeatable)
  -h, --help       this help

Arguments after `--` go to `meson setup`, e.g.
  tools/setup.sh test --builddir build-asan -- -Db_sanitize=address,undefined -Db_lundef=false

Packages are installed with apt-get when running as root; otherwise the exact
apt-get command is printed and the script stops. The main job is
examples/train_fashion: a LeNet-style CNN trained on Fashion-MNIST (Debian's
dataset-fashion-mnist, in /usr/share/datasets/fashion-mnist) to about 91% test
accuracy in 5 epochs, with a progress bar and a per-class summary. Without the dataset
or that example it is the first of examples/train_toy, examples/autograd_basics,
tools/inspect/nabla-inspect that is built. It runs under `meson devenv`, so it sees
only the plugins of this build.
EOF
}

# Debian packages needed to build, test and run the main job (python3-torch only for
# `bench`): the Fashion-MNIST files for examples/train_fashion, rsvg-convert for the test
# that renders its SVG plot, and Open MPI (openmpi-bin: mpirun; libopenmpi-dev: what the
# mpi plugin builds against) for data-parallel training across processes, and fortunes
# (its text files, /usr/share/games/fortunes) as the corpus of the character-level GPT.
PACKAGES=(meson ninja-build pkg-config libblis-dev check libcjson-dev zlib1g-dev graphviz python3
          dataset-fashion-mnist librsvg2-bin openmpi-bin libopenmpi-dev fortunes)
BENCH_PACKAGES=(python3-torch)
# The main job, in order of preference (paths relative to the build directory).
MAIN_JOBS=(examples/train_fashion examples/train_toy examples/autograd_basics
           tools/inspect/nabla-inspect)
# Where examples/train_fashion reads Fashion-MNIST by default (its --data flag).
FASHION_MNIST_DIR=/usr/share/datasets/fashion-mnist

say() { printf 'setup.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command=run
builddir=
jobs=${NABLA_JOBS:-}
suites=()
meson_args=()

while [ $# -gt 0 ]; do
  case $1 in
    run | test | build | deps | bench) command=$1 ;;
    --builddir) [ $# -ge 2 ] || die "--builddir needs a directory"; builddir=$2; shift ;;
    --builddir=*) builddir=${1#*=} ;;
    -j | --jobs) [ $# -ge 2 ] || die "$1 needs a number"; jobs=$2; shift ;;
    --jobs=*) jobs=${1#--jobs=} ;;
    -j*) jobs=${1#-j} ;;
    --suite) [ $# -ge 2 ] || die "--suite needs a name"; suites+=("$2"); shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; meson_args=("$@"); break ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
  shift
done

if [ -z "$builddir" ] && [ "$command" = bench ]; then
  # Benchmarks measure the optimised library users ship (-O3), in its own build dir so
  # the debugoptimized build/ of `run` and `test` is left alone.
  builddir=$srcdir/build-release
  [ ${#meson_args[@]} -gt 0 ] || meson_args=(--buildtype=release)
fi
[ -n "$builddir" ] || builddir=$srcdir/build
case $builddir in /*) ;; *) builddir=$PWD/$builddir ;; esac
[ -n "$jobs" ] || jobs=$(nproc 2>/dev/null || echo 2)
case $jobs in '' | *[!0-9]* | 0) die "--jobs wants a positive number, got '$jobs'" ;; esac

# ---- 1. packages ---------------------------------------------------------------
missing_packages() {
  local p status
  for p in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    case $status in ii*) ;; *) printf '%s\n' "$p" ;; esac
  done
}

install_packages() {
  local wanted=("${PACKAGES[@]}") missing=()
  [ "$command" = bench ] && wanted+=("${BENCH_PACKAGES[@]}")
  if ! command -v cc >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1; then
    wanted+=(build-essential)
  fi
  if ! command -v dpkg-query >/dev/null 2>&1; then
    say "not a Debian system: make sure these (Debian names) are installed: ${wanted[*]}"
    return 0
  fi
  mapfile -t missing < <(missing_packages "${wanted[@]}")
  if [ ${#missing[@]} -eq 0 ]; then
    say "packages: all present"
    return 0
  fi
  say "missing packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    say "not root: install them with this command, then run this script again:"
    printf '  sudo apt-get update && sudo apt-get install -y --no-install-recommends %s\n' "${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q || say "warning: apt-get update failed; trying the install anyway"
  apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# ---- 2. configure and build ---------------------------------------------------------
configure() {
  if [ -f "$builddir/build.ninja" ] && [ ${#meson_args[@]} -eq 0 ]; then
    return 0 # ninja re-runs meson itself when a meson.build changed
  fi
  if [ -f "$builddir/meson-private/coredata.dat" ]; then
    meson setup --reconfigure "$builddir" "$srcdir" "${meson_args[@]}"
  else
    meson setup "$builddir" "$srcdir" "${meson_args[@]}"
  fi
}

build() {
  configure
  meson compile -C "$builddir" -j "$jobs"
}

# ---- 3. what to do with the build ------------------------------------------------------
run_main_job() {
  local job
  for job in "${MAIN_JOBS[@]}"; do
    if [ "$job" = examples/train_fashion ] && [ -x "$builddir/$job" ] &&
       [ ! -e "$FASHION_MNIST_DIR/train-images-idx3-ubyte.gz" ] &&
       [ ! -e "$FASHION_MNIST_DIR/train-images-idx3-ubyte" ]; then
      say "no Fashion-MNIST in $FASHION_MNIST_DIR (package dataset-fashion-mnist): skipping $job"
      continue
    fi
    if [ -x "$builddir/$job" ]; then
      say "running $job (meson devenv: plugins of this build only)"
      exec meson devenv -C "$builddir" "$builddir/$job"
    fi
  done
  die "none of ${MAIN_JOBS[*]} is built in $builddir"
}

run_tests() {
  local args=(--print-errorlogs --num-processes "$jobs") s
  for s in "${suites[@]}"; do args+=(--suite "$s"); done
  meson test -C "$builddir" "${args[@]}"
}

run_benchmarks() {
  # Each bench/<area>/run.sh [BUILD_DIR] runs nabla and PyTorch side by side; one at a
  # time, since side-by-side timings need the cores to themselves.
  local script rel=$builddir ran=0 failed=0
  case $builddir in "$srcdir"/*) rel=${builddir#"$srcdir"/} ;; esac
  cd "$srcdir"
  for script in bench/*/run.sh; do
    [ -f "$script" ] || continue
    say "benchmark: $script"
    sh "$script" "$rel" || failed=1
    ran=1
  done
  if [ "$(meson introspect "$builddir" --benchmarks)" != "[]" ]; then
    meson test -C "$builddir" --benchmark --num-processes 1 --print-errorlogs || failed=1
    ran=1
  fi
  [ "$ran" = 1 ] || say "no benchmarks yet (bench/<area>/run.sh)"
  return "$failed"
}

install_packages
case $command in
  deps) ;;
  build) build ;;
  run) build; run_main_job ;;
  test) build; run_tests ;;
  bench) build; run_benchmarks ;;
esac
