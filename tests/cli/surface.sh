#!/usr/bin/env bash
# tests/cli/surface.sh: the command line as a user meets it (issue 27): the
# accept/refuse matrix of every command x every flag against the flag table,
# the flag forms, help, --version, exit codes, self-describing checkpoints,
# summary without data, progress, predict on image files, no silent
# overwrite, thread placement, and docs/cli.md generated from the table.
# Usage: NNTRAIN=build/nntrain bash tests/cli/surface.sh
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
NN=${NNTRAIN:-build/nntrain}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
T=$(mktemp -d /tmp/nntrain-surface-XXXXXX)
trap '[ "$BASHPID" = "$$" ] && rm -rf "$T" "$NN_CHECK_DIR"' EXIT  # this shell only, not a forked job's

# --- every command x every flag, as the table says --------------------------
# help --matrix: "COMMAND --flag VALUE accept|refuse [CONTEXT]" for every pair; each is
# parsed (NNTRAIN_PARSE_ONLY: no work done) and must be accepted (exit 0) or
# refused with "does not apply to COMMAND" (exit 2), as its row says.
$NN help --matrix > "$T/matrix.tsv"
check "help --matrix lists every command x flag (at least 13 x 60)" test "$(wc -l < "$T/matrix.tsv")" -ge 780
bad=0 n=0
# A 5th column: flags the pair needs besides (an optimizer parameter: its --optim).
while IFS=$'\t' read -r cmd flag value want ctx; do
    ops=()
    case $cmd in compare) ops=(a.h5 b.h5) ;; plot) ops=(run) ;; esac
    [ -n "$ctx" ] && read -r -a more <<< "$ctx" && ops+=("${more[@]}")
    args=("$flag")
    [ -n "$value" ] && args+=("$value")
    rc=0
    NNTRAIN_PARSE_ONLY=1 $NN "$cmd" "${ops[@]}" "${args[@]}" > "$T/m.out" 2> "$T/m.err" || rc=$?
    n=$((n + 1))
    if [ "$want" = accept ] && [ "$rc" != 0 ]; then
        bad=$((bad + 1)); echo "     | $cmd $flag $value: refused (exit $rc): $(cat "$T/m.err")"
    elif [ "$want" = refuse ] && { [ "$rc" != 2 ] || ! grep -q -- "$flag does not apply to $cmd" "$T/m.err"; }; then
        bad=$((bad + 1)); echo "     | $cmd $flag $value: not refused as expected (exit $rc): $(cat "$T/m.err")"
    fi
done < "$T/matrix.tsv"
check "the accept/refuse matrix matches the flag table ($n pairs, $bad wrong)" test "$bad" = 0
check "eval --epochs is refused, naming the commands --epochs is for" bash -c \
    "$NN eval --epochs 3 2>&1 | grep -q -- '--epochs does not apply to eval (it is for: train, gan)'"

# --- flag forms, suggestions, exit codes --------------------------------------
make_mnist_like "$T/data" 300 100
D="--data mnist:$T/data"
check "--opt=value and --opt value mean the same" bash -c \
    "$NN train $D --epochs=1 --batch=50 --hidden=8 --quiet --no-plot --out=$T/eq && $NN train $D --epochs 1 --batch 50 --hidden 8 --quiet --no-plot --out $T/sp && $NN compare $T/eq/checkpoint.h5 $T/sp/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
check "short forms: -e 1 -b 50 -o DIR" bash -c "$NN train $D -e 1 -b 50 --hidden 8 -q --no-plot -o $T/short && test -s $T/short/checkpoint.h5"
expect_fail "an unknown flag suggests the nearest (--epoch)" "unknown option '--epoch' \(did you mean --epochs\?\)" $NN train --epoch 3
expect_fail "an unknown command suggests the nearest (trian)" "unknown command 'trian' \(did you mean train\?\)" $NN trian
expect_fail "a flag without its value" "--lr needs a value" $NN train --lr
expect_fail "a switch given a value" "--quiet takes no value" $NN train --quiet=yes
expect_fail "--flip sideways lists --flip's values" "--flip sideways: expected random or alternate" $NN train --flip sideways
expect_fail "a command that takes no arguments" "eval takes no arguments" $NN eval stray
rc=0; $NN > /dev/null 2>&1 || rc=$?
check "no command: the usage, exit 2" test "$rc" = 2
rc=0; $NN train --epochs 0 2> /dev/null || rc=$?
check "a usage error exits 2" test "$rc" = 2
rc=0; $NN eval --checkpoint "$T/none.h5" $D 2> /dev/null || rc=$?
check "a failure (a missing file) exits 1" test "$rc" = 1
check "--version: version, MPI or serial, CUDA, OpenBLAS core, HDF5" bash -c \
    "$NN --version > $T/v && grep -q '^nntrain ' $T/v && grep -q 'distributed: ' $T/v && grep -q 'cuda: ' $T/v && grep -q 'openblas: kernel ' $T/v && grep -q 'hdf5: 1\.' $T/v"
check "help CMD and CMD --help print the same page, that command's flags only" bash -c \
    "$NN help eval > $T/h1 && $NN eval --help > $T/h2 && cmp $T/h1 $T/h2 && grep -q -- '--tta' $T/h1 && ! grep -q -- '--epochs' $T/h1"
expect_fail "help of an unknown topic suggests one" "did you mean models" $NN help modles
check "help models lists every preset with its input shape" bash -c \
    "$NN help models > $T/hm && for p in mlp mlp1000 mlp1000-bn cnn cifar resnet faces dcgan-mnist dcgan-cifar; do grep -q \"^\$p \" $T/hm || exit 1; done && grep -q '^faces .*1x64x64' $T/hm"
check "docs/cli.md is what the binary generates" bash -c "$NN help --markdown | cmp - docs/cli.md"

# --- summary needs no data ----------------------------------------------------
check "summary --model resnet (its natural 3x32x32)" bash -c "$NN summary --model resnet | grep -q 'Total params: 927010'"
check "summary --model faces: the trained net's 503,266 parameters" bash -c "$NN summary --model faces | grep -q 'Total params: 503266'"
check "summary --model cifar: 814,826" bash -c "$NN summary --model cifar | grep -q 'Total params: 814826'"
check "summary --data cifar10 reads no file" bash -c "NNTRAIN_DATA=$T/nowhere $NN summary --data cifar10 --model cnn | grep -q 'input 3x32x32'"
check "summary --input-shape overrides" bash -c "$NN summary --model cnn --input-shape 3x32x32 | grep -q 'input 3x32x32 (--input-shape)'"
check "summary --generator dcgan-mnist prints both nets" bash -c \
    "$NN summary --generator dcgan-mnist > $T/g && grep -q '^generator: noise of 100 values -> 1x28x28' $T/g && grep -q '^discriminator: 1x28x28' $T/g"
# Peak RSS from /proc (no ulimit -v: ASan reserves terabytes of address space).
check "summary --hidden 1048576 allocates no weights (under 10 s, peak RSS under 500 MB; 3.3 GB of weights)" bash -c \
    "$NN summary --model mlp --hidden 1048576 > $T/hs & pid=\$!; peak=0; n=0; while kill -0 \$pid 2>/dev/null; do r=\$(awk '/VmHWM/{print \$2}' /proc/\$pid/status 2>/dev/null); [ -n \"\$r\" ] && [ \"\$r\" -gt \$peak ] && peak=\$r; n=\$((n + 1)); [ \$n -gt 1000 ] && kill \$pid; sleep 0.01; done; wait \$pid && grep -q 'Total params: 833617930' $T/hs && test \$peak -gt 0 && test \$peak -lt 500000"

# --- self-describing checkpoints: data, shape, class names ------------------
make_folder "$T/faces" train:non-smile,smile:8x8 test:non-smile,smile:8x8
FD="--data folder:$T/faces:1x8x8"
check "train a 2-class folder net" $NN train $FD --model "dense 2" --epochs 3 --batch 4 --lr 0.5 --quiet --no-plot --out "$T/fc"
check "eval takes the data set from the checkpoint (no --data)" bash -c \
    "$NN eval --checkpoint $T/fc/checkpoint.h5 > $T/fe && grep -q \"^data: folder:$T/faces:1x8x8 (the checkpoint's)\" $T/fe && grep -q '^samples: 8' $T/fe"
check "eval's per-class table names the classes" bash -c "grep -q '^  smile ' $T/fe && grep -q '^  non-smile ' $T/fe"
expect_fail "an explicit --data of another shape is checked against it" "checkpoint is for input \(1, 8, 8\) with 2 classes" \
    $NN eval --checkpoint "$T/fc/checkpoint.h5" $D
check "predict --index prints the class name" bash -c "$NN predict --checkpoint $T/fc/checkpoint.h5 --index 0 | grep -Eqx 'smile|non-smile'"
check "summary --checkpoint needs no data" bash -c "NNTRAIN_DATA=$T/nowhere $NN summary --checkpoint $T/fc/checkpoint.h5 | grep -q 'input 1x8x8, 2 outputs'"
check "loss takes the data set from the checkpoint" bash -c "$NN loss --checkpoint $T/fc/checkpoint.h5 --batch 4 | grep -q '^cross-entropy: '"

make_folder "$T/nl" "train:a,u"$'\n'"v:8x8" "test:a,u"$'\n'"v:8x8"
check "a class name with a newline is printed escaped in eval's table (one line per class)" bash -c \
    "$NN train --data folder:$T/nl:1x8x8 --model 'dense 2' --epochs 1 --batch 4 --quiet --no-plot --out $T/nlo && $NN eval --checkpoint $T/nlo/checkpoint.h5 > $T/nle && grep -q '^  u.x0av ' $T/nle && ! grep -qx 'v *[0-9.]* .*' $T/nle"
expect_fail "a hyper-parameter the optimizer has not is refused (--momentum with adam)" \
    "--momentum is not a parameter of --optim adam \(it is for: momentum\)" $NN train $D --optim adam --momentum 0.9
expect_fail "  --eps with adagrad (its h0 is fixed)" "--eps is not a parameter of --optim adagrad" \
    $NN train $D --optim adagrad --eps 1e-3

# --- predict on image files ---------------------------------------------------
check "predict IMAGE...: each file's class by name" bash -c \
    "$NN predict --checkpoint $T/fc/checkpoint.h5 $T/faces/test/smile/0.png $T/faces/test/non-smile/0.png > $T/p && test \$(wc -l < $T/p) = 2 && grep -Eq '/smile/0.png: (smile|non-smile)$' $T/p"
check "predict --top 2: both classes with probabilities summing to 1" bash -c \
    "$NN predict --checkpoint $T/fc/checkpoint.h5 --top 2 $T/faces/test/smile/1.png | awk -F'[:,] *' '{s = 0; for (i = 2; i <= NF; i++) { split(\$i, a, \" \"); s += a[2] } exit !(NF == 3 && s > 0.999 && s < 1.001)}'"
make_folder "$T/big" test:a:16x16
check "predict resizes an image of another size and says so" bash -c \
    "$NN predict --checkpoint $T/fc/checkpoint.h5 $T/big/test/a/0.png | grep -q '0.png (resized): '"
printf 'not an image' > "$T/bad.png"
expect_fail "predict on a corrupt file names it" "bad.png" $NN predict --checkpoint "$T/fc/checkpoint.h5" "$T/bad.png"
expect_fail "predict IMAGE needs --checkpoint" "predict IMAGE... needs --checkpoint" $NN predict "$T/bad.png"

# --- --val-split: a folder with train/ only ----------------------------------
make_folder "$T/vs" train:a,b:8x8
for i in 4 5 6 7 8 9; do cp "$T/vs/train/a/0.png" "$T/vs/train/a/$i.png"; cp "$T/vs/train/b/1.png" "$T/vs/train/b/$i.png"; done
expect_fail "a folder without test/ is refused, naming --val-split" "has train/ only: give --val-split FRACTION" \
    $NN train --data "folder:$T/vs:1x8x8" --model "dense 2" --epochs 1 --out "$T/vs0"
check "--val-split 0.2: 2 of each class's 10 held out, said at start-up" bash -c \
    "$NN train --data folder:$T/vs:1x8x8 --model 'dense 2' --epochs 2 --batch 4 --no-plot --val-split 0.2 --out $T/vs1 > $T/vs1.log && grep -q 'test split: 0.2 of each class of train/ held out (--val-split, chosen by --seed 1): train 16, test 4' $T/vs1.log"
check "  the same seed holds out the same files (bit-identical runs)" bash -c \
    "$NN train --data folder:$T/vs:1x8x8 --model 'dense 2' --epochs 2 --batch 4 --no-plot --val-split 0.2 --out $T/vs2 > /dev/null && $NN compare $T/vs1/checkpoint.h5 $T/vs2/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
check "  eval evaluates the checkpoint's held-out files" bash -c \
    "$NN eval --checkpoint $T/vs1/checkpoint.h5 | grep -q '^data: folder:.*(the checkpoint.s), test split: 4 samples held out of train/ (--val-split)'"
expect_fail "  a resume with another --val-split is refused" "trained with --val-split 0.2, this run has --val-split 0.3" \
    $NN train --data "folder:$T/vs:1x8x8" --model "dense 2" --epochs 3 --batch 4 --no-plot --val-split 0.3 --resume auto --out "$T/vs1"
expect_fail "--val-split on a folder that has test/ is refused" "has a test/ folder: --val-split is for folders with train/ only" \
    $NN train --data "folder:$T/faces:1x8x8" --model "dense 2" --epochs 1 --val-split 0.2 --out "$T/vs3"

# --- progress -----------------------------------------------------------------
check "train on a pipe: progress lines on stderr with loss, acc, img/s" bash -c \
    "NNTRAIN_PROGRESS_SECONDS=0.000001 $NN train $D --hidden 8 --epochs 1 --batch 10 --no-plot --out $T/pr 2> $T/pr.err > /dev/null && grep -Eq '^epoch 1/1: [0-9]+% \([0-9]+/30\) loss [0-9.]+ acc [0-9.]+, [0-9]+ img/s' $T/pr.err && grep -q '^eval: ' $T/pr.err"
check "--progress off: none" bash -c \
    "NNTRAIN_PROGRESS_SECONDS=0.000001 $NN train $D --hidden 8 --epochs 1 --batch 10 --no-plot --progress off --force --out $T/pr 2> $T/pr2.err > /dev/null && ! grep -q '^epoch 1/1:' $T/pr2.err"
check "check-data shows progress (files/s)" bash -c \
    "NNTRAIN_PROGRESS_SECONDS=0.000001 $NN check-data --data folder:$T/faces 2>&1 >/dev/null | grep -q '^check-data train: 100% (8/8) .* files/s'"
check "eval shows progress" bash -c \
    "NNTRAIN_PROGRESS_SECONDS=0.000001 $NN eval --checkpoint $T/pr/checkpoint.h5 2>&1 >/dev/null | grep -q '^eval: 100% (100/100)'"
if command -v mpirun > /dev/null && [ "$($NN --version | sed -n 's/.*distributed: \([a-z]*\).*/\1/p')" = mpi ]; then
    check "under mpirun: rank 0 alone shows progress" bash -c \
        "NNTRAIN_PROGRESS_SECONDS=0.000001 mpirun --oversubscribe -np 2 $NN train $D --hidden 8 --epochs 1 --batch 10 --no-plot --out $T/prm 2> $T/prm.err > $T/prm.out && test \$(grep -c '^epoch 1/1: 100%' $T/prm.err) = 1"
    check "the placement line: ranks, hosts, threads" bash -c \
        "grep -Eq '^placement: 2 ranks on 1 host \(.*: 2\), 1 OpenBLAS thread per rank' $T/prm.out"
fi
check "--eval-every 2: the test columns only on even epochs and the last" bash -c \
    "$NN train $D --hidden 8 --epochs 3 --batch 50 --eval-every 2 --quiet --no-plot --out $T/ee && awk -F, 'NR==2{a=(\$5==\"nan\"||\$5==\"-nan\")} NR==3{b=(\$5+0>0)} NR==4{c=(\$5+0>0)} END{exit !(a&&b&&c)}' $T/ee/history.csv"
check "--test-limit N evaluates N test samples" bash -c \
    "$NN train $D --hidden 8 --epochs 1 --batch 50 --test-limit 40 --no-plot --out $T/tl > $T/tl.log && grep -q 'the first 40 samples only' $T/tl.log && $NN eval --checkpoint $T/tl/checkpoint.h5 --test-limit 40 | grep -q '^samples: 40'"

# --- no silent overwrite ------------------------------------------------------
expect_fail "a fresh train into an --out with a checkpoint is refused" "holds a checkpoint of an earlier run: give --resume auto .* --force" \
    $NN train $D --hidden 8 --epochs 1 --batch 50 --out "$T/sp"
check "  ... and the earlier run is untouched" bash -c "$NN compare $T/eq/checkpoint.h5 $T/sp/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
check "--force replaces it" $NN train $D --hidden 8 --epochs 1 --batch 50 --quiet --no-plot --force --out "$T/sp"
expect_fail "--force with --resume" "give one" $NN train $D --force --resume auto --out "$T/sp"

# --- threads ------------------------------------------------------------------
cores=$(nproc)
expect_fail "--threads beyond the cores is refused" "--threads $((cores * 2)) x 1 rank on this node = $((cores * 2)) threads for $cores core" \
    env -u OPENBLAS_NUM_THREADS $NN train $D --threads $((cores * 2)) --out "$T/th"
check "--oversubscribe allows it" bash -c "env -u OPENBLAS_NUM_THREADS $NN train $D --hidden 8 --epochs 1 --batch 50 --threads $((cores * 2)) --oversubscribe --no-plot --out $T/th | grep -q '$((cores * 2)) OpenBLAS threads per rank (--threads)'"
check "by default: the cores over the ranks" bash -c "env -u OPENBLAS_NUM_THREADS $NN train $D --hidden 8 --epochs 1 --batch 50 --no-plot --out $T/th2 | grep -q '$cores OpenBLAS thread.* per rank (cores / ranks on the node)'"

summary "surface tests"
