"""One tracklet: Kalman state, lifecycle bookkeeping and EMA appearance feature.

An ``STrack`` without ByteTrack's class-level state: the id is given by the owning tracker's
per-instance counter and the Kalman filter runs outside (batched over all tracks) in the tracker,
which also owns the state's layout (its filter's ``to_xyxy`` gives a track's box).
"""
from __future__ import annotations

import enum
import logging
from typing import Optional

import numpy as np

logger = logging.getLogger(__name__)

_EPS = 1e-12


class TrackState(enum.IntEnum):
    """Lifecycle states (ByteTrack's ``TrackState``)."""

    NEW = 0
    TRACKED = 1
    LOST = 2
    REMOVED = 3


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Return ``x / ||x||`` along the last axis as a new float64 array ((D,) or (N, D))."""
    x = np.asarray(x, dtype=np.float64)
    # np.linalg.norm(x, axis=-1, keepdims=True) for real x, without its per-call wrapper
    return x / np.maximum(np.sqrt(np.add.reduce(x * x, axis=-1, keepdims=True)), _EPS)


class Track:
    """A tracklet with a Kalman state in the tracker's filter layout (ByteTrack's
    ``(cx, cy, a, h, vcx, vcy, va, vh)``).

    Args:
        track_id: Id given by the tracker (ids start at 1 per tracker instance).
        mean: (8,) initial Kalman mean.
        covariance: (8, 8) initial Kalman covariance.
        score: Detection score that started the track.
        frame_id: 1-based frame where the track starts.
        feature: (D,) appearance feature of the starting detection, or None.
        ema_alpha: EMA weight of the previous smoothed feature (FairMOT/FineTrack: 0.9).
        det_index: Index of the starting detection in that frame's input arrays.
        activated: Whether the track is confirmed at once (ByteTrack: only on the first frame).

    Attributes:
        state: :class:`TrackState`.
        is_activated: Confirmed (matched at least once after its birth, or born on frame 1).
        tracklet_len: Consecutive updates since the last (re-)activation.
        start_frame: Frame of birth. ``frame_id``: last frame with a matched detection.
        smooth_feat: (D,) L2-normalised EMA feature, ``curr_feat``: (D,) last detection feature.
        n_feats: Number of detection features folded into ``smooth_feat``.
    """

    def __init__(
        self,
        track_id: int,
        mean: np.ndarray,
        covariance: np.ndarray,
        score: float,
        frame_id: int,
        feature: Optional[np.ndarray] = None,
        ema_alpha: float = 0.9,
        det_index: int = -1,
        activated: bool = False,
    ) -> None:
        self.track_id = int(track_id)
        self.mean = np.array(mean, dtype=np.float64)
        self.covariance = np.array(covariance, dtype=np.float64)
        self.score = float(score)
        self.state = TrackState.TRACKED
        self.is_activated = bool(activated)
        self.tracklet_len = 0
        self.start_frame = int(frame_id)
        self.frame_id = int(frame_id)
        self.ema_alpha = float(ema_alpha)
        self.det_index = int(det_index)
        self.smooth_feat: Optional[np.ndarray] = None
        self.curr_feat: Optional[np.ndarray] = None
        self.n_feats = 0
        if feature is not None:
            self.update_features(feature)

    # ------------------------------------------------------------------ geometry
    @property
    def end_frame(self) -> int:
        """Last frame with a matched detection (ByteTrack's ``end_frame``)."""
        return self.frame_id

    # ------------------------------------------------------------------ appearance
    def update_features(self, feature: np.ndarray, alpha: Optional[float] = None) -> None:
        """EMA update ``f~ = a * f~ + (1 - a) * f`` with L2 renormalisation (FairMOT).

        Args:
            feature: (D,) detection feature (normalised here; the caller's array is not modified).
            alpha: EMA weight of this update (None: the track's ``ema_alpha``); 1 keeps ``f~``.
        """
        feat = l2_normalize(np.asarray(feature).reshape(-1))
        self.curr_feat = feat
        a = self.ema_alpha if alpha is None else float(alpha)
        if self.smooth_feat is None:
            self.smooth_feat = feat.copy()
        else:
            self.smooth_feat = l2_normalize(a * self.smooth_feat + (1.0 - a) * feat)
        self.n_feats += 1

    # ------------------------------------------------------------------ lifecycle
    def apply_update(
        self,
        mean: np.ndarray,
        covariance: np.ndarray,
        score: float,
        frame_id: int,
        feature: Optional[np.ndarray] = None,
        det_index: int = -1,
        reactivate: bool = False,
        feature_alpha: Optional[float] = None,
    ) -> None:
        """Take a corrected Kalman state after a match (ByteTrack ``update``/``re_activate``).

        Args:
            mean: (8,) corrected mean. covariance: (8, 8) corrected covariance.
            score: Matched detection score. frame_id: Current frame.
            feature: (D,) matched detection feature or None (EMA untouched).
            det_index: Index of the matched detection in this frame's input.
            reactivate: True for a lost track found again (resets ``tracklet_len``).
            feature_alpha: EMA weight for this feature (None: ``ema_alpha``).
        """
        self.mean = np.asarray(mean, dtype=np.float64)  # taken, not copied: the tracker's
        self.covariance = np.asarray(covariance, dtype=np.float64)  # arrays are never written to
        self.tracklet_len = 0 if reactivate else self.tracklet_len + 1
        self.state = TrackState.TRACKED
        self.is_activated = True
        self.frame_id = int(frame_id)
        self.score = float(score)
        self.det_index = int(det_index)
        if feature is not None:
            self.update_features(feature, feature_alpha)

    def mark_lost(self) -> None:
        """Set the state to LOST."""
        self.state = TrackState.LOST

    def mark_removed(self) -> None:
        """Set the state to REMOVED."""
        self.state = TrackState.REMOVED

    def __repr__(self) -> str:
        return (f"Track(id={self.track_id}, state={self.state.name}, "
                f"frames={self.start_frame}-{self.end_frame})")
