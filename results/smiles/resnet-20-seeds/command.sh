#!/usr/bin/env bash
# results/smiles/resnet-20-seeds: the resnet-20 recipe of results/smiles/resnet-20
# (preset resnet at width 12, momentum 0.05, weight decay 5e-4, cosine with 2
# warmup epochs, sqrt class weights, flip + crop 2, B=64, 20 epochs, streamed,
# np=2) with seeds 1 to 4: what the recipe gives, not what one seed gives.
# Seeds 1 and 2 repeat results/smiles/resnet-20 and smiles-resnet-20-seed2 on
# another CPU: those ran with OpenBLAS's Zen kernel (AMD EPYC, AVX2), these with
# its SkylakeX kernel (Intel Xeon, AVX-512), whose sums round differently, so
# the runs part from epoch 1 on (a run is bit for bit repeatable on one kernel).
# Every model is evaluated on the SMILEsmileD test split, which training never
# sees, with and without the mirror image; then the four together and the two
# pairs as ensembles (every seed trained, none left out for its score).
# The runs of 2026-11-30 wrote to /tmp and were copied here (not checkpoint.h5).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=${OUT:-results/smiles/resnet-20-seeds}
mkdir -p $OUT
[ -d datasets/data/smiles ] || datasets/fetch smiles
for s in 1 2 3 4; do
    R=$OUT/seed$s
    mkdir -p $R
    /usr/bin/time -v mpirun -np 2 --bind-to none build/nntrain train --data smiles --model resnet --hidden 12 \
        --optim momentum --lr 0.05 --weight-decay 5e-4 --schedule cosine --warmup 2 --batch 64 --epochs 20 \
        --flip --crop 2 --class-weight sqrt --seed $s --cache none --threads 1 --out $R > $R/train.log 2>&1
    build/nntrain eval --data smiles --checkpoint $R/checkpoint.h5 --confusion-csv $R/confusion.csv \
        --confusion-png $R/confusion.png > $R/eval.txt
    build/nntrain eval --data smiles --tta flip --checkpoint $R/checkpoint.h5 > $R/eval-tta.txt
done
ens() { local name=$1; shift; local a=()
    for s in "$@"; do a+=(--checkpoint $OUT/seed$s/checkpoint.h5); done
    build/nntrain eval --data smiles "${a[@]}" > $OUT/ensemble-$name.txt
    build/nntrain eval --data smiles --tta flip "${a[@]}" > $OUT/ensemble-$name-tta.txt; }
ens 1234 1 2 3 4
ens 12 1 2
ens 34 3 4
for f in $OUT/seed*/eval*.txt $OUT/ensemble-*.txt; do
    printf "%-32s accuracy %s  balanced %s\n" ${f#$OUT/} $(grep -E "^(accuracy|balanced_accuracy):" $f | awk '{print $2}')
done | tee $OUT/summary.txt
