#!/usr/bin/env bash
# results/dcgan/b64: the dcgan-mnist preset with twice the steps per epoch
# (--batch 64: 32 real + 32 fake for D, 64 fake for G) and the generator's
# moving average (--ema 0.999), np=2 x 1 thread, 5 epochs; scored like
# results/dcgan/mnist (its classifier, 10,000 samples), per epoch.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=results/dcgan/b64
/usr/bin/time -v mpirun -np 2 build/nntrain gan --data mnist --epochs 5 --batch 64 --ema 0.999 \
    --threads 1 --checkpoint-every 0 --out $OUT 2>&1 | tee $OUT/train.log
build/nntrain gan-score --checkpoint $OUT/checkpoint.h5 --classifier results/dcgan/mnist/classifier/checkpoint.h5 \
    --n 10000 | tee $OUT/score.txt
build/nntrain sample --checkpoint $OUT/checkpoint.h5 --n 64 --png $OUT/sample-seed7.png --seed 7
