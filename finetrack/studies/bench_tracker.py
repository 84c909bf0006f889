#!/usr/bin/env python
"""Time ``Tracker.update`` per frame for each mode, and boxmot's ByteTrack when importable.

Detections: PETS09-S2L1 det.txt (``--source pets``, default when present) with random
L2-normalised embeddings of dimension 256 + 6 * 128 (FineTrack's global + 6 parts), or a synthetic
crowd (``--source crowd``, ~``--targets`` boxes per frame) with per-identity embeddings of the same
dimension. Everything is prepared before timing; only the ``update`` calls are timed. boxmot's
ByteTrack (if ``import boxmot`` works in this python) gets the same detections, as float32 (N, 6)
rows, in the same process. The trackers run interleaved (``--repeat`` rounds, each running every
tracker over the whole sequence in a rotated order); the table gives the median pass (CPU time of
this process, and wall time), and the boxmot/byte ratio is the median of the per-round ratios
(robust to other jobs' load).

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
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from finetrack.tracker import MODES, Tracker
from finetrack.synthetic.crowd import load_mot_det, synthetic_crowd
from finetrack.utils.io import atomic_write_text

REPO = Path(__file__).resolve().parents[2]

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


def time_pass(step: Callable[[int], None], n: int,
              reset: Callable[[], None]) -> Tuple[float, float]:
    """(wall, cpu) mean ms per frame of one pass over the ``n`` frames (after ``reset``).

    The CPU time (``time.process_time``, this process only) leaves out the time spent waiting
    while other jobs hold the cores; the wall time does not.
    """
    reset()
    c0, t0 = time.process_time(), time.perf_counter()
    for i in range(n):
        step(i)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return 1000.0 * wall / max(n, 1), 1000.0 * cpu / max(n, 1)


def time_interleaved(runners: Dict[str, tuple], n: int, repeat: int) -> Dict[str, list]:
    """``repeat`` rounds; each round runs every tracker once, in an order rotated per round, so
    that a change of machine load (other jobs on shared cores) hits all of them alike.

    Returns:
        name -> list of per-pass (wall, cpu) ms/frame, one per round.
    """
    names = list(runners)
    out = {k: [] for k in names}
    for r in range(repeat):
        for k in names[r % len(names):] + names[:r % len(names)]:
            reset, step = runners[k]
            out[k].append(time_pass(step, n, reset))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    p.add_argument("--json", default=None, help="write the per-tracker medians and passes here")
    p.add_argument("--frames", type=int, default=None, help="limit the number of frames")
    p.add_argument("--source", choices=("pets", "crowd"), default=None)
    p.add_argument("--targets", type=int, default=80, help="crowd: identities per frame")
    p.add_argument("--repeat", type=int, default=5)
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

    runners: Dict[str, tuple] = {}
    for mode in MODES:
        tr = Tracker(mode=mode, frame_rate=fps)
        use_emb = mode != "byte"

        def step(i, tr=tr, use_emb=use_emb):
            tr.update(frames[i][:, :4], frames[i][:, 4], embs[i] if use_emb else None)

        runners[mode] = (tr.reset, step)

    boxmot_version = None
    if not args.no_boxmot:
        try:
            import boxmot
            from boxmot import ByteTrack
        except ImportError:
            logger.info("boxmot not importable from %s: skipped", sys.executable)
        else:
            boxmot_version = boxmot.__version__
            logging.getLogger("boxmot").setLevel(logging.WARNING)
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

            runners["boxmot_bytetrack"] = (reset_bm, step_bm)

    load_before = os.getloadavg()
    passes = time_interleaved(runners, n, args.repeat)
    load_after = os.getloadavg()
    wall = {k: float(np.median([p[0] for p in v])) for k, v in passes.items()}
    cpu = {k: float(np.median([p[1] for p in v])) for k, v in passes.items()}
    logger.info("%-18s %12s %12s %10s %10s", "tracker", "cpu ms/frame", "wall ms/frame", "frames/s",
                "x byte")
    for k in passes:
        logger.info("%-18s %12.3f %12.3f %10.0f %10.2f", k, cpu[k], wall[k], 1000.0 / cpu[k],
                    cpu[k] / cpu["byte"])
    ratio = {}
    if "boxmot_bytetrack" in passes:
        # per round, both ran under the same load: the median of the per-round ratios
        for j, clock in enumerate(("wall", "cpu")):
            ratio[clock] = float(np.median([b[j] / o[j] for b, o in
                                            zip(passes["boxmot_bytetrack"], passes["byte"])]))
        logger.info("boxmot ByteTrack / our byte: %.2fx cpu, %.2fx wall (median of %d interleaved "
                    "rounds)", ratio["cpu"], ratio["wall"], args.repeat)
    logger.info("load average (1 min) %.2f before, %.2f after, %d cpus", load_before[0],
                load_after[0], os.cpu_count() or 0)
    if args.json:
        out = {"cpu_ms_per_frame": cpu, "wall_ms_per_frame": wall, "passes": passes}
        out["boxmot_over_byte"] = ratio
        out["meta"] = {"source": source, "frames": n, "boxes_per_frame": boxes_per_frame,
                       "emb_dim": EMB_DIM, "repeat": args.repeat, "python": sys.executable,
                       "boxmot": boxmot_version, "cpu_count": os.cpu_count(),
                       "loadavg_before": load_before, "loadavg_after": load_after}
        atomic_write_text(args.json, json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
