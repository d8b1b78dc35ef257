#!/usr/bin/env bash
# tests/slurm/run.sh: end-to-end test of launch/slurm/train-cpu.sbatch on a real,
# private, one-node Slurm cluster started on this machine.
#
#   tests/slurm/run.sh            (as root; installs slurm-wlm and munge if missing)
#
# It starts munged, slurmctld and slurmd with their key, config, state, spool,
# logs and pid files in a private temp dir (and on free ports, next to any other
# Slurm), writes a tiny MNIST-format data set, submits train-cpu.sbatch with 2
# tasks and waits for it, and checks the job: COMPLETED with exit code 0, two
# epoch lines from 2 ranks in its output, history.csv with a header and two
# rows. The daemons are always stopped at exit. Last line:
#   slurm test: 1 passed, 0 failed      (exit 0)   or
#   slurm test: 0 passed, 1 failed      (exit 1)
#
# Environment: NNTRAIN (binary; default build/nntrain, built with make if
# missing), KEEP_TMP=1 (keep the temp dir for a look at the logs),
# SLURM_TEST_JOB_TIMEOUT (seconds to wait for the job; 120).
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(cd -- "$here/../.." && pwd)
job_timeout=${SLURM_TEST_JOB_TIMEOUT:-120}

say() { echo "slurm test: $*" >&2; }

passed=0
jobid=
work=
daemons=()   # "name:pidfile:fallback-pid", stopped in reverse order

stop_pid() { # NAME PID: TERM, wait up to 10 s, then KILL
    local name=$1 pid=$2 i
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        # our own children: reap them so they do not linger as zombies
        wait "$pid" 2>/dev/null || true
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$name ($pid) ignored SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [[ -n $jobid ]] && command -v scancel >/dev/null; then
        # a job still queued or running (timeout, failure): cancel it and give
        # slurmd a moment to kill its processes before the daemons go
        if timeout 10 squeue -h -j "$jobid" 2>/dev/null | grep -q .; then
            say "cancelling job $jobid"
            timeout 10 scancel "$jobid"
            for ((i = 0; i < 30; i++)); do
                timeout 5 squeue -h -j "$jobid" 2>/dev/null | grep -q . || break
                sleep 0.5
            done
        fi
    fi
    local name pidfile fallback pid
    for ((i = ${#daemons[@]} - 1; i >= 0; i--)); do
        IFS=: read -r name pidfile fallback <<<"${daemons[i]}"
        pid=$(cat "$pidfile" 2>/dev/null || true)
        [[ -n $pid ]] || pid=$fallback
        stop_pid "$name" "$pid"
        [[ $pid == "$fallback" ]] || stop_pid "$name" "$fallback"
    done
    if ((passed != 1)) && [[ -n $work && -d $work ]]; then
        for f in "$work"/log/*.log; do
            [[ -f $f ]] || continue
            echo "---- last lines of $f" >&2
            tail -n 15 "$f" >&2
        done
    fi
    if [[ -n $work && -d $work ]]; then
        if [[ ${KEEP_TMP:-0} == 1 ]]; then say "kept $work"; else rm -rf "$work"; fi
    fi
    if ((passed == 1 && rc == 0)); then
        echo "slurm test: 1 passed, 0 failed"
        exit 0
    fi
    echo "slurm test: 0 passed, 1 failed"
    exit 1
}
trap cleanup EXIT
trap 'say "interrupted"; exit 1' INT TERM

fail() { say "FAIL: $*"; exit 1; }

[[ $(id -u) == 0 ]] || fail "needs root (installs packages, runs slurmd)"

# --- 1. Slurm and munge -------------------------------------------------------
need=(slurmctld slurmd sbatch squeue sinfo scontrol scancel munged munge unmunge)
missing() { local c; for c in "${need[@]}"; do command -v "$c" >/dev/null || return 0; done; return 1; }
PATH=$PATH:/usr/sbin:/sbin
if missing; then
    say "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    if ! timeout 240 apt-get install -y -q slurm-wlm munge >/dev/null; then
        say "install failed; running apt-get update and retrying"
        timeout 120 apt-get update -q >/dev/null || true
        timeout 240 apt-get install -y -q slurm-wlm munge >/dev/null ||
            fail "apt-get install slurm-wlm munge failed"
    fi
    missing && fail "still missing after install: one of ${need[*]}"
fi

# --- 2. nntrain ---------------------------------------------------------------
nntrain=${NNTRAIN:-build/nntrain}
[[ $nntrain == /* ]] || nntrain=$root/$nntrain
if [[ ! -x $nntrain ]]; then
    [[ -z ${NNTRAIN:-} ]] || fail "NNTRAIN=$NNTRAIN is not an executable"
    for try in 1 2 3; do
        say "building nntrain (make, try $try)"
        timeout 300 make -C "$root" -s >/dev/null 2>&1 && [[ -x $nntrain ]] && break
        ((try < 3)) && { say "build failed (others may be editing); retrying in 60 s"; sleep 60; }
    done
    [[ -x $nntrain ]] || fail "could not build $nntrain"
fi

# --- 3. private dir, tiny data set -------------------------------------------
work=$(mktemp -d /tmp/nntrain-slurm.XXXXXX)
# munged wants execute permission for all on every directory above its socket
chmod 711 "$work"
mkdir -p "$work"/{munge,state,spool,log,data}
chmod 711 "$work/munge"

perl -e '
    use strict; use warnings;
    my ($dir) = @ARGV;
    srand(7);
    for my $set (["train", 600], ["t10k", 100]) {
        my ($name, $n) = @$set;
        open(my $img, ">:raw", "$dir/$name-images-idx3-ubyte") or die "$!";
        open(my $lab, ">:raw", "$dir/$name-labels-idx1-ubyte") or die "$!";
        print $img pack("NNNN", 0x00000803, $n, 28, 28);
        print $lab pack("NN", 0x00000801, $n);
        for my $i (0 .. $n - 1) {
            my $y = $i % 10;
            # digit y lights up a band of columns, so the classes are learnable
            my $pix = join "", map { my $c = $_ % 28;
                ($c >= 2 * $y + 2 && $c < 2 * $y + 8) ? chr(128 + int(rand(128))) : chr(int(rand(20))) } 0 .. 783;
            print $img $pix;
            print $lab chr($y);
        }
        close $img or die; close $lab or die;
    }' "$work/data"
[[ $(stat -c %s "$work/data/train-images-idx3-ubyte") == $((16 + 600 * 784)) ]] ||
    fail "tiny data set not written"

# --- 4. munged ----------------------------------------------------------------
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
sock=$work/munge/munge.sock
munged -F --socket="$sock" --key-file="$work/munge/munge.key" \
    --log-file="$work/log/munged.log" --pid-file="$work/munge/munged.pid" \
    --seed-file="$work/munge/munged.seed" >>"$work/log/munged.log" 2>&1 &
daemons+=("munged:$work/munge/munged.pid:$!")
for ((i = 0; i < 50; i++)); do
    [[ -S $sock ]] && timeout 5 munge -S "$sock" -n 2>/dev/null |
        timeout 5 unmunge -S "$sock" >/dev/null 2>&1 && break
    sleep 0.2
done
timeout 5 munge -S "$sock" -n | timeout 5 unmunge -S "$sock" >/dev/null ||
    fail "private munged did not come up"

# --- 5. slurm.conf, slurmctld, slurmd ----------------------------------------
node=$(hostname -s)
# the node line as slurmd sees the hardware: CPUs, sockets, cores, memory
hw=$(timeout 20 slurmd -C | head -n 1 | sed -e 's/^NodeName=[^ ]* //')
[[ $hw == *CPUs=* ]] || fail "slurmd -C gave no node description"
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$((20000 + ($$ * 7) % 20000))
for ((i = 0; i < 200; i++)); do
    port_busy "$port" || port_busy $((port + 1)) || break
    port=$((port + 2))
done

conf=$work/slurm.conf
cat >"$conf" <<EOF
ClusterName=nntraintest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
InactiveLimit=0
KillWait=5
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$node NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$conf

slurmctld -D -f "$conf" >>"$work/log/slurmctld.stdout" 2>&1 &
daemons+=("slurmctld:$work/slurmctld.pid:$!")
for ((i = 0; i < 50; i++)); do
    timeout 5 scontrol ping 2>/dev/null | grep -q UP && break
    sleep 0.3
done
timeout 5 scontrol ping 2>/dev/null | grep -q UP || fail "slurmctld did not come up"

slurmd -D -f "$conf" -N "$node" >>"$work/log/slurmd.stdout" 2>&1 &
daemons+=("slurmd:$work/slurmd.pid:$!")
state=
for ((i = 0; i < 100; i++)); do
    state=$(timeout 5 sinfo -h -N -n "$node" -o %t 2>/dev/null || true)
    [[ $state == idle ]] && break
    sleep 0.3
done
[[ $state == idle ]] || fail "node $node is '$state', not idle"
say "cluster up: node $node ($hw), ports $port/$((port + 1)), dir $work"

# --- 6. submit train-cpu.sbatch -----------------------------------------------
out=$work/run
set +e
NNTRAIN=$nntrain \
NNTRAIN_ARGS="--data mnist:$work/data --model mlp --epochs 2 --batch 100 --lr 0.5 --out $out" \
    timeout "$job_timeout" sbatch --parsable --wait --nodes=1 --ntasks-per-node=2 \
        --cpus-per-task=1 --time=00:05:00 --job-name=nntrain-test \
        --output="$work/slurm-%j.out" --chdir="$root" \
        "$root/launch/slurm/train-cpu.sbatch" >"$work/sbatch.out" 2>"$work/sbatch.err"
sbatch_rc=$?
set -e
jobid=$(grep -m1 -o '^[0-9]\+' "$work/sbatch.out" || true)
[[ -n $jobid ]] || { cat "$work/sbatch.err" >&2; fail "sbatch did not submit (rc $sbatch_rc)"; }
joblog=$work/slurm-$jobid.out
show_log() { [[ -f $joblog ]] && { echo "---- $joblog" >&2; cat "$joblog" >&2; }; return 0; }
((sbatch_rc != 124)) || { show_log; fail "job $jobid did not finish within ${job_timeout}s"; }
((sbatch_rc == 0)) || { show_log; cat "$work/sbatch.err" >&2; fail "job $jobid: sbatch --wait exit code $sbatch_rc"; }

# --- 7. checks -----------------------------------------------------------------
info=$(timeout 10 scontrol show job "$jobid" 2>/dev/null || true)
jstate=$(grep -o 'JobState=[A-Z_]*' <<<"$info" | cut -d= -f2 || true)
jexit=$(grep -o ' ExitCode=[0-9:]*' <<<"$info" | cut -d= -f2 || true)
[[ $jstate == COMPLETED ]] || { show_log; fail "job $jobid state '$jstate', expected COMPLETED"; }
[[ $jexit == 0:0 ]] || { show_log; fail "job $jobid exit code '$jexit', expected 0:0"; }
[[ -f $joblog ]] || fail "no job output $joblog"
epochs=$(grep -cE '^ *[0-9]+ +[0-9]+\.[0-9]+ +[0-9]+\.[0-9]+ ' "$joblog" || true)
((epochs == 2)) || { show_log; fail "job output has $epochs epoch lines, expected 2"; }
grep -q ' 2 rank(s)' "$joblog" || { show_log; fail "job output does not show 2 ranks"; }
grep -q '^train-cpu.sbatch: .*ranks=2 threads/rank=1' "$joblog" ||
    { show_log; fail "job output lacks the settings line"; }
[[ -f $out/history.csv ]] || { show_log; fail "no $out/history.csv"; }
lines=$(wc -l <"$out/history.csv")
((lines == 3)) || { cat "$out/history.csv" >&2; fail "history.csv has $lines lines, expected 3"; }
[[ -s $out/checkpoint.h5 ]] || fail "no $out/checkpoint.h5"
say "job $jobid COMPLETED 0:0; $epochs epoch lines from 2 ranks; history.csv $lines lines"
sed 's/^/  | /' "$joblog" >&2
passed=1
