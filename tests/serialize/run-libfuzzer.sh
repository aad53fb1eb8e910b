#!/bin/sh
# Run the libFuzzer build of the safetensors fuzz target for a bounded time over the
# committed seed corpus. New inputs go to a scratch corpus in the build directory, never
# into the source tree. libFuzzer exits 77 on a finding by default, which meson reads as
# "skipped": -error_exitcode=1 makes a finding a failure.
# Usage: run-libfuzzer.sh FUZZER SEED_CORPUS WORKDIR SECONDS DICT
set -eu
fuzzer=$1 seeds=$2 work=$3 secs=$4 dict=$5
mkdir -p "$work/corpus" "$work/artifacts"
# A small ASan quarantine keeps the memory use modest on shared machines.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
exec "$fuzzer" -max_total_time="$secs" -seed=1 -rss_limit_mb=1024 -max_len=65536 -error_exitcode=1 \
  -dict="$dict" -artifact_prefix="$work/artifacts/" -print_final_stats=1 \
  "$work/corpus" "$seeds"
