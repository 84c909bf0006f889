"""MOTChallenge preprocessing: GT + tracker rows of one sequence -> per-frame matching inputs.

This mirrors ``trackeval.datasets.MotChallenge2DBox.get_raw_seq_data`` +
``get_preprocessed_seq_data`` (TrackEval 1.3.0) step by step, on the arrays of
:mod:`finetrack.data.mot` instead of TrackEval's text reader:

1. IoU between *all* GT rows of a frame (every class, zero-flag rows included) and all tracker rows.
2. (MOT16/17/20/DanceTrack only, not MOT15) Hungarian matching on IoU >= 0.5; tracker boxes matched
   to a GT box of a distractor class are removed (they are neither TP nor FP).
3. GT rows kept for scoring: flag != 0 and (except MOT15) class == pedestrian.
4. GT and tracker ids relabelled to 0..n-1 in sorted order, as TrackEval does.

Within a frame the file order of the rows is kept, so the Hungarian tie-breaking is the same as in
TrackEval. The result, :class:`PreparedSequence`, feeds both the TrackEval metric classes and the
motmetrics accumulator (the same preprocessing for both evaluators).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from finetrack.data.mot import Annotations, DISTRACTOR_CLASSES, MOT_CLASSES, MOTFormatError
from finetrack.data.results import Results

logger = logging.getLogger(__name__)

_EPS = np.finfo("float").eps  # TrackEval compares every threshold with this tolerance
#: IoU needed for a tracker box to be matched to (and removed by) a distractor GT box.
DISTRACTOR_IOU = 0.5
#: Class id that is scored (MOTChallenge: pedestrian).
PEDESTRIAN = 1
#: MOT20 also treats class 6 (non_mot_vehicle) as a distractor (TrackEval ``BENCHMARK='MOT20'``).
MOT20_EXTRA_DISTRACTORS = (6,)


def distractor_classes_for(seq_name: str) -> tuple:
    """Distractor class ids of a sequence: MOTChallenge's four, plus non_mot_vehicle for MOT20."""
    if seq_name.upper().startswith("MOT20"):
        return tuple(DISTRACTOR_CLASSES) + MOT20_EXTRA_DISTRACTORS
    return tuple(DISTRACTOR_CLASSES)


def box_iou_tlwh(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """Pairwise IoU exactly as TrackEval's ``_calculate_box_ious(box_format='xywh')``.

    Degenerate boxes (area <= eps) get IoU 0 with everything, as in TrackEval.

    Args:
        boxes1: (N, 4) float [x_left, y_top, w, h].
        boxes2: (M, 4) float [x_left, y_top, w, h].

    Returns:
        (N, M) float64 IoU in [0, 1].
    """
    a = np.asarray(boxes1, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes2, dtype=np.float64).reshape(-1, 4)
    a_x2, a_y2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    b_x2, b_y2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.maximum(
        np.minimum(a_x2[:, None], b_x2[None, :]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0
    )
    ih = np.maximum(
        np.minimum(a_y2[:, None], b_y2[None, :]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0
    )
    inter = iw * ih
    area1 = (a_x2 - a[:, 0]) * (a_y2 - a[:, 1])
    area2 = (b_x2 - b[:, 0]) * (b_y2 - b[:, 1])
    union = area1[:, None] + area2[None, :] - inter
    inter[area1 <= _EPS, :] = 0
    inter[:, area2 <= _EPS] = 0
    inter[union <= _EPS] = 0
    union[union <= _EPS] = 1
    return inter / union


@dataclass
class PreparedSequence:
    """Per-frame matching inputs of one sequence after MOTChallenge preprocessing.

    Attributes:
        name: sequence name.
        num_timesteps: number of frames T (frame t+1 of the files is index t).
        gt_ids: T arrays (G_t,) int64, GT ids relabelled to 0..num_gt_ids-1.
        tracker_ids: T arrays (K_t,) int64, tracker ids relabelled to 0..num_tracker_ids-1.
        gt_dets: T arrays (G_t, 4) float64 tlwh.
        tracker_dets: T arrays (K_t, 4) float64 tlwh.
        similarity_scores: T arrays (G_t, K_t) float64 IoU.
        num_gt_ids, num_tracker_ids, num_gt_dets, num_tracker_dets: totals after preprocessing.
        num_distractor_removed: tracker boxes removed because they matched a distractor GT box.
        num_gt_ignored: GT rows not scored (zero flag or non-pedestrian class).
        gt_id_values: (num_gt_ids,) original GT ids (index = relabelled id).
        tracker_id_values: (num_tracker_ids,) original tracker ids.
    """

    name: str
    num_timesteps: int
    gt_ids: List[np.ndarray]
    tracker_ids: List[np.ndarray]
    gt_dets: List[np.ndarray]
    tracker_dets: List[np.ndarray]
    similarity_scores: List[np.ndarray]
    num_gt_ids: int
    num_tracker_ids: int
    num_gt_dets: int
    num_tracker_dets: int
    num_distractor_removed: int
    num_gt_ignored: int
    gt_id_values: np.ndarray
    tracker_id_values: np.ndarray

    def to_trackeval(self) -> Dict:
        """The ``data`` dict that TrackEval's ``metric.eval_sequence(data)`` expects."""
        return {
            "seq": self.name,
            "num_timesteps": self.num_timesteps,
            "gt_ids": self.gt_ids,
            "tracker_ids": self.tracker_ids,
            "gt_dets": self.gt_dets,
            "tracker_dets": self.tracker_dets,
            "similarity_scores": self.similarity_scores,
            "num_gt_ids": self.num_gt_ids,
            "num_tracker_ids": self.num_tracker_ids,
            "num_gt_dets": self.num_gt_dets,
            "num_tracker_dets": self.num_tracker_dets,
        }


def frame_slices(frames: np.ndarray, num_frames: int) -> List[np.ndarray]:
    """Row indices of each frame 1..num_frames, keeping file order inside a frame.

    Args:
        frames: (N,) int64 1-based frame numbers, all in 1..num_frames.
        num_frames: T.

    Returns:
        T arrays of row indices (frame t+1 at index t).
    """
    order = np.argsort(frames, kind="stable")
    bounds = np.searchsorted(frames[order], np.arange(1, num_frames + 2), side="left")
    return [order[bounds[t] : bounds[t + 1]] for t in range(num_frames)]


def check_frames(
    frames: np.ndarray, line_no: Optional[np.ndarray], path, num_frames: int, what: str
) -> None:
    """Raise :class:`MOTFormatError` (file:line) if a frame number is outside 1..num_frames."""
    bad = np.flatnonzero((frames < 1) | (frames > num_frames))
    if len(bad):
        i = int(bad[0])
        line = f":{int(line_no[i])}" if line_no is not None else ""
        raise MOTFormatError(
            f"{path}{line}: {what} frame {int(frames[i])} is outside the sequence "
            f"(1..{num_frames}; "
            "for --split val_half, frames are renumbered from 1)"
        )


def check_gt(gt: Annotations, preprocess: bool) -> None:
    """Validate GT as TrackEval does: unique id per frame and (with preprocessing) known classes.

    Raises:
        MOTFormatError: naming the GT file and line.
    """
    if len(gt) == 0:
        return
    _check_unique_ids(gt.frames, gt.ids, gt.line_no, gt.path, "ground-truth")
    if preprocess:
        bad = np.flatnonzero(~np.isin(gt.classes, np.asarray(sorted(MOT_CLASSES))))
        if len(bad):
            i = int(bad[0])
            raise MOTFormatError(
                f"{gt.path}:{int(gt.line_no[i])}: invalid class {int(gt.classes[i])} "
                f"(MOTChallenge classes are {min(MOT_CLASSES)}..{max(MOT_CLASSES)})"
            )


def _check_unique_ids(frames, ids, line_no, path, what: str) -> None:
    order = np.lexsort((ids, frames))
    f, d = frames[order], ids[order]
    dup = np.flatnonzero((f[1:] == f[:-1]) & (d[1:] == d[:-1]))
    if len(dup):
        first, second = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
        raise MOTFormatError(
            f"{path}:{int(line_no[second])}: {what} id {int(ids[second])} used twice in frame "
            f"{int(frames[second])} (first at line {int(line_no[first])})"
        )


def prepare_sequence(
    gt: Annotations,
    results: Results,
    num_frames: int,
    name: str = "",
    preprocess: Optional[bool] = None,
    distractor_classes: Sequence[int] = DISTRACTOR_CLASSES,
    eval_class: int = PEDESTRIAN,
    distractor_iou: float = DISTRACTOR_IOU,
) -> PreparedSequence:
    """Apply the MOTChallenge preprocessing to one sequence.

    Args:
        gt: all GT rows of the sequence (unfiltered, as read by ``read_gt``).
        results: tracker rows (as read by ``read_results``; ids unique per frame).
        num_frames: sequence length T; every frame must lie in 1..T.
        name: sequence name (for messages and the TrackEval ``seq`` field).
        preprocess: distractor removal + class filter. None = automatic: on for MOT16/17/20 and
            DanceTrack, off for MOT15 (which has no classes), as in TrackEval.
        distractor_classes: GT classes whose matched tracker boxes are removed.
        eval_class: the scored GT class (MOTChallenge: 1, pedestrian).
        distractor_iou: IoU for the distractor matching (TrackEval: 0.5).

    Returns:
        The per-frame matching inputs.

    Raises:
        MOTFormatError: a frame outside 1..T, duplicate GT id in a frame, invalid GT class.
    """
    if preprocess is None:
        preprocess = gt.format != "mot15"
    check_frames(gt.frames, gt.line_no, gt.path, num_frames, "ground-truth")
    check_frames(results.frames, results.line_no, results.path, num_frames, "result")
    check_gt(gt, preprocess)
    if len(results):
        _check_unique_ids(results.frames, results.ids, results.line_no, results.path, "track")

    distractors = np.asarray(list(distractor_classes), dtype=np.int64)
    gt_rows = frame_slices(gt.frames, num_frames)
    tr_rows = frame_slices(results.frames, num_frames)
    gt_keep_all = gt.flags != 0
    if preprocess:
        gt_keep_all &= gt.classes == eval_class
    gt_is_distractor = np.isin(gt.classes, distractors) if preprocess else np.zeros(len(gt), bool)

    gt_ids, tr_ids, gt_dets, tr_dets, sims = [], [], [], [], []
    removed = 0
    for t in range(num_frames):
        g, k = gt_rows[t], tr_rows[t]
        sim = box_iou_tlwh(gt.tlwh[g], results.tlwh[k])
        if preprocess and len(g) and len(k) and gt_is_distractor[g].any():
            score = sim.copy()
            score[score < distractor_iou - _EPS] = 0
            rows, cols = linear_sum_assignment(-score)
            ok = score[rows, cols] > 0 + _EPS
            rows, cols = rows[ok], cols[ok]
            drop = cols[gt_is_distractor[g][rows]]
            if len(drop):
                keep_k = np.ones(len(k), dtype=bool)
                keep_k[drop] = False
                k = k[keep_k]
                sim = sim[:, keep_k]
                removed += len(drop)
        keep_g = gt_keep_all[g]
        g = g[keep_g]
        sims.append(sim[keep_g])
        gt_ids.append(gt.ids[g])
        tr_ids.append(results.ids[k])
        gt_dets.append(gt.tlwh[g])
        tr_dets.append(results.tlwh[k])

    gt_values = np.unique(np.concatenate(gt_ids)) if num_frames else np.zeros(0, np.int64)
    tr_values = np.unique(np.concatenate(tr_ids)) if num_frames else np.zeros(0, np.int64)
    gt_ids = [np.searchsorted(gt_values, x).astype(np.int64) for x in gt_ids]
    tr_ids = [np.searchsorted(tr_values, x).astype(np.int64) for x in tr_ids]
    num_gt_dets = int(sum(len(x) for x in gt_ids))
    num_tr_dets = int(sum(len(x) for x in tr_ids))
    if removed:
        logger.debug("%s: %d tracker boxes matched distractors and were removed", name, removed)
    return PreparedSequence(
        name=name,
        num_timesteps=num_frames,
        gt_ids=gt_ids,
        tracker_ids=tr_ids,
        gt_dets=gt_dets,
        tracker_dets=tr_dets,
        similarity_scores=sims,
        num_gt_ids=len(gt_values),
        num_tracker_ids=len(tr_values),
        num_gt_dets=num_gt_dets,
        num_tracker_dets=num_tr_dets,
        num_distractor_removed=removed,
        num_gt_ignored=int(len(gt) - num_gt_dets),
        gt_id_values=gt_values,
        tracker_id_values=tr_values,
    )
