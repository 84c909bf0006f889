"""``finetrack``: the paper's stage 1, ``d = sqrt(d_feat~ * d_iou)`` (FineTrack eq. 9-12).

Stages 2-3 stay ByteTrack's (IoU only).
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import numpy as np

from finetrack.tracker import matching
from finetrack.tracker.association.base import Association
from finetrack.tracker.frame import FramePool


@dataclasses.dataclass(frozen=True)
class FineTrackSettings:
    """Settings of ``tracker.mode=finetrack`` (config section ``tracker.finetrack``).

    Attributes:
        match_thresh: threshold of the fused distance (0.5).
    """

    match_thresh: float = 0.5


class FineTrackAssociation(Association):
    """The fused appearance x IoU distance at ``match_thresh``."""

    name = "finetrack"

    def __init__(self, tracker, settings: Optional[FineTrackSettings] = None, cues=None) -> None:
        super().__init__(tracker, settings if settings is not None else FineTrackSettings())

    def first_stage(self, frame: FramePool) -> Tuple[np.ndarray, np.ndarray]:
        high = frame.high
        d_iou = matching.iou_distance(frame.boxes, frame.xyxy[high],
                                      self.tracker.settings.iou_pixel_offset)
        d_feat = (matching.embedding_distance(self.features(frame.tracks), frame.emb[high])
                  if frame.tracks and len(high) else np.ones_like(d_iou))
        return self.solve(frame, matching.finetrack_distance(d_feat, d_iou),
                          self.settings.match_thresh)
