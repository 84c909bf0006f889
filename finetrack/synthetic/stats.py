"""Size and difficulty statistics of a MOTChallenge data set (synthetic or not)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Sequence, Union

import numpy as np

from finetrack.data.mot import list_sequences, read_det, read_gt, read_seqinfo

PathLike = Union[str, os.PathLike]


def _match_count(gt_xyxy: np.ndarray, det_xyxy: np.ndarray, iou_thresh: float) -> int:
    from scipy.optimize import linear_sum_assignment

    from finetrack.structures import box_iou_xyxy

    if len(gt_xyxy) == 0 or len(det_xyxy) == 0:
        return 0
    iou = box_iou_xyxy(gt_xyxy, det_xyxy)
    r, c = linear_sum_assignment(-iou)
    return int(np.sum(iou[r, c] >= iou_thresh))


def sequence_statistics(
    seq_dir: PathLike, iou_thresh: float = 0.5, score_thresh: float = 0.0
) -> dict:
    """Statistics of one sequence (see :func:`dataset_statistics`)."""
    seq_dir = Path(seq_dir)
    info = read_seqinfo(seq_dir)
    gt = read_gt(seq_dir / "gt" / "gt.txt", seq_dir.name)
    det = read_det(seq_dir / "det" / "det.txt")
    det_keep = det.scores >= score_thresh
    gt_xyxy = gt.xyxy()
    det_xyxy = det.tlwh[det_keep].copy()
    det_xyxy[:, 2:] += det_xyxy[:, :2]
    det_frames = det.frames[det_keep]
    matched = sum(_match_count(gt_xyxy[gt.frames == f], det_xyxy[det_frames == f], iou_thresh)
                  for f in range(1, info.seq_length + 1))
    ids, counts = np.unique(gt.ids, return_counts=True)
    first = np.asarray([gt.frames[gt.ids == i].min() for i in ids])
    last = np.asarray([gt.frames[gt.ids == i].max() for i in ids])
    return dict(
        name=seq_dir.name, frames=info.seq_length, identities=len(ids), boxes=len(gt),
        det_boxes=int(det_keep.sum()), matched=matched,
        mean_visibility=float(gt.visibility.mean()) if len(gt) else float("nan"),
        occluded_frac=float(np.mean(gt.visibility < 0.5)) if len(gt) else float("nan"),
        entries=int(np.sum(first > 1)), exits=int(np.sum(last < info.seq_length)),
        mean_track_length=float(counts.mean()) if len(ids) else 0.0,
    )


def _find_sequences(root: Path) -> List[Path]:
    if (root / "seqinfo.ini").is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"not a directory: {root}")
    if any(p.is_dir() and (p / "seqinfo.ini").is_file() for p in root.iterdir()):
        return list_sequences(root, mot17_detector=None)
    return [s for split in sorted(p for p in root.iterdir() if p.is_dir())
            for s in list_sequences(split, mot17_detector=None)]


def dataset_statistics(
    root: Union[PathLike, Sequence[PathLike]], iou_thresh: float = 0.5, score_thresh: float = 0.0
) -> dict:
    """Size and difficulty of a MOTChallenge data set (synthetic or not).

    Args:
        root: a data set root (its split folders are scanned), a split folder, one sequence, or a
            list of sequence folders.
        iou_thresh: IoU for a detection to match a gt box (one-to-one, Hungarian, per frame).
        score_thresh: detections below this score are ignored.

    Returns:
        dict with ``sequences``, ``frames``, ``identities`` (summed over sequences), ``boxes`` (gt
        rows), ``boxes_per_frame``, ``mean_visibility``, ``occluded_frac`` (visibility < 0.5),
        ``entries`` / ``exits`` (ids starting after frame 1 / ending before the last frame),
        ``mean_track_length`` (frames per id), ``det_boxes``, ``det_recall`` and
        ``det_precision`` (all gt rows, any visibility), and ``per_sequence`` (a list of dicts).
    """
    if isinstance(root, (list, tuple)):
        seq_dirs = [Path(r) for r in root]
        root = Path(".")
    else:
        root = Path(root)
        seq_dirs = _find_sequences(root)
    if not seq_dirs:
        raise FileNotFoundError(f"no MOTChallenge sequences (folders with seqinfo.ini): {root}")
    per = [sequence_statistics(s, iou_thresh, score_thresh) for s in seq_dirs]
    keys = ("frames", "identities", "boxes", "det_boxes", "matched", "entries", "exits")
    tot = {k: sum(p[k] for p in per) for k in keys}
    boxes = max(tot["boxes"], 1)
    return dict(
        sequences=len(per), frames=tot["frames"], identities=tot["identities"], boxes=tot["boxes"],
        boxes_per_frame=tot["boxes"] / max(tot["frames"], 1),
        mean_visibility=sum(p["mean_visibility"] * p["boxes"] for p in per if p["boxes"]) / boxes,
        occluded_frac=sum(p["occluded_frac"] * p["boxes"] for p in per if p["boxes"]) / boxes,
        entries=tot["entries"], exits=tot["exits"],
        mean_track_length=tot["boxes"] / max(tot["identities"], 1),
        det_boxes=tot["det_boxes"],
        det_recall=tot["matched"] / boxes,
        det_precision=tot["matched"] / max(tot["det_boxes"], 1),
        iou_thresh=iou_thresh, score_thresh=score_thresh, per_sequence=per,
    )


def format_statistics(stats: dict) -> str:
    """A plain-text table of :func:`dataset_statistics` (one row per sequence plus a total)."""
    cols = [("sequence", "name", "{}"), ("frames", "frames", "{}"), ("ids", "identities", "{}"),
            ("boxes", "boxes", "{}"), ("vis", "mean_visibility", "{:.3f}"),
            ("occl<.5", "occluded_frac", "{:.3f}"), ("entries", "entries", "{}"),
            ("exits", "exits", "{}"), ("len", "mean_track_length", "{:.1f}"),
            ("dets", "det_boxes", "{}"), ("recall", "det_recall", "{:.3f}"),
            ("precision", "det_precision", "{:.3f}")]
    rows = []
    for p in stats["per_sequence"]:
        p = dict(p, det_recall=p["matched"] / max(p["boxes"], 1),
                 det_precision=p["matched"] / max(p["det_boxes"], 1))
        rows.append([fmt.format(p[k]) for _, k, fmt in cols])
    total = dict(stats, name=f"total ({stats['sequences']})")
    rows.append([fmt.format(total[k]) for _, k, fmt in cols])
    head = [c[0] for c in cols]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]

    def line(r):
        return "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths)))

    out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows[:-1]]
    out += [line(["-" * w for w in widths]), line(rows[-1])]
    out.append(f"(detections matched to gt one-to-one at IoU >= {stats['iou_thresh']}, "
               f"score >= {stats['score_thresh']}; all gt rows count)")
    return "\n".join(out)
