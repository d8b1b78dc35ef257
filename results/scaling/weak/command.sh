#!/usr/bin/env bash
# results/scaling/weak: --batch-per-rank and --lr-scale (issue 13). The same
# per-rank batch (100) on 1 and on 4 ranks: the global batch grows 4x; with
# --lr-scale linear (and one epoch of warmup) the 4-rank run takes 4x fewer,
# 4x larger steps at 4x the rate and should end where the 1-rank run does;
# without the scaling, the same rate on the 4x batch falls behind.
# MNIST, 784-1000-10 ReLU (mlp1000), momentum SGD, 10 epochs, test accuracy.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=results/scaling/weak
A="train --data mnist --model mlp1000 --optim momentum --lr 0.05 --batch-per-rank 100 --epochs 10 --threads 1 --no-plot"
build/nntrain $A --out $OUT/np1 | tee $OUT/np1.log
mpirun -np 4 --oversubscribe --bind-to none build/nntrain $A --lr-scale linear --warmup 1 --out $OUT/np4-linear | tee $OUT/np4-linear.log
mpirun -np 4 --oversubscribe --bind-to none build/nntrain $A --lr-scale sqrt --warmup 1 --out $OUT/np4-sqrt | tee $OUT/np4-sqrt.log
mpirun -np 4 --oversubscribe --bind-to none build/nntrain $A --out $OUT/np4-unscaled | tee $OUT/np4-unscaled.log
for r in np1 np4-linear np4-sqrt np4-unscaled; do
    printf "%-14s test accuracy after 10 epochs: %s\n" $r "$(tail -1 $OUT/$r/history.csv | cut -d, -f5)"
done | tee $OUT/summary.txt
