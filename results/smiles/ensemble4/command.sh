#!/usr/bin/env bash
# results/smiles/ensemble4: task B2, the mean class probabilities of ALL four
# smile classifiers trained earlier (results/smiles/faces, smiles-15, smiles-ls,
# smiles-sgd: none chosen by its test score), on the SMILEsmileD test split,
# which none of them trained on; with and without the flip (--tta flip).
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=results/smiles/ensemble4
E="--checkpoint results/smiles/faces/checkpoint.h5 --checkpoint results/smiles/faces-15/checkpoint.h5
   --checkpoint results/smiles/sgd-ls/checkpoint.h5 --checkpoint results/smiles/sgd/checkpoint.h5"
build/nntrain eval --data smiles $E --confusion-csv $OUT/confusion.csv \
    --confusion-png $OUT/confusion.png | tee $OUT/eval.txt
build/nntrain eval --data smiles $E --tta flip | tee $OUT/eval-tta.txt
