#!/usr/bin/env bash
# results/bench: the benchmark outputs (docs/benchmarks.md; results/README.md
# lists every file and the script that wrote it). This reruns `make bench`,
# which rewrites results/bench/bench.txt (about tens of minutes on 2 cores;
# needs MNIST, fetches CIFAR-10 when missing). The other files come from the
# scripts named in results/README.md, run by hand; the A/B files need the two
# builds they compare (tests/bench/ab.sh OLD NEW).
set -euo pipefail
cd "$(dirname "$0")/../.."
make bench "$@"
