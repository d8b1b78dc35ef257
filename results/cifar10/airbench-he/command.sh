#!/usr/bin/env bash
# results/cifar10/airbench-he: issue 13's CIFAR-10 target (91% test accuracy
# within 60 minutes of wall time on this 2-core machine, np=2, loading and
# evaluation included), with airbench94's recipe (Keller Jordan's fast CIFAR-10
# training) on its net (air.spec):
# - Nesterov momentum 0.85, batch 1024, lr 1.5 and weight decay 1.33e-3 in
#   nntrain's units (the gradient of the mean loss; airbench's lr 11.5 and wd
#   0.0153 "per 1024 examples" in its decoupled form), BatchNorm biases at 64x
#   the rate (air.spec bias_lr=64), BatchNorm without scale, momentum 0.6;
# - the triangle: linear warmup for 2.3 epochs, then linearly down to 0;
# - label smoothing 0.2; random crops (2 pixels, zero fill where airbench
#   reflects) and alternating flips (--flip alternate);
# - lookahead every 5 steps from epoch 3 (--lookahead 5:3);
# - 10 epochs, then eval with flip-and-translate test-time augmentation
#   (--tta translate, airbench's six views).
# This first run kept nntrain's He init for the convolutions (air.spec here);
# results/cifar10/airbench is the same with airbench's smaller init. It ran with
# the build of commit a52c140 + the linear schedule's peak, where the
# option was spelled init=dirac (now dirac=true; the same weights). Its last
# eval (--tta flip) was stopped to free the machine for the next run: no
# eval-flip.txt here.
# The clock: wall.txt holds the seconds from the start of `train` to the end
# of the `eval --tta translate` that gives the figure (the two timed evals
# after it are for comparison, outside the budget).
# The run of 2026-12-02 wrote to /tmp and was copied here (not checkpoint.h5).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
NN=${NNTRAIN:-build/nntrain}
OUT=${OUT:-results/cifar10/airbench-he}
mkdir -p $OUT
[ -d datasets/data/cifar10-jpeg ] || datasets/fetch cifar10
t0=$(date +%s)
/usr/bin/time -v mpirun -np 2 --bind-to none $NN train --data cifar10-jpeg \
    --model results/cifar10/airbench-he/air.spec --epochs 10 --batch 1024 \
    --optim momentum --nesterov --momentum 0.85 --lr 1.5 --weight-decay 1.33e-3 \
    --schedule linear --warmup 2.3 --label-smoothing 0.2 --crop 2 --flip alternate \
    --lookahead 5:3 --threads 1 --out $OUT 2>&1 | tee $OUT/train.log
mpirun -np 2 --bind-to none $NN eval --data cifar10-jpeg --tta translate \
    --checkpoint $OUT/checkpoint.h5 --confusion-csv $OUT/confusion.csv \
    --confusion-png $OUT/confusion.png | tee $OUT/eval-tta.txt
t1=$(date +%s)
echo "wall seconds, train start to the end of eval --tta translate: $((t1 - t0))" | tee $OUT/wall.txt
$NN eval --data cifar10-jpeg --checkpoint $OUT/checkpoint.h5 | tee $OUT/eval.txt
$NN eval --data cifar10-jpeg --tta flip --checkpoint $OUT/checkpoint.h5 | tee $OUT/eval-flip.txt
