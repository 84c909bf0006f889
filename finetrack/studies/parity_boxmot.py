#!/usr/bin/env python
"""Parity check: our ``byte`` mode against boxmot's ByteTrack on identical detections.

boxmot (PyPI ``boxmot==25.*``) is a peer for comparison, not a dependency: run this script with a
python that has it (e.g. a separate venv, see docs/readme_tracker.md); finetrack is imported from
this checkout (``PYTHONPATH=.`` when that venv does not have it installed).

Three runs per sequence, all on the same float32-rounded detections (boxmot casts to float32):

* ``boxmot``: ``boxmot.ByteTrack(min_conf=0.1, track_thresh, match_thresh, track_buffer,
  frame_rate)``; its ids start at 0 and are shifted by +1 here.
* ``ours_aligned``: ``Tracker(mode="byte")`` with boxmot's conventions (new tracks at
  score >= track_thresh, no output filters). Expected: identical ids, boxes equal to ~1e-3 px.
* ``ours``: ``Tracker(mode="byte")`` with the official ByteTrack/SPEC settings (new tracks at
  score >= track_thresh + 0.1, min box area 100, w/h <= 1.6). Differences are expected and
  reported.

Usage:
    python scripts/parity_boxmot.py [--det PATH ...] [--synthetic-frames N] [--out-dir DIR]
        [--json OUT]
"""
from __future__ import annotations

import argparse
import configparser
import json
import logging
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from finetrack.tracker import Tracker
from finetrack.synthetic.crowd import load_mot_det, synthetic_crowd, write_mot_det
from finetrack.utils.io import atomic_write_text

REPO = Path(__file__).resolve().parents[2]

logger = logging.getLogger("parity_boxmot")
DATA = REPO.parent / "shared" / "data"
DEFAULT_DET = DATA / "MOT15" / "train" / "PETS09-S2L1" / "det" / "det.txt"
BOX_TOL = 1e-2  # px: float32 rounding inside boxmot stays far below this

Rows = Dict[int, Dict[int, Tuple[np.ndarray, float]]]  # frame -> id -> (xyxy, score)


def seq_fps(det_path: Path, default: float) -> float:
    """Frame rate from ``<seq>/seqinfo.ini`` beside ``<seq>/det/det.txt``, else ``default``."""
    ini = det_path.parent.parent / "seqinfo.ini"
    if ini.is_file():
        cp = configparser.ConfigParser()
        cp.read(ini)
        if cp.has_option("Sequence", "frameRate"):
            return float(cp.get("Sequence", "frameRate"))
    return default


def run_ours(frames: List[np.ndarray], **kwargs) -> Rows:
    tr = Tracker(mode="byte", **kwargs)
    out: Rows = {}
    for f, d in enumerate(frames, start=1):
        o = tr.update(d[:, :4], d[:, 4])
        out[f] = {int(i): (b, float(s)) for i, b, s in zip(o.ids, o.xyxy, o.scores)}
    return out


def run_boxmot(frames: List[np.ndarray], track_thresh, match_thresh, track_buffer, fps) -> Rows:
    from boxmot import ByteTrack

    tr = ByteTrack(min_conf=0.1, track_thresh=track_thresh, match_thresh=match_thresh,
                   track_buffer=track_buffer, frame_rate=fps)
    out: Rows = {}
    for f, d in enumerate(frames, start=1):
        dets = np.zeros((len(d), 6), dtype=np.float32)
        dets[:, :5] = d
        o = tr.update(dets, None)  # rows x1,y1,x2,y2,id,conf,cls,det_ind
        out[f] = {int(r[4]) + 1: (r[:4].astype(np.float64), float(r[5])) for r in o}
    return out


def compare(a: Rows, b: Rows, n_frames: int) -> dict:
    """Compare two runs frame by frame.

    Raw comparison: frames where the id sets differ, or a common id's box differs by more than
    BOX_TOL. Id-agnostic comparison: rows are paired across runs by identical boxes (within
    BOX_TOL); unpaired rows are boxes output by one run only, and an id of one run paired with two
    different ids of the other counts as an id conflict (a switch relative to the other run).
    """
    id_frames, box_frames, max_box = [], [], 0.0
    unpaired_a = unpaired_b = 0
    map_ab: Dict[int, int] = {}
    map_ba: Dict[int, int] = {}
    conflicts = 0
    for f in range(1, n_frames + 1):
        ra, rb = a.get(f, {}), b.get(f, {})
        if set(ra) != set(rb):
            id_frames.append(f)
        common = set(ra) & set(rb)
        diff = max((float(np.abs(ra[i][0] - rb[i][0]).max()) for i in common), default=0.0)
        max_box = max(max_box, diff)
        if diff > BOX_TOL:
            box_frames.append(f)
        free_b = dict(rb)
        for ia, (ba, _) in ra.items():
            hit = next((ib for ib, (bb, _) in free_b.items()
                        if float(np.abs(ba - bb).max()) <= BOX_TOL), None)
            if hit is None:
                unpaired_a += 1
                continue
            del free_b[hit]
            if map_ab.setdefault(ia, hit) != hit or map_ba.setdefault(hit, ia) != ia:
                conflicts += 1
        unpaired_b += len(free_b)
    differ = sorted(set(id_frames) | set(box_frames))
    return {"frames": n_frames, "frames_differ": len(differ), "frames_id_differ": len(id_frames),
            "frames_box_differ": len(box_frames), "max_box_diff_px": max_box,
            "first_differing_frames": differ[:10],
            "rows_first": sum(len(v) for v in a.values()),
            "rows_second": sum(len(v) for v in b.values()),
            "ids_first": len({i for v in a.values() for i in v}),
            "ids_second": len({i for v in b.values() for i in v}),
            "boxes_only_first": unpaired_a, "boxes_only_second": unpaired_b,
            "id_mapping_conflicts": conflicts}


def write_mot(path: Path, rows: Rows) -> None:
    """MOTChallenge results: frame,id,x,y,w,h,score,-1,-1,-1 (sorted by frame, id)."""
    lines = []
    for f in sorted(rows):
        for i in sorted(rows[f]):
            b, s = rows[f][i]
            lines.append(f"{f},{i},{b[0]:.2f},{b[1]:.2f},{b[2] - b[0]:.2f},{b[3] - b[1]:.2f},"
                         f"{s:.4f},-1,-1,-1")
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))


def parity_one(det_path: Path, name: str, fps: float, args) -> dict:
    raw = load_mot_det(det_path)
    frames = [d.astype(np.float32).astype(np.float64) for d in raw]  # what boxmot sees
    th = args.track_thresh
    ties = int(sum(np.sum(np.float32(d[:, 4]) == np.float32(th)) for d in frames))
    common = dict(track_thresh=th, match_thresh=args.match_thresh,
                  track_buffer=args.track_buffer, frame_rate=fps)
    boxmot_rows = run_boxmot(frames, th, args.match_thresh, args.track_buffer, fps)
    aligned = run_ours(frames, new_track_thresh=th, min_box_area=None, max_aspect_ratio=None,
                       **common)
    official = run_ours(frames, **common)
    n = len(frames)
    out_dir = Path(args.out_dir) / name
    write_mot(out_dir / "boxmot_bytetrack.txt", boxmot_rows)
    write_mot(out_dir / "ours_byte_aligned.txt", aligned)
    write_mot(out_dir / "ours_byte.txt", official)
    res = {"det": str(det_path), "fps": fps, "frames": n,
           "detections": int(sum(len(d) for d in frames)),
           "scores_equal_to_track_thresh_in_float32": ties,
           "aligned_vs_boxmot": compare(aligned, boxmot_rows, n),
           "official_vs_boxmot": compare(official, boxmot_rows, n),
           "outputs": str(out_dir)}
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    p.add_argument("--det", action="append", default=None,
                   help="MOT det.txt (repeatable); default PETS09-S2L1 from ../shared/data")
    p.add_argument("--fps", type=float, default=30.0, help="when no seqinfo.ini is found")
    p.add_argument("--synthetic-frames", type=int, default=0,
                   help="also run a synthetic crowd of this many frames (30 fps)")
    p.add_argument("--synthetic-targets", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--track-thresh", type=float, default=0.6)
    p.add_argument("--match-thresh", type=float, default=0.8)
    p.add_argument("--track-buffer", type=int, default=30)
    p.add_argument("--out-dir", default="outputs/parity_boxmot")
    p.add_argument("--json", default=None, help="write the summary here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        import boxmot
    except ImportError:
        logger.error("boxmot is not importable from %s; see docs/readme_tracker.md", sys.executable)
        return 2
    logger.info("boxmot %s, python %s", boxmot.__version__, sys.executable)

    jobs = []
    for d in args.det or ([str(DEFAULT_DET)] if DEFAULT_DET.is_file() else []):
        d = Path(d)
        jobs.append((d, d.parent.parent.name if d.parent.name == "det" else d.stem,
                     seq_fps(d, args.fps)))
    if args.synthetic_frames:
        syn = Path(args.out_dir) / "synthetic" / "det" / "det.txt"
        write_mot_det(syn, synthetic_crowd(n_frames=args.synthetic_frames,
                                           n_targets=args.synthetic_targets, emb_dim=8,
                                           seed=args.seed))
        jobs.append((syn, "synthetic", 30.0))
    if not jobs:
        logger.error("no detections: give --det or --synthetic-frames")
        return 2
    summary = {"boxmot_version": boxmot.__version__, "sequences": {}}
    for det, name, fps in jobs:
        res = parity_one(det, name, fps, args)
        summary["sequences"][name] = res
        a, o = res["aligned_vs_boxmot"], res["official_vs_boxmot"]
        logger.info("%s (%d frames, %d dets, %.0f fps):", name, res["frames"],
                    res["detections"], fps)
        logger.info("  aligned  vs boxmot: %d frames differ (ids %d, boxes %d), max box diff "
                    "%.2e px, rows %d vs %d, ids %d vs %d", a["frames_differ"],
                    a["frames_id_differ"], a["frames_box_differ"], a["max_box_diff_px"],
                    a["rows_first"], a["rows_second"], a["ids_first"], a["ids_second"])
        logger.info("  official vs boxmot: %d frames differ (ids %d, boxes %d), rows %d vs %d, "
                    "ids %d vs %d", o["frames_differ"], o["frames_id_differ"],
                    o["frames_box_differ"], o["rows_first"], o["rows_second"], o["ids_first"],
                    o["ids_second"])
        for key, r in (("aligned ", a), ("official", o)):
            logger.info("  %s id-agnostic: boxes only ours %d, only boxmot %d, id conflicts %d",
                        key, r["boxes_only_first"], r["boxes_only_second"],
                        r["id_mapping_conflicts"])
        logger.info("  results in %s", res["outputs"])
    if args.json:
        atomic_write_text(args.json, json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
