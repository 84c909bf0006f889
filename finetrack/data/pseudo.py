"""Pseudo-identities from an unlabelled video: confident motion-only tracklets (no ground truth).

:func:`track_for_mining` runs the ``byte`` tracker over per-frame detections and records, for every
output box, the *detection* it came from (box, score) and whether that detection was isolated (it
overlaps no other detection of its frame). :func:`mine_tracklets` keeps what is safe to call one
person:

* only isolated frames with a high score (``min_score``): no other person is in the box;
* tracklets with at least ``min_len`` such frames and a mean score of at least ``min_mean_score``;
* at most ``max_per_tracklet`` frames each, spread evenly (long tracklets would dominate).

A tracklet is one pseudo-identity. Two tracklets may be the same person (an id switch of ``byte``);
they are never two people in one tracklet as long as ``byte`` did not swap inside it, which the
isolation rule makes unlikely. :func:`write_pseudo_sequence` writes the kept rows as a MOT15-style
``gt/gt.txt`` in a new sequence folder whose images are a link to the source's, so the project's
Re-ID trainer can train on it unchanged.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Sequence, Tuple

import numpy as np

from finetrack.structures import box_iou_xyxy, xyxy_to_tlwh

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class MinerRules:
    """What makes a tracklet a pseudo-identity (see the module docstring)."""

    min_len: int = 8
    min_score: float = 0.7
    min_mean_score: float = 0.75
    isolation_iou: float = 0.05
    max_per_tracklet: int = 40
    min_height: float = 24.0


def track_for_mining(
    frames: Sequence[Tuple[np.ndarray, np.ndarray]], tracker
) -> np.ndarray:
    """Motion-only tracking that keeps each output's source detection.

    Args:
        frames: per frame ``(xyxy (N, 4), scores (N,))``, frame k of the list is frame k + 1.
        tracker: a :class:`finetrack.tracker.Tracker` in ``byte`` mode (reset here).

    Returns:
        (R, 9) rows ``frame, track_id, x1, y1, x2, y2, score, isolated (0/1), overlap`` where the
        box and score are the matched detection's and ``overlap`` its largest IoU with another
        detection of the frame.
    """
    tracker.reset()
    rows = []
    for k, (xyxy, scores) in enumerate(frames):
        xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
        scores = np.asarray(scores, np.float64).reshape(-1)
        out = tracker.update(xyxy, scores)
        if not len(out.ids):
            continue
        if len(xyxy) > 1:
            iou = box_iou_xyxy(xyxy, xyxy)
            np.fill_diagonal(iou, 0.0)
            overlap = iou.max(axis=1)
        else:
            overlap = np.zeros(len(xyxy))
        d = out.det_indices
        rows.append(np.column_stack([np.full(len(d), k + 1), out.ids, xyxy[d], scores[d],
                                     np.zeros(len(d)), overlap[d]]))
    if not rows:
        return np.zeros((0, 9))
    rows = np.concatenate(rows)
    return rows


def mine_tracklets(rows: np.ndarray, rules: MinerRules = MinerRules()) -> np.ndarray:
    """Keep the confident, isolated parts of long tracklets.

    Args:
        rows: output of :func:`track_for_mining`.
        rules: the rules.

    Returns:
        (K, 7) rows ``frame, pseudo_id (1..P), x1, y1, x2, y2, score``, sorted by frame then id.
    """
    rows = np.asarray(rows, np.float64).reshape(-1, 9)
    if not len(rows):
        return np.zeros((0, 7))
    h = rows[:, 5] - rows[:, 3]
    ok = (rows[:, 8] <= rules.isolation_iou) & (rows[:, 6] >= rules.min_score) & (h >= rules.min_height)
    kept = []
    pid = 0
    for tid in np.unique(rows[:, 1]):
        mine = rows[(rows[:, 1] == tid) & ok]
        if len(mine) < rules.min_len or mine[:, 6].mean() < rules.min_mean_score:
            continue
        if len(mine) > rules.max_per_tracklet:
            pick = np.linspace(0, len(mine) - 1, rules.max_per_tracklet).round().astype(int)
            mine = mine[np.unique(pick)]
        pid += 1
        out = mine[:, :7].copy()
        out[:, 1] = pid
        kept.append(out)
    if not kept:
        return np.zeros((0, 7))
    kept = np.concatenate(kept)
    return kept[np.lexsort((kept[:, 1], kept[:, 0]))]


def write_pseudo_sequence(src_seq_dir: Path, rows: np.ndarray, dst_seq_dir: Path) -> Path:
    """A sequence folder for training: seqinfo.ini copied, img1 linked, gt/gt.txt = pseudo rows.

    Args:
        src_seq_dir: the unlabelled sequence (its images and seqinfo.ini are read, nothing else).
        rows: output of :func:`mine_tracklets`.
        dst_seq_dir: the new sequence folder (must not exist, or be an earlier pseudo folder).

    Returns:
        ``dst_seq_dir``.
    """
    from finetrack.data.mot import read_seqinfo
    from finetrack.utils.io import atomic_write_text

    src = Path(src_seq_dir)
    info = read_seqinfo(src)
    dst = Path(dst_seq_dir)
    (dst / "gt").mkdir(parents=True, exist_ok=True)
    atomic_write_text(dst / "seqinfo.ini", (src / "seqinfo.ini").read_text())
    link = dst / info.im_dir
    target = (src / info.im_dir).resolve()
    if link.is_symlink() and Path(os.readlink(link)).resolve() != target:
        link.unlink()
    if not link.exists():
        link.symlink_to(target, target_is_directory=True)
    tlwh = xyxy_to_tlwh(rows[:, 2:6]) if len(rows) else np.zeros((0, 4))
    lines = [f"{int(r[0])},{int(r[1])},{b[0]:.2f},{b[1]:.2f},{b[2]:.2f},{b[3]:.2f},1,-1,-1,-1"
             for r, b in zip(rows, tlwh)]
    atomic_write_text(dst / "gt" / "gt.txt", "\n".join(lines) + ("\n" if lines else ""))
    return dst


def summary(rows: np.ndarray, mined: np.ndarray) -> dict:
    """Counts for logs and the adaptation report."""
    return {
        "tracked_boxes": int(len(rows)),
        "tracklets": int(len(np.unique(rows[:, 1]))) if len(rows) else 0,
        "pseudo_ids": int(len(np.unique(mined[:, 1]))) if len(mined) else 0,
        "pseudo_boxes": int(len(mined)),
        "frames_with_pseudo_boxes": int(len(np.unique(mined[:, 0]))) if len(mined) else 0,
    }
