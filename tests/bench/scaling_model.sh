#!/usr/bin/env bash
# tests/bench/scaling_model.sh: the time model for scaling past one machine.
# Per step with N ranks and a fixed global batch B (strong scaling):
#   compute(N)   = t1 / N               t1: measured step time on one rank
#   allreduce(N) = 2 (N-1)/N * S / BW + 2 (N-1) * LAT     (ring allreduce)
#   efficiency   = compute(N) / (compute(N) + allreduce(N))   (no overlap)
# Usage: scaling_model.sh NAME T1_MS BYTES   (prints one table)
set -euo pipefail
name=$1 t1=$2 bytes=$3
printf "%-10s t1=%.3f ms/step, allreduce %.2f MB/step\n" "$name" "$t1" "$(echo "$bytes / 1000000" | bc -l)"
printf "  %-22s %8s %8s %8s\n" "network" "N=4" "N=16" "N=64"
for net in "10 Gbit/s (lat 20us)|1.25e9|20e-6" "100 Gbit/s (lat 2us)|12.5e9|2e-6"; do
    IFS='|' read -r label bw lat <<< "$net"
    printf "  %-22s" "$label"
    for n in 4 16 64; do
        awk -v t1="$t1" -v s="$bytes" -v bw="$bw" -v lat="$lat" -v n="$n" 'BEGIN {
            c = t1 / 1000 / n; a = 2 * (n - 1) / n * s / bw + 2 * (n - 1) * lat
            printf " %7.0f%%", 100 * c / (c + a) }'
    done
    echo
done
