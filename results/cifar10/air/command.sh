#!/usr/bin/env bash
# results/cifar10/air: a probe for issue 13's CIFAR-10 target (91% within 60
# minutes on 2 cores). The network has the shape of the fast-training
# "airbench" nets (air.spec: a 2x2 stem, then three blocks of conv -> max pool
# -> BN -> ReLU -> conv -> BN -> ReLU at widths 64, 256, 256; 1.97M parameters,
# 237 MFLOPs a 32x32 image, 2.2x the resnet preset's) but none of their tricks
# (no patch-whitening stem, no lookahead, no translate TTA): the resnet
# preset's recipe (momentum 0.1, weight decay 5e-4, cosine with warmup, label
# smoothing 0.1, B=256, flip + crop), for 3 epochs. What it measures: the time
# an epoch of such a net takes here, and where 3 plain epochs leave it.
# The run of 2026-11-30 wrote to /tmp and was copied here (not checkpoint.h5).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=${OUT:-results/cifar10/air}
mkdir -p $OUT
[ -d datasets/data/cifar10-jpeg ] || datasets/fetch cifar10
/usr/bin/time -v mpirun -np 2 --bind-to none build/nntrain train --data cifar10-jpeg --model results/cifar10/air/air.spec \
    --epochs 3 --batch 256 --optim momentum --lr 0.1 --momentum 0.9 --weight-decay 5e-4 --schedule cosine \
    --warmup 1 --label-smoothing 0.1 --crop 2 --flip --threads 1 --out $OUT 2>&1 | tee $OUT/train.log
build/nntrain eval --data cifar10-jpeg --checkpoint $OUT/checkpoint.h5 --confusion-csv $OUT/confusion.csv \
    --confusion-png $OUT/confusion.png | tee $OUT/eval.txt
build/nntrain eval --data cifar10-jpeg --tta flip --checkpoint $OUT/checkpoint.h5 | tee $OUT/eval-tta.txt
