#!/usr/bin/env bash
# results/dcgan/ls: as results/dcgan/mnist, with one-sided label smoothing (--real-label 0.9) and 6 epochs
# (the architecture of the PyTorch DCGAN used as a speed anchor, docs/benchmarks.md), np=2 x 1 thread, B=128,
# Adam 2e-4 / beta1 0.5; scored with the classifier of results/dcgan/mnist (so the
# scores compare) on 10,000 generated images.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=results/dcgan/ls
/usr/bin/time -v mpirun -np 2 build/nntrain gan --data mnist --epochs 6 --real-label 0.9 --threads 1 --out $OUT \
    2>&1 | tee $OUT/train.log
build/nntrain gan-score --checkpoint $OUT/checkpoint.h5 --classifier results/dcgan/mnist/classifier/checkpoint.h5 \
    --n 10000 | tee $OUT/score.txt
build/nntrain sample --checkpoint $OUT/checkpoint.h5 --n 64 --png $OUT/sample-seed7.png --seed 7
