#!/usr/bin/env bash
# results/mnist/mlp1000-bn-dropout: preset mlp1000-bn (dropout 0.2, dense 1000
# without bias, BatchNorm, ReLU, dropout 0.5, dense 10), Adam 1e-3, cosine
# schedule, B=100, 30 epochs, 2 threads. Result: 98.58% test accuracy (best
# 98.60%), test loss 0.045: the regularised counterpart of ../overfit-1000.
# Reconstructed from the command recorded in results/README.md when the run
# was made (no train.log was kept).
set -euo pipefail
cd "$(dirname "$0")/../../.."
NN=${NNTRAIN:-build/nntrain}
OUT=${OUT:-results/mnist/mlp1000-bn-dropout}
[ -e datasets/data/mnist/train-images-idx3-ubyte.gz ] || datasets/fetch mnist
rm -f $OUT/checkpoint.h5   # a fresh run, never a resume of an older one
$NN train --data mnist --model mlp1000-bn --optim adam --epochs 30 --batch 100 --schedule cosine \
    --threads 2 --out $OUT
