#!/usr/bin/env bash
# results/dcgan/dnobn: as results/dcgan/b64 (B=64, --ema 0.999, np=2,
# 5 epochs), with a discriminator without BatchNorm: dropout 0.3 after each
# LeakyReLU instead (as TensorFlow's DCGAN tutorial has it). BatchNorm in D sees
# a batch of reals and a batch of fakes apart, and its statistics are one more
# way for D to tell them apart; dropout regularises D without that.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=results/dcgan/dnobn
D="conv2d 64 size=5 stride=2 pad=2; leaky_relu alpha=0.2; dropout 0.3
conv2d 128 size=5 stride=2 pad=2; leaky_relu alpha=0.2; dropout 0.3
flatten; dense 1"
/usr/bin/time -v mpirun -np 2 build/nntrain gan --data mnist --epochs 5 --batch 64 --ema 0.999 \
    --discriminator "$D" --threads 1 --out $OUT 2>&1 | tee $OUT/train.log
build/nntrain gan-score --checkpoint $OUT/checkpoint.h5 --classifier results/dcgan/mnist/classifier/checkpoint.h5 \
    --n 10000 | tee $OUT/score.txt
build/nntrain sample --checkpoint $OUT/checkpoint.h5 --n 64 --png $OUT/sample-seed7.png --seed 7
