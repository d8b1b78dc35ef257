# launch/coretype.sh (sourced): the one copy of the rule that picks OpenBLAS's
# kernel for this CPU, used by launch/nntrain-mpi, the sbatch scripts and
# make bench. OpenBLAS 0.3.21 (Debian bookworm) does not recognise some newer
# CPUs and falls back to its generic 'Prescott' kernel, up to 5x slower. A
# kernel the CPU cannot run kills the process with SIGILL, so the choice comes
# from /proc/cpuinfo's flags, never from a name written down.

# cpu_coretype: prints SkylakeX (avx512f+bw+vl+dq) or Haswell (avx2+fma), or
# nothing when neither fits (OpenBLAS then decides alone).
cpu_coretype() {
    local flags f
    flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2-) "
    _has() { for f; do [[ $flags == *" $f "* ]] || return 1; done; }
    if _has avx512f avx512bw avx512vl avx512dq; then echo SkylakeX
    elif _has avx2 fma; then echo Haswell
    fi
}

# set_coretype: exports OPENBLAS_CORETYPE from cpu_coretype unless the user
# already set it, and says where the value came from in $coretype_from.
set_coretype() {
    local c
    coretype_from=environment
    [[ -z ${OPENBLAS_CORETYPE:-} ]] || return 0
    c=$(cpu_coretype)
    if [[ -n $c ]]; then
        export OPENBLAS_CORETYPE=$c
        coretype_from=cpuinfo
    else
        coretype_from="none (OpenBLAS decides)"
    fi
}
