"""``byte``: ByteTrack's stage 1 (``yolox/tracker/byte_tracker.py``).

The (tracked + lost) pool, Kalman-predicted, against the high detections (score > track_thresh)
on IoU distance fused with the score (``fuse_score``, unless ``mot20``), at ``match_thresh``
(0.8; 0.9 reproduces ByteTrack's own MOT17 eval). The thresholds are the tracker's shared ones:
``byte`` has no settings of its own.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from finetrack.tracker import matching
from finetrack.tracker.association.base import Association
from finetrack.tracker.frame import FramePool


def iou_cost(tracker, frame: FramePool) -> np.ndarray:
    """(N, K) pool x high IoU distance, fused with the score unless ``mot20``."""
    s = tracker.settings
    dists = matching.iou_distance(frame.boxes, frame.xyxy[frame.high], s.iou_pixel_offset)
    return dists if s.mot20 else matching.fuse_score(dists, frame.scores[frame.high])


class ByteAssociation(Association):
    """ByteTrack: IoU (+ score) at the tracker's ``match_thresh``; needs no embeddings."""

    name = "byte"
    needs_embeddings = False

    def first_stage(self, frame: FramePool) -> Tuple[np.ndarray, np.ndarray]:
        if not frame.tracks or not len(frame.high):
            return np.arange(len(frame.tracks)), frame.high
        return self.solve(frame, iou_cost(self.tracker, frame), self.tracker.settings.match_thresh)
