#!/bin/sh
# Side-by-side: nabla vs PyTorch (Debian's python3-torch) on the same tiny graphs, in the
# same run, one thread each. Runs ROUNDS alternating rounds (nabla, PyTorch, nabla, ...)
# so drift in the machine's speed hits both sides alike, and prints each round's times
# and the median speed-up (PyTorch time / nabla time) per benchmark, and best/best: the
# ratio of each side's fastest repetition over all rounds (the least noisy figure on a
# shared machine, as timeit advises).
# usage: bench/autograd/run.sh [BUILD_DIR [ROUNDS]]   (defaults: build 5)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
rounds=${2:-5}
exe="$build/bench/autograd/bench_autograd"
. "$here/../pair.sh"
bench_env "$build" "$exe" 1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
i=0
while [ "$i" -lt "$rounds" ]; do
  "$exe" | sed 's/^/nabla /' >>"$out"
  /usr/bin/python3 "$here/bench_autograd.py" | sed 's/^/torch /' >>"$out"
  i=$((i + 1))
done
# Pair the k-th nabla line of a benchmark with the k-th torch line, then take medians.
awk '
  { key = $2; names[key] = 1
    if ($1 == "nabla") { nb[key, ++nn[key]] = $3; if (!(key in nbmin) || $4 < nbmin[key]) nbmin[key] = $4 }
    else { pt[key, ++np[key]] = $3; if (!(key in ptmin) || $4 < ptmin[key]) ptmin[key] = $4 } }
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    printf "%-12s %12s %12s %12s %12s   %s\n", "benchmark", "nabla us", "pytorch us", "speed-up", "best/best", "per-round speed-ups"
    for (k in names) {
      n = nn[k]; split("", r); split("", a); split("", b); rounds = ""
      for (i = 1; i <= n; i++) { r[i] = pt[k, i] / nb[k, i]; a[i] = nb[k, i]; b[i] = pt[k, i]; rounds = rounds sprintf(" %.1f", r[i]) }
      printf "%-12s %12.3f %12.3f %11.1fx %11.1fx  %s\n", k, median(a, n), median(b, n), median(r, n), ptmin[k] / nbmin[k], rounds
    }
  }' "$out"
