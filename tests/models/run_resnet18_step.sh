#!/bin/sh
# Run examples/resnet18_step and compare its output with resnet18_step.expected: PyTorch's
# print(loss) line with nabla's node name (the value, from a random model, becomes
# <loss>: a finite number as PyTorch prints it), PyTorch 2.x's print(optim) block verbatim,
# and one timing line per phase (the milliseconds become <ms>).
# usage: run_resnet18_step.sh EXAMPLE EXPECTED
out=$("$1") || { echo "example $1 failed"; exit 1; }
printf '%s\n' "$out"
printf '%s\n' "$out" |
  sed -E -e 's/^tensor\(-?[0-9]+\.[0-9]+(e[+-][0-9]+)?, grad_fn=/tensor(<loss>, grad_fn=/' \
         -e 's/^(forward|backward|step): [0-9]+\.[0-9] ms$/\1: <ms> ms/' |
  diff -u "$2" - && echo "output matches $2"
