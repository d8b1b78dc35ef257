#!/usr/bin/env bash
# tests/bench/overlap.sh: the gradient reduction overlapped with backward
# (--bucket-mb M) against one reduction after backward (--bucket-mb 0), side
# by side in ONE run (alternating, ROUNDS rounds, the best of each kept):
#   2x1  2 ranks posing as 2 nodes of 1 rank (NNTRAIN_TEST_NODE_SIZE=1):
#        MPI between the "nodes" only, one rank per core
#   2x2  4 ranks posing as 2 nodes of 2 ranks (NNTRAIN_TEST_NODE_SIZE=2):
#        node-shared sums, then MPI between the nodes (4 ranks on 2 cores:
#        oversubscribed here, so compute and waiting are inflated)
# For each: ms per step, the reduce phase (after a barrier: what backward
# did not hide) per step, and the share of the one-shot reduction hidden,
# 1 - reduce(overlap) / reduce(one-shot). The node-local "network" is Open
# MPI's shared-memory transport, far faster than a real one: the reduction
# is small to start with, so this shows the mechanism works, not cluster
# figures (tests/bench/overlap_model.py projects those). Each layout ends
# with overlap_model.py --check: the link's rate fitted to the one-shot run's
# reduce time, the model's step times next to the measured ones.
#   bash tests/bench/overlap.sh [NNTRAIN]    OV_ROUNDS=3 OV_BUCKET_MB=1 OV_MODEL=cnn
set -euo pipefail
cd "$(dirname "$0")/../.."
NN=${1:-build/nntrain}
ROUNDS=${OV_ROUNDS:-3}
BUCKET=${OV_BUCKET_MB:-1}
MODEL=${OV_MODEL:-cnn}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
T=$(mktemp -d /tmp/nntrain-ov-XXXXXX)
trap 'rm -rf "$T"' EXIT
[ -e datasets/data/mnist/train-images-idx3-ubyte.gz ] || [ -e datasets/data/mnist/train-images-idx3-ubyte ] || datasets/fetch mnist
ARGS="train --data mnist --model $MODEL --optim adadelta --lr 1.0 --batch-per-rank 32 --limit 6400 --epochs 1 --threads 1 --no-plot --profile"

# "ms_per_step reduce_ms_per_step" from a --profile log (rank 0, whole run;
# the per-layer header counts the steps after the first: the run took one more).
measure() {
    awk '/^epoch /{ getline; secs = $6 } /ms per step over/{ for (i = 1; i <= NF; i++) if ($i == "over") steps = $(i + 1) + /after the first/ }
         /whole run/{ w = 1 } w && /^ +data +exchange/{ for (i = 1; i <= NF; i++) col[$i] = i }
         w && /^ +rank 0 /{ red = $(col["reduce"] + 2); w = 0 }  # the row starts "rank 0"
         END { printf "%.1f %.2f\n", 1000 * secs / steps, 1000 * red / steps }' "$1"
}
echo "# tests/bench/overlap.sh $NN: $MODEL, MNIST, 32 images per rank per step, $(date -u +%F), $(nproc) cores"
printf "%-6s %-9s %12s %14s   (best of %d rounds)\n" layout bucket ms/step reduce_ms/step "$ROUNDS"
for layout in 2x1 2x2; do
    np=2 node=1
    [ $layout = 2x2 ] && np=4 node=2
    declare -A best_step=() best_red=()
    for r in $(seq "$ROUNDS"); do
        for b in 0 "$BUCKET"; do
            NNTRAIN_TEST_NODE_SIZE=$node mpirun --oversubscribe --bind-to none -np $np -x NNTRAIN_TEST_NODE_SIZE \
                $NN $ARGS --bucket-mb "$b" --out "$T/o" > "$T/log" 2>&1 || { cat "$T/log"; exit 1; }
            read -r st red < <(measure "$T/log")
            if [ -z "${best_step[$b]:-}" ] || awk -v a="$st" -v b="${best_step[$b]}" 'BEGIN { exit !(a < b) }'; then
                best_step[$b]=$st best_red[$b]=$red
                cp "$T/log" "$T/$layout-$b.log"
            fi
        done
    done
    for b in 0 "$BUCKET"; do
        printf "%-6s %-9s %12s %14s\n" $layout "$b MB" "${best_step[$b]}" "${best_red[$b]}"
    done
    awk -v s0="${best_step[0]}" -v s1="${best_step[$BUCKET]}" -v r0="${best_red[0]}" -v r1="${best_red[$BUCKET]}" \
        'BEGIN { printf "%-6s step overlap/one-shot %.3fx; reduction hidden %.0f%%\n", "", s1 / s0, (r0 > 0 ? 100 * (1 - r1 / r0) : 0) }'
    python3 tests/bench/overlap_model.py --check "$T/$layout-0.log" "$T/$layout-$BUCKET.log" \
        --ranks 2 --bucket-mb "$BUCKET" | sed 's/^/       model: /'
    unset best_step best_red
done
