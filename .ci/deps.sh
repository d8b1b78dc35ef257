#!/usr/bin/env bash
# .ci/deps.sh: install nntrain's build and test dependencies from Debian.
# Used by `make deps` and by .ci/run. Uses sudo when not root.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
PKGS=(build-essential pkg-config libopenblas-dev libhdf5-dev hdf5-tools libopenmpi-dev
      openmpi-bin libcunit1-dev zlib1g-dev libjpeg62-turbo-dev libpng-dev gnuplot-nox
      python3 gzip bc time file clang libclang-rt-14-dev
      libonnx-dev protobuf-c-compiler libprotobuf-c-dev python3-onnx python3-h5py nodejs)
# nntrain export (ONNX) and its tests: protoc-c over Debian's onnx.proto, the
# ONNX checker and h5py for tests/onnx, node for onnxruntime-node (which the
# suite installs with npm); npm only where node came without it (NodeSource's
# nodejs ships its own).
command -v npm >/dev/null 2>&1 || PKGS+=(npm)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "all build dependencies are installed"
fi
