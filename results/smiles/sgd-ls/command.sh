#!/usr/bin/env bash
# results/smiles/sgd-ls: task B2, results/smiles/sgd's recipe + label smoothing 0.1 and a flip-TTA evaluation, the smile / non-smile classifier on SMILEsmileD
# (datasets/fetch smiles: 64x64 grey face crops, train 2,657 smile + 6,823
# non-smile, test 664 + 1,705), np=2 x 1 thread on this 2-core machine.
# Preset faces (four 3x3 conv + BN + ReLU + 2x2 max-pool stages, dense 128),
# momentum SGD lr 0.05, weight decay 5e-4, cosine schedule, B=64, horizontal flips and 2-pixel shifts, 30 epochs,
# the loss weighted by inverse class frequency (--class-weight balanced, for
# the 28% smiles). The folder is streamed from disk (--cache none) to show the
# B2 path; a cached run gives the same weights. Evaluated on the test split,
# which training never sees.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=results/smiles/sgd-ls
[ -d datasets/data/smiles ] || datasets/fetch smiles
build/nntrain check-data --data smiles | tee $OUT/check-data.txt
/usr/bin/time -v mpirun -np 2 --bind-to none build/nntrain train --data smiles --model faces \
    --optim momentum --lr 0.05 --weight-decay 5e-4 --schedule cosine --batch 64 --epochs 30 --flip --crop 2 \
    --class-weight balanced --label-smoothing 0.1 --cache none --threads 1 --out $OUT 2>&1 | tee $OUT/train.log
build/nntrain eval --data smiles --checkpoint $OUT/checkpoint.h5 --confusion-csv $OUT/confusion.csv \
    --confusion-png $OUT/confusion.png | tee $OUT/eval.txt
build/nntrain eval --data smiles --checkpoint $OUT/checkpoint.h5 --tta flip | tee $OUT/eval-tta.txt
