# tests/lib.sh: shared helpers for the shell test scripts (sourced).
# check NAME CMD...: run CMD, count a pass when it exits 0.
# expect_fail NAME PATTERN CMD...: CMD must exit non-zero and print PATTERN on stderr.
PASS=0
FAIL=0
check() {
    local name=$1
    shift
    if "$@" >/tmp/nn_check.out 2>&1; then
        PASS=$((PASS + 1))
        echo "ok   $name"
    else
        FAIL=$((FAIL + 1))
        echo "FAIL $name"
        sed 's/^/     | /' /tmp/nn_check.out | tail -20
    fi
}
expect_fail() {
    local name=$1 pattern=$2
    shift 2
    local rc=0
    "$@" >/tmp/nn_check.out 2>/tmp/nn_check.err || rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && grep -qE -- "$pattern" /tmp/nn_check.err; then
        PASS=$((PASS + 1))
        echo "ok   $name (exit $rc: $(head -c 160 /tmp/nn_check.err | tr '\n' ' '))"
    else
        FAIL=$((FAIL + 1))
        echo "FAIL $name: exit $rc, wanted non-zero and stderr matching '$pattern'"
        sed 's/^/     | /' /tmp/nn_check.err | tail -10
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
