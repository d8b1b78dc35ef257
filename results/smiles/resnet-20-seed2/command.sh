#!/usr/bin/env bash
# results/smiles/resnet-20-seed2: results/smiles/resnet-20 (preset resnet at
# width 12, the sqrt recipe, 2 warmup epochs, 20 epochs) with --seed 2: how
# much of its 94.13% / 92.80% is the seed. Evaluated on the SMILEsmileD test
# split, which training never sees; with and without the mirror image.
# The run of 2026-11-29 wrote to /tmp and was copied here.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=${OUT:-results/smiles/resnet-20-seed2}
mkdir -p $OUT
[ -d datasets/data/smiles ] || datasets/fetch smiles
/usr/bin/time -v mpirun -np 2 --bind-to none build/nntrain train --data smiles --model resnet --hidden 12 \
    --optim momentum --lr 0.05 --weight-decay 5e-4 --schedule cosine --warmup 2 --batch 64 --epochs 20 --flip --crop 2 \
    --class-weight sqrt --seed 2 --cache none --threads 1 --out $OUT 2>&1 | tee $OUT/train.log
build/nntrain eval --data smiles --checkpoint $OUT/checkpoint.h5 --confusion-csv $OUT/confusion.csv \
    --confusion-png $OUT/confusion.png | tee $OUT/eval.txt
build/nntrain eval --data smiles --tta flip --checkpoint $OUT/checkpoint.h5 | tee $OUT/eval-tta.txt
