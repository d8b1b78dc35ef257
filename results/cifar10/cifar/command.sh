#!/usr/bin/env bash
# results/cifar10/cifar: task A-series CIFAR-10 from the JPEG copy
# (datasets/fetch cifar10), preset cifar: normalize (adapted), 3 stages of
# 2 x (conv3x3 + BN + ReLU) + maxpool (32, 64, 128 filters), dropout 0.3,
# dense 256 + BN + ReLU, dropout 0.3, dense 10; momentum SGD lr 0.05, alpha
# 0.9, weight decay 5e-4, cosine schedule with 1 warmup epoch, B=128, random
# crop (pad 4) + flip, 22 epochs, mpirun -np 2 x 1 thread; then eval with the
# confusion matrix. Result: 85.40% test accuracy, 32 min 29 s wall.
# From the command recorded in results/README.md when the run was made
# (train.log is its output); the eval line is the one every run here uses.
# The run used OpenBLAS's own kernel choice (env -u OPENBLAS_CORETYPE).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
NN=${NNTRAIN:-build/nntrain}
OUT=${OUT:-results/cifar10/cifar}
[ -d datasets/data/cifar10-jpeg ] || datasets/fetch cifar10
rm -f $OUT/checkpoint.h5   # a fresh run, never a resume of an older one
mkdir -p $OUT
env -u OPENBLAS_CORETYPE mpirun -np 2 $NN train --data cifar10-jpeg --model cifar --optim momentum --lr 0.05 \
    --weight-decay 0.0005 --schedule cosine --warmup 1 --epochs 22 --batch 128 --crop 4 --flip --threads 1 \
    --out $OUT 2>&1 | tee $OUT/train.log
$NN eval --data cifar10-jpeg --checkpoint $OUT/checkpoint.h5 --confusion-csv $OUT/confusion.csv \
    --confusion-png $OUT/confusion.png | tee $OUT/eval.txt
