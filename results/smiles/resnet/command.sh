#!/usr/bin/env bash
# results/smiles/resnet: task B2, the results/smiles/sqrt recipe (momentum SGD
# lr 0.05, weight decay 5e-4, cosine, B=64, flips and 2-pixel shifts,
# --class-weight sqrt, 30 epochs, streamed, np=2 x 1 thread) with the preset
# resnet at width 12 (ResNet-9 style: 8 convolutions, two residual blocks;
# 232k parameters, 108 MFLOPs a 64x64 face, against the faces preset's 4
# convolutions, 503k parameters, 98 MFLOPs): a deeper net at the same cost,
# with 2 warmup epochs (without them the first epoch diverged, train loss 2.3,
# and the net settled on calling every face a non-smile).
# Evaluated on the SMILEsmileD test split (664 smiles, 1,705 non-smiles),
# which training never sees; with and without the mirror image (--tta flip).
# The run of 2026-11-29 wrote to /tmp and was copied here.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=${OUT:-results/smiles/resnet}
mkdir -p $OUT
[ -d datasets/data/smiles ] || datasets/fetch smiles
/usr/bin/time -v mpirun -np 2 --bind-to none build/nntrain train --data smiles --model resnet --hidden 12 \
    --optim momentum --lr 0.05 --weight-decay 5e-4 --schedule cosine --warmup 2 --batch 64 --epochs 30 --flip --crop 2 \
    --class-weight sqrt --cache none --threads 1 --out $OUT 2>&1 | tee $OUT/train.log
build/nntrain eval --data smiles --checkpoint $OUT/checkpoint.h5 --confusion-csv $OUT/confusion.csv \
    --confusion-png $OUT/confusion.png | tee $OUT/eval.txt
build/nntrain eval --data smiles --tta flip --checkpoint $OUT/checkpoint.h5 | tee $OUT/eval-tta.txt
