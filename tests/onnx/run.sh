#!/usr/bin/env bash
# tests/onnx/run.sh: `nntrain export` against ONNX Runtime (issue 31).
#
# For each net (mlp, mlp1000-bn-dropout, cnn on MNIST; the resnet preset, the
# air net and the airbench-gelu net with its whitening stem on CIFAR-10; the
# faces net on the smiles set; the DCGAN generator) a short-trained checkpoint
# is exported, checked by the ONNX checker (python3-onnx, full_check) and run
# by ONNX Runtime (onnxruntime-node) on the WHOLE test set: the same argmax as
# nntrain on every image, the largest probability difference <= 1e-4, and the
# accuracy equal to `nntrain eval`'s to the last digit printed; the
# generator's images within 1e-4 of nntrain's, which are those `nntrain
# sample` draws (its PNG grid, byte for byte). Then docs/onnx.md's JavaScript
# and h5py examples, and bad input: a corrupt, truncated, unsealed or foreign
# checkpoint, an unknown layer type, layers the exporter cannot know, the
# wrong kind of checkpoint: a clear error, exit 1, no .onnx left behind.
#
# Skips (a line saying why, and success): an nntrain built without the
# exporter; no python3-onnx; no node or no onnxruntime-node (installed by
# `npm install --ignore-scripts onnxruntime-node` into $ORT_DIR, default
# build/onnx-node, when npm is there); a data set that datasets/fetch cannot
# get. Usage: NNTRAIN=build/nntrain ONNX_DUMP=build/tests/onnx_dump bash tests/onnx/run.sh
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
NN=${NNTRAIN:-build/nntrain}
DUMP=${ONNX_DUMP:-build/tests/onnx_dump}
PY=${ONNX_PYTHON:-/usr/bin/python3} # Debian's, where python3-onnx and python3-h5py live
ORT_DIR=${ORT_DIR:-build/onnx-node}
TOL=1e-4
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-2}
T=$(mktemp -d /tmp/nntrain-onnx-XXXXXX)
trap '[ "$BASHPID" = "$$" ] && rm -rf "$T" "$NN_CHECK_DIR"' EXIT  # this shell only, not a forked job's
SKIPS=0
skip() { echo "skip $*"; SKIPS=$((SKIPS + 1)); }
finish() {
    [ "$SKIPS" -eq 0 ] || echo "onnx tests: $SKIPS skip line(s) above"
    summary "onnx tests"
    exit $?
}

if $NN export --checkpoint "$T/none.h5" --onnx "$T/none.onnx" 2>&1 | grep -q "built without ONNX export"; then
    skip "everything: $NN was built without ONNX export (install libonnx-dev protobuf-c-compiler libprotobuf-c-dev: make deps, then make)"
    finish
fi
HAVE_CHECKER=1
if ! $PY -c "import onnx.checker" 2>/dev/null; then
    HAVE_CHECKER=0
    skip "the ONNX checker: $PY has no onnx module (apt-get install python3-onnx)"
fi

# --- bad input: no ONNX Runtime needed ------------------------------------------
make_mnist_like "$T/tiny" 300 60
TD="--data mnist:$T/tiny"
$NN train $TD --model mlp --hidden 16 --epochs 1 --batch 50 --lr 0.5 --no-plot --quiet --out "$T/tm" >/dev/null
CK=$T/tm/checkpoint.h5
no_onnx() { ! ls "$T"/bad*.onnx* >/dev/null 2>&1; }
bad() { # NAME PATTERN CKPT [FLAGS...]: refused with PATTERN, no bad.onnx or temp left
    local name=$1 pat=$2 ck=$3
    shift 3
    expect_fail "$name" "$pat" $NN export --checkpoint "$ck" --onnx "$T/bad.onnx" "$@"
    check "... and no .onnx (nor a temp) is left" no_onnx
}
check "export of a good checkpoint (the bad-input tests' control)" $NN export --checkpoint "$CK" --onnx "$T/good.onnx"
python3 - "$CK" "$T" <<'PY'
import sys
ck, t = sys.argv[1:]
data = open(ck, "rb").read()
open(f"{t}/flip.h5", "wb").write(data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 0x40]) + data[len(data) // 2 + 1:])
open(f"{t}/short.h5", "wb").write(data[:len(data) - 100])
open(f"{t}/plain.h5", "wb").write(data[512:])   # the HDF5 data without nntrain's envelope
open(f"{t}/text.h5", "wb").write(b"not a checkpoint\n" * 40)
PY
bad "a corrupt checkpoint (one bit flipped)" "checksum|CRC|damaged" "$T/flip.h5"
bad "a truncated checkpoint" "truncated|checksum|length|damaged" "$T/short.h5"
bad "an HDF5 file without the checksum envelope (sealed wrong)" "without nntrain's checksum envelope" "$T/plain.h5"
bad "not a checkpoint at all" "text.h5" "$T/text.h5"
bad "a missing checkpoint" "nope.h5" "$T/nope.h5"
if $PY -c "import h5py" 2>/dev/null; then
    # An edited spec with a layer type nntrain does not have, sealed again.
    cp "$CK" "$T/unknown.h5"
    $PY - "$T/unknown.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    spec = f.attrs["model_spec"]
    spec = spec.decode() if isinstance(spec, bytes) else spec
    f.attrs["model_spec"] = spec.replace("sigmoid", "sigmoud")
PY
    $NN seal --checkpoint "$T/unknown.h5" >/dev/null
    bad "a checkpoint of an unknown layer type" "unknown layer type 'sigmoud'" "$T/unknown.h5"
else
    skip "the unknown-layer checkpoint: $PY has no h5py (apt-get install python3-h5py)"
fi
expect_fail "a layer of a type the exporter does not know is refused by name" "layer relu_1 \(mystery, model spec line 1\) cannot be exported to ONNX: no ONNX form for the layer type 'mystery'" $DUMP refuse-type "$T/bad.onnx"
check "... and no .onnx is left" no_onnx
expect_fail "an option the exporter does not know is refused, naming layer and option" "layer conv2d_1 \(conv2d, model spec line 1\) cannot be exported to ONNX: its option dilation=2 is not one the exporter knows" $DUMP refuse-opt "$T/bad.onnx"
check "... and no .onnx is left" no_onnx
echo "an earlier model" > "$T/keep.onnx"
expect_fail "a failed export leaves an earlier file at the path as it was" "checksum|CRC|damaged" $NN export --checkpoint "$T/flip.h5" --onnx "$T/keep.onnx"
check "... (its bytes unchanged)" grep -qx "an earlier model" "$T/keep.onnx"
expect_fail "an unwritable destination" "nodir" $NN export --checkpoint "$CK" --onnx "$T/nodir/x.onnx"
expect_fail "--generator on a classifier's checkpoint" "is a classifier's checkpoint: --generator is for a checkpoint of nntrain gan" $NN export --checkpoint "$CK" --onnx "$T/bad.onnx" --generator
expect_fail "export without --onnx says how" "export needs --checkpoint FILE and --onnx OUT.onnx" $NN export --checkpoint "$CK"

# --- every layer type in one small net, through ONNX Runtime below ---------------
ALL="normalize; whiten size=2; gelu; conv2d 8 size=3 stride=2 pad=1; batchnorm; leaky_relu alpha=0.1; save r; conv2d 8 size=3; batchnorm scale=false; tanh; add r; maxpool 3 stride=2; conv2d 4 size=2; conv2d 6 size=2 pad=valid; relu; flatten; dropout 0.3; dense 32 bias=false; batchnorm; sigmoid; save q; dense 32; relu; add q; reshape 2x4x4; deconv2d 3 size=3 stride=2 pad=1 out_pad=1; relu; dense 10; mul 0.5"
check "a net of every layer type trains (tiny set)" $NN train $TD --model "$ALL" --epochs 2 --batch 50 --optim adam --lr 0.003 --no-plot --quiet --out "$T/all"
# The moving averages (--ema) are what eval and sample use, so what export takes.
check "a classifier with --ema trains (tiny set)" $NN train $TD --model "dense 32; batchnorm; relu; dense 10" --ema 0.9 --epochs 2 --batch 50 --optim adam --lr 0.003 --no-plot --quiet --out "$T/ema"
SG=(--generator "dense 392 bias=false; batchnorm; relu; reshape 8x7x7; deconv2d 4 size=4 stride=2 pad=1 bias=false; batchnorm; relu; deconv2d 1 size=4 stride=2 pad=1; tanh" --discriminator "conv2d 4 size=4 stride=2 pad=1; leaky_relu alpha=0.2; flatten; dense 1" --z-dim 16)
check "a small GAN with --ema trains (tiny set)" $NN gan $TD "${SG[@]}" --batch 32 --epochs 1 --ema 0.9 --no-plot --quiet --out "$T/sg"

# --- ONNX Runtime ------------------------------------------------------------------
ORT_MODULE=$PWD/$ORT_DIR/node_modules/onnxruntime-node
export ORT_MODULE
HAVE_ORT=0
if ! command -v node >/dev/null; then
    skip "ONNX Runtime: no node (apt-get install nodejs)"
else
    if [ ! -d "$ORT_MODULE" ] && command -v npm >/dev/null; then
        echo "installing onnxruntime-node into $ORT_DIR (npm install --ignore-scripts)"
        mkdir -p "$ORT_DIR"
        npm install --prefix "$ORT_DIR" --ignore-scripts --no-audit --no-fund --loglevel=error \
            onnxruntime-node >"$T/npm.log" 2>&1 || sed 's/^/     | /' "$T/npm.log" | tail -5
    fi
    if [ ! -d "$ORT_MODULE" ]; then
        skip "ONNX Runtime: no onnxruntime-node in $ORT_DIR and npm could not install it (npm install --prefix $ORT_DIR --ignore-scripts onnxruntime-node)"
    elif ! node -e "require(process.env.ORT_MODULE)" 2>"$T/node.err"; then
        skip "ONNX Runtime: node cannot load $ORT_MODULE: $(head -c 200 "$T/node.err")"
    else
        HAVE_ORT=1
        echo "ONNX Runtime: onnxruntime-node $(node -p "require('$ORT_MODULE/package.json').version") under node $(node --version)"
    fi
fi
[ "$HAVE_ORT" = 1 ] || finish

onnx_checker() { [ "$HAVE_CHECKER" = 0 ] || $PY -c "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)" "$1"; }

# agree NAME DATA CKPT: export, check, nntrain's probabilities on every test
# image against ONNX Runtime's, and the accuracies.
agree() {
    local name=$1 data=$2 ck=$3 m=$T/$1.onnx line acc ort_acc
    check "$name: export" $NN export --checkpoint "$ck" --onnx "$m"
    [ -f "$m" ] || return
    check "$name: the ONNX checker (full_check) passes it" onnx_checker "$m"
    check "$name: nntrain's probabilities on the test set" $DUMP classify "$ck" "$data" "$T/$name"
    acc=$($NN eval --data "$data" --checkpoint "$ck" | awk '/^accuracy:/ {print $2}')
    if ! line=$(node tests/onnx/check.js classify "$m" "$T/$name" $TOL 2>&1); then
        FAIL=$((FAIL + 1))
        echo "FAIL $name: ONNX Runtime disagrees with nntrain: $line"
        return
    fi
    PASS=$((PASS + 1))
    echo "ok   $name: ONNX Runtime agrees ($line; bound $TOL)"
    ort_acc=$(echo "$line" | awk '{printf "%.4f", $NF / $2}')
    check "$name: accuracy by ONNX Runtime $ort_acc = nntrain eval's $acc" test "$ort_acc" = "$acc"
    echo "     $name: $(echo "$line" | awk '{print $2}') images, argmax agreement $(echo "$line" | awk '{print $4 "/" $2}'), max prob diff $(echo "$line" | awk '{print $6}'), accuracy nntrain $acc, ONNX Runtime $ort_acc"
}

# gen_agree NAME GAN N: export --generator, check, N images from nntrain
# sample's noise (seed 7) through ONNX Runtime against nntrain's.
gen_agree() {
    local name=$1 ck=$2 n=$3 m=$T/$1.onnx line
    check "$name: export --generator" $NN export --checkpoint "$ck" --onnx "$m" --generator
    [ -f "$m" ] || return
    check "$name: the ONNX checker passes it" onnx_checker "$m"
    bad "$name: a GAN checkpoint without --generator is refused" "is a GAN's checkpoint .*export --generator writes its generator" "$ck"
    check "$name: nntrain's $n images" $DUMP generate "$ck" "$n" 7 "$T/$name" "$T/$name-dump.png"
    check "$name: ... are those nntrain sample draws (its PNG grid, byte for byte)" bash -c "$NN sample --checkpoint $ck --n $n --seed 7 --png $T/$name-sample.png >/dev/null && cmp $T/$name-sample.png $T/$name-dump.png"
    if line=$(node tests/onnx/check.js generate "$m" "$T/$name" $TOL 2>&1); then
        PASS=$((PASS + 1))
        echo "ok   $name: ONNX Runtime's images agree with nntrain's ($line; bound $TOL)"
    else
        FAIL=$((FAIL + 1))
        echo "FAIL $name: ONNX Runtime's images: $line"
    fi
}
meta_has() { # MODEL KEY TEXT: the metadata value KEY contains TEXT
    [ "$HAVE_CHECKER" = 0 ] || $PY -c "import onnx, sys; m = {p.key: p.value for p in onnx.load(sys.argv[1]).metadata_props}; assert sys.argv[3] in m[sys.argv[2]], m[sys.argv[2]]" "$@"
}

# A training view of a folder set: the real train/ and the first 10 test
# images of each class, so training's per-epoch evaluation is short; the
# agreement runs on the whole real test split.
short_test() { # SRC DST
    mkdir -p "$2/test"
    ln -s "$PWD/$1/train" "$2/train"
    for c in "$1"/test/*/; do
        c=$(basename "$c")
        mkdir -p "$2/test/$c"
        ls "$1/test/$c" | head -10 | while read -r f; do ln -s "$PWD/$1/test/$c/$f" "$2/test/$c/$f"; done
    done
}

agree all-layers "mnist:$T/tiny" "$T/all/checkpoint.h5"
agree ema-classifier "mnist:$T/tiny" "$T/ema/checkpoint.h5"
check "ema-classifier: the model is the moving average, as eval's" meta_has "$T/ema-classifier.onnx" weights "moving average"
gen_agree small-gan-ema "$T/sg/checkpoint.h5" 64
check "small-gan-ema: the generator is the moving average, as sample's" meta_has "$T/small-gan-ema.onnx" weights "generator_ema"

# ONNX_SETS: which data sets' nets to run (default all: mnist cifar10 smiles).
SETS=" ${ONNX_SETS:-mnist cifar10 smiles} "
want() { case "$SETS" in *" $1 "*) return 0 ;; esac; skip "the $1 nets: not in ONNX_SETS=${ONNX_SETS:-}"; return 1; }

if ! want mnist; then :
elif datasets/fetch mnist >"$T/fetch.log" 2>&1; then
    MN="--data mnist --no-plot --quiet"
    check "mlp: 1 epoch on 10,000 images" $NN train $MN --model mlp --epochs 1 --batch 100 --lr 1.0 --limit 10000 --out "$T/mlp"
    agree mlp mnist "$T/mlp/checkpoint.h5"
    # results/README.md's mnist-mlp1000-bn-dropout: preset mlp1000-bn, Adam, cosine.
    check "mlp1000-bn-dropout: 1 epoch on 10,000 images" $NN train $MN --model mlp1000-bn --optim adam --schedule cosine --epochs 1 --batch 100 --limit 10000 --out "$T/bn"
    agree mlp1000-bn-dropout mnist "$T/bn/checkpoint.h5"
    # results/dcgan-mnist's classifier: cnn, AdaDelta.
    check "cnn: 1 epoch on 5,000 images" $NN train $MN --model cnn --optim adadelta --lr 1.0 --batch 32 --epochs 1 --limit 5000 --out "$T/cnn"
    agree cnn mnist "$T/cnn/checkpoint.h5"
    # The JavaScript example of docs/onnx.md on test images 0..4, against nntrain predict.
    awk '/<!-- tested: js -->/ {on = 1; next} on && /^```/ {if (started) exit; started = 1; next} on && started {print}' docs/onnx.md >"$T/classify.js"
    js_example() {
        local ck=$1 prefix=$2 data=$3 i want got
        for i in 0 1 2 3 4; do
            node -e "const fs=require('fs'),[p,i,o]=process.argv.slice(1),j=JSON.parse(fs.readFileSync(p+'.json')),d=j.c*j.h*j.w,b=fs.readFileSync(p+'.x');const x=new Float32Array(b.buffer,b.byteOffset+i*d*4,d);fs.writeFileSync(o,Buffer.from(Array.from(x,v=>Math.round(v*255))))" "$prefix" $i "$T/img.raw" || return 1
            want=$(echo $i | $NN predict --data "$data" --checkpoint "$ck") || return 1
            got=$(NODE_PATH=$ORT_DIR/node_modules node "$T/classify.js" "$T/$(basename "$prefix").onnx" "$T/img.raw") || return 1
            echo "image $i: nntrain predict $want, docs/onnx.md's example: $got"
            case "$got" in "class $want, probability "*) ;; *) return 1 ;; esac
        done
    }
    check "docs/onnx.md's JavaScript example runs and predicts as nntrain predict (cnn, 5 images)" js_example "$T/cnn/checkpoint.h5" "$T/cnn" mnist
    check "docs/onnx.md's h5py example reads a checkpoint" bash -c "awk '/<!-- tested: h5py -->/ {on = 1; next} on && /^\`\`\`/ {if (s) exit; s = 1; next} on && s {print}' docs/onnx.md > $T/h5.py && cd $T && cp cnn/checkpoint.h5 checkpoint.h5 && $PY h5.py | grep -q 'dense_2 kernel (128, 10)'"
    check "docs/onnx.md's Python examples compile" bash -c "awk '/<!-- tested: python-compile -->/ {on = 1; next} on && /^\`\`\`/ {if (s) exit; s = 1; next} on && s {print}' docs/onnx.md > $T/ort.py && $PY -m py_compile $T/ort.py && grep -q InferenceSession $T/ort.py"
    check "the metadata: class names, the training command, the spec" $PY - "$T/cnn.onnx" <<'PY'
import json, onnx, sys
m = {p.key: p.value for p in onnx.load(sys.argv[1]).metadata_props}
assert json.loads(m["class_names"]) == [str(i) for i in range(10)], m["class_names"]
assert m["training_command"].startswith("train data=mnist epochs=1 batch=32 optim=adadelta"), m["training_command"]
assert "conv2d" in m["model_spec"] and "pixels in [0, 1]" in m["input"], m
PY
    # The DCGAN generator (preset dcgan-mnist), 1 epoch on 2,000 images.
    check "dcgan-mnist: 1 epoch on 2,000 images" $NN gan --data mnist --epochs 1 --batch 64 --limit 2000 --no-plot --quiet --out "$T/gan"
    gen_agree dcgan "$T/gan/checkpoint.h5" 1024
else
    skip "the MNIST nets and the DCGAN: datasets/fetch mnist failed: $(tail -1 "$T/fetch.log")"
fi

if ! want cifar10; then :
elif datasets/fetch cifar10 >"$T/fetch.log" 2>&1; then
    short_test datasets/data/cifar10-jpeg "$T/c10"
    # 64 Adam steps (the results' momentum recipes need their warmup epochs;
    # one epoch of them predicts one class): BatchNorm's running statistics
    # settle and the nets reach 30-40%, so the argmax comparison means something.
    CF="--data cifar10-jpeg:$T/c10 --limit 2048 --epochs 1 --batch 32 --optim adam --lr 1e-3 --label-smoothing 0.1 --flip --no-plot --quiet"
    check "cifar10-resnet: 1 epoch on 2,048 images" $NN train $CF --model resnet --crop 4 --out "$T/resnet"
    agree cifar10-resnet cifar10-jpeg "$T/resnet/checkpoint.h5"
    check "cifar10-air: 1 epoch on 2,048 images" $NN train $CF --model results/cifar10/air/air.spec --crop 2 --out "$T/air"
    agree cifar10-air cifar10-jpeg "$T/air/checkpoint.h5"
    # airbench's: normalize, the whitening stem, GELU, mul 1/9 (fitted to the 2,048).
    check "cifar10-airbench-gelu (whitening stem): 1 epoch on 2,048 images" $NN train $CF --model results/cifar10/airbench-gelu/air.spec --crop 2 --crop-fill reflect --out "$T/airbench"
    agree cifar10-airbench-gelu cifar10-jpeg "$T/airbench/checkpoint.h5"
    check "cifar10: the class names are in the metadata" $PY -c "import json, onnx, sys; m = {p.key: p.value for p in onnx.load(sys.argv[1]).metadata_props}; assert json.loads(m['class_names'])[:3] == ['airplane', 'automobile', 'bird'], m['class_names']" "$T/cifar10-resnet.onnx"
else
    skip "the CIFAR-10 nets: datasets/fetch cifar10 failed: $(tail -1 "$T/fetch.log")"
fi

if ! want smiles; then :
elif datasets/fetch smiles >"$T/fetch.log" 2>&1; then
    short_test datasets/data/smiles "$T/sm"
    # results/smiles: preset faces, Adam, balanced class weights, flips and shifts.
    check "smiles-faces: 1 epoch on 1,024 images" $NN train --data "smiles:$T/sm" --model faces --optim adam --lr 1e-3 --batch 64 --epochs 1 --limit 1024 --flip --crop 2 --class-weight balanced --no-plot --quiet --out "$T/faces"
    agree smiles-faces smiles "$T/faces/checkpoint.h5"
else
    skip "the faces net: datasets/fetch smiles failed: $(tail -1 "$T/fetch.log")"
fi

finish
