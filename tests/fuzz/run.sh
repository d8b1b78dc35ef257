#!/usr/bin/env bash
# run.sh: run each libFuzzer target for FUZZ_SECONDS (default 30) from its seed
# corpus, print per target the executions and whether it found anything, and
# exit non-zero if any target crashed (or leaked, timed out, ran out of memory).
#   FUZZ_DIR=build/fuzz FUZZ_SECONDS=60 bash tests/fuzz/run.sh idx cifar folder spec ckpt
# The targets must be built (make fuzz does both). New inputs the fuzzer keeps
# go to $FUZZ_DIR/corpus/<target> (the committed seeds are only read), findings
# to $FUZZ_DIR/artifacts/<target>/, each target's log to $FUZZ_DIR/logs/.
# FUZZ_FLAGS adds libFuzzer flags (e.g. FUZZ_FLAGS=-jobs=2).
# FUZZ_RUNS=N runs N inputs per target instead of FUZZ_SECONDS, and FUZZ_SEED=S
# fixes libFuzzer's seed: with both, a run is the same every time (CI uses
# that, so a failure there is reproducible and never a matter of luck).
# Before fuzzing, each target replays the reproducers of past findings,
# tests/fuzz/crashes/<target>-*: they must all pass.
set -u
here=$(cd "$(dirname "$0")" && pwd)
FUZZ_DIR=${FUZZ_DIR:-build/fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_FLAGS=${FUZZ_FLAGS:-}
FUZZ_RUNS=${FUZZ_RUNS:-}
FUZZ_SEED=${FUZZ_SEED:-0}
if [ -n "$FUZZ_RUNS" ]; then budget=-runs=$FUZZ_RUNS; else budget=-max_total_time=$FUZZ_SECONDS; fi
[ $# -gt 0 ] || set -- idx cifar folder spec ckpt
# Per target: the largest input worth trying (a CIFAR record is 3073 bytes,
# the seed checkpoint about 10 KB).
max_len() {
    case $1 in
        idx) echo 4096 ;; cifar) echo 8192 ;; folder) echo 8192 ;; spec) echo 2048 ;;
        ckpt) echo 32768 ;; *) echo 4096 ;;
    esac
}
# Leak checks stay on; HDF5 keeps free lists that look like leaks only at exit,
# which libFuzzer does not check.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OPENBLAS_NUM_THREADS=1
failed=0
printf '%-8s %12s %10s  %s\n' target executions seconds result
for t in "$@"; do
    bin=$FUZZ_DIR/fuzz_$t
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin is not built (make fuzz)" >&2
        failed=1
        continue
    fi
    work=$FUZZ_DIR/corpus/$t art=$FUZZ_DIR/artifacts/$t log=$FUZZ_DIR/logs/$t.log
    mkdir -p "$work" "$art" "$(dirname "$log")"
    # fuzz_ckpt: HDF5's own leaks on corrupt files are suppressed (see the file).
    env=()
    if [ "$t" = ckpt ]; then
        env=(LSAN_OPTIONS="suppressions=$here/lsan-hdf5.supp"
             ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0")
    fi
    repro=$(ls "$here/crashes/$t"-* 2>/dev/null)
    if [ -n "$repro" ]; then
        # shellcheck disable=SC2086
        if ! env "${env[@]}" "$bin" -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=2048 $repro \
            >"$log.replay" 2>&1; then
            printf '%-8s %12s %10s  %s\n' "$t" - - "FAILED replaying tests/fuzz/crashes/$t-* (log: $log.replay)"
            failed=1
            continue
        fi
    fi
    start=$(date +%s)
    # shellcheck disable=SC2086
    env "${env[@]}" "$bin" "$budget" -seed="$FUZZ_SEED" -max_len="$(max_len "$t")" -timeout=20 \
        -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/" $FUZZ_FLAGS \
        "$work" "$here/corpus/$t" >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    found=$(ls "$art" 2>/dev/null | head -5 | tr '\n' ' ')
    if [ $rc -eq 0 ] && [ -z "$found" ]; then
        result="nothing found"
    else
        failed=1
        kind=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer): [a-zA-Z-]+[^ ]*|runtime error: .*|deadly signal|out-of-memory|timeout' "$log" | head -1)
        result="FOUND (exit $rc): ${kind:-see log} -> ${found:-no artifact} (log: $log)"
    fi
    printf '%-8s %12s %10s  %s\n' "$t" "${execs:-?}" "$secs" "$result"
done
exit $failed
