#!/usr/bin/env bash
# tests/bench/np2_ratio.sh: how reliably np=2 beats np=1 (1 OpenBLAS thread
# each) on this machine: R rounds, each an np=1 run followed by an np=2 run of
# the same configuration (best epoch of each), one ratio per round, then the
# median and the worst. Usage:
#   bash tests/bench/np2_ratio.sh [ROUNDS] [BATCH] [MODEL ARGS...]
#   bash tests/bench/np2_ratio.sh 5 1000 --model mlp1000 --optim adam
set -euo pipefail
cd "$(dirname "$0")/../.."
NN=${NNTRAIN:-build/nntrain}
R=${1:-5}
B=${2:-1000}
shift 2 || true
[ $# -gt 0 ] || set -- --model mlp --lr 1.0
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
. tests/bench/coretype.sh
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE_BENCH:-$(best_coretype)}
T=$(mktemp -d /tmp/nntrain-ratio-XXXXXX)
trap 'rm -rf "$T"' EXIT
best() { awk '/^ +[0-9]+ /{ if ($7 > b) b = $7 } END { printf "%.0f", b }' "$1"; }
ARGS=(train --data mnist --batch "$B" --threads 1 --epochs 3 --no-plot --out "$T/run" "$@")
echo "np=2 / np=1, 1 thread each, batch $B: $*"
for r in $(seq "$R"); do
    "$NN" "${ARGS[@]}" > "$T/one.log"
    mpirun -np 2 -x OPENBLAS_CORETYPE "$NN" "${ARGS[@]}" > "$T/two.log"
    a=$(best "$T/one.log") b=$(best "$T/two.log")
    echo "round $r: np=1 $a images/s, np=2 $b images/s, ratio $(echo "$b / $a" | bc -l | cut -c1-4)"
done | tee "$T/rounds"
sort -t' ' -k10 -n "$T/rounds" | awk '{ r[NR] = $NF } END { printf "median %.2fx, worst %.2fx over %d rounds\n", r[int((NR + 1) / 2)], r[1], NR }'
