#!/usr/bin/env bash
# tests/bench/gan.sh: the DCGAN (preset dcgan-mnist, the architecture of
# ../shared/anchors/torch_dcgan.py) side by side with that PyTorch script on
# this machine, same data (the first 6,400 MNIST images), B=128, one epoch:
# real training images per second. Prints a table and the ratios.
# Usage: NNTRAIN=build/nntrain bash tests/bench/gan.sh   (BENCH_TORCH=0: no PyTorch)
set -euo pipefail
cd "$(dirname "$0")/../.."
NN=${NNTRAIN:-build/nntrain}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
T=$(mktemp -d /tmp/nntrain-bench-gan-XXXXXX)
trap 'rm -rf "$T"' EXIT
N=${BENCH_GAN_IMAGES:-6400}
[ -e datasets/data/mnist/train-images-idx3-ubyte.gz ] || [ -e datasets/data/mnist/train-images-idx3-ubyte ] || datasets/fetch mnist

ips() { awk '/^ +[0-9]+ /{ print $7 }' "$1" | tail -1; }
echo "-- DCGAN (dcgan-mnist = torch_dcgan.py's nets), B=128, first $N images, 1 epoch, real images/s"
$NN gan --data mnist --limit "$N" --epochs 1 --threads 1 --no-plot --out "$T/g1" > "$T/g1.log"
a=$(ips "$T/g1.log")
mpirun -np 2 --bind-to none "$NN" gan --data mnist --limit "$N" --epochs 1 --threads 1 --no-plot \
    --out "$T/g2" > "$T/g2.log"
b=$(ips "$T/g2.log")
$NN gan --data mnist --limit "$N" --epochs 1 --threads 2 --no-plot --out "$T/g3" > "$T/g3.log"
c=$(ips "$T/g3.log")
printf "%-52s %8s\n" "nntrain gan, 1 rank x 1 thread" "$a"
printf "%-52s %8s\n" "nntrain gan, 1 rank x 2 threads" "$c"
printf "%-52s %8s\n" "nntrain gan, np=2 x 1 thread" "$b"
ANCHOR=${ANCHORS:-../shared/anchors}/torch_dcgan.py
if [ "${BENCH_TORCH:-1}" != 0 ] && [ -f "$ANCHOR" ] && /usr/bin/python3 -c 'import torch' 2> /dev/null; then
    mkdir -p "$T/raw"
    for f in datasets/data/mnist/train-*-ubyte*; do
        case $f in *.gz) zcat "$f" > "$T/raw/$(basename "$f" .gz)" ;; *) cp "$f" "$T/raw/" ;; esac
    done
    t1=$(/usr/bin/python3 "$ANCHOR" "$T/raw" 1 1 "$N" | awk '{ print $NF }')
    t2=$(/usr/bin/python3 "$ANCHOR" "$T/raw" 1 2 "$N" | awk '{ print $NF }')
    printf "%-52s %8s\n" "PyTorch torch_dcgan.py, 1 thread" "$t1"
    printf "%-52s %8s\n" "PyTorch torch_dcgan.py, 2 threads" "$t2"
    best=$(printf '%s\n%s\n' "$t1" "$t2" | sort -n | tail -1)
    printf "%-52s %8.2fx\n" "  nntrain np=2 / PyTorch's best here" "$(echo "$b / $best" | bc -l)"
    printf "%-52s %8.2fx\n" "  nntrain 1 thread / PyTorch 1 thread" "$(echo "$a / $t1" | bc -l)"
fi
printf "%-52s %8.2fx\n" "  nntrain np=2 / the anchor's 131 (its README)" "$(echo "$b / 131" | bc -l)"
