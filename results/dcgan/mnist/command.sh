#!/usr/bin/env bash
# results/dcgan/mnist: the course's DCGAN (task B3) on MNIST, preset dcgan-mnist
# (the architecture of the PyTorch DCGAN used as a speed anchor, docs/benchmarks.md), np=2 x 1 thread, B=128,
# Adam 2e-4 / beta1 0.5; then scored with a trained MNIST cnn (results/mnist/cnn's
# model, 3 epochs here) on 10,000 generated images, and the same score of the
# real test images (the ceiling).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=results/dcgan/mnist
/usr/bin/time -v mpirun -np 2 build/nntrain gan --data mnist --epochs 4 --threads 1 --out $OUT \
    2>&1 | tee $OUT/train.log
mpirun -np 2 build/nntrain train --data mnist --model cnn --optim adadelta --lr 1.0 --batch 32 \
    --epochs 3 --threads 1 --out $OUT/classifier 2>&1 | tee $OUT/classifier.log
build/nntrain gan-score --checkpoint $OUT/checkpoint.h5 --classifier $OUT/classifier/checkpoint.h5 \
    --n 10000 | tee $OUT/score.txt
build/nntrain gan-score --data mnist --classifier $OUT/classifier/checkpoint.h5 | tee $OUT/score-real.txt
build/nntrain sample --checkpoint $OUT/checkpoint.h5 --n 64 --png $OUT/sample-seed7.png --seed 7
