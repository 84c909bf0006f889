#!/usr/bin/env python
"""Time ``Tracker.update`` per frame for each mode, and boxmot's ByteTrack when importable.

Detections: PETS09-S2L1 det.txt (``--source pets``, default when present) with random
L2-normalised embeddings of dimension 256 + 6 * 128 (FineTrack's global + 6 parts), or a synthetic
crowd (``--source crowd``, ~``--targets`` boxes per frame) with per-identity embeddings of the same
dimension. Everything is prepared before timing; only the ``update`` calls are timed. boxmot's
ByteTrack (if ``import boxmot`` works in this python) gets the same detections, as float32 (N, 6)
rows, in the same process.

Usage:
    python scripts/bench_tracker.py [--json OUT] [--frames N] [--source pets|crowd] [--repeat R]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from finetrack.tracker import MODES, Tracker  # noqa: E402
from finetrack.tracker.sim import load_mot_det, synthetic_crowd  # noqa: E402
from finetrack.utils.io import atomic_write_text  # noqa: E402

logger = logging.getLogger("bench_tracker")
PETS = REPO.parent / "shared" / "data" / "MOT15" / "train" / "PETS09-S2L1" / "det" / "det.txt"
PETS_FPS = 7.0
EMB_DIM = 256 + 6 * 128


def load_frames(source: str, n_frames: Optional[int], targets: int, seed: int):
    """Returns (list of (N, 5) [x1, y1, x2, y2, score] arrays, list of (N, D) embeddings, fps).

    PETS embeddings are random unit vectors (no identity information); crowd embeddings are
    per-identity unit vectors plus noise (:func:`synthetic_crowd`).
    """
    rng = np.random.default_rng(seed)
    if source == "pets":
        frames, fps = load_mot_det(PETS), PETS_FPS
        frames = frames[:n_frames] if n_frames else frames
        embs = []
        for d in frames:
            e = rng.normal(size=(len(d), EMB_DIM)).astype(np.float32)
            embs.append(e / np.linalg.norm(e, axis=1, keepdims=True))
    else:
        crowd = synthetic_crowd(n_frames=n_frames or 300, n_targets=targets, emb_dim=EMB_DIM,
                                seed=seed)
        frames, fps = [np.c_[f.xyxy, f.scores] for f in crowd], 30.0
        embs = [f.emb for f in crowd]
    return frames, embs, fps


def time_run(step: Callable[[int], None], n: int, repeat: int, reset: Callable[[], None]) -> float:
    """Median over ``repeat`` passes of the mean ms per frame."""
    per_pass = []
    for _ in range(repeat):
        reset()
        t = 0.0
        for i in range(n):
            t0 = time.perf_counter()
            step(i)
            t += time.perf_counter() - t0
        per_pass.append(1000.0 * t / max(n, 1))
    return float(np.median(per_pass))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", default=None, help="write {mode: ms/frame} here")
    p.add_argument("--frames", type=int, default=None, help="limit the number of frames")
    p.add_argument("--source", choices=("pets", "crowd"), default=None)
    p.add_argument("--targets", type=int, default=80, help="crowd: identities per frame")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-boxmot", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    source = args.source or ("pets" if PETS.is_file() else "crowd")
    frames, embs, fps = load_frames(source, args.frames, args.targets, args.seed)
    n = len(frames)
    boxes_per_frame = float(np.mean([len(d) for d in frames]))
    logger.info("source %s: %d frames, %.1f boxes/frame, %d-d embeddings, %.0f fps, repeat %d",
                source, n, boxes_per_frame, EMB_DIM, fps, args.repeat)

    results: Dict[str, float] = {}
    for mode in MODES:
        tr = Tracker(mode=mode, frame_rate=fps)
        use_emb = mode != "byte"

        def step(i, tr=tr, use_emb=use_emb):
            tr.update(frames[i][:, :4], frames[i][:, 4], embs[i] if use_emb else None)

        results[mode] = time_run(step, n, args.repeat, tr.reset)

    boxmot_version = None
    if not args.no_boxmot:
        try:
            import boxmot
            from boxmot import ByteTrack
        except ImportError:
            logger.info("boxmot not importable from %s: skipped", sys.executable)
        else:
            boxmot_version = boxmot.__version__
            rows = []
            for d in frames:
                r = np.zeros((len(d), 6), dtype=np.float32)
                r[:, :5] = d
                rows.append(r)
            holder = {}

            def reset_bm():
                holder["t"] = ByteTrack(min_conf=0.1, track_thresh=0.6, match_thresh=0.8,
                                        track_buffer=30, frame_rate=fps)

            def step_bm(i):
                holder["t"].update(rows[i], None)

            results["boxmot_bytetrack"] = time_run(step_bm, n, args.repeat, reset_bm)

    base = results["byte"]
    logger.info("%-18s %10s %12s", "tracker", "ms/frame", "x byte")
    for k, v in results.items():
        logger.info("%-18s %10.3f %12.2f", k, v, v / base)
    if "boxmot_bytetrack" in results:
        logger.info("boxmot ByteTrack / our byte: %.2fx", results["boxmot_bytetrack"] / base)
    if args.json:
        out = dict(results)
        out["meta"] = {"source": source, "frames": n, "boxes_per_frame": boxes_per_frame,
                       "emb_dim": EMB_DIM, "repeat": args.repeat, "python": sys.executable,
                       "boxmot": boxmot_version, "cpu_count": os.cpu_count()}
        atomic_write_text(args.json, json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
