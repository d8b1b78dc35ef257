#!/usr/bin/env bash
# results/mnist/mlp1000-adam: 784-1000 ReLU-10 (preset mlp1000), Adam 1e-3,
# B=100, 20 epochs, 2 OpenBLAS threads, one process. Result: 98.26% test
# accuracy after 20 epochs (best 98.40%, epoch 17).
# Reconstructed from the command recorded in results/README.md when the run
# was made (no train.log or eval.txt was kept): the run itself predates this
# script.
set -euo pipefail
cd "$(dirname "$0")/../../.."
NN=${NNTRAIN:-build/nntrain}
OUT=${OUT:-results/mnist/mlp1000-adam}
[ -e datasets/data/mnist/train-images-idx3-ubyte.gz ] || datasets/fetch mnist
rm -f $OUT/checkpoint.h5   # a fresh run, never a resume of an older one
$NN train --data mnist --model mlp1000 --optim adam --epochs 20 --batch 100 --threads 2 --out $OUT
