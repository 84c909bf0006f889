"""``jde``: FairMOT's association.

Stage 1 on embedding distance fused with the Mahalanobis distance (``0.98 * cos + 0.02 * maha``,
gated at chi2inv95(4) = 9.4877), threshold 0.4; stage 2 on IoU 0.5 between the remaining tracked
tracks and the remaining *high* detections (FairMOT has no low-score stage: low detections are
ignored); stage 3 unconfirmed at IoU 0.7 without score fusion.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import numpy as np

from finetrack.tracker import matching
from finetrack.tracker.association.base import Association
from finetrack.tracker.frame import FramePool


@dataclasses.dataclass(frozen=True)
class JDESettings:
    """Settings of ``tracker.mode=jde`` (config section ``tracker.jde``).

    Attributes:
        match_thresh: stage-1 threshold of the embedding + motion cost (0.4).
        motion_lambda: appearance weight in that cost (FairMOT's 0.98).
    """

    match_thresh: float = 0.4
    motion_lambda: float = matching.FUSE_MOTION_LAMBDA


class JDEAssociation(Association):
    """Embedding + gated Mahalanobis cost; no low stage; no score in the unconfirmed stage."""

    name = "jde"
    low_stage = False
    fuse_score_unconfirmed = False

    def __init__(self, tracker, settings: Optional[JDESettings] = None, cues=None) -> None:
        super().__init__(tracker, settings if settings is not None else JDESettings())

    def first_stage(self, frame: FramePool) -> Tuple[np.ndarray, np.ndarray]:
        high = frame.high
        if frame.tracks and len(high):
            dists = matching.embedding_distance(self.features(frame.tracks), frame.emb[high])
            dists = matching.fuse_motion(frame.kf, dists, frame.mean, frame.cov,
                                         frame.kf.from_xyxy(frame.xyxy[high]),
                                         lambda_=self.settings.motion_lambda)
        else:
            dists = np.zeros((len(frame.tracks), len(high)))
        return self.solve(frame, dists, self.settings.match_thresh)
