#!/bin/sh
# Full-width ResNet-18 (1000 classes, 2x3x64x64 input) against torchvision.models.resnet18:
# generate the golden files into a temporary directory with gen_resnet18_golden.py
# --torchvision, then run test_resnet18_golden on them. Skipped (exit 77) unless
# /usr/bin/python3 (or $NABLA_TORCH_PYTHON) imports torch and torchvision (Debian:
# python3-torch, python3-torchvision). With NABLA_RESNET18_FULL=1 and torch alone, the
# generator's plain-torch copy of the topology is used instead. The files take ~230 MB
# and are removed afterwards.
# usage: run_full_golden.sh TEST_RESNET18_GOLDEN GEN_RESNET18_GOLDEN.PY
test=$1 gen=$2
py=${NABLA_TORCH_PYTHON:-/usr/bin/python3}
if "$py" -c 'import torch, torchvision' 2>/dev/null; then
  model=--torchvision
elif [ "${NABLA_RESNET18_FULL:-0}" = 1 ] && "$py" -c 'import torch' 2>/dev/null; then
  model=
else
  echo "SKIP: $py cannot import torch and torchvision (NABLA_RESNET18_FULL=1 runs without torchvision)"
  exit 77
fi
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
"$py" "$gen" $model --width 64 --classes 1000 --batch 2 --size 64 \
  --prefix "$dir/resnet18_full" || exit 1
NABLA_RESNET18_GOLDEN="$dir/resnet18_full" "$test"
