#!/usr/bin/env bash
# tests/cli/run.sh: nntrain's commands end to end on a tiny generated data set,
# including bad input. Usage: NNTRAIN=build/nntrain bash tests/cli/run.sh
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
NN=${NNTRAIN:-build/nntrain}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
T=$(mktemp -d /tmp/nntrain-cli-XXXXXX)
trap '[ "$BASHPID" = "$$" ] && rm -rf "$T" "$NN_CHECK_DIR"' EXIT  # this shell only, not a forked job's
make_mnist_like "$T/data" 500 100
D="--data mnist:$T/data"

# --- training, outputs, checkpoint ---------------------------------------------
check "train 3 epochs" $NN train $D --model mlp --hidden 32 --epochs 3 --batch 50 --lr 0.5 --out "$T/run"
check "history.csv has a header and 3 epochs" test "$(wc -l < "$T/run/history.csv")" -eq 4
check "history.csv columns" grep -q '^epoch,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s' "$T/run/history.csv"
check "training reduces the loss" awk -F, 'NR==2{a=$2} NR==4{b=$2} END{exit !(b < a)}' "$T/run/history.csv"
check "tiny set learned (test acc > 0.9)" awk -F, 'NR==4{exit !($5 > 0.9)}' "$T/run/history.csv"
# airbench's pieces together: Nesterov momentum, the linear (triangle)
# schedule, BatchNorm without scale and with a 64x bias rate, identity-started
# convolutions, logits times 1/9; then a resume of that checkpoint.
AIR="conv2d 8 bias=false init=uniform dirac=true; maxpool 2; batchnorm scale=false bias_lr=64; relu; conv2d 8 bias=false init=uniform dirac=true; batchnorm scale=false bias_lr=64; relu; flatten; dense 10 bias=false; mul 0.1111"
check "airbench-style net and optimizer learn the tiny set" $NN train $D --model "$AIR" --epochs 3 --batch 50 --optim momentum --nesterov --lr 0.2 --momentum 0.85 --weight-decay 1e-3 --schedule linear --warmup 1 --no-plot --out "$T/air"
check "... to test acc > 0.9" awk -F, 'NR==4{exit !($5 > 0.9)}' "$T/air/history.csv"
check "... and resume from its checkpoint (beta only in the BatchNorm layers)" $NN train $D --model "$AIR" --epochs 4 --batch 50 --optim momentum --nesterov --lr 0.2 --momentum 0.85 --schedule linear --no-plot --out "$T/air" --resume auto
# The rest of airbench94's recipe: gelu, the whitening bias frozen after an
# epoch, reflect-filled crops, the triangle's ends. Stopped by a signal at
# epoch 2's end and resumed: the whiten bias (trained in epoch 1: not 0) is
# the same at epochs 2 and 3 while the dense kernel moved.
GA="$D --model 'whiten size=2 bias_epochs=1; gelu; conv2d 8 bias=false init=uniform dirac=true; maxpool 2; batchnorm scale=false bias_lr=64; gelu; flatten; dense 10 bias=false; mul 0.1111' --batch 50 --optim momentum --nesterov --lr 0.2 --momentum 0.85 --weight-decay 1e-3 --schedule linear:0.2:0.07 --warmup 1 --crop 2 --crop-fill reflect --flip alternate --no-plot"
check "gelu, bias_epochs, reflect crops, linear:0.2:0.07 learn the tiny set" bash -c "$NN train $GA --epochs 3 --out $T/ga && awk -F, 'NR==4{exit !(\$5 > 0.9)}' $T/ga/history.csv"
wbias() { h5dump -d /model_weights/whiten_1/bias "$1" | grep -A3 DATA | tr -d '\n '; }
wdense() { h5dump -d /model_weights/dense_1/kernel "$1" | grep -A3 DATA | tr -d '\n '; }
check "... stopped at epoch 2's end" bash -c "NNTRAIN_TEST_SIGNAL=20 $NN train $GA --epochs 3 --out $T/ga2 2>/dev/null; test \$? = 75 && cp $T/ga2/checkpoint.h5 $T/ga2-e2.h5"
check "... resumed to epoch 3" bash -c "$NN train $GA --epochs 3 --out $T/ga2 --resume auto"
check "... the whiten bias trained in epoch 1 (not 0)" bash -c "h5dump -d /model_weights/whiten_1/bias $T/ga2-e2.h5 | grep '(0):' | sed 's/(0)://' | grep -q '[1-9]'"
check "... and frozen after it: the same at epochs 2 and 3" test -n "$(wbias $T/ga2-e2.h5)" -a "$(wbias $T/ga2-e2.h5)" = "$(wbias $T/ga2/checkpoint.h5)"
check "... while the dense kernel moved" test -n "$(wdense $T/ga2-e2.h5)" -a "$(wdense $T/ga2-e2.h5)" != "$(wdense $T/ga2/checkpoint.h5)"
check "... and the resumed run equals the uninterrupted one" bash -c "$NN compare $T/ga/checkpoint.h5 $T/ga2/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
check "eval --tta translate --crop-fill reflect" bash -c "$NN eval $D --tta translate --crop-fill reflect --checkpoint $T/ga/checkpoint.h5 | awk '/^accuracy:/{a=\$2} END{exit !(a > 0.9)}'"
expect_fail "a bad --crop-fill" "--crop-fill mirror: expected zero or reflect" $NN train $D --crop 2 --crop-fill mirror --out "$T/cf"
expect_fail "schedule ends out of range" "linear:START:END" $NN train $D --schedule linear:1.5:0 --out "$T/sched2"
expect_fail "bias_epochs without the bias" "bias_epochs=2 needs the bias" $NN train $D --model "whiten bias=false bias_epochs=2; dense 10" --out "$T/wbe"
# --lookahead: a run resumed at an epoch's end reaches the uninterrupted
# weights (the average is the weights there); and it is not a no-op.
LA="$D --model mlp --hidden 16 --batch 50 --lr 0.3 --flip alternate --no-plot"
check "--lookahead 3:1 trains 3 epochs" $NN train $LA --epochs 3 --lookahead 3:1 --out "$T/la"
check "... stopped by a signal at epoch 2's end, then resumed, equals it" bash -c "NNTRAIN_TEST_SIGNAL=20 $NN train $LA --epochs 3 --lookahead 3:1 --out $T/la2 2>/dev/null; test \$? = 75 && $NN train $LA --epochs 3 --lookahead 3:1 --out $T/la2 --resume auto && $NN compare $T/la/checkpoint.h5 $T/la2/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
check "... and differs from the run without it" bash -c "$NN train $LA --epochs 3 --out $T/nola && ! $NN compare $T/la/checkpoint.h5 $T/nola/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
expect_fail "a bad --lookahead" "expected K:E" $NN train $D --lookahead 5:x:2 --out "$T/lab"
expect_fail "--nesterov without momentum" "needs --optim momentum" $NN train $D --optim adam --nesterov --out "$T/nest"
expect_fail "a bad schedule names the choices" "const, cosine, linear, linear:START:END .* or step" $NN train $D --schedule triangle --out "$T/sched"
if command -v h5dump >/dev/null; then
    check "checkpoint readable by h5dump" bash -c "h5dump -H '$T/run/checkpoint.h5' | grep -q 'dense_1'"
fi

check "training rendered loss.png and accuracy.png" bash -c "file $T/run/loss.png | grep -q 'PNG image' && file $T/run/accuracy.png | grep -q 'PNG image'"
check "plot --compare draws one PNG from several runs" bash -c "$NN plot --compare test_acc --png $T/cmp.png $T/run $T/run && file $T/cmp.png | grep -q PNG"
cp -r "$T/run" "$T/it's run"
check "plot of a run folder with a quote in its name" bash -c "rm -f \"$T/it's run/loss.png\" && $NN plot \"$T/it's run\" && file \"$T/it's run/loss.png\" | grep -q PNG"
check "plot --compare with a quote in a run name" bash -c "$NN plot --compare test_loss --png $T/cmp2.png \"$T/it's run\" $T/run && file $T/cmp2.png | grep -q PNG"
expect_fail "plot of a folder without history" "history.csv: not found" $NN plot "$T/data"
expect_fail "plot --compare with an unknown column" "not a history column" $NN plot --compare nope --png "$T/x.png" "$T/run"

# --- predict -----------------------------------------------------------------
check "predict with checkpoint prints one digit" bash -c "echo 3 | $NN predict $D --checkpoint $T/run/checkpoint.h5 | grep -qx '[0-9]'"
p1=$(echo 7 | $NN predict $D --hidden 20 --seed 4 2>&1)
p2=$(echo 7 | $NN predict $D --hidden 20 --seed 4 2>&1)
check "predict without checkpoint is deterministic" test "$p1" = "$p2"
# The process keeps its name: where OpenBLAS's own kernel choice is generic,
# nntrain sets OPENBLAS_CORETYPE and execs itself again (src/backend/blas_setup.c),
# which must not rename it "exe" (ps, pgrep -x nntrain, pkill). predict waits on
# stdin, by then past any re-exec.
mkfifo "$T/fifo"
env -u OPENBLAS_CORETYPE -u NN_NO_REEXEC $NN predict $D < "$T/fifo" > /dev/null 2>&1 &
ppid=$!
exec 7> "$T/fifo"
for _ in $(seq 600); do
    grep -q '^State:.*(sleeping)' /proc/$ppid/status 2>/dev/null && grep -q 'predict' /proc/$ppid/cmdline 2>/dev/null && break
    sleep 0.05
done
pname=$(cat /proc/$ppid/comm 2>/dev/null)
exec 7>&-
wait $ppid
check "the process is called nntrain, also after the OpenBLAS kernel re-exec (was: exe)" test "$pname" = nntrain
check "predict: one answer per line" bash -c "printf '1\n2\n\n3\n' | $NN predict $D | wc -l | grep -qx 3"
# The trained net predicts the label of the band it sees: compare to the label file.
check "predict agrees with eval on a learned sample" bash -c "
  lab=\$(python3 -c \"import sys; print(open('$T/data/t10k-labels-idx1-ubyte','rb').read()[8+5])\")
  pred=\$(echo 5 | $NN predict $D --checkpoint $T/run/checkpoint.h5)
  test \"\$lab\" = \"\$pred\""
expect_fail "a net too large for any machine is refused by size, naming the spec" "--model: the net needs .* GB of buffers" $NN loss $D --model "dense 16000000; dense 10"
check "summary describes that net without its buffers (no weight initialised)" bash -c "$NN summary --model 'dense 16000000; dense 10' | grep -q 'Total params: 12720000010'"
expect_fail "--batch and --batch-per-rank together" "give one" $NN train $D --batch 10 --batch-per-rank 5 --out "$T/bpr"
expect_fail "--lr-scale without --batch-per-rank" "needs --batch-per-rank" $NN train $D --lr-scale linear --out "$T/lrs"
expect_fail "--lr-scale of an unknown rule" "expected none, linear or sqrt" $NN train $D --batch-per-rank 5 --lr-scale cubic --out "$T/lrs"
expect_fail "predict: 'abc' on stdin" "not an integer" bash -c "echo abc | $NN predict $D"
expect_fail "predict: index out of range" "out of range.*0\.\.99" bash -c "echo 100 | $NN predict $D"
expect_fail "predict: 10000 out of range" "out of range" bash -c "echo 10000 | $NN predict $D"
expect_fail "predict: negative index" "out of range" bash -c "echo -1 | $NN predict $D"
expect_fail "predict: empty stdin" "empty" bash -c "$NN predict $D < /dev/null"
expect_fail "predict: trailing junk" "not an integer" bash -c "echo 12x | $NN predict $D"

# --- loss, eval, summary -----------------------------------------------------
check "loss prints the mean cross-entropy" bash -c "$NN loss $D --batch 100 | grep -q 'cross-entropy: [0-9.]*'"
# With random N(0,1/fan_in) weights the loss is near ln(10) = 2.30.
check "loss of an untrained net is near ln 10" bash -c "$NN loss $D --batch 100 | awk '{exit !(\$2 > 1.8 && \$2 < 3.2)}'"
check "eval prints accuracy and confusion" bash -c "$NN eval $D --checkpoint $T/run/checkpoint.h5 --confusion-csv $T/conf.csv > $T/eval.txt && grep -q '^accuracy: [01]\.[0-9]\{4\}' $T/eval.txt && grep -q 'confusion' $T/eval.txt"
check "eval draws the confusion heat map" bash -c "$NN eval $D --checkpoint $T/run/checkpoint.h5 --confusion-png $T/conf.png > /dev/null && file $T/conf.png | grep -q PNG"
check "confusion CSV sums to the test count" bash -c "awk -F, 'NR>1{for(i=2;i<=NF;i++)s+=\$i} END{exit !(s==100)}' $T/conf.csv"
# Metrics for imbalanced classes: after accuracy/loss/samples (kept as they were).
check "eval: accuracy, loss, samples, then balanced_accuracy and macro_f1" bash -c "grep -v ^data: $T/eval.txt | sed -n 1,5p | cut -d: -f1 | tr '\n' ' ' | grep -qx 'accuracy loss samples balanced_accuracy macro_f1 ' && grep -q '^balanced_accuracy: [01]\.[0-9]\{4\}$' $T/eval.txt && grep -q '^macro_f1: [01]\.[0-9]\{4\}$' $T/eval.txt"
check "eval: one line per class (precision, recall, f1 in [0,1]) whose supports sum to the samples" bash -c "
  awk '/^  class +precision +recall +f1 +support\$/{t=1; next} t && /^confusion/{t=0} t{n++; s+=\$5; for(i=2;i<=4;i++) if(\$i<0||\$i>1) bad=1} END{exit !(n==10 && s==100 && !bad)}' $T/eval.txt"
check "eval: balanced_accuracy is the mean recall of the per-class lines" bash -c "
  awk '/^balanced_accuracy:/{b=\$2} /^  class +precision/{t=1; next} t && /^confusion/{t=0} t && \$5>0{r+=\$3; n++} END{d=b-r/n; if(d<0)d=-d; exit !(d<1e-3)}' $T/eval.txt"
check "history.csv ends with test_bal_acc, a balanced accuracy per epoch" bash -c "head -1 $T/run/history.csv | grep -q ',lr,test_bal_acc\$' && awk -F, 'NR>1{if(!(\$10>=0 && \$10<=1)) exit 1}' $T/run/history.csv"
check "the last epoch's test_bal_acc is eval's balanced_accuracy" bash -c "
  a=\$(awk -F, 'END{printf \"%.4f\", \$10}' $T/run/history.csv); b=\$(awk '/^balanced_accuracy:/{print \$2}' $T/eval.txt); echo \"\$a \$b\"; test \"\$a\" = \"\$b\""
check "plot --compare test_bal_acc" bash -c "$NN plot --compare test_bal_acc --png $T/bal.png $T/run && file $T/bal.png | grep -q PNG"

# --- --class-weight balanced|sqrt, on an image folder with imbalanced classes --------
# Train: 4 of "big", 4 of "mid", 1 of "rare one" (weights 9/12, 9/12, 3); the
# class names show in eval's table, confusion matrix and CSV.
make_folder "$T/imb" train:big,mid,"rare one":8x8 test:big,mid,"rare one":8x8
rm "$T/imb/train/rare one/"[123].png
F="--data folder:$T/imb --model mlp --hidden 8 --epochs 2 --batch 3 --lr 0.5 --no-plot"
check "train --class-weight balanced" bash -c "$NN train $F --class-weight balanced --out $T/cw > $T/cw.log && grep -q 'class weights balanced (0.75..3; train loss weighted)' $T/cw.log"
check "  history.csv has test_bal_acc" bash -c "awk -F, 'NR==3{exit !(\$10>=0 && \$10<=1)}' $T/cw/history.csv"
check "  the weighted train loss differs from --class-weight none's" bash -c "$NN train $F --out $T/cw0 --quiet && test \"\$(sed -n 2p $T/cw/history.csv | cut -d, -f2)\" != \"\$(sed -n 2p $T/cw0/history.csv | cut -d, -f2)\""
check "  the default is --class-weight none (bit-identical weights)" bash -c "$NN train $F --class-weight none --out $T/cwn --quiet && $NN compare $T/cw0/checkpoint.h5 $T/cwn/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
check "  the config and state record it" bash -c "h5dump -a /config $T/cw/checkpoint.h5 | grep -q 'class_weight=balanced' && h5dump -a /state/class_weight $T/cw/checkpoint.h5 | grep -q '\"balanced\"'"
check "eval names the classes (folder names)" bash -c "$NN eval --data folder:$T/imb --checkpoint $T/cw/checkpoint.h5 --confusion-csv $T/cw.csv > $T/cw-eval.txt && grep -q '^  rare one  ' $T/cw-eval.txt && grep -q '^  mid  ' $T/cw-eval.txt && grep -A1 '^confusion' $T/cw-eval.txt | tail -1 | grep -q 'big  *mid  *rare one' && grep -q '^ *rare one  *[0-9]  *[0-9]  *[0-9]\$' $T/cw-eval.txt"
check "  and so does the confusion CSV" bash -c "head -1 $T/cw.csv | grep -qx 'true.pred,big,mid,rare one' && cut -d, -f1 $T/cw.csv | tail -3 | tr '\n' ' ' | grep -qx 'big mid rare one '"
check "resume with the same --class-weight" $NN train ${F/--epochs 2/--epochs 3} --class-weight balanced --resume auto --out "$T/cw" --quiet
expect_fail "resume with another --class-weight is refused" "trained with --class-weight balanced, this run has --class-weight none.*HINT: pass --class-weight balanced" \
    $NN train ${F/--epochs 2/--epochs 4} --resume auto --out "$T/cw"
expect_fail "unknown --class-weight value" "--class-weight balancd: expected none, balanced or sqrt" $NN train $F --class-weight balancd --out "$T/cwx"
# sqrt: N = 9, sum of roots 2 + 2 + 1 = 5, w = 9 / (5 sqrt(n_c)): 0.9 and 1.8.
check "train --class-weight sqrt: weights 0.9..1.8" bash -c "$NN train $F --class-weight sqrt --out $T/cws > $T/cws.log && grep -q 'class weights sqrt (0.9..1.8; train loss weighted)' $T/cws.log && h5dump -a /state/class_weight $T/cws/checkpoint.h5 | grep -q '\"sqrt\"'"
check "  its train loss differs from balanced's" bash -c "test \"\$(sed -n 2p $T/cw/history.csv | cut -d, -f2)\" != \"\$(sed -n 2p $T/cws/history.csv | cut -d, -f2)\""
expect_fail "  a resume with balanced is refused" "trained with --class-weight sqrt, this run has --class-weight balanced" \
    $NN train ${F/--epochs 2/--epochs 3} --class-weight balanced --resume auto --out "$T/cws"
expect_fail "--class-weight without a value" "--class-weight needs a value" $NN train $F --class-weight
expect_fail "gan --class-weight balanced is refused" "--class-weight does not apply to gan \(it is for: train\)" $NN gan --data folder:$T/imb --class-weight balanced --out "$T/cwg"
check "summary lists layers and params" bash -c "$NN summary $D --model mlp | grep -q 'Total params: 79510'"
check "summary of a checkpoint" bash -c "$NN summary $D --checkpoint $T/run/checkpoint.h5 | grep -q dense_2"

# --- convolution, normalisation adapted from the data, augmentation ---------------
check "cnn with normalize, --crop 2 --flip" $NN train $D --model "normalize; conv2d 4; relu; maxpool 2; flatten; dense 10" --optim adam --epochs 2 --batch 50 --crop 2 --flip --out "$T/cnn" --quiet
check "normalize adapted: mean in the checkpoint matches the data" bash -c "
  want=\$(python3 -c \"d=open('$T/data/train-images-idx3-ubyte','rb').read()[16:]; print('%.3f' % (sum(d)/len(d)/255))\")
  got=\$(h5dump -d /model_weights/normalize_1/mean $T/cnn/checkpoint.h5 | grep -A1 'DATA {' | tail -1 | awk '{printf \"%.3f\", \$2}')
  echo \"want \$want got \$got\"; test \"\$want\" = \"\$got\""
check "cnn learned the tiny set (test acc > 0.9)" awk -F, 'NR==3{exit !($5 > 0.9)}' "$T/cnn/history.csv"
check "eval of the cnn checkpoint" bash -c "$NN eval $D --checkpoint $T/cnn/checkpoint.h5 | grep -q '^accuracy'"
# eval --tta flip averages each image's probabilities with its mirror's: so it
# cannot tell a test set from its mirror image (plain eval can), and on
# left-right symmetric images it equals plain eval.
mirror_idx() { # mirror_idx SRC DST MODE: copy an IDX set, test images mirrored (flip), made symmetric (sym) or given a blank 2-pixel frame (frame)
    mkdir -p "$2" && cp "$1"/train-* "$1"/t10k-labels-idx1-ubyte "$2"/ && python3 - "$1" "$2" "$3" <<'PY'
import sys
src, dst, mode = sys.argv[1:]
b = open(f"{src}/t10k-images-idx3-ubyte", "rb").read()
out = bytearray(b[:16])
for r in range(16, len(b), 28):
    row = b[r:r + 28]
    if mode == "frame":
        y = (r - 16) // 28 % 28
        out += bytes(28) if y < 2 or y >= 26 else bytes(2) + row[2:26] + bytes(2)
    else:
        out += row[::-1] if mode == "flip" else row[:14] + row[:14][::-1]
open(f"{dst}/t10k-images-idx3-ubyte", "wb").write(out)
PY
}
mirror_idx "$T/data" "$T/mirror" flip && mirror_idx "$T/data" "$T/sym" sym && mirror_idx "$T/data" "$T/frame" frame
tta() { $NN eval --data "mnist:$1" --checkpoint "$T/cnn/checkpoint.h5" $2 | grep -E '^(accuracy|loss):'; }
check "eval --tta flip: the same on the test set and on its mirror image" bash -c "$(declare -f tta); NN=$NN T=$T; a=\$(tta $T/data '--tta flip'); b=\$(tta $T/mirror '--tta flip'); echo \"\$a / \$b\"; test -n \"\$a\" && test \"\$a\" = \"\$b\""
check "  while plain eval differs between them" bash -c "$(declare -f tta); NN=$NN T=$T; test \"\$(tta $T/data)\" != \"\$(tta $T/mirror)\""
check "  and on symmetric images --tta flip equals plain eval" bash -c "$(declare -f tta); NN=$NN T=$T; a=\$(tta $T/sym '--tta flip'); b=\$(tta $T/sym); echo \"\$a / \$b\"; test \"\$a\" = \"\$b\""
check "  and says so" bash -c "$NN eval $D --checkpoint $T/cnn/checkpoint.h5 --tta flip | grep -q '^test-time augmentation: each image and its mirror image'"
expect_fail "bad --label-smoothing" "--label-smoothing 1: expected a number in" $NN train $D --label-smoothing 1
# --tta translate adds the image and its mirror moved one pixel down-right and
# up-left: a net that only looks at the image's maximum (a global max pool)
# gives the same on all six views of images with a blank frame (the moves
# keep every pixel, and fill with 0), so it equals plain eval there, but not
# on the images without the frame (a move drops a row and a column).
check "eval --tta translate: a move-invariant net (global max pool) equals plain eval" bash -c "$NN train $D --model 'maxpool 28; flatten; dense 10' --epochs 1 --batch 50 --out $T/gmax --quiet && a=\$($NN eval --data mnist:$T/frame --checkpoint $T/gmax/checkpoint.h5 --tta translate | grep -E '^(accuracy|loss):') && b=\$($NN eval --data mnist:$T/frame --checkpoint $T/gmax/checkpoint.h5 | grep -E '^(accuracy|loss):') && echo \"\$a / \$b\" && test -n \"\$a\" && test \"\$a\" = \"\$b\""
check "  but not on the images without the frame" bash -c "a=\$($NN eval $D --checkpoint $T/gmax/checkpoint.h5 --tta translate | grep -E '^loss:') && b=\$($NN eval $D --checkpoint $T/gmax/checkpoint.h5 | grep -E '^loss:') && echo \"\$a / \$b\" && test \"\$a\" != \"\$b\""
check "  the cnn: translate differs from flip and from plain eval" bash -c "$(declare -f tta); NN=$NN T=$T; a=\$(tta $T/data '--tta translate'); b=\$(tta $T/data '--tta flip'); c=\$(tta $T/data); echo \"\$a / \$b / \$c\"; test -n \"\$a\" && test \"\$a\" != \"\$b\" && test \"\$a\" != \"\$c\""
check "  and says so" bash -c "$NN eval $D --checkpoint $T/cnn/checkpoint.h5 --tta translate | grep -q '^test-time augmentation: each image and its mirror image (weight 2), both also moved one pixel down-right and up-left (weight 1)'"
expect_fail "bad --tta" "--tta rotate: expected none, flip or translate" $NN eval $D --checkpoint "$T/cnn/checkpoint.h5" --tta rotate
# eval with --checkpoint given more than once averages the models' class
# probabilities (an ensemble): a model with itself is the model; the order
# does not matter; and the ensemble's loss is at most the mean of its members'
# (-log is convex: -log((pa + pb)/2) <= (-log pa - log pb)/2 for each sample).
ens() { $NN eval $D "$@" | grep -E '^(accuracy|loss|  *[0-9] .*[0-9]$)'; }
check "eval --checkpoint A --checkpoint A: the same as A alone" bash -c "$(declare -f ens); NN=$NN D='$D'; a=\$(ens --checkpoint $T/cnn/checkpoint.h5); b=\$(ens --checkpoint $T/cnn/checkpoint.h5 --checkpoint $T/cnn/checkpoint.h5); test -n \"\$a\" && test \"\$a\" = \"\$b\""
check "  also with --tta flip" bash -c "$(declare -f ens); NN=$NN D='$D'; a=\$(ens --checkpoint $T/cnn/checkpoint.h5 --tta flip); b=\$(ens --checkpoint $T/cnn/checkpoint.h5 --tta flip --checkpoint $T/cnn/checkpoint.h5); test -n \"\$a\" && test \"\$a\" = \"\$b\""
check "an ensemble of an MLP and a CNN: the same in either order, and says so" bash -c "$NN eval $D --checkpoint $T/run/checkpoint.h5 --checkpoint $T/cnn/checkpoint.h5 > $T/ens1.txt && $NN eval $D --checkpoint $T/cnn/checkpoint.h5 --checkpoint $T/run/checkpoint.h5 > $T/ens2.txt && grep -q '^ensemble: the mean class probabilities of 2 checkpoints: $T/run/checkpoint.h5 $T/cnn/checkpoint.h5\$' $T/ens1.txt && diff <(grep -v '^ensemble' $T/ens1.txt) <(grep -v '^ensemble' $T/ens2.txt)"
check "  its loss is at most the mean of the two models' losses" bash -c "a=\$($NN eval $D --checkpoint $T/run/checkpoint.h5 | awk '/^loss:/{print \$2}') && b=\$($NN eval $D --checkpoint $T/cnn/checkpoint.h5 | awk '/^loss:/{print \$2}') && e=\$(awk '/^loss:/{print \$2}' $T/ens1.txt) && echo \"\$a \$b -> \$e\" && awk -v a=\$a -v b=\$b -v e=\$e 'BEGIN { exit !(e <= (a + b) / 2 + 1e-4 && e < a + b) }'"
expect_fail "an ensemble member for other data: named, with what it expects" "$T/cw/checkpoint.h5: checkpoint is for input \\(1, 8, 8\\) with 3 classes" $NN eval $D --checkpoint "$T/cnn/checkpoint.h5" --checkpoint "$T/cw/checkpoint.h5"
expect_fail "a missing ensemble member" "$T/nope.h5" $NN eval $D --checkpoint "$T/cnn/checkpoint.h5" --checkpoint "$T/nope.h5"
expect_fail "--checkpoint twice for predict" "--checkpoint given 2 times: only eval takes more than one" $NN predict $D --checkpoint "$T/cnn/checkpoint.h5" --checkpoint "$T/cnn/checkpoint.h5" --index 1
expect_fail "bad --crop" "--crop -1: expected an integer" $NN train $D --crop -1

# --- resume ------------------------------------------------------------------
check "train 2 epochs straight" $NN train $D --hidden 16 --epochs 2 --batch 64 --lr 0.3 --out "$T/straight" --quiet
check "train 1 epoch" $NN train $D --hidden 16 --epochs 1 --batch 64 --lr 0.3 --out "$T/half" --quiet
check "resume to epoch 2" $NN train $D --hidden 16 --epochs 2 --batch 64 --lr 0.3 --resume "$T/half/checkpoint.h5" --out "$T/half" --quiet
check "resumed run equals the uninterrupted one" bash -c "diff <(cut -d, -f1-5 $T/straight/history.csv) <(cut -d, -f1-5 $T/half/history.csv)"

# --- --ema: a moving average of the weights, evaluated and saved at the root -----
E="$D --hidden 16 --batch 64 --lr 0.3 --ema 0.9"
check "train --ema: the average at the checkpoint's root, the trained weights and optimizer in /trained" bash -c "$NN train $E --epochs 2 --out $T/ema > $T/ema.log && grep -q 'moving average of the weights (--ema 0.9: evaluated and saved)' $T/ema.log && h5ls $T/ema/checkpoint.h5/trained | grep -q optimizer_weights && ! h5ls $T/ema/checkpoint.h5 | grep -q optimizer_weights && h5dump -a /config $T/ema/checkpoint.h5 | grep -q 'ema=0.9'"
check "  history's test loss and accuracy are eval's (the average), not eval --no-ema's" bash -c "
  $NN eval $D --checkpoint $T/ema/checkpoint.h5 > $T/ema-eval.txt && $NN eval $D --checkpoint $T/ema/checkpoint.h5 --no-ema > $T/ema-raw.txt &&
  h=\$(awk -F, 'END{printf \"accuracy: %.4f loss: %.4f\", \$5, \$4}' $T/ema/history.csv) &&
  test \"\$(grep -E '^(accuracy|loss):' $T/ema-eval.txt | tr '\n' ' ' | sed 's/ \$//')\" = \"\$h\" &&
  ! cmp -s <(grep '^loss:' $T/ema-eval.txt) <(grep '^loss:' $T/ema-raw.txt)"
check "  1 epoch, then resume to 2: bit-identical to uninterrupted (average and trained weights)" bash -c "$NN train ${E} --epochs 1 --out $T/emah --quiet && $NN train $E --epochs 2 --resume auto --out $T/emah --quiet && $NN compare $T/ema/checkpoint.h5 $T/emah/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
check "  a resume without --ema goes on from the trained weights and drops the average" bash -c "cp -r $T/ema $T/ema0 && $NN train ${E/--ema 0.9/} --epochs 3 --resume auto --out $T/ema0 > $T/ema0.log && grep -q 'keeps a moving average of the weights; without --ema' $T/ema0.log && ! h5ls $T/ema0/checkpoint.h5 | grep -q trained && h5ls $T/ema0/checkpoint.h5 | grep -q optimizer_weights"
check "  a resume with --ema from a checkpoint without one starts it from the weights" bash -c "$NN train $E --epochs 3 --resume $T/straight/checkpoint.h5 --out $T/ema1 > $T/ema1.log && grep -q 'has no moving average of the weights: --ema starts it' $T/ema1.log && h5ls $T/ema1/checkpoint.h5/trained | grep -q model_weights"
expect_fail "--ema 1 is refused" "--ema 1: expected a decay in \[0, 1\)" $NN train ${E/--ema 0.9/--ema 1}

# --- 29.13: the hint for a missing fashion-mnist names a command that works ---------
expect_fail "29.13: a missing fashion-mnist names datasets/fetch fashion-mnist" "HINT: run \`datasets/fetch fashion-mnist\`" \
    env NNTRAIN_DATA="$T/fm-none" $NN train --data fashion-mnist --epochs 1 --out "$T/fm-run"
make_mnist_like "$T/fm-src" 60 20
check "29.13: ... and that command fetches it (from a mirror folder)" bash -c "datasets/fetch fashion-mnist --from $T/fm-src --dest $T/fm-data/fashion-mnist >/dev/null && NNTRAIN_DATA=$T/fm-data $NN train --data fashion-mnist --epochs 1 --batch 20 --quiet --no-plot --out $T/fm-run"
cp "$T/fm-src/t10k-labels-idx1-ubyte" "$T/fm-src/t10k-images-idx3-ubyte"
expect_fail "29.13: fetch fashion-mnist checks the files' IDX headers" "t10k-images-idx3-ubyte\.gz: not IDX images of 28x28" \
    datasets/fetch fashion-mnist --from "$T/fm-src" --dest "$T/fm-bad"

# --- bad input ---------------------------------------------------------------
expect_fail "unknown flag" "unknown option '--epoch'" $NN train $D --epoch 3
expect_fail "bad number" "--batch abc: expected an integer" $NN train $D --batch abc
expect_fail "flag without value" "needs a value" $NN train $D --lr
expect_fail "unknown command" "unknown command 'trian'" $NN trian
expect_fail "missing data folder" "not found.*HINT" $NN train --data mnist:/nonexistent/dir
expect_fail "unknown model" "not a preset" $NN train $D --model nosuchmodel
expect_fail "bad model spec names the line" "line 2.*sigmoud" $NN train $D --model "dense 10
sigmoud"
expect_fail "eval without checkpoint" "needs --checkpoint" $NN eval $D
printf 'not hdf5' > "$T/bad.h5"
expect_fail "eval with a corrupt checkpoint" "bad.h5.*not an nntrain checkpoint" $NN eval $D --checkpoint "$T/bad.h5"
head -c 2000 "$T/run/checkpoint.h5" > "$T/trunc.h5"
expect_fail "eval with a truncated checkpoint" "trunc.h5" $NN eval $D --checkpoint "$T/trunc.h5"
check "train a different model" $NN train $D --hidden 8 --epochs 1 --batch 50 --out "$T/other" --quiet
expect_fail "resume from another model's checkpoint with another optimizer" "optimizer 'sgd'.*'adam'" \
    $NN train $D --optim adam --epochs 2 --resume "$T/other/checkpoint.h5" --out "$T/other"
cp "$T/run/checkpoint.h5" "$T/keep.h5"
mkdir -p "$T/ro" && chmod 500 "$T/ro"
if [ "$(id -u)" != 0 ]; then
    expect_fail "unwritable output folder" "cannot create" $NN train $D --epochs 1 --out "$T/ro/x"
fi
check "earlier checkpoint untouched by failures" cmp "$T/run/checkpoint.h5" "$T/keep.h5"
# A NaN loss stops the run with a hint, and keeps the last good checkpoint.
expect_fail "divergence is reported" "loss became.*lower --lr" $NN train $D --model mlp1000 --hidden 64 --epochs 2 --lr 1e6 --out "$T/nan"

summary "cli tests"
