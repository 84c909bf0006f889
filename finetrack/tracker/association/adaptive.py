"""``adaptive``: Deep OC-SORT's adaptive appearance weighting (Maggiolino et al. 2023,
``compute_aw_new_metric``) on ByteTrack's stage 1.

The cost is ``d_iou - W * s`` with ``d_iou`` byte's IoU cost, ``s`` the cosine similarity (0 for
boxes that do not overlap) and ``W = weight + (min(g_row, max_diff) + min(g_col, max_diff)) / 2``,
where ``g_row`` / ``g_col`` is the gap between the best and the second-best similarity of the
track's row / the detection's column: appearance weighs more where it tells one candidate from
the others. Only pairs whose ``d_iou`` is below the tracker's ``match_thresh`` can match (Deep
OC-SORT's IoU gate): appearance only re-orders them. Stages 2-3 stay ByteTrack's.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import numpy as np

from finetrack.tracker import matching
from finetrack.tracker.association.base import Association
from finetrack.tracker.association.byte import iou_cost
from finetrack.tracker.frame import FramePool


@dataclasses.dataclass(frozen=True)
class AdaptiveSettings:
    """Settings of ``tracker.mode=adaptive`` (config section ``tracker.adaptive``).

    Attributes:
        weight: the base appearance weight (Deep OC-SORT's w_assoc_emb 0.75).
        max_diff: the cap of each best-vs-second gap (Deep OC-SORT's 0.5).
    """

    weight: float = 0.75
    max_diff: float = 0.5


def _gap(sim: np.ndarray, axis: int) -> np.ndarray:
    """Best minus second-best along ``axis`` (0 when there are fewer than two), kept dims."""
    if sim.shape[axis] < 2:
        return np.zeros(tuple(1 if a == axis else s for a, s in enumerate(sim.shape)))
    top = -np.sort(-sim, axis=axis)
    return np.take(top, [0], axis=axis) - np.take(top, [1], axis=axis)


def adaptive_weight(sim: np.ndarray, base: float, max_diff: float) -> np.ndarray:
    """(N, M) weights ``base + (min(g_row, c) + min(g_col, c)) / 2`` of (N, M) similarities."""
    sim = np.asarray(sim, dtype=np.float64)
    if sim.size == 0:
        return np.full(sim.shape, float(base))
    return base + np.minimum(_gap(sim, 1), max_diff) / 2.0 + np.minimum(_gap(sim, 0), max_diff) / 2.0


def adaptive_cost(d_iou_fused: np.ndarray, d_iou: np.ndarray, d_emb: np.ndarray, base: float,
                  max_diff: float, match_thresh: float) -> Tuple[np.ndarray, float]:
    """Deep OC-SORT's fused cost and the threshold that keeps its IoU gate.

    Returns:
        ``(cost, thresh)``: ``cost = d_iou_fused - W * s`` where ``d_iou_fused < match_thresh``,
        ``inf`` elsewhere (``s = 1 - d_emb``, 0 where the boxes do not overlap); ``thresh`` lies
        above every finite cost, so every gated pair may match and appearance only re-orders.
    """
    sim = np.where(np.asarray(d_iou) < 1.0, 1.0 - np.asarray(d_emb, dtype=np.float64), 0.0)
    w = adaptive_weight(sim, base, max_diff)
    cost = np.where(np.asarray(d_iou_fused) < match_thresh,
                    np.asarray(d_iou_fused, dtype=np.float64) - w * sim, np.inf)
    return cost, match_thresh + float(np.abs(w * sim).max(initial=0.0)) + 1e-6


class AdaptiveAssociation(Association):
    """IoU cost minus the adaptively weighted similarity, inside byte's IoU gate."""

    name = "adaptive"

    def __init__(self, tracker, settings: Optional[AdaptiveSettings] = None, cues=None) -> None:
        super().__init__(tracker, settings if settings is not None else AdaptiveSettings())

    def first_stage(self, frame: FramePool) -> Tuple[np.ndarray, np.ndarray]:
        if not frame.tracks or not len(frame.high):
            return np.arange(len(frame.tracks)), frame.high
        s = self.tracker.settings
        d_iou = matching.iou_distance(frame.boxes, frame.xyxy[frame.high], s.iou_pixel_offset)
        d_emb = matching.embedding_distance(self.features(frame.tracks), frame.emb[frame.high])
        cost, thresh = adaptive_cost(iou_cost(self.tracker, frame), d_iou, d_emb,
                                     self.settings.weight, self.settings.max_diff, s.match_thresh)
        return self.solve(frame, cost, thresh)
