#!/usr/bin/env bash
# results/smiles/sqrt-ema: task B2, the results/smiles/sqrt recipe (preset faces,
# momentum SGD lr 0.05, weight decay 5e-4, cosine, B=64, flips and 2-pixel
# shifts, --class-weight sqrt, 30 epochs, streamed, np=2 x 1 thread) with
# --ema 0.999: the run evaluates and saves the moving average of the weights
# over about the last 1,000 steps (6.7 epochs of 149 steps). Evaluated on the
# SMILEsmileD test split (664 smiles, 1,705 non-smiles), which training never
# sees: the average (the checkpoint's root), with the mirror image too, and
# the trained weights themselves (--no-ema). The run wrote to /tmp and was
# copied here (train.log names that folder).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=${OUT:-results/smiles/sqrt-ema}
mkdir -p $OUT
[ -d datasets/data/smiles ] || datasets/fetch smiles
/usr/bin/time -v mpirun -np 2 --bind-to none build/nntrain train --data smiles --model faces \
    --optim momentum --lr 0.05 --weight-decay 5e-4 --schedule cosine --batch 64 --epochs 30 --flip --crop 2 \
    --class-weight sqrt --ema 0.999 --cache none --threads 1 --out $OUT 2>&1 | tee $OUT/train.log
build/nntrain eval --data smiles --checkpoint $OUT/checkpoint.h5 --confusion-csv $OUT/confusion.csv \
    --confusion-png $OUT/confusion.png | tee $OUT/eval.txt
build/nntrain eval --data smiles --tta flip --checkpoint $OUT/checkpoint.h5 | tee $OUT/eval-tta.txt
build/nntrain eval --data smiles --no-ema --checkpoint $OUT/checkpoint.h5 | tee $OUT/eval-trained.txt
