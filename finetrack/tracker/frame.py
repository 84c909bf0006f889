"""One frame's association state, passed to every stage (ByteTrack's locals of ``update``).

A :class:`FramePool` holds the frame's detections, the Kalman-predicted pool of (tracked + lost)
tracks that stage 1 matches, and the tracks the stages activate or re-find; :meth:`FramePool.match`
applies a stage's matches (a batched Kalman update). The association strategies
(:mod:`finetrack.tracker.association`) read and update it instead of passing a dozen arrays.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence

import numpy as np

from finetrack.tracker.kalman import KalmanFilter
from finetrack.tracker.track import Track, TrackState

#: ``hook(track, feature, alpha)`` after a matched track took its detection, when the association
#: weights features (``feature`` None: the detection's feature was skipped, ``alpha`` >= 1)
FeatureHook = Callable[[Track, Optional[np.ndarray], Optional[float]], None]


class FramePool:
    """The state of one :meth:`finetrack.tracker.Tracker.update` call.

    Args:
        frame_id: 1-based frame number.
        xyxy: (N, 4) detection boxes. scores: (N,) detection scores.
        emb: (N, D) L2-normalised (and, per association, prepared) embeddings, or None.
        feat_alpha: (N,) EMA weight per detection (1: its feature is not used), or None (every
            matched feature updates with the track's own ``ema_alpha``).
        high: (K,) indices of the high detections.
        kf: the tracker's Kalman filter. on_feature: the association's :data:`FeatureHook`.

    Attributes:
        tracks: the pool, (N_p,) tracks; ``mean`` (N_p, 8), ``cov`` (N_p, 8, 8): their predicted
            states; ``boxes`` (N_p, 4): their predicted xyxy boxes (set by :meth:`set_pool`).
        activated, refound: tracks matched this frame that were tracked / lost before.
    """

    def __init__(self, frame_id: int, xyxy: np.ndarray, scores: np.ndarray,
                 emb: Optional[np.ndarray], feat_alpha: Optional[np.ndarray], high: np.ndarray,
                 kf: KalmanFilter, on_feature: Optional[FeatureHook] = None) -> None:
        self.frame_id = frame_id
        self.xyxy = xyxy
        self.scores = scores
        self.emb = emb
        self.feat_alpha = feat_alpha
        self.high = high
        self.kf = kf
        self.on_feature = on_feature
        self.tracks: List[Track] = []
        self.mean = np.zeros((0, 8))
        self.cov = np.zeros((0, 8, 8))
        self.boxes = np.zeros((0, 4), dtype=np.float64)
        self.activated: List[Track] = []
        self.refound: List[Track] = []

    def set_pool(self, tracks: List[Track], mean: np.ndarray, cov: np.ndarray,
                 boxes: np.ndarray) -> None:
        """Stage 1's pool: tracks, (N, 8) means, (N, 8, 8) covariances, (N, 4) xyxy boxes."""
        self.tracks, self.mean, self.cov, self.boxes = tracks, mean, cov, boxes

    def match_pool(self, matches: np.ndarray) -> None:
        """Apply (K, 2) [pool row, column of :attr:`high`] matches."""
        self.match(self.tracks, self.mean, self.cov, self.high, matches)

    def match(self, tracks: Sequence[Track], means: np.ndarray, covs: np.ndarray,
              det_ids: np.ndarray, matches: np.ndarray, features: bool = True) -> None:
        """Batched Kalman update of matched tracks with their detections.

        Args:
            tracks: track list the match rows index; means (N, 8) / covs (N, 8, 8): their states.
            det_ids: (M',) frame detection indices the match columns index.
            matches: (K, 2) [row, col].
            features: the matched tracks take the detections' embeddings (False: box only).
        """
        if len(matches) == 0:
            return
        rows = matches[:, 0]
        dets = det_ids[matches[:, 1]]
        new_means, new_covs = self.kf.update(means[rows], covs[rows],
                                             self.kf.from_xyxy(self.xyxy[dets]))
        emb, feat_alpha, frame_id = (self.emb if features else None), self.feat_alpha, self.frame_id
        for i, d, m, c in zip(rows.tolist(), dets.tolist(), new_means, new_covs):
            t = tracks[i]
            was_tracked = t.state == TrackState.TRACKED
            feat, alpha = (None if emb is None else emb[d]), None
            weighted = feat is not None and feat_alpha is not None
            if weighted:
                alpha = float(feat_alpha[d])
                if alpha >= 1.0:
                    feat, alpha = None, None
            t.apply_update(m, c, self.scores[d], frame_id, feature=feat, det_index=d,
                           reactivate=not was_tracked, feature_alpha=alpha)
            if weighted and self.on_feature is not None:
                self.on_feature(t, feat, alpha)
            (self.activated if was_tracked else self.refound).append(t)
