#!/usr/bin/env bash
# tests/cli/faults.sh: cluster operations and faults on one process (issue 9):
# a regression test for each defect of the adversarial pass that lives in the
# trainer and the commands, stop signals and mid-epoch resume, start-up checks.
# Usage: NNTRAIN=build/nntrain bash tests/cli/faults.sh
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
NN=${NNTRAIN:-build/nntrain}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
T=$(mktemp -d /tmp/nntrain-faults-XXXXXX)
# Only this shell cleans up: a background job's forked shell, killed before it
# execs (29.9's signals at 0 ms), would otherwise run this trap and remove $T.
trap '[ "$BASHPID" = "$$" ] && { kill $(jobs -p) 2>/dev/null; rm -rf "$T" "$NN_CHECK_DIR"; }' EXIT
make_mnist_like "$T/data" 500 100
make_mnist_like "$T/long" 3000 100
D="--data mnist:$T/data"
# A run long enough to be interrupted (about 2 s here): 6 epochs of 600 steps.
RUN="--data mnist:$T/long --model mlp --hidden 256 --epochs 6 --batch 5 --lr 0.1 --quiet --no-plot"
# started PID DIR: wait until the trainer holds DIR/.lock (past start-up, so the
# signal lands in training; one during start-up is 29.9's test).
started() { for _ in $(seq 100); do kill -0 "$1" 2>/dev/null && [ -s "$2/.lock" ] && return; sleep 0.05; done; }
same_weights() { "$NN" compare "$1" "$2" | grep -q 'max_abs_diff: 0\.000e+00'; }

# --- 1-3: the splits and the checkpoint must describe the same problem --------
make_folder "$T/f3" train:bird,dog test:bird,cat,dog
expect_fail "1: a test split with more classes than train (was a heap overflow)" \
    "test split has 3 classes \(bird, cat, dog\) but the training split 2 \(bird, dog\)" \
    $NN train --data "folder:$T/f3" --epochs 1 --batch 4 --out "$T/o1"
make_mnist_like "$T/big" 50 20
python3 - "$T/big" <<'PY'
import struct, sys
d = sys.argv[1]  # train images become 32x32, test stays 28x28
n = 50
open(f"{d}/train-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x803, n, 32, 32) + bytes(n * 32 * 32))
PY
expect_fail "2: IDX train 32x32, test 28x28" "test samples are 1x28x28 \(CxHxW\) but training samples 1x32x32" \
    $NN train --data "mnist:$T/big" --epochs 1 --out "$T/o2"
make_folder "$T/f2" train:a,b:8x8x3 test:a,b:6x6
expect_fail "2: folder without :CxS, smaller grey test images" "test samples are 1x6x6 .*but training samples 3x8x8.*folder:DIR:CxS" \
    $NN train --data "folder:$T/f2" --epochs 1 --batch 4 --out "$T/o2b"
make_folder "$T/fr" train:cat,dog test:cat,dgo
expect_fail "3: a renamed test class" "class 1 is 'dog' in the training split.* but 'dgo' in its test split" \
    $NN train --data "folder:$T/fr" --epochs 1 --batch 4 --out "$T/o3"
make_folder "$T/fa" train:cat,dog test:cat,dog
make_folder "$T/fb" train:cat,fox test:cat,fox
check "3: train on a folder set" $NN train --data "folder:$T/fa" --epochs 1 --batch 4 --quiet --no-plot --out "$T/fa-run"
check "3: the checkpoint records the class names" bash -c "h5dump -A '$T/fa-run/checkpoint.h5' '$T/fa-run/checkpoint.h5' 2>/dev/null | grep -q dog || h5dump '$T/fa-run/checkpoint.h5' | grep -q '\"dog\"'"
expect_fail "3: eval refuses a data set whose classes differ from the checkpoint's" "class 1 is 'dog' in .*checkpoint.h5 but 'fox'" \
    $NN eval --data "folder:$T/fb" --checkpoint "$T/fa-run/checkpoint.h5"
expect_fail "3: predict refuses it too" "class 1 is 'dog'" bash -c "echo 0 | $NN predict --data folder:$T/fb --checkpoint $T/fa-run/checkpoint.h5"
check "3: eval on the same classes works" bash -c "$NN eval --data folder:$T/fa --checkpoint $T/fa-run/checkpoint.h5 | grep -q '^accuracy'"

# --- 4: compare sees NaN --------------------------------------------------------
check "train a small run" $NN train $D --hidden 8 --epochs 1 --batch 50 --quiet --no-plot --out "$T/small"
poison_h5 "$T/small/checkpoint.h5" /model_weights/dense_1/kernel "$T/nan.h5"
expect_fail "4: compare with a NaN checkpoint is not 'equal'" "nan.h5.*(non-finite|NaN)" \
    $NN compare "$T/small/checkpoint.h5" "$T/nan.h5"
check "4: compare of a checkpoint with itself is 0" same_weights "$T/small/checkpoint.h5" "$T/small/checkpoint.h5"
expect_fail "8: eval refuses a checkpoint holding NaN" "nan.h5.*dense_1/kernel.*non-finite" \
    $NN eval $D --checkpoint "$T/nan.h5"
expect_fail "8: predict refuses it" "non-finite" bash -c "echo 1 | $NN predict $D --checkpoint $T/nan.h5"

# --- 6: stop signals: finish the step, checkpoint, exit 75, resume equal -----------
check "uninterrupted reference run" $NN train $RUN --out "$T/ref"
rc=0; NNTRAIN_TEST_SIGNAL=723 $NN train $RUN --out "$T/sig" 2>"$T/sig.err" || rc=$?
check "6: SIGTERM mid-epoch exits 75" test "$rc" = 75
check "6: it says where it stopped and how to go on" grep -qE "stopped by a signal \(SIGTERM\) after step 723 \(epoch 2, 123 batches into it\).*--resume auto" "$T/sig.err"
check "6: the checkpoint records the position in the epoch" bash -c "h5dump -a /state/epoch_step '$T/sig/checkpoint.h5' | grep -q '(0): 123'"
check "6: --resume auto continues" $NN train $RUN --out "$T/sig" --resume auto
check "6: ... to the uninterrupted weights, bit for bit" same_weights "$T/ref/checkpoint.h5" "$T/sig/checkpoint.h5"
check "6: ... and the same history (loss, accuracy)" bash -c "diff <(cut -d, -f1-5 $T/ref/history.csv) <(cut -d, -f1-5 $T/sig/history.csv)"
rc=0; NNTRAIN_TEST_SIGNAL=600 $NN train $RUN --out "$T/sigend" 2>"$T/sigend.err" || rc=$?
check "6: a signal in the epoch's last step: evaluated, saved at the epoch's end, exit 75" bash -c "test $rc = 75 && h5dump -a /state/epoch '$T/sigend/checkpoint.h5' | grep -q '(0): 1' && test \$(wc -l < '$T/sigend/history.csv') = 2"
check "6: ... resumed to the uninterrupted weights" bash -c "$NN train $RUN --out $T/sigend --resume auto && $NN compare $T/ref/checkpoint.h5 $T/sigend/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
# Real signals at random moments: before the first checkpoint, mid-epoch, in
# evaluation or a save; each run is resumed with --resume auto until it ends.
ok=1
for i in 1 2 3 4 5; do
    rm -rf "$T/rnd"
    for attempt in 1 2 3; do
        $NN train $RUN --out "$T/rnd" --resume auto 2>>"$T/rnd.err" &
        pid=$!
        started $pid "$T/rnd"
        sleep "$((RANDOM % 2)).$((RANDOM % 10))$((RANDOM % 10))"
        kill -TERM $pid 2>/dev/null
        wait $pid; rc=$?
        [ "$rc" = 0 ] && break
        [ "$rc" = 75 ] || { ok=0; echo "run $i attempt $attempt: exit $rc"; }
    done
    $NN train $RUN --out "$T/rnd" --resume auto 2>>"$T/rnd.err" || ok=0
    same_weights "$T/ref/checkpoint.h5" "$T/rnd/checkpoint.h5" || { ok=0; echo "run $i differs"; }
done
check "6: SIGTERM at random moments, resumed with --resume auto: equal to uninterrupted (5 runs)" test $ok = 1
$NN train $RUN --out "$T/twice" 2>"$T/twice.err" &
pid=$!
started $pid "$T/twice"
sleep 0.3
kill -TERM $pid; kill -INT $pid   # two kinds: both are delivered, none merged
wait $pid; rc=$?
check "6: a second signal exits at once, 128 + its number (exit $rc)" test "$rc" = 130 -o "$rc" = 143
check "6: ... and says so" grep -q 'second stop signal: exiting at once' "$T/twice.err"
# 29.9: SIGTERM 0-20 ms after the start (the loader's time: it exited 143):
# caught all the same, exit 75, nothing written; 8 tries.
bad=""
for d in 0 0.001 0.003 0.006 0.01 0.013 0.016 0.02; do
    rm -rf "$T/early"
    $NN train $RUN --out "$T/early" 2>/dev/null &
    pid=$!
    # From the exec of nntrain on (before it, the job is still a copy of this shell).
    while [ "$(cat /proc/$pid/comm 2>/dev/null)" != nntrain ] && kill -0 $pid 2>/dev/null; do :; done
    sleep $d
    kill -TERM $pid
    wait $pid; rc=$?
    # Exit 75 with nothing written, or (a fast start: the first step already
    # taken) with a whole checkpoint to resume from.
    [ "$rc" = 75 ] && { { [ ! -e "$T/early/checkpoint.h5" ] && [ ! -e "$T/early/history.csv" ]; } ||
        $NN summary --checkpoint "$T/early/checkpoint.h5" > /dev/null 2>&1; } || bad="$bad $d:$rc"
done
check "29.9: SIGTERM 0-20 ms after the start: exit 75, nothing written or a whole checkpoint (8 tries;$bad)" test -z "$bad"
rc=0; NNTRAIN_TEST_SIGNAL=1 $NN train $RUN --out "$T/first" 2>"$T/first.err" || rc=$?
check "6: a signal at the first step still writes a checkpoint to resume from" bash -c "test $rc = 75 && test -f $T/first/checkpoint.h5"

# --- 7: resume with --epochs at or below the saved epoch --------------------------
expect_fail "7: --epochs below the checkpoint's epoch" "already trained for 6 epochs, more than --epochs 3" \
    $NN train $RUN --epochs 3 --resume "$T/ref/checkpoint.h5" --out "$T/ref"
check "7: --epochs equal to it: nothing to do, nothing claimed" bash -c "$NN train $RUN --resume $T/ref/checkpoint.h5 --out $T/ref > $T/7.out 2>&1; grep -q 'nothing to do' $T/7.out && ! grep -q wrote $T/7.out"
check "7: --resume auto on a finished run exits 0 (a requeued job that is done)" $NN train $RUN --out "$T/ref" --resume auto
check "7: --resume auto with no checkpoint starts fresh" bash -c "$NN train $D --hidden 8 --epochs 1 --batch 50 --no-plot --resume auto --out $T/fresh && test -f $T/fresh/checkpoint.h5"

# --- 9, 10: --out checked before training; one trainer per folder -----------------
touch "$T/afile"
expect_fail "9: --out is a regular file: refused before training" "--out .*afile: exists and is not a folder" \
    $NN train $D --epochs 1 --out "$T/afile"
long="$T/$(printf 'x%.0s' $(seq 1 1100))"
expect_fail "9: an --out path over the limit is refused, not cut" "--out: a path of [0-9]+ characters; at most 1000" \
    $NN train $D --epochs 1 --out "$long"
if [ "$(id -u)" != 0 ]; then
    mkdir -p "$T/ro" && chmod 500 "$T/ro"
    expect_fail "9: a read-only --out is refused before training" "cannot write there" $NN train $D --epochs 1 --out "$T/ro"
fi
$NN train $RUN --epochs 50 --out "$T/busy" &
pid=$!
started $pid "$T/busy"
expect_fail "10: a second training on the same --out is refused, naming the first" \
    "busy is in use by another training \(pid $pid on" $NN train $RUN --out "$T/busy"
kill -9 $pid; wait $pid 2>/dev/null
check "10: the lock of a killed trainer does not block the next one" $NN train $D --hidden 8 --epochs 1 --batch 50 --quiet --no-plot --force --out "$T/busy"
check "10: the lock file is removed at the end" test ! -e "$T/busy/.lock"

# --- 29.15, 29.17, 29.20d: start-up checks ---------------------------------------------
make_folder "$T/one" train:only test:only
expect_fail "29.15: a one-class training set is refused, naming the folder and the class" \
    "--data folder:.*/one: the training split has 1 class \('only'\); a classifier needs at least 2" \
    $NN train --data "folder:$T/one" --epochs 1 --batch 4 --out "$T/one-run"
check "29.17: --limit above the data set's size says so (and trains on all)" bash -c "$NN train $D --hidden 8 --epochs 1 --batch 50 --limit 5000 --quiet --no-plot --out $T/lim | grep -qx 'note: --limit 5000 is more than the 500 training samples: using all 500'"
check "29.17: ... and a --limit within it says nothing" bash -c "! $NN train $D --hidden 8 --epochs 1 --batch 50 --limit 100 --quiet --no-plot --out $T/lim2 | grep -q 'note: --limit'"
mkdir -p "$T/cdir/checkpoint.h5"
expect_fail "29.20d: OUT/checkpoint.h5 a folder: refused at start-up, before training" \
    "--out .*cdir: .*cdir/checkpoint\.h5 is a folder; expected a regular file for the checkpoint, or nothing" \
    $NN train $RUN --out "$T/cdir"
check "29.20d: ... before any epoch (no history written)" test ! -e "$T/cdir/history.csv"
mkdir -p "$T/hfifo" && mkfifo "$T/hfifo/history.csv"
expect_fail "29.20d: OUT/history.csv a FIFO: refused at start-up" "hfifo/history\.csv is a FIFO \(named pipe\); expected a regular file for the history" \
    timeout -s KILL 60 $NN train $D --hidden 8 --epochs 1 --batch 50 --out "$T/hfifo"
expect_fail "29.20c: a layer too wide for this machine's memory is refused before allocating" \
    "--model: the net's buffers .* would take 63\.7 GB, more than the [0-9.]+ GB of memory this machine has available" \
    $NN train $D --model "dense 8000000; sigmoid; dense 10" --epochs 1 --out "$T/wide"

# --- 11: predict reads whole lines ------------------------------------------------
check "11: a 256-byte line is one index" bash -c "{ printf '%254s' ''; echo 12; } | $NN predict $D | wc -l | grep -qx 1"
expect_fail "11: a NUL byte in a line is refused" "line 1 holds a NUL byte" bash -c "printf '7\0junk\n' | $NN predict $D"

# --- 12: stale temp files of a killed save are removed -----------------------------
cp "$T/small/checkpoint.h5" "$T/small/checkpoint.h5.tmp.999999"
check "12: a stale checkpoint.h5.tmp.<dead pid> is removed by the next save" bash -c "$NN train $D --hidden 8 --epochs 2 --batch 50 --quiet --no-plot --resume auto --out $T/small && test ! -e $T/small/checkpoint.h5.tmp.999999"

# --- 14: a resume must be the same training ---------------------------------------
expect_fail "14: resume with another --seed" "trained with --seed 1, this run has --seed 2" \
    $NN train $RUN --epochs 7 --seed 2 --resume "$T/ref/checkpoint.h5" --out "$T/ref"
expect_fail "14: resume with another --batch" "trained with --batch 5, this run has --batch 20" \
    $NN train $RUN --epochs 7 --batch 20 --resume "$T/ref/checkpoint.h5" --out "$T/ref"
expect_fail "14: resume with another --limit" "trained with --limit 0, this run has --limit 100" \
    $NN train $RUN --epochs 7 --limit 100 --resume "$T/ref/checkpoint.h5" --out "$T/ref"
cp -r "$T/data" "$T/data2"
expect_fail "14: resume with another --data" "trained on --data mnist:$T/long, this run has --data mnist:$T/data2" \
    $NN train $RUN --epochs 7 --data "mnist:$T/data2" --resume "$T/ref/checkpoint.h5" --out "$T/ref"
expect_fail "29.8: resume with another --model" "ref/checkpoint.h5: the model was trained as \"dense 256;sigmoid;dense 10\", but this run has --model / --hidden mlp1000 / 256" \
    $NN train ${RUN/--model mlp/--model mlp1000} --epochs 7 --resume "$T/ref/checkpoint.h5" --out "$T/ref"
expect_fail "29.8: resume with another --hidden" "the model was trained as \"dense 256;sigmoid;dense 10\", but this run has (--model / )?--hidden (mlp / )?300" \
    $NN train ${RUN/--hidden 256/--hidden 300} --epochs 7 --resume "$T/ref/checkpoint.h5" --out "$T/ref"
expect_fail "29.8: --hidden alone (the default model) is checked too" "this run has --hidden 8 \(\"dense 8;sigmoid;dense 10\"\)" \
    $NN train --data "mnist:$T/long" --hidden 8 --epochs 7 --batch 5 --lr 0.1 --resume "$T/ref/checkpoint.h5" --out "$T/ref"
check "29.8: the same model as an inline spec, and no --model at all, resume" bash -c "cp -r $T/ref $T/ref8 && $NN train ${RUN/--model mlp --hidden 256/} --model 'dense 256; sigmoid; dense 10' --epochs 7 --resume auto --out $T/ref8 && $NN train ${RUN/--model mlp --hidden 256/} --epochs 8 --resume auto --out $T/ref8"

# --- periodic checkpoints, kill -9, best.h5 -----------------------------------------
$NN train $RUN --checkpoint-every 0.0002 --out "$T/per" &
pid=$!
for _ in $(seq 100); do
    ep=$(h5dump -a /state/epoch_step "$T/per/checkpoint.h5" 2>/dev/null | grep -o '(0): [0-9]*' | awk '{print $2}')
    [ -n "$ep" ] && [ "$ep" != 0 ] && break
    sleep 0.05
done
kill -9 $pid; wait $pid 2>/dev/null
check "--checkpoint-every writes mid-epoch checkpoints" test -n "$ep" -a "$ep" != 0
check "... and after kill -9, --resume auto reaches the uninterrupted weights" bash -c "$NN train $RUN --out $T/per --resume auto && $NN compare $T/ref/checkpoint.h5 $T/per/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
check "--keep-best writes best.h5" $NN train $D --hidden 8 --epochs 3 --batch 50 --quiet --no-plot --keep-best --out "$T/best"
check "best.h5 holds the epoch with the best test accuracy" bash -c "
  best=\$(awk -F, 'NR>1 && \$5>m {m=\$5} END{printf \"%.4f\", m}' $T/best/history.csv)
  got=\$($NN eval $D --checkpoint $T/best/best.h5 | awk '/^accuracy/{printf \"%.4f\", \$2}')
  echo \"best \$best got \$got\"; test \"\$best\" = \"\$got\""

# --- divergence names the layer; --profile -----------------------------------------
expect_fail "divergence names the step and the layer" "loss became .* at step [0-9]+ .*(layer|overflowed)" \
    $NN train $D --model mlp1000 --hidden 64 --epochs 2 --lr 1e6 --out "$T/nan"
expect_fail "29.6: --optim adam --eps 0 is refused, naming --eps and the range (it diverged: 'lower --lr')" \
    "--eps 0: adam divides by sqrt\(v\) \+ eps, so eps must be in \(0, 1\]" \
    $NN train $D --optim adam --eps 0 --epochs 1 --out "$T/eps0"
expect_fail "29.6: ... and rmsprop, adadelta too" "--eps 0: adadelta divides by sqrt\(h \+ eps\)" \
    $NN train $D --optim adadelta --eps 0 --epochs 1 --out "$T/eps0"
check "29.6: ... before anything is written" test ! -e "$T/eps0"
check "--profile prints the time per phase" bash -c "$NN train $D --hidden 8 --epochs 1 --batch 50 --no-plot --profile --out $T/prof | grep -A2 'time per rank, this epoch' | grep -q 'forward'"
check "--profile's per-layer times leave out the first step (3 steps: over 2)" bash -c "$NN train $D --hidden 8 --epochs 1 --batch 50 --limit 150 --no-plot --profile --out $T/prof3 | grep -q 'ms per step over 2 steps after the first ('"
check "... a run of one step keeps it" bash -c "$NN train $D --hidden 8 --epochs 1 --batch 50 --limit 50 --no-plot --profile --out $T/prof1 | grep -q 'ms per step over 1 steps ('"

summary "fault tests"
