#!/usr/bin/env bash
# tests/bench/run.sh (make bench): training throughput side by side in ONE run,
# next to this machine's sgemm rate measured in the same run.
#   - OpenBLAS kernel: what the library picks by itself vs the AVX-512 one
#   - the course's MLP (784-100 sigmoid-10, SGD, B=100) and 784-1000 ReLU-10 (Adam)
#   - 1 thread, 2 threads, and mpirun -np 2 with 1 thread each
# Writes results/bench/bench.txt. Needs MNIST (datasets/fetch mnist).
# BENCH_EPOCHS=N changes the epochs per configuration (default 2; the best is kept).
set -euo pipefail
cd "$(dirname "$0")/../.."
NN=${NNTRAIN:-build/nntrain}
EPOCHS=${BENCH_EPOCHS:-2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=results/bench
mkdir -p "$OUT"
T=$(mktemp -d /tmp/nntrain-bench-XXXXXX)
trap 'rm -rf "$T"' EXIT
cc -O2 tests/bench/sgemm_rate.c -o "$T/sgemm_rate" -lopenblas
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
for ct in auto SkylakeX; do
    for th in 1 2; do
        if [ $ct = auto ]; then r=$(env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=$th "$T/sgemm_rate" 1024)
        else r=$(OPENBLAS_CORETYPE=$ct OPENBLAS_NUM_THREADS=$th "$T/sgemm_rate" 1024); fi
        printf "%-44s %s\n" "  kernel=$ct threads=$th" "$r"
        [ $ct = SkylakeX ] && [ $th = 1 ] && PEAK1=${r%% *}
        [ $ct = SkylakeX ] && [ $th = 2 ] && PEAK2=${r%% *}
    done
done
echo
MLP="$NN train --data mnist --model mlp --batch 100 --lr 1.0"
MLP1K="$NN train --data mnist --model mlp1000 --batch 100 --optim adam"
printf "%-52s %10s %8s %8s\n" "training, MNIST, one epoch" "images/s" "GFLOP/s" "RSS MB"
# Training FLOPs per image = 3 x forward (forward, backward data, backward weights).
flops_mlp=$((3 * 2 * (784 * 100 + 100 * 10)))
flops_1k=$((3 * 2 * (784 * 1000 + 1000 * 10)))
line() { # LABEL FLOPS_PER_IMAGE "IPS RSS"
    set -- "$1" "$2" $3
    printf "%-52s %10s %8.1f %8s\n" "$1" "$3" "$(echo "$3 * $2 / 1000000000" | bc -l)" "${4:--}"
}
line "mlp 784-100-10 sgd, kernel auto, 1 thread" $flops_mlp "$(run a1 -u OPENBLAS_CORETYPE -- $MLP --threads 1)"
line "mlp 784-100-10 sgd, SkylakeX, 1 thread" $flops_mlp "$(run m1 OPENBLAS_CORETYPE=SkylakeX -- $MLP --threads 1)"
line "mlp 784-100-10 sgd, SkylakeX, 2 threads" $flops_mlp "$(run m2 OPENBLAS_CORETYPE=SkylakeX -- $MLP --threads 2)"
line "mlp 784-100-10 sgd, SkylakeX, np=2 x 1 thread" $flops_mlp "$(run mp OPENBLAS_CORETYPE=SkylakeX -- mpirun -np 2 -x OPENBLAS_CORETYPE $MLP --threads 1)"
line "mlp1000 784-1000-10 adam, SkylakeX, 1 thread" $flops_1k "$(run k1 OPENBLAS_CORETYPE=SkylakeX -- $MLP1K --threads 1)"
line "mlp1000 784-1000-10 adam, SkylakeX, 2 threads" $flops_1k "$(run k2 OPENBLAS_CORETYPE=SkylakeX -- $MLP1K --threads 2)"
line "mlp1000 784-1000-10 adam, SkylakeX, np=2 x 1 thread" $flops_1k "$(run kp OPENBLAS_CORETYPE=SkylakeX -- mpirun -np 2 -x OPENBLAS_CORETYPE $MLP1K --threads 1)"
echo
echo "sgemm peak (SkylakeX): ${PEAK1} GFLOP/s on 1 thread, ${PEAK2} on 2"
echo "PyTorch anchors (../shared/anchors/README.md): mlp 116,000 images/s (1 thread), mlp1000 17,300 images/s"
} | tee "$OUT/bench.txt"
