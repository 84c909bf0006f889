"""Tracker golden cases: fixed detection sequences, tracker settings and the result file they give.

``tests/tracker/golden.json`` holds, per case, the sha256 of the result file the tracker wrote
*before* its per-frame speed-up (issue 17), its row count and a short digest of every block of
``BLOCK`` frames (so a failure names the first frames that differ); :mod:`test_tracker_golden`
checks that today's tracker writes the same bytes.
Regenerate only when a behaviour change is intended::

    PYTHONPATH=$PWD .venv/bin/python tests/tracker/golden_cases.py
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script
    sys.path.insert(0, str(REPO))

from finetrack.data.results import write_results  # noqa: E402
from finetrack.tracker import Tracker  # noqa: E402
from finetrack.synthetic.crowd import load_mot_det, synthetic_crowd  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "golden.json"
BLOCK = 25
PETS09_DET = REPO.parent / "shared" / "data" / "MOT15" / "train" / "PETS09-S2L1" / "det" / "det.txt"
EMB_DIM = 32

#: name -> (source, n_frames, Tracker kwargs, camera motion per frame or None)
CASES: Dict[str, Tuple[str, int, dict, bool]] = {
    "pets09_byte": ("pets", 795, {"mode": "byte"}, False),
    "pets09_byte_official_iou": ("pets", 795, {"mode": "byte", "iou_pixel_offset": 1.0}, False),
    "pets09_finetrack": ("pets", 200, {"mode": "finetrack"}, False),
    "pets09_jde": ("pets", 200, {"mode": "jde"}, False),
    "pets09_robust": ("pets", 200, {"mode": "robust"}, False),
    "crowd_byte": ("crowd", 80, {"mode": "byte"}, False),
    "crowd_byte_mot20": ("crowd", 80, {"mode": "byte", "mot20": True}, False),
    "crowd_byte_cmc": ("crowd", 80, {"mode": "byte"}, True),
    "crowd_finetrack": ("crowd", 80, {"mode": "finetrack"}, False),
    "crowd_jde": ("crowd", 80, {"mode": "jde"}, False),
    "crowd_robust": ("crowd", 80, {"mode": "robust"}, False),
    "crowd_robust_cmc": ("crowd", 80, {"mode": "robust"}, True),
    "bench_crowd_byte": ("bench_crowd", 300, {"mode": "byte"}, False),
}


def load_source(source: str, n_frames: int) -> Tuple[List[np.ndarray], List[np.ndarray], float]:
    """(per-frame (N, 5) [x1, y1, x2, y2, score], per-frame (N, EMB_DIM) embeddings, fps).

    PETS09: the public det.txt with seeded random unit embeddings; crowd: :func:`synthetic_crowd`
    (30 identities, per-identity embeddings); bench_crowd: the crowd of
    ``scripts/bench_tracker.py --source crowd``.
    """
    if source == "pets":
        frames = load_mot_det(PETS09_DET)[:n_frames]
        rng = np.random.default_rng(17)
        embs = [rng.normal(size=(len(d), EMB_DIM)) for d in frames]
        return frames, embs, 7.0
    if source == "bench_crowd":  # scripts/bench_tracker.py --source crowd (80 identities, 1024-d)
        crowd = synthetic_crowd(n_frames=n_frames, n_targets=80, seed=0)
        return [np.c_[f.xyxy, f.scores] for f in crowd], [f.emb for f in crowd], 30.0
    crowd = synthetic_crowd(n_frames=n_frames, n_targets=30, emb_dim=EMB_DIM, seed=17)
    return [np.c_[f.xyxy, f.scores] for f in crowd], [f.emb for f in crowd], 30.0


def camera_motion(frame: int) -> np.ndarray:
    """(2, 3) affine of frame ``frame`` (1-based): a slow pan with a small oscillating rotation."""
    ang = 0.002 * np.sin(frame / 7.0)
    c, s = np.cos(ang), np.sin(ang)
    return np.array([[c, -s, 3.0 + np.sin(frame / 5.0)], [s, c, -1.5]])


def run_case(name: str, out_path: Path) -> None:
    """Track case ``name`` and write its MOTChallenge result file to ``out_path``."""
    source, n_frames, kwargs, cmc = CASES[name]
    frames, embs, fps = load_source(source, n_frames)
    tracker = Tracker(frame_rate=fps, **kwargs)
    use_emb = kwargs["mode"] != "byte"
    rows_f, rows_id, rows_box, rows_s = [], [], [], []
    for k, (d, e) in enumerate(zip(frames, embs), start=1):
        out = tracker.update(d[:, :4], d[:, 4], e if use_emb else None,
                             warp=camera_motion(k) if cmc else None)
        rows_f.append(np.full(len(out), k))
        rows_id.append(out.ids)
        rows_box.append(out.tlwh)
        rows_s.append(out.scores)
    write_results(out_path, np.concatenate(rows_f), np.concatenate(rows_id),
                  np.concatenate(rows_box), np.concatenate(rows_s))


def digest(text: str) -> dict:
    """sha256, row count and per-``BLOCK``-frame short digests of a result file's text."""
    blocks: Dict[int, List[str]] = {}
    for line in text.splitlines():
        blocks.setdefault((int(line.split(",", 1)[0]) - 1) // BLOCK, []).append(line)
    n_blocks = max(blocks) + 1 if blocks else 0
    return {"sha256": hashlib.sha256(text.encode()).hexdigest(), "rows": len(text.splitlines()),
            "blocks": [hashlib.sha1("\n".join(blocks.get(b, [])).encode()).hexdigest()[:10]
                       for b in range(n_blocks)]}


def main() -> int:
    import tempfile

    from finetrack.utils.io import atomic_write_text

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in CASES:
            p = Path(tmp) / f"{name}.txt"
            run_case(name, p)
            out[name] = digest(p.read_text())
            print(name, out[name]["rows"], "rows")
    atomic_write_text(GOLDEN, json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
