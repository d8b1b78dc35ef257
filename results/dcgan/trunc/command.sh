#!/usr/bin/env bash
# results/dcgan/trunc: the recipe of results/dcgan/dnobn (D without
# BatchNorm, dropout 0.3; B=64; G's moving average 0.999; 5 epochs; np=2), run
# again on this session's CPU (SkylakeX kernel), with a new classifier for the
# score (preset cnn, 3 epochs, as in results/dcgan/mnist); then the same G
# scored with its noise truncated (sample / gan-score --truncation T: every
# z value drawn again until |z| <= T) for T from none down to 0.5, every T
# reported: the trade of variety for sharpness, not one T picked.
# The run of 2026-11-30 wrote to /tmp and was copied here (not the checkpoints).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=${OUT:-results/dcgan/trunc}
mkdir -p $OUT
mpirun -np 2 build/nntrain train --data mnist --model cnn --optim adadelta --lr 1.0 --batch 32 \
    --epochs 3 --threads 1 --out $OUT/classifier > $OUT/classifier.log 2>&1
D="conv2d 64 size=5 stride=2 pad=2; leaky_relu alpha=0.2; dropout 0.3
conv2d 128 size=5 stride=2 pad=2; leaky_relu alpha=0.2; dropout 0.3
flatten; dense 1"
/usr/bin/time -v mpirun -np 2 build/nntrain gan --data mnist --epochs 5 --batch 64 --ema 0.999 \
    --discriminator "$D" --threads 1 --out $OUT > $OUT/train.log 2>&1
C=$OUT/classifier/checkpoint.h5
build/nntrain gan-score --data mnist --classifier $C | tee $OUT/score-real.txt
for t in 0 2 1.5 1 0.75 0.5; do
    build/nntrain gan-score --checkpoint $OUT/checkpoint.h5 --classifier $C --n 10000 --truncation $t \
        | tee $OUT/score-t$t.txt
    build/nntrain sample --checkpoint $OUT/checkpoint.h5 --n 64 --png $OUT/sample-t$t.png --seed 7 --truncation $t
done
