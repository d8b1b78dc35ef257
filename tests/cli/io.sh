#!/usr/bin/env bash
# tests/cli/io.sh: nntrain's files end to end (issue 9): model spec files
# (names with spaces, errors naming the file, binary bytes escaped, size cap,
# a spec over 64 KB in the checkpoint), checkpoints that must not be trusted
# (non-finite weights, out-of-range state), stale temp files of killed
# writers, and plot on a bad history.csv (no empty PNG, a good one kept).
# Usage: NNTRAIN=build/nntrain bash tests/cli/io.sh
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
NN=${NNTRAIN:-build/nntrain}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
T=$(mktemp -d /tmp/nntrain-io-XXXXXX)
trap '[ "$BASHPID" = "$$" ] && rm -rf "$T" "$NN_CHECK_DIR"' EXIT  # this shell only, not a forked job's
make_mnist_like "$T/data" 300 100
D="--data mnist:$T/data"
ESC=$(printf '\033')

# no_raw_escape NAME CMD...: CMD fails, and its stderr holds no raw escape
# byte (ESC, BEL) but the escaped form \x1b.
no_raw_escape() {
    local name=$1
    shift
    local rc=0
    "$@" >/dev/null 2>"$T/esc.err" || rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && ! grep -q "[$ESC$(printf '\007')]" "$T/esc.err" &&
        grep -qF '\x1b' "$T/esc.err"; then
        PASS=$((PASS + 1))
        echo "ok   $name (exit $rc: $(head -c 160 "$T/esc.err" | tr -d '\n'))"
    else
        FAIL=$((FAIL + 1))
        echo "FAIL $name: exit $rc, wanted non-zero, no raw escape byte and '\\x1b' on stderr"
        cat -v "$T/esc.err" | sed 's/^/     | /' | tail -5
    fi
}

# A pid that is no live process: a shell that has exited.
dead_pid() { sh -c 'echo $$'; }

# --- model spec files ------------------------------------------------------------
printf 'dense 7   # a file whose name holds a space\nrelu\ndense 10\n' > "$T/my model.spec"
check "a spec file with a space in its name is read as a file" bash -c "
  $NN summary $D --model '$T/my model.spec' > '$T/sum.txt' && grep -q 'dense_1 .*(7)' '$T/sum.txt'"
check "train from that file" $NN train $D --model "$T/my model.spec" --epochs 1 --batch 50 --out "$T/spacy" --quiet
check "inline specs still work" bash -c "$NN summary $D --model 'dense 9; relu; dense 10' | grep -q 'dense_1 .*(9)'"
printf 'dense 10\nsigmoid\nsigmoud\ndense 10\n' > "$T/my bad.spec"
expect_fail "spec file errors name the file and line" "my bad\.spec: model spec line 3: unknown layer type 'sigmoud'" \
    $NN train $D --model "$T/my bad.spec" --epochs 1 --out "$T/bad"
expect_fail "a missing spec file is named" "nope\.spec: cannot read the model spec file \(No such file" \
    $NN summary $D --model "$T/nope.spec"
printf 'dense 10\n\033[2J\033]0;pwned\007\nrelu\n' > "$T/binary.spec"
no_raw_escape "binary bytes of a spec file are escaped in the error" $NN summary $D --model "$T/binary.spec"
no_raw_escape "binary bytes of an inline spec are escaped" $NN summary $D --model "dense 10; $(printf '\033[31m') relu"
printf 'dense 10\n\000\n' > "$T/nul.spec"
expect_fail "a NUL byte in a spec file" "nul\.spec: byte 9 is NUL" $NN summary $D --model "$T/nul.spec"
mkfifo "$T/fifo.spec"
expect_fail "29.4: --model naming a FIFO is refused at once, not a hang" \
    "fifo\.spec: not a regular file \(a FIFO \(named pipe\)\); expected a model spec file" \
    timeout -s KILL 20 $NN train $D --model "$T/fifo.spec" --epochs 1 --out "$T/fifo"
python3 -c "import sys; sys.stdout.write('dense 10\n' + '#' * (1 << 20))" > "$T/huge.spec"
expect_fail "a spec file over 1 MB" "huge\.spec: larger than 1048576 bytes \(1 MB\)" $NN summary $D --model "$T/huge.spec"

# A spec over HDF5's 64 KB attribute limit: trained, saved, used again.
python3 -c "
import sys
sys.stdout.write('# ' + 'a long note on this model ' * 5000 + '\ndense 12\nrelu\ndense 10\n')" > "$T/long.spec"
check "a 130 KB spec file is over 100 KB" test "$(stat -c %s "$T/long.spec")" -gt 102400
check "train with the 130 KB spec saves its checkpoint" $NN train $D --model "$T/long.spec" --epochs 1 --batch 50 --out "$T/long" --quiet
check "eval takes the 130 KB spec from the checkpoint" bash -c "$NN eval $D --checkpoint $T/long/checkpoint.h5 | grep -q '^accuracy'"
check "resume with the 130 KB spec" $NN train $D --epochs 2 --batch 50 --resume "$T/long/checkpoint.h5" --out "$T/long" --quiet
check "the resumed history has 2 epochs" test "$(wc -l < "$T/long/history.csv")" -eq 3

# --- checkpoints are not trusted -------------------------------------------------------
check "train 2 epochs" $NN train $D --model mlp --hidden 16 --epochs 2 --batch 50 --lr 0.5 --out "$T/run" --quiet
if command -v h5dump >/dev/null; then
    # Overwrite 3 floats of dense_1/kernel in place with NaN, +Inf, -Inf.
    off=$(h5dump -p -H -d /model_weights/dense_1/kernel "$T/run/checkpoint.h5" | awk '/OFFSET/{print $2; exit}')
    cp "$T/run/checkpoint.h5" "$T/nan.h5"
    python3 - "$T/nan.h5" "$off" <<'PY'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    f.write(struct.pack("<3f", float("nan"), float("inf"), float("-inf")))
PY
    expect_fail "an edited checkpoint fails its checksum" "nan\.h5: checksum mismatch" $NN eval $D --checkpoint "$T/nan.h5"
    check "seal writes the envelope again" $NN seal --checkpoint "$T/nan.h5"
    expect_fail "predict refuses NaN/Inf weights" "nan\.h5: model_weights/dense_1/kernel holds 3 non-finite values \(NaN/Inf\)" \
        bash -c "echo 3 | $NN predict $D --checkpoint $T/nan.h5"
    expect_fail "eval refuses NaN/Inf weights" "dense_1/kernel holds 3 non-finite" $NN eval $D --checkpoint "$T/nan.h5"
    expect_fail "resume refuses NaN/Inf weights" "dense_1/kernel holds 3 non-finite" \
        $NN train $D --model mlp --hidden 16 --epochs 3 --batch 50 --lr 0.5 --resume "$T/nan.h5" --out "$T/nanrun" --quiet
else
    echo "NOTE: h5dump missing: non-finite checkpoint checks skipped"
fi

# 29.12: seal through a symlink seals the file it names and keeps the link.
mkdir -p "$T/sl"
python3 - "$T/run/checkpoint.h5" "$T/sl/real.h5" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[24] ^= 0xff  # the stored CRC changed: the file fails its checksum until sealed
open(sys.argv[2], "wb").write(b)
PY
ln -s real.h5 "$T/sl/link.h5"
check "29.12: seal --checkpoint LINK: the link stays a link" bash -c "$NN seal --checkpoint $T/sl/link.h5 >/dev/null && test -L $T/sl/link.h5 && test \$(readlink $T/sl/link.h5) = real.h5"
check "29.12: ... and the file it names is sealed" bash -c "$NN eval $D --checkpoint $T/sl/real.h5 | grep -q '^accuracy'"

# 29.10: huge finite weights (3e38 in the last kernel), sealed: the outputs
# overflow; eval, loss and predict fail naming the checkpoint (they printed
# loss -nan, class 0, exit 0).
if command -v h5dump >/dev/null; then
    raw=$(mktemp)
    h5dump -d /model_weights/dense_2/kernel -b LE -o "$raw" "$T/run/checkpoint.h5" >/dev/null
    python3 - "$T/run/checkpoint.h5" "$raw" "$T/huge.h5" <<'PY'
import struct, sys
src, raw, out = sys.argv[1:]
data, want = open(src, "rb").read(), open(raw, "rb").read()
at = data.find(want)
assert at >= 0, "dataset bytes not found"
open(out, "wb").write(data[:at] + struct.pack("<f", 3e38) * (len(want) // 4) + data[at + len(want):])
PY
    rm -f "$raw"
    $NN seal --checkpoint "$T/huge.h5" >/dev/null
    expect_fail "29.10: eval of weights that overflow float32 fails, naming the checkpoint" \
        "huge\.h5: the model's outputs overflow: [0-9]+ of the [0-9]+ outputs \(logits\) .* NaN or infinite, though every weight is finite" \
        $NN eval $D --checkpoint "$T/huge.h5"
    expect_fail "29.10: loss too" "huge\.h5: the model's outputs overflow" $NN loss $D --checkpoint "$T/huge.h5"
    expect_fail "29.10: predict too (it said class 0)" "huge\.h5: the model's outputs overflow" \
        bash -c "echo 3 | $NN predict $D --checkpoint $T/huge.h5"
    expect_fail "29.10: an ensemble with it too" "huge\.h5: the model's outputs overflow" \
        $NN eval $D --checkpoint "$T/run/checkpoint.h5" --checkpoint "$T/huge.h5"
fi

# state/epoch = -5 (an HDF5 attribute edit needs the HDF5 C library; the
# build has it).
cat > "$T/setattr.c" <<'C'
#include <hdf5.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    if (argc != 5) return 2;
    hid_t f = H5Fopen(argv[1], H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t o = f < 0 ? -1 : H5Oopen(f, argv[2], H5P_DEFAULT);
    if (o < 0) return 1;
    long long v = atoll(argv[4]);
    if (H5Aexists(o, argv[3]) > 0) H5Adelete(o, argv[3]);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(o, argv[3], H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, H5T_NATIVE_LLONG, &v) < 0;
    H5Aclose(a), H5Sclose(s), H5Oclose(o), H5Fclose(f);
    return rc;
}
C
HDF5_FLAGS=$(pkg-config --cflags --libs hdf5-serial 2>/dev/null || echo -I/usr/include/hdf5/serial -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5)
if cc -o "$T/setattr" "$T/setattr.c" $HDF5_FLAGS 2>"$T/cc.err"; then
    cp "$T/run/checkpoint.h5" "$T/neg.h5"
    "$T/setattr" "$T/neg.h5" state epoch -5 && $NN seal --checkpoint "$T/neg.h5" >/dev/null
    expect_fail "resume refuses state/epoch = -5" "neg\.h5: state/epoch is -5, expected 0\.\.1000000" \
        $NN train $D --model mlp --hidden 16 --epochs 2 --batch 50 --lr 0.5 --resume "$T/neg.h5" --out "$T/negrun" --quiet
    cp "$T/run/checkpoint.h5" "$T/negstep.h5"
    "$T/setattr" "$T/negstep.h5" state step -1 && $NN seal --checkpoint "$T/negstep.h5" >/dev/null
    expect_fail "resume refuses state/step = -1" "negstep\.h5: state/step is -1" \
        $NN train $D --model mlp --hidden 16 --epochs 3 --batch 50 --lr 0.5 --resume "$T/negstep.h5" --out "$T/negrun" --quiet
else
    echo "NOTE: cannot compile an HDF5 program ($(head -c 100 "$T/cc.err")): state checks skipped"
fi

# --- stale temp files of killed writers ------------------------------------------------
dead=$(dead_pid)
cp -r "$T/run" "$T/stale"
head -c 4096 /dev/urandom > "$T/stale/checkpoint.h5.tmp.$dead"
echo junk > "$T/stale/history.csv.tmp.$dead"
echo live > "$T/stale/checkpoint.h5.tmp.$$"
check "resume next to stale temps" $NN train $D --model mlp --hidden 16 --epochs 3 --batch 50 --lr 0.5 \
    --resume "$T/stale/checkpoint.h5" --out "$T/stale" --quiet
check "the dead writer's checkpoint temp is gone" test ! -e "$T/stale/checkpoint.h5.tmp.$dead"
check "the dead writer's history temp is gone" test ! -e "$T/stale/history.csv.tmp.$dead"
check "a live process's temp stays" test -e "$T/stale/checkpoint.h5.tmp.$$"

# --- plot on a bad history.csv ----------------------------------------------------------
check "plot of a good run" bash -c "rm -f $T/run/loss.png && $NN plot $T/run && file $T/run/loss.png | grep -q 'PNG image'"
check "the kept script redraws the PNG itself" bash -c "rm -f $T/run/loss.png && gnuplot $T/run/loss.png.gp && file $T/run/loss.png | grep -q 'PNG image'"
cp -r "$T/run" "$T/p1"
sed -i '3s/^2,[0-9.]*,/2,abc,/' "$T/p1/history.csv"
cp "$T/p1/loss.png" "$T/good.png"
expect_fail "plot names the file and line of a bad history.csv" "p1/history\.csv line 3: field 2 \(train_loss\) is 'abc', not a number" $NN plot "$T/p1"
check "a failed plot keeps the good PNG byte for byte" cmp "$T/good.png" "$T/p1/loss.png"
check "a failed plot leaves no temp PNG" bash -c "! ls $T/p1 | grep -q '\.tmp\.'"
rm -f "$T/p1/loss.png" "$T/p1/accuracy.png"
expect_fail "plot of a bad history.csv again" "line 3" $NN plot "$T/p1"
check "no empty PNG after a failed plot" test ! -e "$T/p1/loss.png"
head -1 "$T/run/history.csv" > "$T/p1/history.csv"
expect_fail "plot of a header-only history.csv" "history\.csv: no epochs after the header" $NN plot "$T/p1"
check "no PNG from a header-only history" test ! -e "$T/p1/loss.png"
: > "$T/p1/history.csv"
expect_fail "plot of an empty history.csv" "history\.csv: empty" $NN plot "$T/p1"
printf '\033[2Jepoch\n' > "$T/p1/history.csv"
no_raw_escape "plot escapes binary bytes of a history.csv" $NN plot "$T/p1"
{ head -2 "$T/run/history.csv"; echo "2,0.5,0.5"; } > "$T/p1/history.csv"
expect_fail "plot of a short row" "line 3: 3 fields, but the header names 10 columns" $NN plot "$T/p1"
check "no PNG after any of these" test ! -e "$T/p1/loss.png"
sed -i '2s/,[0-9.]*$/,x/' "$T/p1/history.csv"
expect_fail "plot --compare checks every run" "p1/history\.csv line 2" $NN plot --compare test_acc --png "$T/cmp.png" "$T/run" "$T/p1"
check "no PNG from a failed compare" test ! -e "$T/cmp.png"

mkdir -p "$T/pfifo" && mkfifo "$T/pfifo/history.csv"
expect_fail "29.5: plot of a folder whose history.csv is a FIFO is refused at once, not a hang" \
    "pfifo/history\.csv: not a regular file \(a FIFO \(named pipe\)\)" timeout -s KILL 20 $NN plot "$T/pfifo"

# --- 29.11: a newline in a class folder's name; gnuplot's failure reason ------------------
make_folder "$T/nl" "train:a,u
v" "test:a,u
v"
check "29.11: train on classes 'a' and 'u<newline>v'" $NN train --data "folder:$T/nl" --epochs 1 --batch 4 --quiet --no-plot --out "$T/nlrun"
check "29.11: --confusion-png draws them (the name escaped as \\x0a)" bash -c "
  $NN eval --data 'folder:$T/nl' --checkpoint $T/nlrun/checkpoint.h5 --confusion-png $T/nl.png >/dev/null &&
  file $T/nl.png | grep -q 'PNG image' && grep -qF \"'u\\x0av'\" $T/nl.png.gp"
mkdir -p "$T/fakebin"
printf '#!/bin/sh\nexit 1\n' > "$T/fakebin/gnuplot"   # fails and says nothing
chmod +x "$T/fakebin/gnuplot"
expect_fail "29.11: a gnuplot failure gives a reason even when gnuplot prints none" \
    "gnuplot failed on .*nl2\.png\.gp: exit status 1 and no message" \
    env PATH="$T/fakebin:$PATH" $NN eval --data "folder:$T/nl" --checkpoint "$T/nlrun/checkpoint.h5" --confusion-png "$T/nl2.png"
check "29.11: ... and leaves neither the script nor a PNG behind" bash -c "! ls $T | grep -q '^nl2\.png'"

summary "io tests"
