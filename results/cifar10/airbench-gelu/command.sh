#!/usr/bin/env bash
# results/cifar10/airbench-gelu: issue 13's CIFAR-10 target (91% test accuracy
# within 60 minutes of wall time on this 2-core machine, np=2, loading and
# evaluation included): results/cifar10/airbench's run with the rest of
# airbench94's recipe:
# - GELU in place of ReLU, the whitening bias frozen after 3 epochs
#   (air.spec: gelu, whiten bias_epochs=3);
# - the crops' padding mirrors the image (--crop-fill reflect; airbench pads
#   with reflect), and eval --tta translate moves the same way;
# - its schedule's ends: 0.2 x the rate at the start, up to it at 23% of the
#   run (--warmup 2.3 of 10 epochs), down to 0.07 x it at the end
#   (--schedule linear:0.2:0.07).
# The rest as there: Nesterov momentum 0.85, batch 1024, lr 1.5 and weight
# decay 1.33e-3 in nntrain's units (the gradient of the mean loss; airbench's
# lr 11.5 and wd 0.0153 "per 1024 examples" in its decoupled form),
# BatchNorm biases at 64x the rate, label smoothing 0.2, alternating flips,
# lookahead every 5 steps from epoch 3, 10 epochs, then eval with
# flip-and-translate test-time augmentation (airbench's six views).
# The clock: wall.txt holds the seconds from the start of `train` to the end
# of the `eval --tta translate` that gives the figure (the two timed evals
# after it are for comparison, outside the budget).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
NN=${NNTRAIN:-build/nntrain}
OUT=${OUT:-results/cifar10/airbench-gelu}
mkdir -p $OUT
[ -d datasets/data/cifar10-jpeg ] || datasets/fetch cifar10
t0=$(date +%s)
/usr/bin/time -v mpirun -np 2 --bind-to none $NN train --data cifar10-jpeg \
    --model results/cifar10/airbench-gelu/air.spec --epochs 10 --batch 1024 \
    --optim momentum --nesterov --momentum 0.85 --lr 1.5 --weight-decay 1.33e-3 \
    --schedule linear:0.2:0.07 --warmup 2.3 --label-smoothing 0.2 --crop 2 --crop-fill reflect \
    --flip alternate --lookahead 5:3 --threads 1 --out $OUT 2>&1 | tee $OUT/train.log
mpirun -np 2 --bind-to none $NN eval --data cifar10-jpeg --tta translate --crop-fill reflect \
    --checkpoint $OUT/checkpoint.h5 --confusion-csv $OUT/confusion.csv \
    --confusion-png $OUT/confusion.png | tee $OUT/eval-tta.txt
t1=$(date +%s)
echo "wall seconds, train start to the end of eval --tta translate: $((t1 - t0))" | tee $OUT/wall.txt
$NN eval --data cifar10-jpeg --checkpoint $OUT/checkpoint.h5 | tee $OUT/eval.txt
$NN eval --data cifar10-jpeg --tta flip --checkpoint $OUT/checkpoint.h5 | tee $OUT/eval-flip.txt
$NN eval --data cifar10-jpeg --tta translate --checkpoint $OUT/checkpoint.h5 | tee $OUT/eval-tta-zero.txt
