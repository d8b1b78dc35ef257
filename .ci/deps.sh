#!/usr/bin/env bash
# .ci/deps.sh: install nntrain's dependencies from Debian packages.
#
#   bash .ci/deps.sh            build, run and test packages (make deps)
#   bash .ci/deps.sh --fuzz     the same plus the fuzzing-only ones (make deps-fuzz; CI)
#   bash .ci/deps.sh --list [--fuzz]   print the package names and exit
#
# Installs with apt-get, through sudo when not root. Only packages that are not
# installed yet are installed; with everything present it changes nothing and
# needs no root. Other distributions: the names below are Debian's (bookworm);
# the script says so and lists what to look for instead of guessing a package
# manager. `make check-deps` (.ci/check-deps.sh) checks what the build and the
# main job need by compiling against the libraries, on any distribution.
set -euo pipefail

fuzz=0 list=0
for a in "$@"; do
    case $a in
        --fuzz) fuzz=1 ;;
        --list) list=1 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "deps.sh: unknown option '$a' (--fuzz, --list)" >&2; exit 2 ;;
    esac
done

# ---- Debian (bookworm) package names: only this block is Debian-specific ----
# build and run: compiler, MPI, OpenBLAS, HDF5, zlib, libjpeg-turbo, libpng, gnuplot
RUNTIME=(build-essential pkg-config libopenmpi-dev openmpi-bin libopenblas-dev libhdf5-dev
         zlib1g-dev libjpeg62-turbo-dev libpng-dev gnuplot-nox gzip)
# make test: CUnit, the tools the test scripts call (h5dump, python3, bc, time, file)
TEST=(libcunit1-dev hdf5-tools python3 bc time file)
# nntrain export (ONNX) and its tests: protoc-c over Debian's onnx.proto, the ONNX
# checker and h5py for tests/onnx, node for onnxruntime-node (the suite installs
# it with npm); npm only where node came without it (NodeSource's ships its own)
TEST+=(libonnx-dev protobuf-c-compiler libprotobuf-c-dev python3-onnx python3-h5py nodejs)
command -v npm >/dev/null 2>&1 || TEST+=(npm)
# make fuzz only: clang with its libFuzzer runtime (bookworm's clang is 14)
FUZZ=(clang libclang-rt-14-dev)
# ------------------------------------------------------------------------------

PKGS=("${RUNTIME[@]}" "${TEST[@]}")
((fuzz)) && PKGS+=("${FUZZ[@]}")

if ((list)); then printf '%s\n' "${PKGS[@]}"; exit 0; fi

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    cat >&2 <<'EOF'
deps.sh: this script installs Debian packages (apt-get), and this system has no apt-get/dpkg.
Install these with your distribution's package manager (names differ):
  build and run: a C11 compiler, Open MPI (mpicc, mpirun; headers), OpenBLAS (with cblas.h),
                 HDF5 C library and headers (serial), zlib, libjpeg or libjpeg-turbo, libpng,
                 gnuplot, pkg-config, gzip
  make test:     CUnit (headers), the HDF5 tools (h5dump), python3, bc, GNU time, file
  make fuzz:     clang with its libFuzzer runtime (compiler-rt)
Then `make check-deps` says whether the build finds them (pkg-config's hdf5-serial, or set
HDF5_CFLAGS / HDF5_LIBS on the make command line).
EOF
    exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
    echo "deps.sh: all $( ((fuzz)) && echo "build, test and fuzzing" || echo "build and test") packages are installed"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "deps.sh: missing packages: ${missing[*]}" >&2
        echo "deps.sh: not root and no sudo: install them as root (apt-get install ${missing[*]})" >&2
        exit 1
    fi
    SUDO="sudo"
fi
echo "deps.sh: installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
