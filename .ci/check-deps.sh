#!/usr/bin/env bash
# .ci/check-deps.sh: does this machine have what nntrain needs? Installs nothing
# and needs no root (make check-deps; make mnist runs it first).
#
#   bash .ci/check-deps.sh           build + run (make, make mnist)
#   bash .ci/check-deps.sh --test    also what make test needs
#
# Each library is checked by compiling and linking a one-line program with the
# flags the Makefile uses (CC, HDF5_CFLAGS and HDF5_LIBS come from make), so
# the answer holds on any distribution. Prints one line per missing piece
# with the Debian package that has it, and exits 1 if anything is missing.
set -uo pipefail

test_deps=0
[[ ${1:-} == --test ]] && test_deps=1
CC=${CC:-mpicc}
HDF5_CFLAGS=${HDF5_CFLAGS:-$(pkg-config --cflags hdf5-serial 2>/dev/null || echo -I/usr/include/hdf5/serial)}
HDF5_LIBS=${HDF5_LIBS:-$(pkg-config --libs hdf5-serial 2>/dev/null || echo -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5)}

missing=()
miss() { missing+=("$1"); echo "check-deps: missing: $1" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nntrain-check-deps-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if ! have "$CC"; then
    if [[ $CC == mpicc ]]; then
        miss "mpicc, Open MPI's compiler wrapper (Debian: libopenmpi-dev; or build without MPI: make MPI=0)"
    else
        miss "the C compiler '$CC' (Debian: build-essential)"
    fi
else
    # lib "HEADERS" "LINK FLAGS" "what (Debian package)"
    lib() {
        local h
        : >"$tmp/t.c"
        for h in $1; do printf '#include <%s>\n' "$h" >>"$tmp/t.c"; done
        printf 'int main(void) { return 0; }\n' >>"$tmp/t.c"
        # shellcheck disable=SC2086  # flag lists
        "$CC" $HDF5_CFLAGS "$tmp/t.c" -o "$tmp/t" $2 >"$tmp/log" 2>&1 || miss "$3"
    }
    lib cblas.h "-lopenblas" "OpenBLAS with cblas.h (Debian: libopenblas-dev)"
    lib hdf5.h "$HDF5_LIBS" "the HDF5 C library and headers, serial (Debian: libhdf5-dev; elsewhere set HDF5_CFLAGS and HDF5_LIBS)"
    lib zlib.h "-lz" "zlib (Debian: zlib1g-dev)"
    lib "stdio.h jpeglib.h" "-ljpeg" "libjpeg or libjpeg-turbo, with jpeglib.h (Debian: libjpeg62-turbo-dev)"
    lib png.h "-lpng" "libpng (Debian: libpng-dev)"
    ((test_deps)) && lib CUnit/Basic.h "-lcunit" "CUnit, for the unit tests (Debian: libcunit1-dev)"
fi
[[ $CC != mpicc ]] || have mpirun || miss "mpirun, Open MPI's launcher (Debian: openmpi-bin)"
have gnuplot || miss "gnuplot, which draws the curves and confusion matrices (Debian: gnuplot-nox)"
have gzip || miss "gzip (Debian: gzip)"
have sha256sum || miss "sha256sum, to verify downloaded data (Debian: coreutils)"
if ((test_deps)); then
    have h5dump || miss "h5dump, used by the tests (Debian: hdf5-tools)"
    have python3 || miss "python3, used by the tests (Debian: python3)"
    have bc || miss "bc, used by the tests (Debian: bc)"
    [[ -x /usr/bin/time ]] || miss "GNU time at /usr/bin/time, used by the tests (Debian: time)"
    have file || miss "file, used by the tests (Debian: file)"
fi

if ((${#missing[@]})); then
    echo "check-deps: ${#missing[@]} missing. On Debian, 'make deps' installs them all (root or sudo);" \
         "elsewhere install the equivalents (.ci/deps.sh lists what each is for)." >&2
    exit 1
fi
echo "check-deps: everything the build$( ((test_deps)) && echo ", the tests" ) and make mnist need is here"
