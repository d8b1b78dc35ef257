# tests/lib.sh: shared helpers for the shell test scripts (sourced).
# check NAME CMD...: run CMD, count a pass when it exits 0.
# expect_fail NAME PATTERN CMD...: CMD must exit non-zero and print PATTERN on stderr.
PASS=0
FAIL=0
# Per-run files, so suites running side by side never read each other's output.
NN_CHECK_DIR=$(mktemp -d /tmp/nn_check.XXXXXX)
trap '[ "$BASHPID" = "$$" ] && rm -rf "$NN_CHECK_DIR"' EXIT  # scripts that set their own trap remove it there
check() {
    local name=$1
    shift
    if "$@" >$NN_CHECK_DIR/out 2>&1; then
        PASS=$((PASS + 1))
        echo "ok   $name"
    else
        FAIL=$((FAIL + 1))
        echo "FAIL $name"
        sed 's/^/     | /' $NN_CHECK_DIR/out | tail -20
    fi
}
expect_fail() {
    local name=$1 pattern=$2
    shift 2
    local rc=0
    "$@" >$NN_CHECK_DIR/out 2>$NN_CHECK_DIR/err || rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && grep -qE -- "$pattern" $NN_CHECK_DIR/err; then
        PASS=$((PASS + 1))
        echo "ok   $name (exit $rc: $(head -c 160 $NN_CHECK_DIR/err | tr '\n' ' '))"
    else
        FAIL=$((FAIL + 1))
        echo "FAIL $name: exit $rc, wanted non-zero and stderr matching '$pattern'"
        sed 's/^/     | /' $NN_CHECK_DIR/err | tail -10
    fi
}
summary() {
    echo "$1: $PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}
# make_mnist_like DIR NTRAIN NTEST: a tiny learnable IDX data set (plain files).
make_mnist_like() {
    python3 - "$@" <<'PY'
import os, random, struct, sys
d, ntr, nte = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(d, exist_ok=True)
def split(pre, n, seed):
    r = random.Random(seed)
    labels = bytes(r.randrange(10) for _ in range(n))
    px = bytearray()
    for lab in labels:
        for y in range(28):
            band = (y * 10) // 28 == lab
            px += bytes((200 + r.randrange(56)) if band else r.randrange(60) for _ in range(28))
    open(f"{d}/{pre}-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x803, n, 28, 28) + px)
    open(f"{d}/{pre}-labels-idx1-ubyte", "wb").write(struct.pack(">II", 0x801, n) + labels)
split("train", ntr, 1)
split("t10k", nte, 2)
PY
}
# make_folder DIR SPLIT:CLASS,CLASS[:WxH[xC]] ...: an image folder data set of
# tiny learnable PNGs (4 per class; class k is a bright band at row k), e.g.
#   make_folder d train:a,b:8x8 test:a,b,c:8x8x3
make_folder() {
    python3 - "$@" <<'PY'
import os, struct, sys, zlib
root = sys.argv[1]
def png(path, w, h, c, px):
    raw = b"".join(b"\0" + bytes(px[y * w * c:(y + 1) * w * c]) for y in range(h))
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    hdr = struct.pack(">IIBBBBB", w, h, 8, 0 if c == 1 else 2, 0, 0, 0)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", hdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for arg in sys.argv[2:]:
    parts = arg.split(":")
    split, classes = parts[0], parts[1].split(",")
    dims = [int(v) for v in (parts[2] if len(parts) > 2 else "8x8").split("x")]
    w, h, c = dims[0], dims[1], dims[2] if len(dims) > 2 else 1
    for k, name in enumerate(classes):
        d = os.path.join(root, split, name)
        os.makedirs(d, exist_ok=True)
        for i in range(4):
            px = [(220 if y == k % h else 20 + 7 * i) for y in range(h) for x in range(w) for _ in range(c)]
            png(os.path.join(d, f"{i}.png"), w, h, c, px)
PY
}
# poison_h5 FILE DATASET OUT: copy FILE to OUT with the first float of DATASET
# replaced by NaN (contiguous layout: the dataset's bytes appear verbatim),
# then sealed (nntrain seal: the checksum envelope written again), so the
# reader's own NaN check is what refuses it. Needs $NN.
poison_h5() {
    local raw
    raw=$(mktemp)
    h5dump -d "$2" -b LE -o "$raw" "$1" >/dev/null
    python3 - "$1" "$raw" "$3" <<'PY'
import struct, sys
src, raw, out = sys.argv[1:]
data, want = open(src, "rb").read(), open(raw, "rb").read()
at = data.find(want)
assert at >= 0, "dataset bytes not found"
open(out, "wb").write(data[:at] + struct.pack("<f", float("nan")) + data[at + 4:])
PY
    rm -f "$raw"
    $NN seal --checkpoint "$3" >/dev/null
}
# rel_close A B TOL: columns 2-5 of two history.csv files (losses and accuracies, or a
# GAN's losses and D outputs) agree to a relative TOL (absolute below 1e-3).
rel_close() {
    paste -d, <(cut -d, -f2-5 "$1") <(cut -d, -f2-5 "$2") | awk -F, -v tol="$3" '
      NR == 1 { next }
      { for (i = 1; i <= 4; i++) { a = $i; b = $(i + 4); d = a - b; if (d < 0) d = -d;
          m = (a < 0 ? -a : a); if (m < 1e-3) m = 1e-3; if (d / m > tol) { print "row " NR " col " i ": " a " vs " b; bad = 1 } } }
      END { exit bad }'
}
