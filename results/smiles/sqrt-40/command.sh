#!/usr/bin/env bash
# results/smiles/sqrt-40: task B2, the results/smiles/sqrt recipe (preset faces,
# momentum SGD lr 0.05, weight decay 5e-4, cosine, B=64, flips and 2-pixel
# shifts, --class-weight sqrt, streamed, np=2 x 1 thread) for 40 epochs
# instead of 30 (the cosine schedule stretched over the 40). Evaluated on the
# SMILEsmileD test split (664 smiles, 1,705 non-smiles), which training never
# sees; with and without the mirror image (--tta flip). The run of 2026-11-29
# wrote to /tmp and was copied here (train.log names that folder); it shared
# the two cores with another job, so its wall time is not its own.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=results/smiles/sqrt-40
[ -d datasets/data/smiles ] || datasets/fetch smiles
/usr/bin/time -v mpirun -np 2 --bind-to none build/nntrain train --data smiles --model faces \
    --optim momentum --lr 0.05 --weight-decay 5e-4 --schedule cosine --batch 64 --epochs 40 --flip --crop 2 \
    --class-weight sqrt --cache none --threads 1 --out $OUT 2>&1 | tee $OUT/train.log
build/nntrain eval --data smiles --checkpoint $OUT/checkpoint.h5 --confusion-csv $OUT/confusion.csv \
    --confusion-png $OUT/confusion.png | tee $OUT/eval.txt
build/nntrain eval --data smiles --tta flip --checkpoint $OUT/checkpoint.h5 | tee $OUT/eval-tta.txt
