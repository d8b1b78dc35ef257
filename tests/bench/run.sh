#!/usr/bin/env bash
# tests/bench/run.sh (make bench): training throughput side by side in ONE run,
# next to this machine's sgemm rate measured in the same run.
#   - OpenBLAS kernel: what the library picks by itself vs the AVX-512 one
#   - the course's MLP (784-100 sigmoid-10, SGD, B=100) and 784-1000 ReLU-10 (Adam)
#   - 1 thread, 2 threads, and mpirun -np 2 with 1 thread each; for np=2 also
#     the plain MPI_Allreduce (NNTRAIN_SHM=0) and unbalanced slices (--no-balance)
#   - the convolutions' rate in training (cnn, cifar, resnet, airbench-shaped)
#     against the sgemm ceiling measured between them (tests/bench/conv_rate.sh)
#   - PyTorch on the same machine, when /usr/bin/python3 has torch (Debian
#     python3-torch; BENCH_TORCH=0 skips it): ../shared/anchors/torch_mnist.py
# Writes results/bench/bench.txt. Needs MNIST (datasets/fetch mnist) and
# CIFAR-10 (fetched when missing).
# BENCH_EPOCHS=N changes the epochs per configuration (default 3; the best is kept).
# BENCH_STREAM=1 adds tests/bench/stream.sh (streamed vs cached image folders).
# RSS of an np=2 run is mpirun's own, not a rank's.
set -euo pipefail
cd "$(dirname "$0")/../.."
NN=${NNTRAIN:-build/nntrain}
EPOCHS=${BENCH_EPOCHS:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=results/bench
mkdir -p "$OUT"
T=$(mktemp -d /tmp/nntrain-bench-XXXXXX)
trap 'rm -rf "$T"' EXIT
cc -O2 tests/bench/sgemm_rate.c -o "$T/sgemm_rate" -lopenblas
. tests/bench/coretype.sh
KB=$(best_coretype "$T/sgemm_rate") # the kernel forced below: the launchers' choice
[ -e datasets/data/mnist/train-images-idx3-ubyte.gz ] || [ -e datasets/data/mnist/train-images-idx3-ubyte ] || datasets/fetch mnist

# best_ips LOG: the best images/s of the epoch lines; peak RSS from /usr/bin/time when present.
best_ips() { awk '/^ +[0-9]+ /{ if ($7 > b) b = $7 } END { printf "%.0f", b }' "$1"; }
rss_mb() { awk '/Maximum resident/{ printf "%.0f", $6 / 1024 }' "$1" 2>/dev/null; }
TIME=""
[ -x /usr/bin/time ] && TIME="/usr/bin/time -v"

run() { # NAME ENV... -- ARGS...: one configuration
    local name=$1
    shift
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    env "${envs[@]}" $TIME "$@" --epochs "$EPOCHS" --out "$T/$name" > "$T/$name.log" 2> "$T/$name.err" || {
        echo "benchmark $name failed:"; cat "$T/$name.err"; exit 1; }
    echo "$(best_ips "$T/$name.log") $(rss_mb "$T/$name.err")"
}

{
echo "nntrain benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "OPENBLAS_CORETYPE in the environment: ${OPENBLAS_CORETYPE:-(unset)}"
echo
printf "%-44s %12s\n" "sgemm n=1024 (GFLOP/s)" "rate kernel"
for ct in auto "$KB"; do
    for th in 1 2; do
        if [ $ct = auto ]; then r=$(env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=$th "$T/sgemm_rate" 1024)
        else r=$(OPENBLAS_CORETYPE=$ct OPENBLAS_NUM_THREADS=$th "$T/sgemm_rate" 1024); fi
        printf "%-44s %s\n" "  kernel=$ct threads=$th" "$r"
        [ $ct = "$KB" ] && [ $th = 1 ] && PEAK1=${r%% *}
        [ $ct = "$KB" ] && [ $th = 2 ] && PEAK2=${r%% *}
    done
done
# The ceiling for 2 ranks: two independent 1-thread sgemm processes at once.
OPENBLAS_CORETYPE=$KB OPENBLAS_NUM_THREADS=1 "$T/sgemm_rate" 1024 > "$T/pair1" &
OPENBLAS_CORETYPE=$KB OPENBLAS_NUM_THREADS=1 "$T/sgemm_rate" 1024 > "$T/pair2"
wait
printf "%-44s %s + %s\n" "  two 1-thread processes at once ($KB)" "$(cut -d' ' -f1 "$T/pair1")" "$(cut -d' ' -f1 "$T/pair2")"
echo
printf "%-58s %10s %8s %8s\n" "training, MNIST, one epoch (best of $EPOCHS)" "images/s" "GFLOP/s" "RSS MB"
# Training FLOPs per image: forward + weight gradient for every dense layer,
# + input gradient for all but the first (it has no layer below to feed).
flops_mlp=$((2 * 2 * 784 * 100 + 3 * 2 * 100 * 10))
flops_1k=$((2 * 2 * 784 * 1000 + 3 * 2 * 1000 * 10))
line() { # LABEL FLOPS_PER_IMAGE "IPS RSS"
    set -- "$1" "$2" $3
    printf "%-58s %10s %8.1f %8s\n" "$1" "$3" "$(echo "$3 * $2 / 1000000000" | bc -l)" "${4:--}"
}
MLP="$NN train --data mnist --model mlp --lr 1.0"
MLP1K="$NN train --data mnist --model mlp1000 --optim adam"
echo "-- OpenBLAS kernel (mlp, batch 100, 1 thread)"
line "kernel from the environment (${OPENBLAS_CORETYPE:-unset})" $flops_mlp "$(run e1 X=1 -- $MLP --batch 100 --threads 1)"
line "kernel chosen by OpenBLAS itself (OPENBLAS_CORETYPE unset)" $flops_mlp "$(run a1 -u OPENBLAS_CORETYPE -- $MLP --batch 100 --threads 1)"
line "kernel $KB (the launchers' choice)" $flops_mlp "$(run s1 OPENBLAS_CORETYPE=$KB -- $MLP --batch 100 --threads 1)"
for B in 100 1000; do
    echo "-- ranks x threads, kernel $KB, global batch $B"
    for net in mlp mlp1000; do
        if [ $net = mlp ]; then cmd=$MLP f=$flops_mlp; else cmd=$MLP1K f=$flops_1k; fi
        line "$net np=1 x 1 thread" $f "$(run ${net}1-$B OPENBLAS_CORETYPE=$KB -- $cmd --batch $B --threads 1)"
        line "$net np=1 x 2 threads" $f "$(run ${net}2-$B OPENBLAS_CORETYPE=$KB -- $cmd --batch $B --threads 2)"
        line "$net np=2 x 1 thread" $f "$(run ${net}p-$B OPENBLAS_CORETYPE=$KB -- mpirun -np 2 -x OPENBLAS_CORETYPE $cmd --batch $B --threads 1)"
        line "$net np=2 x 1 thread, MPI_Allreduce (NNTRAIN_SHM=0)" $f "$(run ${net}m-$B OPENBLAS_CORETYPE=$KB NNTRAIN_SHM=0 -- mpirun -np 2 -x OPENBLAS_CORETYPE -x NNTRAIN_SHM $cmd --batch $B --threads 1)"
        a=$(best_ips "$T/${net}1-$B.log") b=$(best_ips "$T/${net}p-$B.log")
        printf "%-58s %10.2fx\n" "  $net np=2 / np=1 (1 thread each)" "$(echo "$b / $a" | bc -l)"
    done
done
echo "-- the seed's Keras CNN (preset cnn), Adadelta, batch 32, first 6400 images, kernel $KB"
flops_cnn=$((2 * 451584 + 3 * 28901376 + 3 * 3211264 + 3 * 2560))
CNN="$NN train --data mnist --model cnn --optim adadelta --batch 32 --limit 6400 --no-plot"
line "cnn np=1 x 1 thread" $flops_cnn "$(EPOCHS=1 run cnn1 OPENBLAS_CORETYPE=$KB -- $CNN --threads 1)"
line "cnn np=1 x 2 threads" $flops_cnn "$(EPOCHS=1 run cnn2 OPENBLAS_CORETYPE=$KB -- $CNN --threads 2)"
line "cnn np=2 x 1 thread" $flops_cnn "$(EPOCHS=2 run cnnp OPENBLAS_CORETYPE=$KB -- mpirun -np 2 -x OPENBLAS_CORETYPE $CNN --threads 1)"
line "cnn np=2 x 1 thread, --no-balance" $flops_cnn "$(EPOCHS=2 run cnnu OPENBLAS_CORETYPE=$KB -- mpirun -np 2 -x OPENBLAS_CORETYPE $CNN --threads 1 --no-balance)"
line "cnn np=2 x 1 thread, MPI_Allreduce (NNTRAIN_SHM=0)" $flops_cnn "$(EPOCHS=2 run cnnm OPENBLAS_CORETYPE=$KB NNTRAIN_SHM=0 -- mpirun -np 2 -x OPENBLAS_CORETYPE -x NNTRAIN_SHM $CNN --threads 1)"
cnn=$(best_ips "$T/cnnp.log")
printf "%-58s %10.2fx\n" "  cnn np=2 / PyTorch anchor (685 images/s, 2 threads)" "$(echo "$cnn / 685" | bc -l)"
printf "%-58s %10.0f%%\n" "  cnn np=2 GFLOP/s / 2-thread sgemm rate" "$(echo "100 * $cnn * $flops_cnn / 1000000000 / $PEAK2" | bc -l)"
# The convolutions' GEMMs alone, in the shapes conv2d makes them: how much of
# the gap to the sgemm rate is GEMM shape and how much the passes around it.
cc -O2 tests/bench/conv_gemm.c -o "$T/conv_gemm" -lopenblas
convg() { OPENBLAS_CORETYPE=$KB OPENBLAS_NUM_THREADS=1 "$T/conv_gemm" "$@" | awk '/^all/{ print $(NF-3) }'; }
g=$(convg 16 -1,28,32 32,28,64)
printf "%-58s %10.1f GFLOP/s = %.0f%% of 1-thread sgemm\n" "  cnn's conv GEMMs alone (conv_gemm.c, 16 images, 1 thread)" "$g" "$(echo "100 * $g / $PEAK1" | bc -l)"
g=$(convg 128 -3,32,24 24,32,48 48,16,48 48,16,48 48,16,96 96,8,192 192,4,192 192,4,192)
printf "%-58s %10.1f GFLOP/s = %.0f%% of 1-thread sgemm\n" "  resnet's conv GEMMs alone (128 images, 1 thread)" "$g" "$(echo "100 * $g / $PEAK1" | bc -l)"
# The convolutions in training, next to the sgemm ceiling (issue 13, part 5):
# the cnn and the CIFAR nets at their per-rank batches (about 2 minutes).
[ -d datasets/data/cifar10-jpeg ] || datasets/fetch cifar10 > /dev/null
NNTRAIN=$NN bash tests/bench/conv_rate.sh
ANCHOR=${ANCHORS:-../shared/anchors}/torch_mnist.py
if [ "${BENCH_TORCH:-1}" != 0 ] && [ -f "$ANCHOR" ] && /usr/bin/python3 -c 'import torch' 2> /dev/null; then
    echo "-- PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') on this machine, same models, one full epoch, kernel $KB"
    mkdir -p "$T/raw"
    for f in datasets/data/mnist/*-ubyte*; do
        case $f in *.gz) zcat "$f" > "$T/raw/$(basename "$f" .gz)" ;; *) cp "$f" "$T/raw/" ;; esac
    done
    torch_ips() { OPENBLAS_CORETYPE=$KB /usr/bin/python3 "$ANCHOR" "$T/raw" "$@" | awk '{ print $NF }'; }
    line "PyTorch mlp, batch 100, 1 thread" $flops_mlp "$(torch_ips mlp 1 1)"
    line "PyTorch mlp1000, batch 100, 1 thread" $flops_1k "$(torch_ips mlp1000 1 1)"
    pt=$(torch_ips cnn 1 2)
    line "PyTorch cnn, batch 32, 2 threads" $flops_cnn "$pt"
    printf "%-58s %10.2fx\n" "  cnn np=2 (nntrain) / PyTorch cnn here" "$(echo "$cnn / $pt" | bc -l)"
fi
echo
NNTRAIN=$NN bash tests/bench/gan.sh
echo
# Streamed image folders (about 15 min: it writes 45,000 JPEGs): BENCH_STREAM=1.
if [ "${BENCH_STREAM:-0}" = 1 ]; then NNTRAIN=$NN bash tests/bench/stream.sh; echo; fi
echo "-- allreduce of the gradient buffer (params + 4 metrics), np=2, this machine"
mpicc -O2 tests/bench/allreduce.c -o "$T/allreduce"
mpirun -np 2 "$T/allreduce" 79514 795014 1625870 | tee "$T/ar.txt"
echo
echo "-- time model past one machine (ring allreduce, strong scaling, global batch 1000, t1 measured above)"
for net in mlp mlp1000; do
    ips=$(best_ips "$T/${net}1-1000.log")
    if [ $net = mlp ]; then bytes=$((79514 * 4)); else bytes=$((795014 * 4)); fi
    bash tests/bench/scaling_model.sh $net "$(echo "1000 * 1000 / $ips" | bc -l)" $bytes
done
echo
echo "sgemm peak ($KB): ${PEAK1} GFLOP/s on 1 thread, ${PEAK2} on 2"
echo "PyTorch anchors (../shared/anchors/README.md): mlp 116,000 images/s (1 thread), mlp1000 17,300 images/s"
} | tee "$OUT/bench.txt"
