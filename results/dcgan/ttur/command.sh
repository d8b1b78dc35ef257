#!/usr/bin/env bash
# results/dcgan/ttur: as results/dcgan/dnobn (B=64, --ema 0.999,
# np=2, 5 epochs, a discriminator with dropout 0.3 instead of BatchNorm), with
# D's learning rate doubled (--d-lr 4e-4, G stays at 2e-4): the two time-scale
# rule (TTUR) of Heusel et al., to strengthen the dropout discriminator, whose
# D(x) fell to 0.59 in dnobn. The run of 2026-11-29 wrote to /tmp and was
# copied here (train.log names that folder).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=results/dcgan/ttur
D="conv2d 64 size=5 stride=2 pad=2; leaky_relu alpha=0.2; dropout 0.3
conv2d 128 size=5 stride=2 pad=2; leaky_relu alpha=0.2; dropout 0.3
flatten; dense 1"
/usr/bin/time -v mpirun -np 2 build/nntrain gan --data mnist --epochs 5 --batch 64 --ema 0.999 --d-lr 4e-4 --g-lr 2e-4 \
    --discriminator "$D" --threads 1 --out $OUT 2>&1 | tee $OUT/train.log
build/nntrain gan-score --checkpoint $OUT/checkpoint.h5 --classifier results/dcgan/mnist/classifier/checkpoint.h5 \
    --n 10000 | tee $OUT/score.txt
build/nntrain sample --checkpoint $OUT/checkpoint.h5 --n 64 --png $OUT/sample-seed7.png --seed 7
