#!/bin/sh
# Run a command and assert its exit status and output.
# Usage: expect.sh STATUS [PATTERN...] -- COMMAND [ARG...]
# Each PATTERN is an extended regular expression that must match some line of the
# combined stdout+stderr; a PATTERN starting with '!' must match no line.
set -u
want=$1
shift
pats=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  pats="$pats$1
"
  shift
done
[ $# -gt 0 ] && shift
out=$(mktemp "${TMPDIR:-/tmp}/nabla-expect.XXXXXX")
trap 'rm -f "$out"' EXIT
"$@" >"$out" 2>&1
got=$?
cat "$out"
echo "---- exit status $got (expected $want)"
fail=0
[ "$got" = "$want" ] || fail=1
while IFS= read -r p; do
  [ -z "$p" ] && continue
  case $p in
  !*)
    if grep -qE -- "${p#!}" "$out"; then echo "unexpected output matching: ${p#!}"; fail=1; fi ;;
  *)
    if ! grep -qE -- "$p" "$out"; then echo "missing output matching: $p"; fail=1; fi ;;
  esac
done <<EOT
$pats
EOT
[ "$fail" = 0 ] && echo "ok" || echo "FAILED"
exit "$fail"
