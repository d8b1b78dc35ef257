#!/usr/bin/env bash
# tests/bench/stream.sh: image folders streamed from disk against decoded into
# memory, in one run (part of make bench with BENCH_STREAM=1, or alone:
# bash tests/bench/stream.sh). Writes results/bench/stream.txt.
#   1. peak RSS of one training epoch on generated 218 x 178 colour JPEG
#      folders (tests/bench/make_faces.c, in a temp folder) of 5,000 and
#      40,000 images: streamed (--cache none), and the 5,000 cached;
#   2. decode rate: the same epoch, streamed, with 1 and 2 decoder threads and
#      a net too small to matter (images/s = what the decoders deliver);
#   3. throughput streamed vs cached under mpirun -np 2 on smiles (the faces
#      preset) and cifar10-jpeg (the cifar preset, first 10,000 images);
#   4. check-data's time on the 60,000 CIFAR-10 JPEGs (when built).
# BENCH_STREAM_BIG=N changes the 40,000 (e.g. for a quick look).
set -euo pipefail
cd "$(dirname "$0")/../.."
NN=${NNTRAIN:-build/nntrain}
BIG=${BENCH_STREAM_BIG:-40000}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=results/bench
mkdir -p "$OUT"
T=$(mktemp -d /tmp/nntrain-bench-stream-XXXXXX)
trap 'rm -rf "$T"' EXIT
cc -O2 tests/bench/make_faces.c -o "$T/make_faces" -ljpeg -lm
for d in smiles cifar10-jpeg; do [ -d datasets/data/$d ] || datasets/fetch ${d%-jpeg}; done

ips() { awk '/^ +[0-9]+ /{ print $7 }' "$1" | tail -1; }
rss_mb() { awk '/Maximum resident/{ printf "%.0f", $6 / 1024 }' "$1"; }
secs() { awk '/Elapsed \(wall/{ n = split($NF, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.1f", s }' "$1"; }
TINY="maxpool 4; conv2d 4 size=3 stride=2; relu; dense 2"

{
echo "# tests/bench/stream.sh, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
echo
echo "-- 1. peak RSS, 1 epoch, np=1, 218x178 colour JPEGs (3x218x178 floats = 465 KB a sample), B=32"
for n in 5000 "$BIG"; do
    "$T/make_faces" "$T/f$n" "$n" 64
    t0=$(date +%s.%N)
    /usr/bin/time -v "$NN" train --data "folder:$T/f$n:3x218x178" --cache none --model "$TINY" --epochs 1 \
        --batch 32 --threads 1 --no-plot --out "$T/r$n" > "$T/r$n.log" 2> "$T/r$n.time"
    printf "%-58s %8s MB  %6s images/s\n" "streamed, $n images" "$(rss_mb "$T/r$n.time")" "$(ips "$T/r$n.log")"
done
/usr/bin/time -v "$NN" train --data "folder:$T/f5000:3x218x178" --cache ram --model "$TINY" --epochs 1 \
    --batch 32 --threads 1 --no-plot --out "$T/c5000" > "$T/c5000.log" 2> "$T/c5000.time"
printf "%-58s %8s MB  (open %s s + epoch)\n" "cached, 5000 images" "$(rss_mb "$T/c5000.time")" "$(secs "$T/c5000.time")"
echo "  (cached, $BIG images would hold $(( BIG * 3 * 218 * 178 / 1048576 )) MB of decoded bytes)"
echo
echo "-- 2. decode rate, streamed, 5000 images, np=1, 1 BLAS thread"
for w in 1 2; do
    "$NN" train --data "folder:$T/f5000:3x218x178" --cache none --workers $w --model "$TINY" --epochs 1 \
        --batch 32 --threads 1 --no-plot --out "$T/w$w" > "$T/w$w.log"
    printf "%-58s %8s images/s\n" "$w decoder thread(s)" "$(ips "$T/w$w.log")"
done
echo
echo "-- 3. throughput, mpirun -np 2 x 1 thread, streamed vs cached, same run (best of 2 epochs)"
best() { awk '/^ +[0-9]+ /{ if ($7 > b) b = $7 } END { print b + 0 }' "$1"; }
for cfg in "smiles faces 0" "cifar10-jpeg cifar 10000"; do
    set -- $cfg
    lim=""; [ "$3" != 0 ] && lim="--limit $3"
    for c in ram none; do
        mpirun -np 2 --bind-to none "$NN" train --data "$1" --model "$2" --optim adam --lr 1e-3 --epochs 2 \
            --batch 64 $lim --cache $c --threads 1 --no-plot --out "$T/$1-$c" > "$T/$1-$c.log"
    done
    a=$(best "$T/$1-ram.log") b=$(best "$T/$1-none.log")
    printf "%-58s %8s images/s\n" "$1 ($2 preset), cached" "$a"
    printf "%-58s %8s images/s  = %.0f%% of cached\n" "$1 ($2 preset), streamed" "$b" "$(echo "100 * $b / $a" | bc -l)"
done
if "$NN" --help 2>&1 | grep -q check-data; then
    echo
    echo "-- 4. check-data on cifar10-jpeg (60,000 JPEGs), np=1 and np=2"
    /usr/bin/time -v "$NN" check-data --data cifar10-jpeg > "$T/cd1.log" 2> "$T/cd1.time" || true
    printf "%-58s %8s s\n" "np=1" "$(secs "$T/cd1.time")"
    /usr/bin/time -v mpirun -np 2 "$NN" check-data --data cifar10-jpeg > "$T/cd2.log" 2> "$T/cd2.time" || true
    printf "%-58s %8s s\n" "np=2" "$(secs "$T/cd2.time")"
fi
} | tee "$OUT/stream.txt"
