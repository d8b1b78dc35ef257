#!/usr/bin/env bash
# results/mnist/optimizers/command.sh: task T4, the six optimizers on the same network (the
# course's 784-100 sigmoid-10, batch 100, 20 epochs, each optimizer with the
# course's default hyper-parameters; plain SGD at lr 0.1), then one plot of
# test accuracy per epoch and a table of final accuracies. The six
# checkpoints are committed (small, and examples a clone has); a rerun
# replaces them.
set -euo pipefail
cd "$(dirname "$0")/../../.."
NN=${NNTRAIN:-build/nntrain}
EPOCHS=${EPOCHS:-20}
for opt in sgd momentum adagrad rmsprop adadelta adam; do
    rm -f results/mnist/optimizers/$opt/checkpoint.h5   # a fresh run, never a resume
    $NN train --data mnist --model mlp --optim $opt --epochs "$EPOCHS" --batch 100 --seed 1 \
        --out results/mnist/optimizers/$opt --quiet
done
$NN plot --compare test_acc --png results/mnist/optimizers/test_accuracy.png \
    results/mnist/optimizers/{sgd,momentum,adagrad,rmsprop,adadelta,adam}
{
    echo "| optimizer | hyper-parameters | test accuracy after $EPOCHS epochs | best |"
    echo "|---|---|---|---|"
    declare -A HP=([sgd]="lr 0.1" [momentum]="lr 0.01, alpha 0.9" [adagrad]="lr 0.001, h0 1e-8"
                   [rmsprop]="lr 0.001, rho 0.9, eps 1e-8" [adadelta]="rho 0.95, eps 1e-6"
                   [adam]="lr 0.001, beta1 0.9, beta2 0.999, eps 1e-8")
    for opt in sgd momentum adagrad rmsprop adadelta adam; do
        awk -F, -v o=$opt -v hp="${HP[$opt]}" 'NR > 1 { last = $5; if ($5 > best) best = $5 }
            END { printf "| %s | %s | %.4f | %.4f |\n", o, hp, last, best }' results/mnist/optimizers/$opt/history.csv
    done
} > results/mnist/optimizers/table.md
cat results/mnist/optimizers/table.md
