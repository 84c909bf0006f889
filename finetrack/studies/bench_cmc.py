#!/usr/bin/env python
"""Time each camera-motion method per frame on real sequences (finetrack/tracker/cmc.py).

For each sequence, ``--frames`` consecutive frames are read first (the JPEG decode is timed
apart); then, per method, every frame is prepared (grey + resize by ``1 / --downscale``) and the
warp from the previous frame is estimated with that frame pair's det.txt boxes masked, as the
tracking runner does. Reported: ms per frame (prepare + estimate; mean over the frames, best of
``--repeat`` passes) and the mean displacement of the image centre (px).

Usage:
    python scripts/bench_cmc.py SEQ_DIR [SEQ_DIR ...] [--frames 40] [--downscale 2]
        [--threads N] [--repeat 2] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from finetrack.data.mot import MOTSequence
from finetrack.tracker.cmc import CMC_METHODS, build_cmc
from finetrack.utils.io import atomic_write_text

REPO = Path(__file__).resolve().parents[2]


def bench_sequence(seq_dir: str, n: int, downscale: float, repeat: int) -> dict:
    seq = MOTSequence(seq_dir)
    frames = list(range(1, min(n, len(seq)) + 1))
    t0 = time.perf_counter()
    images = [seq.read_frame(f) for f in frames]
    read_ms = 1000 * (time.perf_counter() - t0) / len(frames)
    det = seq.det()
    boxes = [det.for_frame(f)[0] for f in frames]
    size = (images[0].shape[1], images[0].shape[0])
    out = {"sequence": seq.name, "size": f"{size[0]}x{size[1]}", "frames": len(frames),
           "read_ms": read_ms, "methods": {}}
    centre = np.array([size[0] / 2, size[1] / 2])
    for method in CMC_METHODS:
        est = build_cmc(method, downscale=downscale)
        best = float("inf")
        for _ in range(repeat):
            shifts = []
            t0 = time.perf_counter()
            prev = est.prepare(images[0])
            for i in range(1, len(images)):
                cur = est.prepare(images[i])
                w = est.estimate_prepared(prev, cur, size, boxes[i - 1], boxes[i])
                shifts.append(float(np.linalg.norm(w[:, :2] @ centre + w[:, 2] - centre)))
                prev = cur
            best = min(best, 1000 * (time.perf_counter() - t0) / (len(images) - 1))
        out["methods"][method] = {"ms_per_frame": best,
                                  "mean_centre_shift_px": float(np.mean(shifts))}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("seq_dirs", nargs="+")
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--downscale", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=None,
                    help="cv2.setNumThreads (default: OpenCV's)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if args.threads is not None:
        cv2.setNumThreads(args.threads)
    try:
        results = [bench_sequence(d, args.frames, args.downscale, args.repeat)
                   for d in args.seq_dirs]
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads, downscale {args.downscale}")
    print("| sequence | size | JPEG read | " + " | ".join(CMC_METHODS) + " |")
    print("|---|---|---|" + "---|" * len(CMC_METHODS))
    for r in results:
        cells = [f"{r['methods'][m]['ms_per_frame']:.1f} ms" for m in CMC_METHODS]
        print(f"| {r['sequence']} | {r['size']} | {r['read_ms']:.1f} ms | "
              + " | ".join(cells) + " |")
    if args.json:
        atomic_write_text(args.json, json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
