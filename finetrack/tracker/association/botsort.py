"""``botsort``: BoT-SORT's stage 1 (Aharon et al. 2022, ``tracker/bot_sort.py``).

The appearance distance ``d_app = (1 - cos) / 2`` counts only where it is at most
``appearance_thresh`` and the boxes are close (IoU distance at most ``proximity_thresh``, read
before score fusion); the cost is ``min(d_iou, d_app)`` with ``d_iou`` byte's IoU cost (fused
with the score unless ``mot20``), at the tracker's ``match_thresh``. Stages 2-3 stay ByteTrack's,
and, as in BoT-SORT, the low detections of stage 2 carry no embedding: a track matched to one keeps
its feature, so only the high detections are embedded (``Tracker.embedding_floor`` is
``track_thresh``). The nested study found the two forms tied on the left-out scenes (66.89 vs
66.93 mean IDF1, worst +0.8 both) and this one better on the frame-rate stress rows (worst +0.7
vs -0.6); BoT-SORT's appearance in the unconfirmed stage lost there (stress worst -1.2) and is not
used (docs/experiments/unseen_scenes.md, section 5).

The defaults are the values the nested leave-one-scene-out study chose for the ``color+imagenet``
cue in every fold (docs/experiments/unseen_scenes.md); BoT-SORT's published values (Re-ID
features trained on the target data) are 0.25 and 0.5.
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
class BotSortSettings:
    """Settings of ``tracker.mode=botsort`` (config section ``tracker.botsort``).

    Attributes:
        appearance_thresh: ``(1 - cos) / 2`` above this does not count.
        proximity_thresh: appearance counts only for pairs with IoU distance at most this.
    """

    appearance_thresh: float = 0.15
    proximity_thresh: float = 0.8


def botsort_cost(d_iou: np.ndarray, d_iou_fused: np.ndarray, d_emb: np.ndarray,
                 appearance_thresh: float, proximity_thresh: float) -> np.ndarray:
    """BoT-SORT's first-stage cost.

    Args:
        d_iou: (N, M) IoU distance (the proximity gate reads it before score fusion).
        d_iou_fused: (N, M) the IoU cost the rule uses (fused with the score, or not).
        d_emb: (N, M) cosine distance ``1 - cos``.

    Returns:
        (N, M) ``min(d_iou_fused, d_app)`` with ``d_app = d_emb / 2`` where it is at most
        ``appearance_thresh`` and ``d_iou <= proximity_thresh``, 1 elsewhere.
    """
    d_app = np.asarray(d_emb, dtype=np.float64) / 2.0
    d_app = np.where((d_app > appearance_thresh) | (np.asarray(d_iou) > proximity_thresh), 1.0, d_app)
    return np.minimum(np.asarray(d_iou_fused, dtype=np.float64), d_app)


class BotSortAssociation(Association):
    """min(IoU cost, gated appearance distance) at the tracker's ``match_thresh``."""

    name = "botsort"
    low_features = False  # BoT-SORT's low detections carry no embedding

    def __init__(self, tracker, settings: Optional[BotSortSettings] = None, cues=None) -> None:
        super().__init__(tracker, settings if settings is not None else BotSortSettings())

    def first_stage(self, frame: FramePool) -> Tuple[np.ndarray, np.ndarray]:
        if not frame.tracks or not len(frame.high):
            return np.arange(len(frame.tracks)), frame.high
        s = self.tracker.settings
        d_iou = matching.iou_distance(frame.boxes, frame.xyxy[frame.high], s.iou_pixel_offset)
        d_emb = matching.embedding_distance(self.features(frame.tracks), frame.emb[frame.high])
        cost = botsort_cost(d_iou, iou_cost(self.tracker, frame), d_emb,
                            self.settings.appearance_thresh, self.settings.proximity_thresh)
        return self.solve(frame, cost, s.match_thresh)
