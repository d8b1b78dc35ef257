#!/usr/bin/env bash
# tests/cli/launch.sh: the launchers' argument handling (issue 27, item 8):
# launch/nntrain-mpi and the sbatch scripts in launch/slurm/ run the nntrain
# command they are given (gan, eval, ...; an option first, or nothing, means
# train), pass every argument on as one argument (an inline model spec, a
# path with a space), normalise --resume=V / --device=V to the two-argument
# form, add --resume auto (and --device cuda on the GPU script) only where it
# belongs, and pass exit status 75 back. Neither MPI nor Slurm nor nntrain
# is needed: a fake mpirun runs the program it is given, a fake nntrain
# writes its arguments one per line. The sbatch scripts run outside Slurm.
# Usage: bash tests/cli/launch.sh   (NNTRAIN is not used)
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
T=$(mktemp -d /tmp/nntrain-launch-XXXXXX)
trap '[ "$BASHPID" = "$$" ] && rm -rf "$T" "$NN_CHECK_DIR"' EXIT  # this shell only, not a forked job's

mkdir -p "$T/bin"
# fake nntrain: its arguments, one per line, into $ARGV_OUT; exit $FAKE_RC.
cat >"$T/bin/nntrain" <<'EOF'
#!/usr/bin/env bash
printf '%s\n' "$@" >"$ARGV_OUT"
exit "${FAKE_RC:-0}"
EOF
# fake mpirun: skips its own options, then runs the program that follows
# (nntrain, or the GPU script's per-rank bash wrapper).
cat >"$T/bin/mpirun" <<'EOF'
#!/usr/bin/env bash
while (($#)); do
    case $1 in
        --mca) shift 3 ;;
        -np|--bind-to|-x|--hostfile|--map-by) shift 2 ;;
        -*) shift ;;
        *) break ;;
    esac
done
exec "$@"
EOF
chmod +x "$T/bin/nntrain" "$T/bin/mpirun"
export PATH="$T/bin:$PATH" NNTRAIN="$T/bin/nntrain" MPIRUN="$T/bin/mpirun" ARGV_OUT="$T/argv"
unset NNTRAIN_ARGS MPIRUN_ARGS SLURM_JOB_ID SLURM_PROCID SLURM_SUBMIT_DIR SLURM_NTASKS

# argv_is LINE...: the fake nntrain got exactly these arguments.
argv_is() {
    printf '%s\n' "$@" >"$T/want"
    diff "$T/want" "$T/argv"
}
# launch ARGS...: nntrain-mpi -n 2 ARGS (its stderr in $T/stderr).
launch() { rm -f "$T/argv"; launch/nntrain-mpi -n 2 "$@" 2>"$T/stderr"; }

SPEC='dense 100; relu; dense 10'
check "nntrain-mpi -- gan ... runs nntrain gan ..." bash -c \
    "$(declare -f launch argv_is); T=$T; launch -- gan --data mnist --epochs 1 && argv_is gan --data mnist --epochs 1"
check "nntrain-mpi -- train ... runs nntrain train ... (train once)" bash -c \
    "$(declare -f launch argv_is); T=$T; launch -- train --data mnist && argv_is train --data mnist"
check "nntrain-mpi -- --data ... (an option first) runs nntrain train --data ..." bash -c \
    "$(declare -f launch argv_is); T=$T; launch -- --data mnist --epochs 2 && argv_is train --data mnist --epochs 2"
check "nntrain-mpi -- (nothing) runs nntrain train" bash -c \
    "$(declare -f launch argv_is); T=$T; launch -- && argv_is train"
check "nntrain-mpi: eval and check-data run as given" bash -c \
    "$(declare -f launch argv_is); T=$T; launch -- eval --checkpoint c.h5 && argv_is eval --checkpoint c.h5 &&
     launch -- check-data --data mnist && argv_is check-data --data mnist"
check "nntrain-mpi: an inline spec and a path with spaces stay one argument each" bash -c \
    "$(declare -f launch argv_is); T=$T; launch -- train --model '$SPEC' --out 'my results/run 1' &&
     argv_is train --model '$SPEC' --out 'my results/run 1'"
check "nntrain-mpi: a glob character passes unexpanded" bash -c \
    "$(declare -f launch argv_is); T=$T; launch -- train --model '*' && argv_is train --model '*'"
check "nntrain-mpi: --threads 3 and --threads=3 set OPENBLAS_NUM_THREADS=3" bash -c \
    "$(declare -f launch); T=$T; launch -- train --threads 3 && grep -q 'threads=3 (--threads)' $T/stderr &&
     launch -- train --threads=3 && grep -q 'threads=3 (--threads)' $T/stderr"
check "nntrain-mpi: --dry-run prints the command with gan" bash -c \
    "launch/nntrain-mpi -n 2 --dry-run -- gan --data mnist 2>/dev/null | grep -q 'nntrain gan --data mnist'"
check "nntrain-mpi: exit 75 of the ranks comes back" bash -c \
    "FAKE_RC=75 launch/nntrain-mpi -n 2 -- train 2>/dev/null; test \$? = 75"
expect_fail "nntrain-mpi: nntrain arguments before -- are refused" "nntrain arguments go after --" \
    launch/nntrain-mpi -n 2 gan --data mnist

# The sbatch scripts, run as plain bash outside Slurm from the repository root.
sb() { # SCRIPT ARGS...: run launch/slurm/SCRIPT with the fakes
    rm -f "$T/argv"
    bash "launch/slurm/$1" "${@:2}" 2>"$T/stderr"
}
for s in train-cpu.sbatch train-gpu.sbatch; do
    dev=()
    [[ $s == train-gpu.sbatch ]] && dev=(--device cuda)
    d="${dev[*]}"
    check "$s: arguments after the script, a spec with spaces kept, --resume auto added" bash -c \
        "$(declare -f sb argv_is); T=$T; sb $s --data mnist --model '$SPEC' --out 'r 1' &&
         argv_is train --data mnist --model '$SPEC' --out 'r 1' --resume auto $d"
    check "$s: gan runs as gan, with --resume auto" bash -c \
        "$(declare -f sb argv_is); T=$T; sb $s gan --data mnist --out g && argv_is gan --data mnist --out g --resume auto $d"
    check "$s: eval runs as eval, without --resume" bash -c \
        "$(declare -f sb argv_is); T=$T; sb $s eval --checkpoint c.h5 && argv_is eval --checkpoint c.h5"
    check "$s: --resume auto (two arguments) is kept, not doubled" bash -c \
        "$(declare -f sb argv_is); T=$T; sb $s --data mnist --resume auto --out o && argv_is train --data mnist --resume auto --out o $d"
    check "$s: --resume=auto is passed on as --resume auto" bash -c \
        "$(declare -f sb argv_is); T=$T; sb $s --data mnist --resume=auto && argv_is train --data mnist --resume auto $d"
    check "$s: --resume=FILE with a space is passed on as --resume FILE" bash -c \
        "$(declare -f sb argv_is); T=$T; sb $s --resume='old run/checkpoint.h5' && argv_is train --resume 'old run/checkpoint.h5' $d"
    check "$s: NNTRAIN_ARGS on one line is split on blanks (the old form)" bash -c \
        "$(declare -f sb argv_is); T=$T; NNTRAIN_ARGS='--data mnist  --epochs 2' sb $s &&
         argv_is train --data mnist --epochs 2 --resume auto $d"
    check "$s: NNTRAIN_ARGS with one argument per line keeps the spaces" bash -c \
        "$(declare -f sb argv_is); T=$T; NNTRAIN_ARGS=\$'gan\n--model\n$SPEC\n--out\nmy run\n' sb $s &&
         argv_is gan --model '$SPEC' --out 'my run' --resume auto $d"
    check "$s: arguments after the script win over NNTRAIN_ARGS" bash -c \
        "$(declare -f sb argv_is); T=$T; NNTRAIN_ARGS='--data cifar10' sb $s --data mnist && argv_is train --data mnist --resume auto $d"
    check "$s: no arguments: the default MNIST run" bash -c \
        "$(declare -f sb argv_is); T=$T; sb $s && argv_is train --data mnist --model mlp --epochs 10 --batch 100 --lr 0.5 --out results/slurm-0 --resume auto $d"
    check "$s: a clean stop (75) outside Slurm exits 75" bash -c \
        "$(declare -f sb); T=$T; FAKE_RC=75 sb $s --data mnist; test \$? = 75"
done
check "train-gpu.sbatch: --device=cpu is passed on as --device cpu, no --device cuda" bash -c \
    "$(declare -f sb argv_is); T=$T; sb train-gpu.sbatch --device=cpu --data mnist && argv_is train --device cpu --data mnist --resume auto"

summary "launch test"
