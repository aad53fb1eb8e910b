#!/bin/sh
# Run an example and compare its output with the expected text (PyTorch's prints for the
# same Python lines, as the seed tutorial shows them).
# usage: run_example.sh EXAMPLE EXPECTED
out=$("$1") || { echo "example $1 failed"; exit 1; }
printf '%s\n' "$out" | diff -u "$2" - && echo "output matches $2"
