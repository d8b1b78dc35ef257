#!/usr/bin/env bash
# tests/cli/stream.sh: image folders streamed from disk (--cache none, the
# prefetch ring) against the same folders decoded into memory; non-square
# sizes; the start-up line; a file deleted while training; bad flags;
# check-data on a folder holding every kind of bad file.
# (Under mpirun: tests/mpi/run.sh.)
# Usage: NNTRAIN=build/nntrain bash tests/cli/stream.sh
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
NN=${NNTRAIN:-build/nntrain}
export OPENBLAS_NUM_THREADS=1
T=$(mktemp -d /tmp/nntrain-stream-XXXXXX)
trap '[ "$BASHPID" = "$$" ] && rm -rf "$T" "$NN_CHECK_DIR"' EXIT  # this shell only, not a forked job's
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

# A file deleted while the run is stopped (SIGSTOP at step 9, in epoch 2 of
# 7 steps each): epoch 2 or 3 reads it and the run ends naming it; the
# checkpoint of epoch 1 stays good.
NNTRAIN_TEST_STALL=9:0 $NN train "${A[@]}" --epochs 4 --cache none --quiet --out "$T/del" > "$T/del.log" 2>&1 &
pid=$!
# Up to 2 minutes (a loaded machine), and not past the run's end.
for _ in $(seq 2400); do
    grep -q '^State:.*(stopped)' /proc/$pid/status 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
done
rm -f "$T/f/train/c/1.png"
kill -CONT $pid
wait $pid; rc=$?
check "a file deleted mid-run: exit 1 naming it" bash -c "test $rc = 1 && grep -q 'f/train/c/1.png: cannot open: No such file or directory' $T/del.log"
check "  the last checkpoint is intact" bash -c "$NN eval --data folder:$T/f:3x8x12 --checkpoint $T/del/checkpoint.h5 | grep -q '^accuracy'"
# Truncated: a decode error naming it.
make_folder "$T/g" train:a,b,c,d,e:10x6x3 test:a,b,c,d,e:10x6x3
head -c 30 "$T/g/train/a/0.png" > "$T/cut.png" && mv "$T/cut.png" "$T/g/train/a/0.png"
expect_fail "a truncated file, streamed (8 decoder threads busy as it fails): the decoder's error naming it" "g/train/a/0.png: corrupt or unreadable PNG" \
    $NN train --data "folder:$T/g:3x8x12" --model "$T/net.spec" --epochs 1 --batch 3 --cache none --workers 8 --out "$T/cutrun"

expect_fail "--cache must be auto, ram or none" "--cache disk: expected auto, ram or none" $NN train "${A[@]}" --cache disk --out "$T/x"
expect_fail "--workers 0 is refused" "--workers" $NN train "${A[@]}" --workers 0 --out "$T/x"
expect_fail "folder:DIR:3x8 is square; 3x8x0 is an error" "3x8x0.*CxHxW" $NN train --data "folder:$T/f:3x8x0" --out "$T/x"

# --- check-data -----------------------------------------------------------------------
make_folder "$T/bad" train:a,b,c:8x8x3 test:a,b:8x8
check "check-data: a clean folder: counts, sizes, exit 0" bash -c "$NN check-data --data folder:$T/bad > $T/cd0.log && grep -q '^train: 12 readable sample(s) in 3 class(es), 12 read, 0 problem(s)' $T/cd0.log && grep -q 'sizes (channels x height x width): 3x8x8 (RGB): 12' $T/cd0.log && grep -q '^all files readable' $T/cd0.log"
head -c 60 "$T/bad/train/a/1.png" > "$T/bad/test/a/cut.png"
printf '\xff\xd8\xff\xe0garbage' > "$T/bad/train/a/corrupt.jpg"
: > "$T/bad/train/b/zero.png"
echo "hello" > "$T/bad/train/b/text.jpg"
mkdir "$T/bad/train/empty"
ln -s loop.jpg "$T/bad/train/c/loop.jpg"
mkfifo "$T/bad/train/c/fifo.png"
python3 - "$T/bad/train/c/huge.png" <<'PY'
import struct, sys, zlib
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b""))
PY
rc=0; timeout 60 $NN check-data --data "folder:$T/bad" > "$T/cd.log" 2> "$T/cd.err" || rc=$?
check "check-data: exit 1, and says how many" bash -c "test $rc = 1 && grep -q '8 unreadable, corrupt, empty or unsupported' $T/cd.err"
check "  counts only the readable files" grep -q '^train: 12 readable sample(s) in 4 class(es), 16 read, 7 problem(s)' "$T/cd.log"
for want in "train/a/corrupt.jpg: corrupt or unreadable JPEG" "train/b/zero.png: empty file" \
    "train/b/text.jpg: not a JPEG or PNG file" "train/empty: empty class folder" \
    "train/c/loop.jpg: cannot open: Too many levels of symbolic links" \
    "train/c/fifo.png: not a regular file (a FIFO" "train/c/huge.png: PNG image is 60000 x 60000 pixels" \
    "test/a/cut.png: corrupt or unreadable PNG"; do
    check "  BAD ${want%%:*}" grep -qF "BAD $T/bad/$want" "$T/cd.log"
done
expect_fail "train refuses the same folder, naming a file" "bad/train/(c/fifo.png|c/loop.jpg|empty)" \
    $NN train --data "folder:$T/bad" --epochs 1 --out "$T/badrun"
expect_fail "check-data: a missing folder" "no_such: no such folder" $NN check-data --data "folder:$T/no_such"
make_mnist_like "$T/mn" 50 20
check "check-data on IDX: counts per class, exit 0" bash -c "$NN check-data --data mnist:$T/mn > $T/cdm.log && grep -q '^train: 50 readable sample(s) in 10 class(es)' $T/cdm.log && grep -q '^test: 20 readable' $T/cdm.log"
f=$(ls "$T/mn"/t10k-images* | head -1)
head -c 1000 "$f" > "$T/cut" && mv "$T/cut" "$f"
rc=0; $NN check-data --data "mnist:$T/mn" > "$T/cdm2.log" 2>&1 || rc=$?
check "check-data on IDX: a truncated file named, exit 1" bash -c "test $rc = 1 && grep -q 'BAD .*t10k-images.*truncated' $T/cdm2.log"

# --- train --skip-bad ------------------------------------------------------------------
make_folder "$T/sk" train:a,b,c:8x8x3 test:a,b,c:8x8x3
: > "$T/sk/train/a/zero.png"
echo "hello" > "$T/sk/train/b/text.jpg"
head -c 60 "$T/sk/train/c/1.png" > "$T/sk/test/c/cut.png"
SK=(--data "folder:$T/sk:3x8x8" --model "dense 3" --epochs 2 --batch 4 --no-plot)
expect_fail "without --skip-bad: the first bad file named" "sk/train/(a/zero.png|b/text.jpg)" $NN train "${SK[@]}" --out "$T/sk0"
for c in ram none; do
    check "--skip-bad --cache $c: trains on the 12 good train images and 12 test images" bash -c "$NN train ${SK[*]@Q} --skip-bad --cache $c --out $T/sk-$c > $T/sk-$c.log && grep -q 'train 12 / test 12 samples' $T/sk-$c.log"
    check "  one warning per split, counting the files" bash -c "grep -q '^warning: --skip-bad: 2 unreadable file(s) or folder(s) of the train split left out' $T/sk-$c.log && grep -q '^warning: --skip-bad: 1 unreadable .* test split' $T/sk-$c.log"
done
check "  streamed and cached agree" same_weights "$T/sk-ram/checkpoint.h5" "$T/sk-none/checkpoint.h5"
check "--skip-bad on a clean folder: no warning" bash -c "$NN train --data folder:$T/f:3x8x12 --model $T/net.spec --epochs 1 --batch 3 --skip-bad --no-plot --out $T/skc > $T/skc.log && ! grep -q warning $T/skc.log"

summary "stream tests"
