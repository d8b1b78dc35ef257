#!/usr/bin/env bash
# tests/cuda/run.sh (make test-cuda): the CUDA backend against the CPU's.
#   - every backend op, CPU vs GPU on random inputs (CUDA_OPS: tests/cuda/test_ops.c)
#   - every layer's finite-difference test on the GPU (the unit tests with
#     NNTRAIN_TEST_DEVICE=cuda)
#   - a 2-epoch MNIST-like run, CPU vs GPU: losses within 1e-3
#   - np=2 sharing one GPU vs np=1 on it; a checkpoint written on the GPU
#     resumed on the CPU
# Without a CUDA build (CUDA_OPS empty) it checks that --device cuda is one
# clear error; with a CUDA build but no GPU visible, that --device cuda fails
# cleanly and --device auto falls back to the CPU. Both print a skip line for
# the GPU runs and exit 0.
# Usage: NNTRAIN=build/cuda/nntrain CUDA_OPS=build/cuda/tests/cuda_ops bash tests/cuda/run.sh
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
NN=${NNTRAIN:-build/nntrain}
OPS=${CUDA_OPS:-}
UNIT=${CUDA_UNIT:-$(dirname "$NN")/tests/unit_tests}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
MPIRUN="timeout 300 mpirun --oversubscribe --bind-to none"
T=$(mktemp -d /tmp/nntrain-cuda-XXXXXX)
trap 'rm -rf "$T" "$NN_CHECK_DIR"' EXIT
make_mnist_like "$T/data" 600 100
D="--data mnist:$T/data"
ARGS="$D --model mlp1000-bn --hidden 64 --optim adam --lr 1e-3 --batch 50 --epochs 2 --seed 3 --no-plot --quiet"

if [ -z "$OPS" ]; then
    expect_fail "a build without CUDA: --device cuda is one clear error" \
        "built without the CUDA backend; .make CUDA=1. builds build/cuda/nntrain" \
        $NN train $D --device cuda --out "$T/nocuda"
    check "a build without CUDA: --device auto runs on the CPU and says so" bash -c \
        "$NN train $D --epochs 1 --device auto --no-plot --out $T/auto | grep -q 'device cpu, '"
    echo "cuda tests: GPU runs skipped (this nntrain was built without CUDA=1)"
    summary "cuda tests"
    exit
fi

if ! $NN train $D --epochs 1 --device cuda --no-plot --quiet --out "$T/probe" > "$T/probe.log" 2>&1; then
    check "no GPU: --device cuda fails with one line naming the reason, no crash" bash -c \
        "test \$(wc -l < $T/probe.log) -le 2 && grep -q 'nntrain: error: --device cuda: ' $T/probe.log"
    check "no GPU: --device auto falls back to the CPU and says why" bash -c \
        "$NN train $D --epochs 1 --device auto --no-plot --out $T/auto | grep -q 'device cpu (no usable GPU: '"
    check "no GPU: the op tests skip cleanly" bash -c "$OPS | grep -q 'cuda tests: skipped'"
    echo "cuda tests: GPU runs skipped ($(tail -1 "$T/probe.log"))"
    summary "cuda tests"
    exit
fi

check "every backend op: CPU vs GPU" "$OPS"
if [ -x "$UNIT" ]; then
    check "the unit tests (every layer's finite differences) on the GPU" bash -c \
        "cd tests && NNTRAIN_TEST_DEVICE=cuda ../$UNIT > $T/unit.log 2>&1 || { tail -30 $T/unit.log; exit 1; }"
fi
check "2 epochs on the CPU" $NN train $ARGS --device cpu --out "$T/cpu"
check "2 epochs on the GPU" bash -c "$NN train $ARGS --device cuda --out $T/gpu > $T/gpu.log && grep -q 'device cuda (' $T/gpu.log"
check "  GPU losses and accuracies within 1e-3 of the CPU's" rel_close "$T/cpu/history.csv" "$T/gpu/history.csv" 1e-3
check "np=2 on one GPU" bash -c "$MPIRUN -np 2 $NN train $ARGS --device cuda --out $T/gpu2 > $T/gpu2.log 2>&1"
check "  matches np=1 on the GPU (1e-4)" rel_close "$T/gpu/history.csv" "$T/gpu2/history.csv" 1e-4
check "a GPU checkpoint (1 epoch) resumed on the CPU to epoch 2" bash -c \
    "$NN train ${ARGS/--epochs 2/--epochs 1} --device cuda --out $T/mix > /dev/null && $NN train $ARGS --device cpu --resume auto --out $T/mix > /dev/null"
check "  ends where the GPU run does (1e-3)" rel_close "$T/gpu/history.csv" "$T/mix/history.csv" 1e-3
GEN="dense 392 bias=false; batchnorm; relu; reshape 8x7x7; deconv2d 4 size=4 stride=2 pad=1 bias=false; batchnorm; relu; deconv2d 1 size=4 stride=2 pad=1; tanh"
DIS="conv2d 4 size=4 stride=2 pad=1; leaky_relu alpha=0.2; conv2d 8 size=4 stride=2 pad=1 bias=false; batchnorm; leaky_relu alpha=0.2; flatten; dense 1"
GAN=($D --generator "$GEN" --discriminator "$DIS" --z-dim 16 --batch 32 --epochs 1 --seed 2 --no-plot)
check "a DCGAN epoch on the CPU" $NN gan "${GAN[@]}" --device cpu --out "$T/gan-cpu"
check "a DCGAN epoch on the GPU (deconv, tanh, leaky ReLU, sigmoid cross-entropy)" $NN gan "${GAN[@]}" --device cuda --out "$T/gan-gpu"
check "  D and G losses within 1e-3 of the CPU's" rel_close "$T/gan-cpu/history.csv" "$T/gan-gpu/history.csv" 1e-3
summary "cuda tests"
