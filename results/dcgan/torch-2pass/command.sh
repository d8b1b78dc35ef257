#!/usr/bin/env bash
# results/dcgan/torch-2pass: is the DCGAN score plateau (about 7 after 4-5
# epochs, issue 10's target 9.0) nntrain's or the recipe's? The course's
# DCGAN (the nets of the dcgan-mnist preset, Adam 2e-4 / 0.5, B=128) trained
# in PyTorch with D's step in two passes, real then fake, as nntrain does
# (torch_dcgan_2pass.py here, adapted from the PyTorch speed anchor, docs/benchmarks.md), 3 epochs
# on 1 thread; after every epoch 10,000 samples of G (eval mode) are written
# as an IDX test split and scored by nntrain gan-score with the classifier of
# results/dcgan/mnist, exactly as nntrain's own samples are. The run of
# 2026-11-29 shared the machine with a training job (72-85 real images/s).
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=${OUT:-/tmp/dcgan-torch-2pass}
RAW=$OUT/mnist-raw
mkdir -p $RAW
for f in datasets/data/mnist/*.gz; do zcat "$f" > $RAW/$(basename "$f" .gz); done
OMP_NUM_THREADS=1 /usr/bin/python3 results/dcgan/torch-2pass/torch_dcgan_2pass.py $RAW 3 1 $OUT \
    | tee results/dcgan/torch-2pass/train.log
for e in 1 2 3; do
    echo "epoch $e:"
    build/nntrain gan-score --data mnist:$OUT/epoch_$e --classifier results/dcgan/mnist/classifier/checkpoint.h5 | tail -3
done | tee results/dcgan/torch-2pass/score.txt
