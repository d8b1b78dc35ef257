#!/usr/bin/env bash
# results/smiles/sqrt-seed2: results/smiles/sqrt again with --seed 2 (other
# initial weights, sample order, dropout masks and augmentation), to see how
# far the recipe's figures move from seed to seed. Evaluated on the SMILEsmileD
# test split, which training never sees; with and without the mirror image.
# The run of 2026-11-29 wrote to /tmp and was copied here (train.log names
# that folder).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=results/smiles/sqrt-seed2
[ -d datasets/data/smiles ] || datasets/fetch smiles
/usr/bin/time -v mpirun -np 2 --bind-to none build/nntrain train --data smiles --model faces \
    --optim momentum --lr 0.05 --weight-decay 5e-4 --schedule cosine --batch 64 --epochs 30 --flip --crop 2 \
    --class-weight sqrt --seed 2 --cache none --threads 1 --out $OUT 2>&1 | tee $OUT/train.log
build/nntrain eval --data smiles --checkpoint $OUT/checkpoint.h5 --confusion-csv $OUT/confusion.csv \
    --confusion-png $OUT/confusion.png | tee $OUT/eval.txt
build/nntrain eval --data smiles --tta flip --checkpoint $OUT/checkpoint.h5 | tee $OUT/eval-tta.txt
