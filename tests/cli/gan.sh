#!/usr/bin/env bash
# tests/cli/gan.sh: `nntrain gan`, `sample` and `gan-score` end to end on a
# tiny generated MNIST-like set with small nets; checkpoints of the wrong
# kind; a GAN stopped by a signal and resumed.
# Usage: NNTRAIN=build/nntrain bash tests/cli/gan.sh
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
NN=${NNTRAIN:-build/nntrain}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
T=$(mktemp -d /tmp/nntrain-gan-XXXXXX)
trap '[ "$BASHPID" = "$$" ] && rm -rf "$T" "$NN_CHECK_DIR"' EXIT  # this shell only, not a forked job's
make_mnist_like "$T/data" 640 100
make_folder "$T/f8" train:a,b test:a,b
D="--data mnist:$T/data"
GEN="dense 392 bias=false; batchnorm; relu; reshape 8x7x7; deconv2d 4 size=4 stride=2 pad=1 bias=false; batchnorm; relu; deconv2d 1 size=4 stride=2 pad=1; tanh"
DIS="conv2d 4 size=4 stride=2 pad=1; leaky_relu alpha=0.2; conv2d 8 size=4 stride=2 pad=1 bias=false; batchnorm; leaky_relu alpha=0.2; flatten; dense 1"
GAN=($D --generator "$GEN" --discriminator "$DIS" --z-dim 16 --batch 32 --epochs 2 --ema 0.99)
same_weights() { "$NN" compare "$1" "$2" | grep -q 'max_abs_diff: 0\.000e+00'; }

check "gan trains 2 epochs" $NN gan "${GAN[@]}" --out "$T/g"
check "history.csv: epoch,d_loss,g_loss,d_real,d_fake,... and 2 rows" bash -c "head -1 $T/g/history.csv | grep -q '^epoch,d_loss,g_loss,d_real,d_fake,seconds,images_per_s' && test \$(wc -l < $T/g/history.csv) = 3"
check "losses and D outputs are finite and in range" awk -F, 'NR>1 { if (!($2 > 0 && $3 > 0 && $4 > 0 && $4 < 1 && $5 > 0 && $5 < 1)) exit 1 }' "$T/g/history.csv"
check "a sample grid per epoch" bash -c "file $T/g/samples/epoch_001.png | grep -q 'PNG image data, 242 x 242' && file $T/g/samples/epoch_002.png | grep -q PNG"
check "loss.png and discriminator.png" bash -c "file $T/g/loss.png | grep -q PNG && file $T/g/discriminator.png | grep -q PNG"
check "the checkpoint holds /generator and /discriminator" bash -c "h5dump -n $T/g/checkpoint.h5 | grep -q '/generator/model_weights/deconv2d_2/kernel' && h5dump -n $T/g/checkpoint.h5 | grep -q '/discriminator/optimizer_weights/m/dense_1/kernel'"
check "the config records the per-net rates: --d-lr 4e-4 (G at --lr)" bash -c "$NN gan ${GAN[*]@Q} --epochs 1 --d-lr 4e-4 --no-plot --out $T/dlr > /dev/null && h5dump -a /config $T/dlr/checkpoint.h5 | grep -q 'g_lr=0.0002 d_lr=0.0004\"' && ! h5dump -a /config $T/g/checkpoint.h5 | grep -q g_lr"
check "sample draws N images" bash -c "$NN sample --checkpoint $T/g/checkpoint.h5 --n 16 --png $T/s.png && file $T/s.png | grep -q 'PNG image data, 122 x 122'"
check "--ema: the checkpoint also holds /generator_ema (parameters and state, no optimizer)" bash -c "h5dump -n $T/g/checkpoint.h5 | grep -q '/generator_ema/model_weights/deconv2d_2/kernel' && h5dump -n $T/g/checkpoint.h5 | grep -q '/generator_ema/model_weights/batchnorm_1/moving_mean' && ! h5dump -n $T/g/checkpoint.h5 | grep -q '/generator_ema/optimizer_weights'"
check "--ema: sample draws from the average, --no-ema from the generator, and they differ" bash -c "$NN sample --checkpoint $T/g/checkpoint.h5 --n 4 --png $T/ea.png | grep -q 'moving average' && $NN sample --checkpoint $T/g/checkpoint.h5 --n 4 --png $T/eb.png --no-ema | grep -q 'the generator)' && ! cmp -s $T/ea.png $T/eb.png"
check "--ema does not change training: G and D equal those of a run without it" bash -c "$NN gan ${GAN[*]@Q} --ema 0 --no-plot --out $T/noema > /dev/null && $NN compare $T/noema/checkpoint.h5 $T/g/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
check "--ema: resuming a checkpoint without an average starts it from G" bash -c "cp -r $T/noema $T/noema3 && $NN gan ${GAN[*]@Q} --epochs 3 --resume auto --no-plot --out $T/noema3 > $T/noema3.log && grep -q 'has no generator average: --ema starts it from the generator' $T/noema3.log && h5dump -n $T/noema3/checkpoint.h5 | grep -q /generator_ema/"
check "--ema: resuming an averaged checkpoint without --ema says it drops the average" bash -c "cp -r $T/g $T/g3 && $NN gan ${GAN[*]@Q} --ema 0 --epochs 3 --resume auto --no-plot --out $T/g3 > $T/g3.log && grep -q 'without --ema this run drops it' $T/g3.log && ! h5dump -n $T/g3/checkpoint.h5 | grep -q /generator_ema/"
expect_fail "--ema 1 is refused" "expected a decay in \\[0, 1\\)" $NN gan "${GAN[@]}" --ema 1 --out "$T/ema1"
check "sample is deterministic per --seed" bash -c "$NN sample --checkpoint $T/g/checkpoint.h5 --n 4 --png $T/a.png --seed 3 && $NN sample --checkpoint $T/g/checkpoint.h5 --n 4 --png $T/b.png --seed 3 && cmp $T/a.png $T/b.png && $NN sample --checkpoint $T/g/checkpoint.h5 --n 4 --png $T/c.png --seed 4 && ! cmp -s $T/a.png $T/c.png"

check "one-sided label smoothing (--real-label 0.9) changes D's loss" bash -c "$NN gan ${GAN[*]@Q} --epochs 1 --real-label 0.9 --no-plot --out $T/ls && test \"\$(sed -n 2p $T/ls/history.csv | cut -d, -f2)\" != \"\$(sed -n 2p $T/g/history.csv | cut -d, -f2)\""
expect_fail "--real-label outside [0.5, 1]" "--real-label 2: expected a number in \[0.5, 1\]" $NN gan "${GAN[@]}" --real-label 2

# --- the presets build for their data shapes -------------------------------------
make_folder "$T/rgb" train:a,b:32x32x3 test:a,b:32x32x3
check "dcgan-cifar is the default for 3x32x32 images and trains" bash -c "$NN gan --data folder:$T/rgb --batch 8 --epochs 1 --no-plot --out $T/cifar > $T/cifar.log && grep -q 'generator [0-9]* parameters' $T/cifar.log && file $T/cifar/samples/epoch_001.png | grep -q 'PNG image data, 274 x 274, 8-bit/color RGB'"
expect_fail "no preset for other shapes: a clear message" "no DCGAN preset for 1x8x8 images" \
    $NN gan --data "folder:$T/f8:1x8" --epochs 1 --out "$T/f8run"

# --- checkpoints of the wrong kind ----------------------------------------------
check "a classifier to score with" $NN train $D --hidden 32 --epochs 4 --batch 20 --lr 1.0 --quiet --no-plot --out "$T/c"
expect_fail "eval refuses a GAN checkpoint" "checkpoint.h5: this checkpoint is a GAN's .* needs a classifier's" \
    $NN eval $D --checkpoint "$T/g/checkpoint.h5"
expect_fail "predict refuses it" "is a GAN's" bash -c "echo 1 | $NN predict $D --checkpoint $T/g/checkpoint.h5"
check "--truncation: other images, repeatable, named in the output" bash -c "$NN sample --checkpoint $T/g/checkpoint.h5 --n 4 --png $T/t1.png --truncation 0.5 | grep -q 'noise truncated to \\[-0.5, 0.5\\]' && $NN sample --checkpoint $T/g/checkpoint.h5 --n 4 --png $T/t2.png --truncation 0.5 && cmp $T/t1.png $T/t2.png && $NN sample --checkpoint $T/g/checkpoint.h5 --n 4 --png $T/t3.png && ! cmp -s $T/t1.png $T/t3.png"
expect_fail "--truncation below 0.1 is refused" "--truncation 0.05: expected 0 .none. or a bound in .0.1, 100." \
    $NN sample --checkpoint "$T/g/checkpoint.h5" --png "$T/x.png" --truncation 0.05
expect_fail "--truncation takes a number" "--truncation" $NN sample --checkpoint "$T/g/checkpoint.h5" --png "$T/x.png" --truncation abc
expect_fail "sample refuses a classifier checkpoint" "this checkpoint is a classifier's .* needs a GAN's" \
    $NN sample --checkpoint "$T/c/checkpoint.h5" --png "$T/x.png"
expect_fail "gan --resume of a classifier checkpoint" "is a classifier's" \
    $NN gan "${GAN[@]}" --resume "$T/c/checkpoint.h5" --out "$T/g2"
expect_fail "train --resume of a GAN checkpoint" "is a GAN's" \
    $NN train $D --resume "$T/g/checkpoint.h5" --out "$T/c2"
expect_fail "compare of a GAN and a classifier" "is a gan checkpoint, .* a classifier one" \
    $NN compare "$T/g/checkpoint.h5" "$T/c/checkpoint.h5"

# --- gan-score ---------------------------------------------------------------
check "gan-score prints score, confidence and the class histogram" bash -c "$NN gan-score --checkpoint $T/g/checkpoint.h5 --classifier $T/c/checkpoint.h5 --n 200 > $T/score.txt && grep -q '^score: [0-9.]* ' $T/score.txt && grep -q '^confident: [01]\.[0-9]*' $T/score.txt && grep -q '^predicted classes: 0:' $T/score.txt"
check "gan-score of real test images (the ceiling) is higher" bash -c "
  real=\$($NN gan-score $D --classifier $T/c/checkpoint.h5 | awk '/^score/{print \$2}')
  fake=\$(awk '/^score/{print \$2}' $T/score.txt)
  echo \"real \$real fake \$fake\"; awk -v r=\$real -v f=\$fake 'BEGIN{exit !(r > 5 && r > f)}'"
expect_fail "gan-score needs --classifier" "gan-score needs --classifier" $NN gan-score --checkpoint "$T/g/checkpoint.h5"

# --- stopped and resumed: bit for bit --------------------------------------------
rc=0; NNTRAIN_TEST_SIGNAL=47 $NN gan "${GAN[@]}" --out "$T/s" 2>"$T/s.err" || rc=$?
check "gan: SIGTERM at step 47 (epoch 2): exit 75, checkpoint inside the epoch" bash -c "test $rc = 75 && h5dump -a /state/epoch_step $T/s/checkpoint.h5 | grep -q '(0): 7'"
check "gan: --resume auto reaches the uninterrupted weights" bash -c "$NN gan ${GAN[*]@Q} --out $T/s --resume auto && $NN compare $T/g/checkpoint.h5 $T/s/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
check "gan: ... and the same history" bash -c "diff <(cut -d, -f1-5 $T/g/history.csv) <(cut -d, -f1-5 $T/s/history.csv)"

# --- 29.20c: sizes from the command line are checked before they are allocated ------------
expect_fail "29.20c: sample --n 10000000 (31 GB of images) is refused before allocating" \
    "images would take 31.4 GB, more than the [0-9.]+ GB of memory this machine has available" \
    $NN sample --checkpoint "$T/g/checkpoint.h5" --n 10000000 --png "$T/huge.png"

# --- 29.19: G's and D's spec errors name their flag and the output expected -------------
expect_fail "29.19: --generator \"dense 10\" names --generator and the 784 = 1x28x28 values" \
    "^nntrain: error: --generator: the generator's last layer \(dense_1\) has 10 outputs, but G must make 784 values per image.*1x28x28" \
    $NN gan $D --generator "dense 10" --epochs 1 --out "$T/g19"
expect_fail "29.19: --discriminator \"flatten; dense 2\" names --discriminator and the 1 logit" \
    "^nntrain: error: --discriminator: the discriminator's last layer \(dense_1\) has 2 outputs, but D must end in 1 logit" \
    $NN gan $D --discriminator "flatten; dense 2" --epochs 1 --out "$T/g19"
expect_fail "29.19: an unknown --generator name is named with its flag" "^nntrain: error: --generator nosuch: not a DCGAN preset" \
    $NN gan $D --generator nosuch --epochs 1 --out "$T/g19"

# --- 29.8: a resume with another model is refused, naming the flag ---------------------
expect_fail "29.8: gan resume with another --z-dim" "the generator was trained on 16 noise values, but this run has --z-dim 32" \
    $NN gan "${GAN[@]}" --epochs 3 --z-dim 32 --resume "$T/g/checkpoint.h5" --out "$T/g8"
expect_fail "29.8: gan resume with another --generator" "the generator was trained as \"dense 392 bias=false;batchnorm;.*this run has --generator dense 784; tanh" \
    $NN gan "${GAN[@]}" --epochs 3 --generator "dense 784; tanh" --resume "$T/g/checkpoint.h5" --out "$T/g8"
expect_fail "29.8: gan resume with another --discriminator" "the discriminator was trained as .*this run has --discriminator flatten; dense 1" \
    $NN gan "${GAN[@]}" --epochs 3 --discriminator "flatten; dense 1" --resume "$T/g/checkpoint.h5" --out "$T/g8"
check "29.8: gan resume with the same flags (and without them) still works" bash -c "cp -r $T/g $T/g8s && $NN gan ${GAN[*]@Q} --epochs 3 --resume auto --no-plot --out $T/g8s >/dev/null && $NN gan $D --epochs 4 --batch 32 --ema 0.99 --resume auto --no-plot --out $T/g8s >/dev/null"

summary "gan tests"
