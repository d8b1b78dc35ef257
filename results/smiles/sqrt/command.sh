#!/usr/bin/env bash
# results/smiles/sqrt: task B2, the results/smiles/sgd recipe (preset faces,
# momentum SGD lr 0.05, weight decay 5e-4, cosine, B=64, flips and 2-pixel
# shifts, 30 epochs, streamed, np=2 x 1 thread) with --class-weight sqrt (w_c proportional to 1/sqrt(n_c): smiles 1.37, non-smiles 0.856)
# instead of --class-weight balanced. Evaluated on the SMILEsmileD test split
# (664 smiles, 1,705 non-smiles), which training never sees; with and without
# the mirror image (--tta flip). The run of 2026-11-29 wrote to /tmp and was
# copied here (train.log names that folder).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=results/smiles/sqrt
[ -d datasets/data/smiles ] || datasets/fetch smiles
/usr/bin/time -v mpirun -np 2 --bind-to none build/nntrain train --data smiles --model faces \
    --optim momentum --lr 0.05 --weight-decay 5e-4 --schedule cosine --batch 64 --epochs 30 --flip --crop 2 \
    --class-weight sqrt --cache none --threads 1 --out $OUT 2>&1 | tee $OUT/train.log
build/nntrain eval --data smiles --checkpoint $OUT/checkpoint.h5 --confusion-csv $OUT/confusion.csv \
    --confusion-png $OUT/confusion.png | tee $OUT/eval.txt
build/nntrain eval --data smiles --tta flip --checkpoint $OUT/checkpoint.h5 | tee $OUT/eval-tta.txt
