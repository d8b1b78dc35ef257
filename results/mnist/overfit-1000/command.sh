#!/usr/bin/env bash
# results/mnist/overfit-1000: task B1, overfitting on purpose. 784-1000
# ReLU-10 (preset mlp1000), Adam, no regularisation, only the first 1,000
# training images (--limit 1000), B=50, 60 epochs, 1 thread. Result: train
# accuracy 100% from epoch 13, test loss lowest (0.371) at epoch 12 and 0.444
# at epoch 60 while the training loss falls towards 0 (results/README.md).
# Reconstructed from the command recorded in results/README.md when the run
# was made (no train.log was kept).
set -euo pipefail
cd "$(dirname "$0")/../../.."
NN=${NNTRAIN:-build/nntrain}
OUT=${OUT:-results/mnist/overfit-1000}
[ -e datasets/data/mnist/train-images-idx3-ubyte.gz ] || datasets/fetch mnist
rm -f $OUT/checkpoint.h5   # a fresh run, never a resume of an older one
$NN train --data mnist --model mlp1000 --optim adam --limit 1000 --epochs 60 --batch 50 --threads 1 --out $OUT
