#!/usr/bin/env bash
# tests/mpi/run.sh: data-parallel training under mpirun -np 1, 2, 4 must match
# one process: per-epoch losses and final weights to 1e-5 relative; all ranks
# bitwise identical; uneven shard sizes; resume with the same and another N;
# a failure on one rank ends the whole job with its message.
# Usage: NNTRAIN=build/nntrain bash tests/mpi/run.sh
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
NN=${NNTRAIN:-build/nntrain}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
# Quiet Open MPI's own help text on errors; keep our messages.
export OMPI_MCA_orte_base_help_aggregate=1 OMPI_MCA_btl_base_warn_component_unused=0
MPIRUN="timeout 120 mpirun --oversubscribe --bind-to none"
T=$(mktemp -d /tmp/nntrain-mpi-XXXXXX)
trap '[ "$BASHPID" = "$$" ] && rm -rf "$T" "$NN_CHECK_DIR"' EXIT  # this shell only, not a forked job's
# 1003 train samples: not divisible by 2, 4 or the batch (uneven shards, last batch 3).
make_mnist_like "$T/data" 1003 101
D="--data mnist:$T/data"
ARGS="$D --model mlp --hidden 24 --epochs 3 --batch 100 --lr 0.5 --seed 3"

weights_close() {
    $NN compare "$1" "$2" | tee /dev/stderr | awk '{ exit !($6 + 0 < 1e-5 || $4 + 0 < 1e-6) }'
}

check "np=1 plain process" $NN train $ARGS --out "$T/n1" --quiet
for n in 2 4; do
    check "np=$n trains" bash -c "$MPIRUN -np $n $NN train $ARGS --out $T/n$n > $T/n$n.log 2>&1"
    check "np=$n per-epoch losses match np=1 (1e-5 rel)" rel_close "$T/n1/history.csv" "$T/n$n/history.csv" 1e-5
    check "np=$n final weights match np=1 (1e-5 rel)" weights_close "$T/n1/checkpoint.h5" "$T/n$n/checkpoint.h5"
    check "np=$n ranks hold identical parameters" grep -q "parameters identical on all $n rank(s)" "$T/n$n.log"
    check "np=$n: only rank 0 prints epoch lines" test "$(grep -c '^ *[0-9]\+ ' "$T/n$n.log")" -eq 3
done
# Weak scaling: --batch-per-rank 50 under np=2 is --batch 100; --lr-scale
# linear doubles the rate (np=1 --lr 0.5 --batch 100 = np=2 --lr 0.25 x 2).
WS="${ARGS/--batch 100 --lr 0.5/--batch-per-rank 50 --lr 0.25 --lr-scale linear}"
check "np=2 --batch-per-rank 50 --lr-scale linear says global batch 100, lr 0.5" bash -c "$MPIRUN -np 2 $NN train $WS --out $T/ws2 > $T/ws2.log 2>&1 && grep -q 'weak scaling: global batch 100 = 50 per rank x 2 rank(s); learning rate 0.5 (linear' $T/ws2.log"
check "  and trains as np=1 --batch 100 --lr 0.5 (losses 1e-5, weights)" bash -c "$(declare -f rel_close weights_close); NN=$NN; rel_close $T/n1/history.csv $T/ws2/history.csv 1e-5 && weights_close $T/n1/checkpoint.h5 $T/ws2/checkpoint.h5"
check "np=4 --batch-per-rank 25 --lr-scale sqrt: global batch 100, lr 0.25 x 2" bash -c "$MPIRUN -np 4 $NN train ${WS/--batch-per-rank 50/--batch-per-rank 25} --lr-scale sqrt --out $T/ws4 > $T/ws4.log 2>&1 && grep -q 'global batch 100 = 25 per rank x 4 rank(s); learning rate 0.5 (sqrt' $T/ws4.log && $(declare -f rel_close); rel_close $T/n1/history.csv $T/ws4/history.csv 1e-5"
expect_fail "a resume under another N with --batch-per-rank is refused (the global batch changes)" "trained with --batch 100, this run has --batch 150" \
    $MPIRUN -np 3 $NN train $WS --resume "$T/ws2/checkpoint.h5" --epochs 4 --out "$T/ws3"
# Slices are balanced by passing samples between ranks (the default); the
# owner-computes slices without that (--no-balance) give the same training.
check "np=3 --no-balance trains" bash -c "$MPIRUN -np 3 $NN train $ARGS --no-balance --out $T/u3 --quiet"
check "np=3 --no-balance matches np=1 (losses)" rel_close "$T/n1/history.csv" "$T/u3/history.csv" 1e-5
# Gradients: node-shared memory by default, MPI_Allreduce with NNTRAIN_SHM=0.
check "np=2 sums gradients through shared memory" grep -q "node-shared memory" "$T/n2.log"
check "np=4 NNTRAIN_SHM=0 uses MPI (Iallreduce, overlapped)" bash -c "NNTRAIN_SHM=0 $MPIRUN -np 4 -x NNTRAIN_SHM $NN train $ARGS --out $T/a4 > $T/a4.log 2>&1 && grep -q 'with MPI_Iallreduce, overlapped' $T/a4.log"
check "  and matches np=1 (weights)" weights_close "$T/n1/checkpoint.h5" "$T/a4/checkpoint.h5"
# The path is agreed over all ranks: NNTRAIN_SHM=0 on one rank only must not
# pair one rank's node barrier with another's MPI_Allreduce (a hang).
check "NNTRAIN_SHM=0 on rank 1 only: all ranks use MPI_Allreduce" bash -c "$MPIRUN -np 2 bash -c '[ \$OMPI_COMM_WORLD_RANK = 1 ] && export NNTRAIN_SHM=0; exec $NN train $ARGS --out $T/s1' > $T/s1.log 2>&1 && grep -q 'with MPI_Iallreduce' $T/s1.log && grep -q 'identical on all 2' $T/s1.log"
check "a failed shared-memory mapping on one rank: all fall back, no hang" bash -c "NNTRAIN_TEST_SHM_FAIL=1 $MPIRUN -np 2 -x NNTRAIN_TEST_SHM_FAIL $NN train $ARGS --out $T/f2 > $T/f2.log 2>&1 && grep -q 'with MPI_Iallreduce' $T/f2.log && grep -q 'identical on all 2' $T/f2.log"
check "  no segment left in /dev/shm" bash -c "! ls /dev/shm | grep -q '^nntrain\.'"
# Posing as 2 nodes of 2 ranks: shared memory inside a node, MPI between the
# nodes. 3 ranks as nodes of 2 and 1 (unequal) fall back to MPI_Allreduce.
check "np=4 as 2 nodes x 2 ranks" bash -c "NNTRAIN_TEST_NODE_SIZE=2 $MPIRUN -np 4 -x NNTRAIN_TEST_NODE_SIZE $NN train $ARGS --out $T/h4 > $T/h4.log 2>&1 && grep -q 'node-shared memory' $T/h4.log && grep -q 'identical on all 4' $T/h4.log"
check "  matches np=1 (weights)" weights_close "$T/n1/checkpoint.h5" "$T/h4/checkpoint.h5"
check "np=3 as nodes of 2 and 1: MPI_Allreduce, matches np=1" bash -c "NNTRAIN_TEST_NODE_SIZE=2 $MPIRUN -np 3 -x NNTRAIN_TEST_NODE_SIZE $NN train $ARGS --out $T/h3 > $T/h3.log 2>&1 && grep -q 'with MPI_Iallreduce' $T/h3.log && $(declare -f rel_close); rel_close $T/n1/history.csv $T/h3/history.csv 1e-5"
# The reduction overlapped with backward (--bucket-mb; on by default where it
# crosses nodes): tiny buckets (one per layer) sum exactly what the one-shot
# reduction sums, through shared memory + MPI between 2 posed nodes and
# through MPI alone; with synchronised BatchNorm reducing inside backward.
check "np=4 as 2 nodes, --bucket-mb 0: one reduction after backward" bash -c "NNTRAIN_TEST_NODE_SIZE=2 $MPIRUN -np 4 -x NNTRAIN_TEST_NODE_SIZE $NN train $ARGS --bucket-mb 0 --out $T/o0 > $T/o0.log 2>&1 && grep -q 'through node-shared memory; slices' $T/o0.log"
check "  the default overlaps between the nodes" grep -q 'node-shared memory and MPI_Iallreduce between nodes, overlapped with backward in buckets of 4 MB' "$T/h4.log"
check "np=4 as 2 nodes, --bucket-mb 0.0001 (a bucket per layer): bit-identical to --bucket-mb 0" bash -c "NNTRAIN_TEST_NODE_SIZE=2 $MPIRUN -np 4 -x NNTRAIN_TEST_NODE_SIZE $NN train $ARGS --bucket-mb 0.0001 --out $T/o1 > $T/o1.log 2>&1 && grep -q 'identical on all 4' $T/o1.log && $NN compare $T/o0/checkpoint.h5 $T/o1/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
check "np=2 NNTRAIN_SHM=0 --bucket-mb 0.0001: bit-identical to one MPI_Allreduce" bash -c "NNTRAIN_SHM=0 $MPIRUN -np 2 -x NNTRAIN_SHM $NN train $ARGS --bucket-mb 0 --out $T/q0 > $T/q0.log 2>&1 && grep -q 'with MPI_Allreduce;' $T/q0.log && NNTRAIN_SHM=0 $MPIRUN -np 2 -x NNTRAIN_SHM $NN train $ARGS --bucket-mb 0.0001 --out $T/q1 --quiet && $NN compare $T/q0/checkpoint.h5 $T/q1/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
check "np=4 NNTRAIN_SHM=0 --bucket-mb 0.0001 matches np=1 (losses 1e-5, weights)" bash -c "NNTRAIN_SHM=0 $MPIRUN -np 4 -x NNTRAIN_SHM $NN train $ARGS --bucket-mb 0.0001 --out $T/q4 --quiet && $(declare -f rel_close weights_close); NN=$NN; rel_close $T/n1/history.csv $T/q4/history.csv 1e-5 && weights_close $T/n1/checkpoint.h5 $T/q4/checkpoint.h5"
printf 'conv2d 4 size=3 bias=false\nbatchnorm\nrelu\nmaxpool 2\nsave r\nconv2d 4 size=3 pad=same\nrelu\nadd r\nflatten\ndense 10\n' > "$T/ov.spec"
OV="$D --model $T/ov.spec --epochs 2 --batch 100 --optim adam --seed 5"
check "conv+BN+residual np=1" $NN train $OV --out "$T/v1" --quiet
check "  np=4 as 2 nodes, a bucket per layer, BatchNorm synced inside backward: matches np=1" bash -c "NNTRAIN_TEST_NODE_SIZE=2 $MPIRUN -np 4 -x NNTRAIN_TEST_NODE_SIZE $NN train $OV --bucket-mb 0.0001 --out $T/v4 --quiet && $(declare -f rel_close weights_close); NN=$NN; rel_close $T/v1/history.csv $T/v4/history.csv 1e-5 && weights_close $T/v1/checkpoint.h5 $T/v4/checkpoint.h5"
check "  np=2 (one node, no overlap) matches np=1" bash -c "$MPIRUN -np 2 $NN train $OV --out $T/v2 --quiet && $(declare -f rel_close weights_close); NN=$NN; rel_close $T/v1/history.csv $T/v2/history.csv 1e-5 && weights_close $T/v1/checkpoint.h5 $T/v2/checkpoint.h5"
# A patch-whitening stem fitted to the data: 300 images spread over the 1003,
# each rank taking those in its shard, summed over the ranks; np=3 (uneven
# shards) fits the kernel np=1 fits, so training matches.
printf 'normalize\nwhiten fit=300\nrelu\nconv2d 4 size=3 bias=false\nbatchnorm\nrelu\nmaxpool 2\nflatten\ndense 10\n' > "$T/wh.spec"
WH="$D --model $T/wh.spec --epochs 2 --batch 100 --optim adam --seed 5"
check "whiten stem np=1: fitted to 300 images" bash -c "$NN train $WH --out $T/w1 > $T/w1.log 2>&1 && grep -q '^whiten_1: fitted to 300 training images' $T/w1.log"
check "  np=3 fits the same kernel and matches np=1 (losses 1e-5, weights)" bash -c "$MPIRUN -np 3 $NN train $WH --out $T/w3 > $T/w3.log 2>&1 && grep -q '^whiten_1: fitted to 300 training images' $T/w3.log && $(declare -f rel_close weights_close); NN=$NN; rel_close $T/w1/history.csv $T/w3/history.csv 1e-5 && weights_close $T/w1/checkpoint.h5 $T/w3/checkpoint.h5 && diff <(h5dump -d /model_weights/whiten_1/kernel $T/w1/checkpoint.h5 | tail -n +3 | tr -s ' ,' '\n\n' | grep -E '^-?[0-9]' | awk '{printf \"%.4f\\n\", \$1}') <(h5dump -d /model_weights/whiten_1/kernel $T/w3/checkpoint.h5 | tail -n +3 | tr -s ' ,' '\n\n' | grep -E '^-?[0-9]' | awk '{printf \"%.4f\\n\", \$1}')"
check "  a resume keeps the fitted kernel (no refit)" bash -c "$NN train $WH --resume $T/w1/checkpoint.h5 --epochs 3 --out $T/w1r > $T/w1r.log 2>&1 && ! grep -q 'fitted to' $T/w1r.log"
# airbench's recipe pieces under np=3 (uneven shards) against np=1:
# Nesterov momentum, the linear triangle, BatchNorm without scale with its
# bias at 64x the rate, dirac-started convolutions, logits x 1/9, lookahead
# every 3 steps from epoch 1 and alternating flips (per sample, so any N).
# These runs (lr 0.2, the BN bias at 12.8) amplify the rounding of np=3's
# other summation order, so the nets are smooth (GELU, no max pooling) and the
# tolerances measured: with a ReLU and a 2x2 max pool a near-tie flips in some
# runs and moves a filter by 1e-4..1e-2 (5 of 16 OpenBLAS kernel/lowering/seed
# combinations at 2-3 epochs, the same before the kernel-row lowering); the
# smooth nets stayed within 7.2e-5 of np=1 in the weights and 1e-4 in the
# losses over 26 runs (3-4 kernels, with and without the kernel-row lowering,
# seeds 5-7; 2.3e-5 in the weights with the seeds used here). A run that
# trains the frozen bias, steps the other triangle or fills the crops with
# zeros is off by 7e-2 or more.
air_close() {
    rel_close "$1/history.csv" "$2/history.csv" 1e-4 &&
        $NN compare "$1/checkpoint.h5" "$2/checkpoint.h5" | tee /dev/stderr | awk '{ exit !($4 + 0 < 2e-4) }'
}
printf 'conv2d 8 size=3 bias=false init=uniform dirac=true\nbatchnorm scale=false bias_lr=64 momentum=0.6\ngelu\nflatten\ndense 10 bias=false\nmul 0.1111\n' > "$T/air.spec"
AIR="$D --model $T/air.spec --epochs 3 --batch 100 --optim momentum --nesterov --momentum 0.85 --lr 0.2 --weight-decay 1e-3 --schedule linear --warmup 1 --lookahead 3:1 --crop 2 --flip alternate --seed 5"
check "airbench pieces np=1" $NN train $AIR --out "$T/a1" --quiet
check "  it learns (test accuracy > 0.9 at the end; at lr 0.5 it collapses, and rounding then decides)" awk -F, 'NR==4{exit !($5 > 0.9)}' "$T/a1/history.csv"
check "  np=3 matches np=1 (losses 1e-4, weights 2e-4 absolute)" bash -c "$MPIRUN -np 3 $NN train $AIR --out $T/a3 > $T/a3.log 2>&1 && $(declare -f rel_close air_close); NN=$NN; air_close $T/a1 $T/a3"
# ... and the rest of airbench94's: the whitening stem with its bias frozen
# after epoch 1, reflect-filled crops, the triangle's ends 0.2 and 0.07.
printf 'whiten size=2 bias_epochs=1\ngelu\nconv2d 8 size=3 bias=false init=uniform dirac=true\nbatchnorm scale=false bias_lr=64 momentum=0.6\ngelu\nflatten\ndense 10 bias=false\nmul 0.1111\n' > "$T/air2.spec"
AIR2="$D --model $T/air2.spec --epochs 3 --batch 100 --optim momentum --nesterov --momentum 0.85 --lr 0.2 --weight-decay 1e-3 --schedule linear:0.2:0.07 --warmup 1 --crop 2 --crop-fill reflect --flip alternate --seed 6"
check "airbench94's gelu, bias_epochs, reflect, linear:0.2:0.07 np=1" $NN train $AIR2 --out "$T/b1" --quiet
check "  it learns (test accuracy > 0.9 at the end)" awk -F, 'NR==4{exit !($5 > 0.9)}' "$T/b1/history.csv"
check "  np=3 matches np=1 (losses 1e-4, weights 2e-4 absolute)" bash -c "$MPIRUN -np 3 $NN train $AIR2 --out $T/b3 > $T/b3.log 2>&1 && $(declare -f rel_close air_close); NN=$NN; air_close $T/b1 $T/b3"

# The launcher: OpenBLAS's kernel by the one rule (launch/coretype.sh), the
# user's value kept, and a run through it trains as np=1 does.
want=$(bash -c '. launch/coretype.sh; cpu_coretype')
said="coretype=$want (cpuinfo)"; [ -n "$want" ] || said="coretype=unset (none"
check "launch/nntrain-mpi picks the kernel by launch/coretype.sh: $said" bash -c "env -u OPENBLAS_CORETYPE NNTRAIN=$NN launch/nntrain-mpi --dry-run -n 2 -- $ARGS 2>&1 | grep -qF '$said'"
check "  and keeps the user's OPENBLAS_CORETYPE" bash -c "OPENBLAS_CORETYPE=Prescott NNTRAIN=$NN launch/nntrain-mpi --dry-run -n 2 -- $ARGS 2>&1 | grep -q 'coretype=Prescott (environment)'"
check "launch/nntrain-mpi -n 2 trains as np=1 (losses 1e-5)" bash -c "NNTRAIN=$NN timeout 120 launch/nntrain-mpi -n 2 -- $ARGS --out $T/l2 > $T/l2.log 2>&1 && $(declare -f rel_close); rel_close $T/n1/history.csv $T/l2/history.csv 1e-5"
check "np=1 under mpirun equals the plain process" bash -c "$MPIRUN -np 1 $NN train $ARGS --out $T/m1 --quiet && cmp <(cut -d, -f1-5 $T/n1/history.csv) <(cut -d, -f1-5 $T/m1/history.csv)"
check "eval under np=3 is exact (same as np=1)" bash -c "
  a=\$($NN eval $D --checkpoint $T/n1/checkpoint.h5 | head -3)
  b=\$($MPIRUN -np 3 $NN eval $D --checkpoint $T/n1/checkpoint.h5 | head -3)
  echo \"\$a\"; echo \"\$b\"; test \"\$a\" = \"\$b\""
# Balanced accuracy, macro F1 and the per-class lines come from the confusion
# matrix summed over ranks: the whole output is the same for any N.
check "eval under np=3: per-class metrics identical to np=1" bash -c "
  $NN eval $D --checkpoint $T/n1/checkpoint.h5 > $T/e1.txt && $MPIRUN -np 3 $NN eval $D --checkpoint $T/n1/checkpoint.h5 > $T/e3.txt &&
  grep -q '^balanced_accuracy: ' $T/e3.txt && cmp $T/e1.txt $T/e3.txt"
check "eval --tta flip under np=3: identical to np=1" bash -c "
  $NN eval $D --checkpoint $T/n1/checkpoint.h5 --tta flip > $T/t1.txt && $MPIRUN -np 3 $NN eval $D --checkpoint $T/n1/checkpoint.h5 --tta flip > $T/t3.txt &&
  grep -q '^test-time augmentation' $T/t3.txt && cmp $T/t1.txt $T/t3.txt"
check "eval of an ensemble (two checkpoints) under np=3: identical to np=1" bash -c "
  $NN eval $D --checkpoint $T/n1/checkpoint.h5 --checkpoint $T/v1/checkpoint.h5 > $T/en1.txt && $MPIRUN -np 3 $NN eval $D --checkpoint $T/n1/checkpoint.h5 --checkpoint $T/v1/checkpoint.h5 > $T/en3.txt &&
  grep -q '^ensemble: the mean class probabilities of 2 checkpoints' $T/en3.txt && cmp $T/en1.txt $T/en3.txt"
check "np=2 history: test_bal_acc as np=1's" bash -c "cmp <(cut -d, -f10 $T/n1/history.csv) <(cut -d, -f10 $T/n2/history.csv)"
# --class-weight balanced: the label counts are summed over the ranks' shards
# once, so every rank weighs with the whole training set's counts.
check "--class-weight balanced np=1" $NN train $ARGS --class-weight balanced --out "$T/cw1" --quiet
check "--class-weight balanced np=2" bash -c "$MPIRUN -np 2 $NN train $ARGS --class-weight balanced --out $T/w2 > $T/w2.log 2>&1 && grep -q 'identical on all 2' $T/w2.log"
check "  per-epoch (weighted) losses match np=1 (1e-5 rel)" rel_close "$T/cw1/history.csv" "$T/w2/history.csv" 1e-5
check "  final weights match np=1 (1e-5 rel)" weights_close "$T/cw1/checkpoint.h5" "$T/w2/checkpoint.h5"
check "  and differ from --class-weight none's" bash -c "! $NN compare $T/n1/checkpoint.h5 $T/cw1/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
# --label-smoothing with class weights: a per-sample term, the same for any N.
check "--label-smoothing 0.1 --class-weight balanced np=1" bash -c "$NN train $ARGS --label-smoothing 0.1 --class-weight balanced --out $T/ls1 > $T/ls1.log 2>&1 && grep -q 'label smoothing 0.1, class weights' $T/ls1.log"
check "  np=2 matches np=1 (losses 1e-5, weights)" bash -c "$MPIRUN -np 2 $NN train $ARGS --label-smoothing 0.1 --class-weight balanced --out $T/ls2 --quiet && $(declare -f rel_close weights_close); NN=$NN; rel_close $T/ls1/history.csv $T/ls2/history.csv 1e-5 && weights_close $T/ls1/checkpoint.h5 $T/ls2/checkpoint.h5"
check "  and differs from no smoothing" bash -c "! $NN compare $T/w1/checkpoint.h5 $T/ls1/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
# --ema: every rank averages the same (reduced) weights, so N ranks keep
# one rank's average; the checkpoint holds it and the trained weights.
check "--ema 0.9 np=1" $NN train $ARGS --ema 0.9 --out "$T/e1" --quiet
check "  np=2 matches np=1 (losses 1e-5, both nets' weights), replicas identical" bash -c "$MPIRUN -np 2 $NN train $ARGS --ema 0.9 --out $T/e2 > $T/e2.log 2>&1 && grep -q 'identical on all 2' $T/e2.log && $(declare -f rel_close weights_close); NN=$NN; rel_close $T/e1/history.csv $T/e2/history.csv 1e-5 && weights_close $T/e1/checkpoint.h5 $T/e2/checkpoint.h5"
check "  the trained weights are those of the run without --ema" bash -c "$NN eval $D --checkpoint $T/e2/checkpoint.h5 --no-ema > $T/e2raw.txt && $NN eval $D --checkpoint $T/n2/checkpoint.h5 > $T/n2ev.txt && cmp $T/e2raw.txt $T/n2ev.txt"

# BatchNorm + Dropout: with --bn sync the statistics span the global batch and
# dropout masks follow sample ids, so N ranks reproduce one rank.
printf 'dense 32 bias=false\nbatchnorm\nrelu\ndropout 0.25\ndense 10\n' > "$T/bn.spec"
BN="$D --model $T/bn.spec --epochs 2 --batch 100 --optim adam --seed 5"
check "bn+dropout np=1" $NN train $BN --out "$T/bd1" --quiet
for n in 2 4; do
    check "bn sync + dropout np=$n matches np=1 (losses)" bash -c "$MPIRUN -np $n $NN train $BN --bn sync --out $T/b$n --quiet && $(declare -f rel_close); rel_close $T/bd1/history.csv $T/b$n/history.csv 1e-5"
    check "bn sync + dropout np=$n matches np=1 (weights)" weights_close "$T/bd1/checkpoint.h5" "$T/b$n/checkpoint.h5"
done
# Adam's moments live once per node and each rank updates its slice: 2 nodes
# x 2 ranks, and a resume whose checkpoint must hold every rank's slice.
check "bn sync + adam, 2 nodes x 2 ranks, matches np=1 (weights)" bash -c "NNTRAIN_TEST_NODE_SIZE=2 $MPIRUN -np 4 -x NNTRAIN_TEST_NODE_SIZE $NN train $BN --out $T/bh4 --quiet && $NN compare $T/bd1/checkpoint.h5 $T/bh4/checkpoint.h5 | awk '{ exit !(\$6 + 0 < 1e-5 || \$4 + 0 < 1e-6) }'"
check "adam np=2: 1 epoch, then resume to 2 under np=3" bash -c "$MPIRUN -np 2 $NN train ${BN/--epochs 2/--epochs 1} --out $T/ba --quiet && $MPIRUN -np 3 $NN train $BN --resume $T/ba/checkpoint.h5 --out $T/ba --quiet"
check "  matches the uninterrupted np=1 run (optimizer slots saved whole)" weights_close "$T/bd1/checkpoint.h5" "$T/ba/checkpoint.h5"
check "bn local np=2: runs, replicas identical" bash -c "$MPIRUN -np 2 $NN train $BN --bn local --out $T/bl > $T/bl.log 2>&1 && grep -q 'identical on all 2' $T/bl.log"
check "bn local np=2 differs from sync (statistics per slice)" bash -c "! cmp -s <(cut -d, -f2 $T/b2/history.csv) <(cut -d, -f2 $T/bl/history.csv)"

# Convolution + max pooling, on the first 600 samples (--limit): N=2 matches N=1.
printf 'conv2d 4 size=3\nrelu\nmaxpool 2\nconv2d 6 size=3 stride=2 pad=valid\nrelu\nflatten\ndense 10\n' > "$T/cnn.spec"
CNN="$D --model $T/cnn.spec --epochs 2 --batch 50 --optim adam --limit 600 --seed 2"
check "cnn np=1 (--limit 600)" $NN train $CNN --out "$T/c1" --quiet
check "cnn np=2 (--limit 600)" bash -c "$MPIRUN -np 2 $NN train $CNN --out $T/c2 --quiet"
check "cnn np=2 matches np=1 (losses)" rel_close "$T/c1/history.csv" "$T/c2/history.csv" 1e-5
check "cnn np=2 matches np=1 (weights)" weights_close "$T/c1/checkpoint.h5" "$T/c2/checkpoint.h5"

# Resume: 2 epochs, then resume to 3 with the same N and with another N.
check "np=2 trains 2 epochs" bash -c "$MPIRUN -np 2 $NN train ${ARGS/--epochs 3/--epochs 2} --out $T/r2 --quiet"
cp -r "$T/r2" "$T/r2b"
check "resume with the same N (2)" bash -c "$MPIRUN -np 2 $NN train $ARGS --resume $T/r2/checkpoint.h5 --out $T/r2 --quiet"
check "  matches the uninterrupted run" weights_close "$T/n2/checkpoint.h5" "$T/r2/checkpoint.h5"
check "resume with another N (4)" bash -c "$MPIRUN -np 4 $NN train $ARGS --resume $T/r2b/checkpoint.h5 --out $T/r2b --quiet"
check "  matches the uninterrupted run" weights_close "$T/n2/checkpoint.h5" "$T/r2b/checkpoint.h5"
check "  history continues (3 epochs)" test "$(wc -l < "$T/r2b/history.csv")" -eq 4

# A corrupt record in the last rank's shard: the last label is out of range.
cp -r "$T/data" "$T/bad"
printf '\x0c' | dd of="$T/bad/train-labels-idx1-ubyte" bs=1 seek=$((8 + 1002)) conv=notrunc status=none
cp "$T/n2/checkpoint.h5" "$T/keep.h5"
expect_fail "np=4: corrupt record on rank 3 ends the job with its message" \
    "rank 3: .*train-labels-idx1-ubyte: label 12 of sample 1002 is out of range" \
    $MPIRUN -np 4 $NN train --data mnist:$T/bad --hidden 8 --epochs 1 --force --out "$T/n2"
check "  earlier checkpoint intact" cmp "$T/n2/checkpoint.h5" "$T/keep.h5"
# A NaN loss on all ranks: every rank stops, no hang.
expect_fail "np=2: diverging run stops cleanly" "loss became" \
    $MPIRUN -np 2 $NN train $D --model mlp1000 --hidden 32 --epochs 2 --lr 1e6 --out "$T/nan"

# --- issue 9: stop signals, mid-epoch resume, stalled ranks, shapes --------------
# A signal on ONE rank stops every rank at the same step (it rides in the
# reduction's tail); the checkpoint records the position inside the epoch.
SIG="$D --model mlp --hidden 24 --epochs 4 --batch 20 --lr 0.3 --seed 3 --quiet --no-plot"
check "np=2 uninterrupted reference" bash -c "$MPIRUN -np 2 $NN train $SIG --out $T/sref"
rc=0; NNTRAIN_TEST_SIGNAL=77:1 $MPIRUN -np 2 -x NNTRAIN_TEST_SIGNAL $NN train $SIG --out "$T/sg" > "$T/sg.log" 2>&1 || rc=$?
check "np=2: SIGTERM on rank 1 at step 77: every rank stops, exit 75" test "$rc" = 75
check "  one line from each rank" bash -c "grep -q 'stopped by a signal (no signal here: another rank' $T/sg.log && grep -q 'rank 1: stopped by a signal (SIGTERM) after step 77' $T/sg.log"
check "  resume --resume auto under np=2: bit-identical to uninterrupted" bash -c "$MPIRUN -np 2 $NN train $SIG --out $T/sg --resume auto && $NN compare $T/sref/checkpoint.h5 $T/sg/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
rc=0; NNTRAIN_TEST_SIGNAL=130 $MPIRUN -np 2 -x NNTRAIN_TEST_SIGNAL $NN train $SIG --out "$T/sg3" > /dev/null 2>&1 || rc=$?
check "  stopped again at step 130, resumed under np=3: matches (1e-5)" bash -c "test $rc = 75 && $MPIRUN -np 3 $NN train $SIG --out $T/sg3 --resume auto && $(declare -f weights_close); NN=$NN weights_close $T/sref/checkpoint.h5 $T/sg3/checkpoint.h5"
# SIGTERM to both ranks (as scancel sends it) at random moments, resumed with
# --resume auto under np=2 until done: equal to the uninterrupted run.
RK="$D --model mlp --hidden 256 --epochs 10 --batch 5 --lr 0.1 --seed 3 --quiet --no-plot"
check "np=2 uninterrupted reference (longer)" bash -c "$MPIRUN -np 2 $NN train $RK --out $T/rkref"
ranks_of() { for p in $(pgrep -x nntrain); do tr '\0' ' ' < /proc/$p/cmdline | grep -q -- "--out $1 " && echo $p; done; }
ok=1
for i in 1 2 3; do
    rm -rf "$T/rk"
    for attempt in 1 2; do
        $MPIRUN -np 2 $NN train $RK --out "$T/rk" --resume auto > /dev/null 2>&1 &
        pid=$!
        for _ in $(seq 100); do [ -s "$T/rk/.lock" ] && break; sleep 0.05; done
        sleep "$((RANDOM % 2)).$((RANDOM % 10))"
        kill -TERM $(ranks_of "$T/rk") 2>/dev/null; wait $pid; rc=$?
        [ "$rc" = 0 ] || [ "$rc" = 75 ] || { ok=0; echo "run $i attempt $attempt: exit $rc"; }
    done
    $MPIRUN -np 2 $NN train $RK --out "$T/rk" --resume auto > /dev/null 2>&1 || ok=0
    $NN compare "$T/rkref/checkpoint.h5" "$T/rk/checkpoint.h5" | grep -q 'max_abs_diff: 0.000e+00' || { ok=0; echo "run $i differs"; }
done
check "np=2: SIGTERM to the ranks at random moments, resumed: bit-identical (3 runs)" test $ok = 1
# SIGUSR1 to mpirun (Slurm's --signal=B:USR1) reaches every rank.
$MPIRUN -np 2 $NN train $SIG --epochs 40 --out "$T/usr1" > "$T/usr1.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -f "$T/usr1/checkpoint.h5" ] && break; sleep 0.1; done
pkill -USR1 -P $pid mpirun; wait $pid; rc=$?   # $pid is timeout(1); mpirun is its child
check "np=2: SIGUSR1 to mpirun: checkpoint and exit 75" bash -c "test $rc = 75 && grep -q 'stopped by a signal (SIGUSR1)' $T/usr1.log"
# A stopped rank (SIGSTOP at step 5): the others end the job after
# --step-timeout, naming it, instead of waiting forever.
start=$(date +%s)
expect_fail "np=2: rank 1 stopped (SIGSTOP): the job ends naming it" \
    "rank 0: no progress for [0-9]+ s in step 5 \([a-z ]+\): rank\(s\) 1 on this node did not get there" \
    env NNTRAIN_TEST_STALL=5:1 $MPIRUN -np 2 -x NNTRAIN_TEST_STALL $NN train $SIG --step-timeout 3 --out "$T/stall"
check "  within seconds of the timeout" test $(( $(date +%s) - start )) -lt 40
# Issue 29.7: rank 1 stopped after it arrived at the gradient reduction, on a
# one-node job: every heartbeat is there, but the stalled rank is not "on
# another node": it is named as stopped (its process state is T).
expect_fail "np=2: rank 1 stopped inside the reduction: named as stopped on this node, not 'another node'" \
    "rank 0: no progress for [0-9]+ s in step 5 \(gradient reduction\): every rank of this node reached it, but rank\(s\) 1 \(pid [0-9]+\) of this node is stopped \(process state T" \
    env NNTRAIN_TEST_STALL=5:1:reduce $MPIRUN -np 2 -x NNTRAIN_TEST_STALL $NN train $SIG --step-timeout 3 --out "$T/stall2"
check "  ... and with NNTRAIN_SHM=0 (no heartbeats) still named" bash -c "NNTRAIN_SHM=0 NNTRAIN_TEST_STALL=5:1:reduce $MPIRUN -np 2 -x NNTRAIN_SHM -x NNTRAIN_TEST_STALL $NN train $SIG --step-timeout 3 --out $T/stall3 2>&1 | grep -q 'rank(s) 1 (pid [0-9]*) of this node is stopped'"
# A test split with more classes than train: a clear error on every rank (was a heap overflow).
make_folder "$T/f3" train:bird,dog test:bird,cat,dog
expect_fail "np=2: test split with more classes than train: an error, not a crash" "rank 0: .*test split has 3 classes" \
    $MPIRUN -np 2 $NN train --data "folder:$T/f3" --epochs 1 --batch 4 --out "$T/f3-run"
expect_fail "np=2: divergence names the step, layer and rank" "rank [01]: .*loss became .* at step [0-9]+" \
    $MPIRUN -np 2 $NN train $D --model mlp1000 --hidden 32 --epochs 2 --lr 1e6 --out "$T/nan2"
check "np=2 --profile: one row per rank and the slowest named" bash -c "$MPIRUN -np 2 $NN train $ARGS --epochs 1 --profile --no-plot --out $T/prof > $T/prof.log 2>&1 && grep -q 'slowest rank' $T/prof.log && grep -A4 'this epoch' $T/prof.log | grep -q '^  rank 1 '"

# --- GAN: the same skeleton with two nets; N = 1, 2, 4 train the same GAN -------
GEN="dense 392 bias=false; batchnorm; relu; reshape 8x7x7; deconv2d 4 size=4 stride=2 pad=1 bias=false; batchnorm; relu; deconv2d 1 size=4 stride=2 pad=1; tanh"
DIS="conv2d 4 size=4 stride=2 pad=1; leaky_relu alpha=0.2; conv2d 8 size=4 stride=2 pad=1 bias=false; batchnorm; leaky_relu alpha=0.2; flatten; dense 1"
printf '%s\n' "$GEN" | tr ';' '\n' > "$T/gen.spec"
printf '%s\n' "$DIS" | tr ';' '\n' > "$T/dis.spec"
GANA="$D --generator $T/gen.spec --discriminator $T/dis.spec --z-dim 16 --batch 40 --epochs 1 --limit 600 --seed 4 --ema 0.99 --quiet --no-plot"
check "gan np=1" $NN gan $GANA --out "$T/gan1"
for n in 2 4; do
    check "gan np=$n" bash -c "$MPIRUN -np $n $NN gan $GANA --out $T/gan$n > $T/gan$n.log 2>&1"
    check "gan np=$n D/G losses, D(x), D(G(z)) match np=1 (1e-5 rel)" rel_close "$T/gan1/history.csv" "$T/gan$n/history.csv" 1e-5
    # Adam turns float summation-order noise in near-zero gradients into steps of
    # lr size, and the two nets feed each other: weights agree to 1e-4, not 1e-5.
    check "gan np=$n generator and discriminator match np=1 (1e-4 abs)" bash -c "$NN compare $T/gan1/checkpoint.h5 $T/gan$n/checkpoint.h5 | awk '{ exit !(\$4 + 0 < 1e-4) }'"
done
# A discriminator with dropout: its masks on fakes are keyed by ids made from
# (step, pass, fake index), never by rank, so N=2 trains what N=1 does.
printf '%s\n' "conv2d 4 size=4 stride=2 pad=1" "leaky_relu alpha=0.2" "dropout 0.3" "flatten" "dense 1" > "$T/disd.spec"
GAND="${GANA/$T\/dis.spec/$T/disd.spec}"
check "gan, D with dropout, np=1" $NN gan $GAND --out "$T/gand1"
check "gan, D with dropout, np=2 matches np=1 (1e-5 rel)" bash -c "$MPIRUN -np 2 $NN gan $GAND --out $T/gand2 > $T/gand2.log 2>&1 && $(declare -f rel_close); rel_close $T/gand1/history.csv $T/gand2/history.csv 1e-5"
# Stopped by a signal inside epoch 2 and resumed with the same N: bit for bit.
GANB="${GANA/--epochs 1/--epochs 2}"
check "gan np=2, 2 epochs, uninterrupted" bash -c "$MPIRUN -np 2 $NN gan $GANB --out $T/ganu"
rc=0; NNTRAIN_TEST_SIGNAL=22 $MPIRUN -np 2 -x NNTRAIN_TEST_SIGNAL $NN gan $GANB --out "$T/gans" > /dev/null 2>&1 || rc=$?
check "gan np=2: SIGTERM at step 22 (epoch 2): exit 75, resumed: bit-identical" bash -c "test $rc = 75 && $MPIRUN -np 2 $NN gan $GANB --resume auto --out $T/gans && $NN compare $T/ganu/checkpoint.h5 $T/gans/checkpoint.h5 | grep -q 'max_abs_diff: 0.000e+00'"
check "gan: 1 epoch under np=2 (above), resumed to 2 under np=3" bash -c "cp -r $T/gan2 $T/ganr && $MPIRUN -np 3 $NN gan $GANB --resume auto --out $T/ganr"
check "  epoch 1 as np=1's (1e-5), epoch 2 near the np=2 run's (GAN dynamics amplify rounding)" bash -c "$(declare -f rel_close); rel_close <(head -2 $T/gan1/history.csv) <(head -2 $T/ganr/history.csv) 1e-5 && rel_close $T/ganu/history.csv $T/ganr/history.csv 1e-3"

# --- streamed image folders: the prefetch ring under N ranks ------------------------
make_folder "$T/sf" train:a,b,c,d:12x8x3 test:a,b,c,d:12x8x3
printf 'conv2d 4 size=3\nrelu\nmaxpool 2\ndense 4\n' > "$T/sf.spec"
SF="--data folder:$T/sf:3x8x12 --model $T/sf.spec --epochs 2 --batch 6 --lr 0.05 --flip --crop 1 --seed 5 --quiet --no-plot"
check "folder np=1, decoded into memory" $NN train $SF --cache ram --out "$T/sf1"
check "folder np=2, streamed by 2 decoder threads a rank, slices balanced" bash -c "$MPIRUN -np 2 $NN train $SF --cache none --workers 2 --out $T/sf2"
check "  per-epoch losses match np=1 cached (1e-5 rel)" rel_close "$T/sf1/history.csv" "$T/sf2/history.csv" 1e-5
check "  final weights match np=1 cached (1e-5 rel)" weights_close "$T/sf1/checkpoint.h5" "$T/sf2/checkpoint.h5"
# A file deleted while rank 1 is stopped (SIGSTOP at step 6, in epoch 2 of 4
# steps each): epoch 2 or 3 reads it; the job ends with the path, no hang, the
# checkpoint of epoch 1 intact.
SFL="${SF/--epochs 2/--epochs 4}"
env NNTRAIN_TEST_STALL=6:1 $MPIRUN -np 2 -x NNTRAIN_TEST_STALL $NN train $SFL --cache none --out "$T/sfd" > "$T/sfd.log" 2>&1 &
pid=$!
stopped=""
# Up to 2 minutes: on a loaded machine (CI next to other work) MPI start-up
# and 6 steps can take far longer than on an idle one.
for _ in $(seq 2400); do
    for p in $(pgrep -x nntrain); do
        tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null | grep -q -- "--out $T/sfd" && grep -q '^State:.*(stopped)' /proc/$p/status 2>/dev/null && stopped=$p
    done
    [ -n "$stopped" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
done
rm -f "$T/sf/train/b/2.png"
[ -n "$stopped" ] && kill -CONT "$stopped"
wait $pid; rc=$?
check "np=2: a training file deleted mid-run: exit 1 naming it" bash -c "test -n '$stopped' && test $rc = 1 && grep -q 'sf/train/b/2.png: cannot open' $T/sfd.log"
check "  the last checkpoint is intact" bash -c "$NN eval --data folder:$T/sf:3x8x12 --checkpoint $T/sfd/checkpoint.h5 | grep -q '^accuracy'"
# check-data under N=2 reports what N=1 does (each rank reads half; rank 0 prints).
cp -r "$T/sf" "$T/sfc"
: > "$T/sfc/train/a/0.png"
echo text > "$T/sfc/train/c/x.jpg"
head -c 40 "$T/sfc/test/b/1.png" > "$T/sfc/cut" && mv "$T/sfc/cut" "$T/sfc/test/b/1.png"
$NN check-data --data "folder:$T/sfc" > "$T/cd1.log" 2>&1; rc1=$?
$MPIRUN -np 2 $NN check-data --data "folder:$T/sfc" > "$T/cd2.log" 2>&1; rc2=$?
check "check-data np=2: exit 1 like np=1, the same counts and BAD lines" bash -c "test $rc1 = 1 && test $rc2 = 1 && diff <(grep -E '^(train|test):|^  BAD' $T/cd1.log | sort) <(grep -E '^(train|test):|^  BAD' $T/cd2.log | sort) && test \$(grep -c '^  BAD' $T/cd2.log) = 3 && ! grep -qE 'runtime error|ERROR: AddressSanitizer|Signal:' $T/cd2.log"
# --skip-bad: the bad files are found by both ranks' reads, agreed, left out.
cp -r "$T/sf" "$T/sfb"
: > "$T/sfb/train/a/0.png"
echo text > "$T/sfb/train/c/x.jpg"
check "folder --skip-bad np=1" $NN train ${SF/sf:/sfb:} --skip-bad --cache ram --out "$T/sfb1"
check "folder --skip-bad np=2 (streamed): the same weights (1e-5)" bash -c "$MPIRUN -np 2 $NN train ${SF/sf:/sfb:} --skip-bad --cache none --out $T/sfb2 > $T/sfb2.log && grep -q 'warning: --skip-bad: 2 unreadable' $T/sfb2.log && $(declare -f weights_close); NN=$NN weights_close $T/sfb1/checkpoint.h5 $T/sfb2/checkpoint.h5"

# --- ranks started with different flags (MPMD): caught at start-up ------------
# Each pair once on rank 0 and once on rank 1: one line naming the flag and
# the values, exit 2, within 30 s, no node-shared segment left.
cp -r "$T/data" "$T/data2"
MM="--data mnist:$T/data --hidden 8 --epochs 1 --batch 100"
mpmd() { # NAME PATTERN RANK0-FLAGS RANK1-FLAGS [RANK1-COMMAND]
    local shm0 shm1
    shm0=$(ls /dev/shm | grep -c '^nntrain' || true)
    expect_fail "MPMD: $1 differs between the ranks" "$2" \
        timeout 30 mpirun --oversubscribe --bind-to none -np 1 $NN train $MM $3 --out "$T/mpmd" : -np 1 $NN ${5:-train} $MM $4 --out "$T/mpmd"
    shm1=$(ls /dev/shm | grep -c '^nntrain' || true)
    check "  no /dev/shm segment left ($1)" test "$shm1" -le "$shm0"
}
mpmd "--model" "different --model \(rank 0: mlp, rank 1: mlp1000\)" "--model mlp" "--model mlp1000"
mpmd "--batch" "different --batch \(rank 0: 100, rank 1: 50\)" "" "--batch 50"
mpmd "--seed" "different --seed \(rank 0: 1, rank 1: 2\)" "" "--seed 2"
mpmd "the data set" "different --data \(rank 0: mnist:.*/data, rank 1: mnist:.*/data2\)" "" "--data mnist:$T/data2"
mpmd "--optim" "different --optim \(rank 0: adam, rank 1: sgd\)" "--optim adam" "--optim sgd --step-timeout 10"
mpmd "--epochs" "different --epochs \(rank 0: 1, rank 1: 2\)" "" "--epochs 2"
mpmd "--flip" "different --flip \(rank 0: -, rank 1: \(given\)\)" "" "--flip"
mpmd "--lr" "different --lr \(rank 0: 0.1, rank 1: 0.2\)" "--lr 0.1" "--lr 0.2"
expect_fail "MPMD: train on one rank, eval on the other" "the ranks were started with different commands \(rank 0: train, rank 1: eval\)" \
    timeout 30 mpirun --oversubscribe --bind-to none -np 1 $NN train --data mnist:$T/data --out "$T/mpmd" : -np 1 $NN eval --data mnist:$T/data --checkpoint "$T/n1/checkpoint.h5"
check "ranks with different --out and --threads agree (they may differ)" bash -c \
    "timeout 60 mpirun --oversubscribe --bind-to none -np 1 $NN train $MM --threads 1 --quiet --no-plot --out $T/mo : -np 1 $NN train $MM --quiet --no-plot --out $T/mo"

summary "mpi tests"
