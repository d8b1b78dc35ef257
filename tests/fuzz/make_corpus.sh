#!/usr/bin/env bash
# make_corpus.sh: (re)generate the seed corpus tests/fuzz/corpus/<target>/ with
# make_corpus.c, built against the fuzz build of the library (make fuzz builds it).
#   bash tests/fuzz/make_corpus.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZ_DIR=${FUZZ_DIR:-build/fuzz}
make -s "$FUZZ_DIR/libnntrain.a"
HDF5_CFLAGS=$(pkg-config --cflags hdf5-serial 2>/dev/null || echo -I/usr/include/hdf5/serial)
HDF5_LIBS=$(pkg-config --libs hdf5-serial 2>/dev/null || echo -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5)
clang -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Wshadow -Iinclude \
    $HDF5_CFLAGS -O1 -g -fsanitize=address,undefined -o "$FUZZ_DIR/make_corpus" \
    tests/fuzz/make_corpus.c "$FUZZ_DIR/libnntrain.a" $HDF5_LIBS -lopenblas -lz -lm -lpthread \
    -ljpeg -lpng
rm -rf tests/fuzz/corpus
ASAN_OPTIONS=detect_leaks=1 "$FUZZ_DIR/make_corpus" tests/fuzz/corpus
du -sh tests/fuzz/corpus
for d in tests/fuzz/corpus/*/; do echo "$(basename "$d"): $(ls "$d" | wc -l) files, $(du -sk "$d" | cut -f1) KB"; done
