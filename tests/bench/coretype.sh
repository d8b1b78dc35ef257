# tests/bench/coretype.sh (sourced): best_coretype prints the OpenBLAS kernel the
# benchmarks force, by the launchers' rule (launch/nntrain-mpi): SkylakeX when
# /proc/cpuinfo has avx512f+bw+vl+dq, Haswell with avx2+fma, else the kernel
# OpenBLAS picks by itself (read from the sgemm probe given as $1). Forcing a
# kernel the CPU cannot run kills the process with SIGILL, so it is never
# hard-coded.
best_coretype() {
    local flags f ok
    flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2-) "
    has() { for f; do [[ $flags == *" $f "* ]] || return 1; done; }
    if has avx512f avx512bw avx512vl avx512dq; then echo SkylakeX
    elif has avx2 fma; then echo Haswell
    elif [[ -n ${1:-} ]]; then env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 "$1" 64 | awk '{ print $2 }'
    else echo Prescott
    fi
}
