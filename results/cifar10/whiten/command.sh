#!/usr/bin/env bash
# results/cifar10/whiten: issue 13's CIFAR-10 target (91% test accuracy within
# 60 minutes of wall time on this 2-core machine, np=2, loading and evaluation
# included). The airbench-shaped net of results/cifar10/air with airbench's
# patch-whitening stem (air.spec: `whiten`, fitted to 5,000 training images
# before the first step), label smoothing 0.2, and its flip-and-translate
# test-time augmentation (`eval --tta translate`, six views); momentum SGD
# lr 0.2 (0.1 at B=128 by the linear rule, the classic CIFAR recipe; a 3-epoch
# 20,000-image probe could not tell 0.1 and 0.2 apart: 64.56% and 64.31%), weight decay
# 5e-4, cosine with 1 warmup epoch, B=256, --crop 2 --flip, 10 epochs (about
# 300 s each here, with the per-epoch test evaluation).
# The clock: wall.txt holds the seconds from the start of `train` to the end
# of the `eval --tta translate` that gives the figure (the two timed evals
# after it are for comparison, outside the budget).
# The run of 2026-12-02 wrote to /tmp and was copied here (not checkpoint.h5).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=${OUT:-results/cifar10/whiten}
mkdir -p $OUT
[ -d datasets/data/cifar10-jpeg ] || datasets/fetch cifar10
t0=$(date +%s)
/usr/bin/time -v mpirun -np 2 --bind-to none build/nntrain train --data cifar10-jpeg \
    --model results/cifar10/whiten/air.spec --epochs 10 --batch 256 --optim momentum --lr 0.2 \
    --momentum 0.9 --weight-decay 5e-4 --schedule cosine --warmup 1 --label-smoothing 0.2 \
    --crop 2 --flip --threads 1 --out $OUT 2>&1 | tee $OUT/train.log
mpirun -np 2 --bind-to none build/nntrain eval --data cifar10-jpeg --tta translate \
    --checkpoint $OUT/checkpoint.h5 --confusion-csv $OUT/confusion.csv \
    --confusion-png $OUT/confusion.png | tee $OUT/eval-tta.txt
t1=$(date +%s)
echo "wall seconds, train start to the end of eval --tta translate: $((t1 - t0))" | tee $OUT/wall.txt
build/nntrain eval --data cifar10-jpeg --checkpoint $OUT/checkpoint.h5 | tee $OUT/eval.txt
build/nntrain eval --data cifar10-jpeg --tta flip --checkpoint $OUT/checkpoint.h5 | tee $OUT/eval-flip.txt
