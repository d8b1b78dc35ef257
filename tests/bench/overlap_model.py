#!/usr/bin/env python3
"""tests/bench/overlap_model.py: the weak-scaling time model, from measurements.

Input: the log of ONE rank's training run with --profile (nntrain prints, at
the end, the seconds per phase and every layer's forward and backward time per
step with the bytes of its gradients). Output: the projected efficiency of
weak scaling (the per-rank batch fixed, so the compute per step stays t_c) to
N = 4, 16, 64, 256 ranks on 10 and 100 Gbit/s networks, without and with the
gradient reduction overlapped with the backward pass:

  buckets      the layers' gradients in backward order, cut at layer
               boundaries once a bucket holds >= BUCKET_MB (as DDP's buckets)
  ready_j      t_fwd + the backward time of the layers up to bucket j's last
  allreduce(S) 2 (N-1)/N S / BW + 2 (N-1) LAT       (ring, bandwidth-optimal)
  no overlap   step = t_fwd + t_bwd + allreduce(all) + t_opt
  overlap      the network takes the buckets in order:
               fin_j = max(ready_j, fin_(j-1)) + allreduce(S_j)
               step  = max(t_fwd + t_bwd, fin_last) + t_opt
  efficiency   (t_fwd + t_bwd + t_opt) / step

Usage: overlap_model.py LOG [--bucket-mb 1] [--name NAME]
       overlap_model.py --check LOG_ONESHOT LOG_OVERLAP --ranks N [--bucket-mb M]
         (two --profile logs of the same N-rank training, --bucket-mb 0 and M:
         the link's rate fitted to the first's reduce time, the model's step
         times next to the measured ones; tests/bench/overlap.sh runs it)
"""
import argparse
import re
import sys

NETWORKS = [("10 Gbit/s, 20 us", 1.25e9, 20e-6), ("100 Gbit/s, 2 us", 12.5e9, 2e-6)]
RANKS = [4, 16, 64, 256]


def parse(path):
    """(layers [(fwd_ms, bwd_ms, bytes)] in backward order, phases {name: s}, steps)."""
    layers, phases, steps, names = [], {}, None, None
    for line in open(path, encoding="utf-8", errors="replace"):
        m = re.match(r"time per layer, rank 0, ms per step over (\d+) steps( after the first)?", line)
        if m:  # the per-layer times leave out the first step; the phases below do not
            steps = int(m.group(1)) + (1 if m.group(2) else 0)
        m = re.match(r"\s+layer \S+\s+\S+\s+forward\s+([\d.]+) backward\s+([\d.]+) bytes (\d+)", line)
        if m:
            layers.append((float(m.group(1)), float(m.group(2)), int(m.group(3))))
        if re.match(r"\s+data\s+exchange\s+forward", line):
            names = line.split()
        m = re.match(r"\s+rank 0\s+([\d.\s]+)$", line)
        if m and names:
            phases = dict(zip(names, map(float, m.group(1).split())))
    if not layers or steps is None:
        sys.exit(f"{path}: no per-layer times (train with --profile, and without --quiet)")
    return layers, phases, steps


def allreduce(size, n, bw, lat):
    return 2 * (n - 1) / n * size / bw + 2 * (n - 1) * lat if n > 1 else 0.0


def buckets(layers, bucket_bytes):
    """[(ready_s, bytes)] in backward order."""
    out, t, cur = [], sum(f for f, _, _ in layers) / 1e3, 0
    for i, (_, b, nbytes) in enumerate(layers):
        t += b / 1e3
        cur += nbytes
        if cur and (cur >= bucket_bytes or i == len(layers) - 1):
            out.append((t, cur))
            cur = 0
    return out


def step_times(layers, t_opt, n, bw, lat, bucket_bytes):
    t_fwd = sum(f for f, _, _ in layers) / 1e3
    t_bwd = sum(b for _, b, _ in layers) / 1e3
    total = sum(nb for _, _, nb in layers)
    plain = t_fwd + t_bwd + allreduce(total, n, bw, lat) + t_opt
    fin = 0.0
    for ready, size in buckets(layers, bucket_bytes):
        fin = max(ready, fin) + allreduce(size, n, bw, lat)
    overlap = max(t_fwd + t_bwd, fin) + t_opt
    return t_fwd + t_bwd + t_opt, plain, overlap


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log", nargs="+")
    ap.add_argument("--bucket-mb", type=float, default=1.0)
    ap.add_argument("--name", default=None)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--ranks", type=int, default=2)
    a = ap.parse_args()
    bucket = a.bucket_mb * 1e6
    layers, phases, steps = parse(a.log[0])
    t_opt = phases.get("optim", 0.0) / steps
    if a.check:
        # The model against two measured runs of the same training under N
        # ranks: one reduction after backward (LOG) and overlapped (LOG2).
        # The link's rate is fitted to the first run's reduce time; the
        # model then predicts the second run's step from the layer times.
        _, ph2, steps2 = parse(a.log[1])
        total = sum(nb for _, _, nb in layers)
        red = phases.get("reduce", 0.0) / steps
        bw = 2 * (a.ranks - 1) / a.ranks * total / red if red > 0 else float("inf")
        comp, plain, over = step_times(layers, t_opt, a.ranks, bw, 0.0, bucket)
        def measured(ph, n):
            return sum(ph.get(k, 0.0) for k in ("forward", "backward", "wait", "reduce", "optim")) / n
        m1, m2 = measured(phases, steps), measured(ph2, steps2)
        print(f"N={a.ranks}, gradients {total / 1e6:.2f} MB, buckets of >= {a.bucket_mb:g} MB; "
              f"link fitted to the one-shot reduce ({1e3 * red:.2f} ms/step): {bw / 1e9:.2f} GB/s")
        print(f"  step, one reduction after backward: measured {1e3 * m1:.1f} ms, model {1e3 * plain:.1f} ms")
        print(f"  step, overlapped:                   measured {1e3 * m2:.1f} ms, model {1e3 * over:.1f} ms")
        print(f"  reduce left after backward, overlapped: measured {1e3 * ph2.get('reduce', 0) / steps2:.2f} ms/step")
        return
    c, _, _ = step_times(layers, t_opt, 1, 1, 0, bucket)
    total = sum(nb for _, _, nb in layers)
    nb = len(buckets(layers, bucket))
    print(f"{a.name or a.log[0]}: compute {1e3 * c:.2f} ms/step per rank (fwd+bwd+optim), "
          f"gradients {total / 1e6:.2f} MB in {nb} bucket(s) of >= {a.bucket_mb:g} MB")
    print(f"  {'weak scaling efficiency':<34}" + "".join(f"{'N=' + str(n):>9}" for n in RANKS))
    for label, bw, lat in NETWORKS:
        for mode in ("no overlap", "overlap"):
            row = []
            for n in RANKS:
                comp, plain, over = step_times(layers, t_opt, n, bw, lat, bucket)
                row.append(100 * comp / (plain if mode == "no overlap" else over))
            print(f"  {label + ', ' + mode:<34}" + "".join(f"{v:8.0f}%" for v in row))


if __name__ == "__main__":
    main()
