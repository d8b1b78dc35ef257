#!/usr/bin/env bash
# results/smiles/ensemble3: task B2, the mean class probabilities of ALL three
# smile classifiers trained on 2026-11-29 (results/smiles/noweight,
# smiles-sqrt, smiles-wide: none left out for its test score), on the
# SMILEsmileD test split, which none of them trained on; with and without the
# mirror image (--tta flip).
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=results/smiles/ensemble3
E="--checkpoint results/smiles/noweight/checkpoint.h5 --checkpoint results/smiles/sqrt/checkpoint.h5
   --checkpoint results/smiles/wide/checkpoint.h5"
build/nntrain eval --data smiles $E --confusion-csv $OUT/confusion.csv \
    --confusion-png $OUT/confusion.png | tee $OUT/eval.txt
build/nntrain eval --data smiles $E --tta flip | tee $OUT/eval-tta.txt
