#!/usr/bin/env bash
# results/dcgan/k4: as results/dcgan/dnobn (D with dropout instead of BatchNorm,
# B=64, --ema 0.999, np=2), with 4x4 kernels (stride 2, pad 1: the DCGAN paper's) in G and D
# instead of 5x5: 64% of the convolution work, so 7 epochs in about the time 5 took.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=results/dcgan/k4
G="dense 6272 bias=false; batchnorm; relu; reshape 128x7x7
deconv2d 64 size=4 stride=2 pad=1 bias=false; batchnorm; relu
deconv2d 1 size=4 stride=2 pad=1; tanh"
D="conv2d 64 size=4 stride=2 pad=1; leaky_relu alpha=0.2; dropout 0.3
conv2d 128 size=4 stride=2 pad=1; leaky_relu alpha=0.2; dropout 0.3
flatten; dense 1"
/usr/bin/time -v mpirun -np 2 build/nntrain gan --data mnist --epochs 7 --batch 64 --ema 0.999 \
    --generator "$G" --discriminator "$D" --threads 1 --out $OUT 2>&1 | tee $OUT/train.log
build/nntrain gan-score --checkpoint $OUT/checkpoint.h5 --classifier results/dcgan/mnist/classifier/checkpoint.h5 \
    --n 10000 | tee $OUT/score.txt
build/nntrain sample --checkpoint $OUT/checkpoint.h5 --n 64 --png $OUT/sample-seed7.png --seed 7
