#!/usr/bin/env bash
# tests/cli/stream.sh: image folders streamed from disk (--cache none, the
# prefetch ring) against the same folders decoded into memory; non-square
# sizes; the start-up line; a file deleted while training; bad flags.
# (Under mpirun: tests/mpi/run.sh.)
# Usage: NNTRAIN=build/nntrain bash tests/cli/stream.sh
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
NN=${NNTRAIN:-build/nntrain}
export OPENBLAS_NUM_THREADS=1
T=$(mktemp -d /tmp/nntrain-stream-XXXXXX)
trap 'rm -rf "$T" "$NN_CHECK_DIR"' EXIT
same_weights() { "$NN" compare "$1" "$2" | grep -q 'max_abs_diff: 0\.000e+00'; }

# 5 classes x 4 images, 10 wide x 6 high, RGB; trained at 8 x 12 (H x W).
make_folder "$T/f" train:a,b,c,d,e:10x6x3 test:a,b,c,d,e:10x6x3
printf 'conv2d 4 size=3\nrelu\nmaxpool 2\ndense 5\n' > "$T/net.spec"
A=(--data "folder:$T/f:3x8x12" --model "$T/net.spec" --epochs 3 --batch 3 --lr 0.05 --seed 2 --no-plot)

check "cached: trains at 3x8x12 (non-square through conv, pool, dense)" bash -c "$NN train ${A[*]@Q} --cache ram --out $T/ram > $T/ram.log"
check "  says it decoded both splits into memory" bash -c "grep -q '^train split: decoded into memory (--cache ram)' $T/ram.log && grep -q '^test split: decoded into memory' $T/ram.log"
for w in 1 2 8; do
    check "streamed, $w decoder thread(s): trains" bash -c "$NN train ${A[*]@Q} --cache none --workers $w --out $T/s$w > $T/s$w.log"
    check "  bit-identical to cached" same_weights "$T/ram/checkpoint.h5" "$T/s$w/checkpoint.h5"
done
check "  the start-up line names the ring and the threads" grep -q "^train split: streamed from disk, 8 decoder thread(s) per rank filling a ring of 4 batches (--cache none)" "$T/s8.log"
check "with augmentation (--flip --crop 2): streamed == cached" bash -c "$NN train ${A[*]@Q} --flip --crop 2 --cache ram --quiet --out $T/ra && $NN train ${A[*]@Q} --flip --crop 2 --cache none --quiet --out $T/sa && $(declare -f same_weights); NN=$NN same_weights $T/ra/checkpoint.h5 $T/sa/checkpoint.h5"
check "one batch of all 20 samples (more samples than the ring has slots)" bash -c "$NN train ${A[*]@Q} --batch 20 --cache none --quiet --out $T/big && $NN train ${A[*]@Q} --batch 20 --cache ram --quiet --out $T/bigr && $(declare -f same_weights); NN=$NN same_weights $T/big/checkpoint.h5 $T/bigr/checkpoint.h5"
check "auto: a small folder is decoded into memory, and says why" bash -c "$NN train ${A[*]@Q} --epochs 1 --out $T/auto | grep -q '^train split: decoded into memory (--cache auto: the shard decoded is 0 MB, within the'"
check "resume of a streamed run, mid-epoch (signal at step 9)" bash -c "NNTRAIN_TEST_SIGNAL=9 $NN train ${A[*]@Q} --cache none --quiet --out $T/sig; test \$? = 75 && $NN train ${A[*]@Q} --cache none --quiet --resume auto --out $T/sig && $(declare -f same_weights); NN=$NN same_weights $T/ram/checkpoint.h5 $T/sig/checkpoint.h5"
check "eval streams the test split too" bash -c "$NN eval --data folder:$T/f:3x8x12 --cache none --checkpoint $T/ram/checkpoint.h5 > $T/ev1 && $NN eval --data folder:$T/f:3x8x12 --checkpoint $T/ram/checkpoint.h5 > $T/ev2 && cmp $T/ev1 $T/ev2"

# A file deleted while the run is stopped (SIGSTOP at step 3): the next epoch
# reads it and the run ends naming it; the checkpoint of epoch 1 stays good.
NNTRAIN_TEST_STALL=3:0 $NN train "${A[@]}" --epochs 4 --cache none --quiet --out "$T/del" > "$T/del.log" 2>&1 &
pid=$!
for _ in $(seq 200); do grep -q '^State:.*(stopped)' /proc/$pid/status 2>/dev/null && break; sleep 0.05; done
rm -f "$T/f/train/c/1.png"
kill -CONT $pid
wait $pid; rc=$?
check "a file deleted mid-run: exit 1 naming it" bash -c "test $rc = 1 && grep -q 'f/train/c/1.png: cannot open: No such file or directory' $T/del.log"
check "  the last checkpoint is intact" bash -c "$NN eval --data folder:$T/f:3x8x12 --checkpoint $T/del/checkpoint.h5 | grep -q '^accuracy'"
# Truncated: a decode error naming it.
make_folder "$T/g" train:a,b,c,d,e:10x6x3 test:a,b,c,d,e:10x6x3
head -c 30 "$T/g/train/a/0.png" > "$T/cut.png" && mv "$T/cut.png" "$T/g/train/a/0.png"
expect_fail "a truncated file, streamed: the decoder's error naming it" "g/train/a/0.png: corrupt or unreadable PNG" \
    $NN train --data "folder:$T/g:3x8x12" --model "$T/net.spec" --epochs 1 --batch 3 --cache none --out "$T/cutrun"

expect_fail "--cache must be auto, ram or none" "--cache disk: expected auto, ram or none" $NN train "${A[@]}" --cache disk --out "$T/x"
expect_fail "--workers 0 is refused" "--workers" $NN train "${A[@]}" --workers 0 --out "$T/x"
expect_fail "folder:DIR:3x8 is square; 3x8x0 is an error" "3x8x0.*CxHxW" $NN train --data "folder:$T/f:3x8x0" --out "$T/x"

summary "stream tests"
