"""The association strategy interface: what one mode does on top of ByteTrack's shared stages.

:class:`finetrack.tracker.Tracker` runs ByteTrack's lifecycle (Kalman prediction, the high, low
and unconfirmed stages, birth and death of tracks); an :class:`Association` supplies stage 1
(the (tracked + lost) pool against the high detections) and says how the other stages differ
for its mode. Each mode is one small subclass in its own module, with its own settings dataclass
(the config section ``tracker.<mode>``).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from finetrack.tracker import matching
from finetrack.tracker.frame import FramePool
from finetrack.tracker.track import Track


class Association:
    """Stage 1 of one mode, and its switches.

    Args:
        tracker: the owning :class:`finetrack.tracker.Tracker`; the strategy reads its shared
            ``settings`` (:class:`finetrack.tracker.tracker.ByteTrackSettings`), ``frame_rate``
            and ``frame_id``, and never writes them.
        settings: the mode's settings dataclass (None: its defaults; ``byte`` has none).
        cues: widths of the appearance cues side by side in the embeddings (read by ``robust``
            only; the other modes see one vector).

    Class attributes:
        name: the mode's name (``tracker.mode``).
        needs_embeddings: ``update`` refuses a frame without embeddings.
        low_stage: stage 2 matches the remaining tracked tracks with the *low* detections; False
            (jde): with the high detections stage 1 left, and low detections are ignored.
        fuse_score_unconfirmed: the unconfirmed stage's IoU cost is fused with the detection
            score (unless ``mot20``).
        reads_every_box: the mode reads every detection of a frame (robust: centring, occlusion),
            so there is no embedding floor.
        low_features: stage 2's matches update the track features with the low detections'
            embeddings; False (botsort, as BoT-SORT): low detections carry no embedding, so
            only high detections need one.
    """

    name = ""
    needs_embeddings = True
    low_stage = True
    fuse_score_unconfirmed = True
    reads_every_box = False
    low_features = True

    def __init__(self, tracker, settings=None, cues: Optional[Sequence[int]] = None) -> None:
        self.tracker = tracker
        self.settings = settings

    # ------------------------------------------------------------------ per-sequence state
    def reset(self) -> None:
        """Forget the sequence (a new one starts)."""

    # ------------------------------------------------------------------ per-frame hooks
    def prepare_embeddings(self, emb: np.ndarray) -> np.ndarray:
        """The frame's (N, D) L2-normalised embeddings as the stages read them."""
        return emb

    def feature_weights(self, xyxy: np.ndarray, scores: np.ndarray) -> Optional[np.ndarray]:
        """(N,) EMA weight per detection (1: its feature is not used), or None: every matched
        feature updates with the track's ``ema_alpha``."""
        return None

    def on_feature(self, track: Track, feature: Optional[np.ndarray],
                   alpha: Optional[float]) -> None:
        """Called after a matched track took a weighted detection (:data:`FeatureHook`)."""

    def on_birth(self, track: Track, det: int, frame: FramePool) -> None:
        """Called for each track born from detection ``det``."""

    def forget(self, tracks: Sequence[Track]) -> None:
        """The tracks removed this frame."""

    # ------------------------------------------------------------------ stage 1
    def first_stage(self, frame: FramePool) -> Tuple[np.ndarray, np.ndarray]:
        """Match the pool (``frame.tracks``) with the high detections and apply the matches.

        Returns:
            (unmatched pool rows, unmatched high detection indices of the frame).
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def features(tracks: Sequence[Track]) -> np.ndarray:
        """(N, D) EMA features of ``tracks``."""
        return np.stack([t.smooth_feat for t in tracks])

    def solve(self, frame: FramePool, dists: np.ndarray, thresh: float) -> Tuple[np.ndarray,
                                                                                 np.ndarray]:
        """Assign pool x high on ``dists`` at ``thresh``, apply the matches, return what is left."""
        matches, u_track, u_det = matching.linear_assignment(dists, thresh)
        frame.match_pool(matches)
        return u_track, frame.high[u_det]
