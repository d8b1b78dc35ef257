#!/usr/bin/env bash
# tests/bench/ab.sh: two builds side by side in ONE run, for a change that
# touches a hot path: the same trainings alternately with OLD and NEW
# (ROUNDS rounds each, the best epoch of each kept), then NEW / OLD.
#   bash tests/bench/ab.sh OLD_NNTRAIN NEW_NNTRAIN
# e.g. the commit before a change, built in a worktree:
#   git worktree add /tmp/old HEAD~1 && make -C /tmp/old
#   bash tests/bench/ab.sh /tmp/old/build/nntrain build/nntrain
# AB_ROUNDS=N (3), AB_CONFIGS="cifar gan resnet" (default: cnn bn cifar gan) choose the rounds and configurations.
# Configurations (1 thread each, so the machine's other core stays quiet):
#   cnn     MNIST, the Keras cnn (conv, maxpool, dense), 6,000 images
#   bn      MNIST, conv + BatchNorm + maxpool + dropout + normalize, 6,000 images
#   cifar   CIFAR-10 JPEGs, preset cifar (normalize, conv + BN, pool, dropout), 5,000 images
#   gan     MNIST DCGAN (dcgan-mnist: deconv, conv, BN, tanh, leaky ReLU), 3,200 images
#   resnet  CIFAR-10 JPEGs, preset resnet (conv + BN, residual blocks, 32x32 down to 4x4), 2,560 images
#   air     CIFAR-10 JPEGs, results/cifar10/whiten/air.spec (whiten stem, odd 31x31 and 15x15
#           planes into 2x2 max pools, 64/256/256 wide), 2,560 images
#   gelu    the same with GELU, BatchNorm without scales and the 1/9 output scale
#           (results/cifar10/airbench-gelu/air.spec), 2,560 images
set -euo pipefail
cd "$(dirname "$0")/../.."
OLD=${1:?usage: ab.sh OLD_NNTRAIN NEW_NNTRAIN}
NEW=${2:?usage: ab.sh OLD_NNTRAIN NEW_NNTRAIN}
ROUNDS=${AB_ROUNDS:-3}
CONFIGS=${AB_CONFIGS:-cnn bn cifar gan}
T=$(mktemp -d /tmp/nntrain-ab-XXXXXX)
trap 'rm -rf "$T"' EXIT
[ -e datasets/data/mnist/train-images-idx3-ubyte.gz ] || [ -e datasets/data/mnist/train-images-idx3-ubyte ] || datasets/fetch mnist
case " $CONFIGS " in *" cifar "*|*" resnet "*|*" air "*|*" gelu "*) [ -d datasets/data/cifar10-jpeg ] || datasets/fetch cifar10 ;; esac

BN="normalize; conv2d 16 bias=false; batchnorm; relu; maxpool 2; conv2d 32 bias=false; batchnorm; relu; maxpool 2; flatten; dropout 0.3; dense 64 bias=false; batchnorm; relu; dropout 0.3; dense 10"
declare -A ARGS=(
    [cnn]="train --data mnist --model cnn --optim adadelta --lr 1.0 --batch 32 --limit 6000"
    [bn]="train --data mnist --model \"$BN\" --optim adam --lr 1e-3 --batch 64 --limit 6000"
    [cifar]="train --data cifar10-jpeg --model cifar --optim adam --lr 1e-3 --batch 64 --limit 5000"
    [gan]="gan --data mnist --limit 3200"
    [resnet]="train --data cifar10-jpeg --model resnet --optim momentum --lr 0.05 --batch 128 --limit 2560"
    [air]="train --data cifar10-jpeg --model results/cifar10/whiten/air.spec --optim momentum --lr 0.05 --batch 128 --limit 2560"
    [gelu]="train --data cifar10-jpeg --model results/cifar10/airbench-gelu/air.spec --optim momentum --lr 0.05 --batch 128 --limit 2560"
)
ips() { awk '/^ +[0-9]+ /{ if ($7 > b) b = $7 } END { printf "%.0f", b }' "$1"; }
printf "%-8s %10s %10s %8s   (images/s, best of %d rounds, 1 thread)\n" config old new new/old "$ROUNDS"
for c in $CONFIGS; do
    bo=0 bn=0
    for r in $(seq "$ROUNDS"); do
        for side in old new; do
            bin=$OLD; [ $side = new ] && bin=$NEW
            eval "$bin ${ARGS[$c]} --epochs 1 --threads 1 --no-plot --out $T/$c-$side" > "$T/log" 2>&1 ||
                { echo "ab.sh: $c with $bin failed:"; tail -5 "$T/log"; exit 1; }
            v=$(ips "$T/log")
            if [ $side = old ]; then [ "$v" -gt "$bo" ] && bo=$v; else [ "$v" -gt "$bn" ] && bn=$v; fi
        done
    done
    printf "%-8s %10s %10s %8.3f\n" "$c" "$bo" "$bn" "$(echo "$bn / $bo" | bc -l)"
done
