#!/bin/sh
# run_train_fashion.sh TRAIN_FASHION — the main job distributed: train LeNet for one
# epoch on 512 Fashion-MNIST images with `mpirun -np 2 train_fashion --distributed`,
# then load its checkpoint in a single process: only rank 0 printed, and the single
# process reports the very test accuracy the distributed run ended with (the checkpoint
# is the same file either way). Skipped (77) without MPI or without the data set.
exe=$1
data=/usr/share/datasets/fashion-mnist
[ "${NABLA_TEST_HAVE_MPI:-0}" = 1 ] || { echo "SKIP: nabla was built without MPI"; exit 77; }
command -v mpirun >/dev/null 2>&1 || { echo "SKIP: mpirun is not installed (openmpi-bin)"; exit 77; }
[ -f "$data/train-images-idx3-ubyte.gz" ] || { echo "SKIP: Fashion-MNIST is not installed (dataset-fashion-mnist)"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
set -- --epochs 1 --limit 512 --batch-size 64 --checkpoint "$dir/ck"
timeout -k 5 150 mpirun --oversubscribe -np 2 "$exe" --distributed "$@" > "$dir/dist.out" 2>&1
status=$?
cat "$dir/dist.out"
[ "$status" = 0 ] || { echo "FAIL: the distributed run exited with $status"; exit 1; }
[ "$(grep -c '^LeNet:' "$dir/dist.out")" = 1 ] || { echo "FAIL: more than rank 0 printed"; exit 1; }
grep -q "^distributed: 2 processes (backend mpi), 32 images per process" "$dir/dist.out" ||
  { echo "FAIL: the run does not say it is distributed over 2 processes"; exit 1; }
[ -f "$dir/ck" ] || { echo "FAIL: no checkpoint written"; exit 1; }
timeout -k 5 150 "$exe" --resume "$@" > "$dir/single.out" 2>&1
status=$?
cat "$dir/single.out"
[ "$status" = 0 ] || { echo "FAIL: the single-process run exited with $status"; exit 1; }
a=$(grep '^test accuracy' "$dir/dist.out")
b=$(grep '^test accuracy' "$dir/single.out")
echo "distributed: $a"
echo "one process: $b"
[ -n "$a" ] && [ "$a" = "$b" ] || { echo "FAIL: the checkpoint evaluates differently in one process"; exit 1; }
exit 0
