#!/usr/bin/env bash
# tests/cuda/device-check.sh: everything a lent GPU machine should run, in ONE
# call (the device tool lends a GPU for minutes): build with CUDA=1, the CUDA
# tests (tests/cuda/run.sh), then throughput on the GPU next to the CPU of the
# same machine. Everything it prints also goes to $OUT/device-check.log.
#   run(command="bash tests/cuda/device-check.sh", carry=["datasets/data/mnist"])
# Steps stop at the first failure of the build; the tests and the benchmark
# are reported separately, so one failing op still leaves the figures.
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/nntrain-device}
mkdir -p "$OUT"
exec > >(tee "$OUT/device-check.log") 2>&1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "== device-check $(date -u +%FT%TZ) on $(hostname), $(nproc) cores"
nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv 2>&1 | head -5
command -v mpicc > /dev/null && pkg-config --exists hdf5-serial 2> /dev/null || bash .ci/deps.sh ||
    { echo "device-check: the build dependencies are missing and could not be installed"; exit 1; }
J=$(nproc)
echo "== build (make CUDA=1)"
make CUDA=1 -j"$J" build/cuda/nntrain build/cuda/tests/unit_tests build/cuda/tests/cuda_ops > "$OUT/build.log" 2>&1 ||
    { tail -40 "$OUT/build.log"; echo "device-check: the CUDA build failed"; exit 1; }
echo "built build/cuda/nntrain"
NN=build/cuda/nntrain
echo "== tests (make CUDA=1 test-cuda)"
NNTRAIN=$NN CUDA_OPS=build/cuda/tests/cuda_ops CUDA_UNIT=build/cuda/tests/unit_tests bash tests/cuda/run.sh |
    tee "$OUT/tests.log"
tests_rc=${PIPESTATUS[0]}
# On the GPU machine a skip is a failure (an old driver, no GPU visible).
if grep -q "skipped" "$OUT/tests.log"; then
    echo "device-check: the GPU tests were skipped on a machine that should have a GPU"
    tests_rc=1
fi

echo "== throughput, images/s (best epoch of 2), GPU vs this machine's CPU"
[ -e datasets/data/mnist/train-images-idx3-ubyte.gz ] || [ -e datasets/data/mnist/train-images-idx3-ubyte ] ||
    datasets/fetch mnist > /dev/null 2>&1 || echo "no MNIST here (carry datasets/data/mnist)"
T=$(mktemp -d /tmp/nntrain-device-XXXXXX)
python3 - "$T/rgb" << 'PY'
# 10,000 random 32x32 colour PNGs in 10 classes: the cifar preset's shape (throughput only)
import os, random, struct, sys, zlib
random.seed(1)
def png(path, px):
    raw = b"".join(b"\0" + bytes(px[y * 96:(y + 1) * 96]) for y in range(32))
    ch = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + ch(b"IHDR", struct.pack(">IIBBBBB", 32, 32, 8, 2, 0, 0, 0)) + ch(b"IDAT", zlib.compress(raw)) + ch(b"IEND", b""))
for split, n in (("train", 1000), ("test", 100)):
    for k in range(10):
        d = os.path.join(sys.argv[1], split, f"c{k}"); os.makedirs(d, exist_ok=True)
        for i in range(n): png(os.path.join(d, f"{i}.png"), [random.randrange(256) for _ in range(3072)])
PY
ips() { awk '/^ +[0-9]+ /{ if ($7 > b) b = $7 } END { printf "%.0f", b }' "$1"; }
bench() { # NAME DEVICE ARGS...
    local name=$1 dev=$2
    shift 2
    if $NN train "$@" --epochs 2 --device "$dev" --no-plot --out "$T/$name-$dev" > "$T/$name-$dev.log" 2>&1; then
        ips "$T/$name-$dev.log"
    else
        echo "failed($(tail -1 "$T/$name-$dev.log" | cut -c1-60))"
    fi
}
printf "%-34s %12s %12s\n" "net" "GPU" "CPU ($J cores)"
for cfg in "mlp|--data mnist --model mlp --lr 1.0 --batch 100" \
           "mlp1000 adam|--data mnist --model mlp1000 --optim adam --batch 100" \
           "cnn (Keras) adadelta|--data mnist --model cnn --optim adadelta --lr 1.0 --batch 32" \
           "cnn batch 256|--data mnist --model cnn --optim adadelta --lr 1.0 --batch 256" \
           "cifar preset adam|--data folder:$T/rgb:3x32 --model cifar --optim adam --batch 128"; do
    name=${cfg%%|*}
    args=${cfg#*|}
    printf "%-34s %12s %12s\n" "$name" "$(bench g cuda $args)" "$(bench c cpu $args)"
done
if [ "$(nvidia-smi -L 2> /dev/null | wc -l)" -gt 1 ]; then
    n=$(nvidia-smi -L | wc -l)
    echo "-- 1 vs $n GPUs (mpirun -np $n, one GPU per rank), cnn batch 256"
    mpirun -np "$n" --bind-to none $NN train --data mnist --model cnn --optim adadelta --lr 1.0 \
        --batch 256 --epochs 2 --device cuda --no-plot --out "$T/multi" > "$T/multi.log" 2>&1 &&
        printf "%-34s %12s\n" "np=$n" "$(ips "$T/multi.log")"
fi
if python3 -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' 2> /dev/null; then
    echo "-- PyTorch on the same GPU: see ../shared/anchors (not run by this script)"
fi
rm -rf "$T"
echo "== device-check done: tests exit $tests_rc"
exit $tests_rc
