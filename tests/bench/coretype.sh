# tests/bench/coretype.sh (sourced): best_coretype prints the OpenBLAS kernel the
# benchmarks force: the launchers' choice (launch/coretype.sh), else the kernel
# OpenBLAS picks by itself (read from the sgemm probe given as $1), else Prescott.
. launch/coretype.sh
best_coretype() {
    local c
    c=$(cpu_coretype)
    if [[ -n $c ]]; then echo "$c"
    elif [[ -n ${1:-} ]]; then env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 "$1" 64 | awk '{ print $2 }'
    else echo Prescott
    fi
}
